"""Room 4, course: what the lessons, learners and instructors use around the engine.

* :mod:`.notebook`, :mod:`.modes`, :mod:`.colab` - lesson setup: modes, sizes, weights banner, Colab cells;
* :mod:`.free_memory` - a hub kernel hands freed memory back after each cell;
* :mod:`.figures`, :mod:`.lesson_figures` - matplotlib figures; :mod:`.analysis` - numbers about runs;
* :mod:`.measure` - time and peak memory of a run; :mod:`.cache` - the on-disk result cache;
* :mod:`.gallery` - the gallery of results (``python -m stylelab.course.gallery``);
* :mod:`.exercises` - the exercises' machinery, checkers per lesson and registry;
* :mod:`.widgets` - the explorers and the playground (plain models and ipywidgets views);
* :mod:`.classroom`, :mod:`.hub`, :mod:`.capacity` - the nbgrader course on a JupyterHub.

May import every room below it (the primitives, imaging, vgg, engine) and this room.
"""
