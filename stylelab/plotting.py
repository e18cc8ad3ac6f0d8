"""Matplotlib figures for the lessons: image grids, feature maps, Gram heatmaps, loss curves.

Every function returns the ``matplotlib.figure.Figure`` it drew (so a test can inspect
it and a notebook can save it) and never changes global matplotlib settings. Figures get
a title and labelled panels; pass ``title=`` to say what the reader should look at.

This module is the public face of three others, and every name here is one of theirs:

* :mod:`stylelab.figures` - lesson-independent basics (:func:`show_images`,
  :func:`feature_maps`, :func:`gram_heatmap`, :func:`loss_curves`, :func:`png_bytes`, ...);
* :mod:`stylelab.lesson_figures` - figures made for particular lessons (receptive
  fields, ablation grids, convergence races, ...);
* :mod:`stylelab.tables` - :class:`Table`, a small HTML/Markdown table.

:func:`first_reach`, the number behind :func:`convergence`'s dots, is run analysis and
lives in :mod:`stylelab.analysis`; lesson 05 still reads it here (not in ``__all__``).
"""

from __future__ import annotations

from . import figures as _figures
from . import lesson_figures as _lessons
from .analysis import first_reach  # noqa: F401 - see the docstring
from .figures import (
    amplified_difference,
    feature_maps,
    gram_comparison,
    gram_heatmap,
    image_grid,
    loss_curves,
    png_bytes,
    show_images,
    to_numpy_image,
    top_channels,
    wrap_label,
)
from .lesson_figures import (
    ablation_grid,
    channel_histograms,
    convergence,
    feature_map_grid,
    filter_patches,
    grouped_bars,
    heatmaps,
    images_and_grams,
    intervals,
    receptive_fields,
    responses,
    zoom_crops,
)
from .tables import Table, table

__all__ = ["Table", "table"] + [name for name in _figures.__all__ if name != "finish"] + _lessons.__all__
