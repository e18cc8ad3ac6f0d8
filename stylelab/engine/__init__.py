"""Room 3, engine: one style-transfer run, from its settings to its result.

* :mod:`.settings` - a run's settings as one checked, frozen value;
* :mod:`.prepare` - the run's plan (every size at every scale, the active terms) and its memory estimate;
* :mod:`.losses` - the plain functions of the lessons: content loss, Gram matrix, style and TV loss;
* :mod:`.terms` - the content, style, guided style and TV terms, each holding its targets and weight;
* :mod:`.objective` - the sum of the terms over one forward pass;
* :mod:`.optimize` - the L-BFGS and Adam loop; :mod:`.result` - what a run returns;
* :mod:`.pyramid` - coarse-to-fine around any single-scale run; :mod:`.scales` - mixed-scale styles;
* :mod:`.color`, :mod:`.masks` - colour and spatial control;
* :mod:`.transfer` - :func:`~stylelab.engine.transfer.stylize`, the whole run;
* :mod:`.presets`, :mod:`.conventions` - the settings of well-known implementations;
* :mod:`.tables` - small HTML/Markdown tables.

Imports only the top-level primitives, :mod:`stylelab.imaging`, :mod:`stylelab.vgg` and this room.
"""
