"""Interactive explorers for the lessons, built with ipywidgets.

* :class:`FeatureMapExplorer` (lesson 01): an image, a layer and a channel (or the 16
  most active channels); shows the feature maps and the channel's activation statistics.
* :class:`GramExplorer` (lesson 03): two images and a layer; shows both Gram matrices,
  their difference and the style loss between the two images.
* :class:`StylePlayground` (lessons 04 and 05): a complete style transfer with every
  setting on a control, Run and Stop buttons, a live preview and a gallery of past runs.

Each explorer is a view (:mod:`stylelab.course.widgets.views`, :mod:`stylelab.course.widgets.playground`) of a plain model
(:mod:`stylelab.course.widgets.models`), in the manner of the ipywidgets documentation. The
view's state lives in the ``value`` of its controls (``explorer.layer.value =
"relu3_1"``), which it copies into its model, ``explorer.state``; the model does the work
(feature maps, Gram matrices, the playground's runs) and can be used without ipywidgets.
The root widget is ``explorer.widget``. Putting the explorer last in a notebook cell (or
calling ``display(explorer)``) shows it. Nothing slow runs while a slider is dragged:
the feature and Gram explorers recompute when a drop-down changes, sliders only report
on release (``continuous_update=False``), and the playground only works when Run is
pressed.

Every explorer accepts the model and the images as arguments: ``images`` may be a list of
example names (see :func:`stylelab.imaging.data.names`) or a ``{label: source}`` dict of
anything :func:`stylelab.load_image` accepts. The learner can add their own pictures with
the upload button next to each image picker.

The views, and with them ipywidgets, load on first use, so that ``stylelab.course.widgets.models``
can be imported without ipywidgets.
"""

from __future__ import annotations

from .models import KEEP, TOP, FeatureMaps, GramComparison, ImageChoice, PlaygroundRun

_VIEWS = {"ImagePicker": "views", "FeatureMapExplorer": "views", "GramExplorer": "views", "StylePlayground": "playground"}

__all__ = ["FeatureMapExplorer", "GramExplorer", "StylePlayground", "ImagePicker",
           "ImageChoice", "FeatureMaps", "GramComparison", "PlaygroundRun", "TOP", "KEEP"]


def __getattr__(name):
    if name in _VIEWS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_VIEWS[name]}"), name)
    raise AttributeError(f"module 'stylelab.course.widgets' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_VIEWS))
