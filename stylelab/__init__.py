"""stylelab: learn neural style transfer (Gatys et al.) step by step.

Import as ``import stylelab as sl``. The main pieces:

* :func:`load_image`, :func:`save_image`, :func:`to_pil`, :func:`resize` - images as
  ``(1, 3, H, W)`` float tensors in [0, 1];
* :class:`VGGFeatures` - VGG-19 returning named layer activations;
* :func:`gram_matrix`, :func:`content_loss`, :func:`style_loss`, :func:`tv_loss`;
* :func:`stylize` - the whole optimisation, returning a :class:`StyleTransferResult`;
  :mod:`stylelab.settings` holds a run's settings as one checked value, and
  :mod:`stylelab.analysis` reads results (losses at the final scale, compute spent);
* :mod:`stylelab.data` - the example images; :mod:`stylelab.patterns` - synthetic test
  images; :mod:`stylelab.figures`, :mod:`stylelab.lesson_figures`, :mod:`stylelab.tables` - figures
  and tables;
* perceptual control (Gatys et al. 2017): :mod:`stylelab.color` (keep the photo's
  colours), :mod:`stylelab.masks` (which style goes where), :mod:`stylelab.scales`
  (coarse-to-fine, mixed-scale styles), :mod:`stylelab.measure` (time and peak memory);
* :mod:`stylelab.presets` - the conventions of well-known implementations (the PyTorch and
  TensorFlow tutorials, d2l.ai, neural-style, Gatys et al.'s code): ``stylize(..., preset=...)``.

Importing stylelab has no side effects: no downloads, no seeding, no printing, no
matplotlib settings.
"""

from . import analysis, cache, color, data, masks, normalization, patterns, presets, scales, settings, validate
from .device import pick_device
from .errors import (
    DownloadError,
    FileReadError,
    FileWriteError,
    ImageLoadError,
    ImageNotFoundError,
    ImageTooSmallError,
    LayerNameError,
    MemoryLimitError,
    OutputPathError,
    ParameterError,
    StyleLabError,
    WeightsError,
    WeightsFileError,
    WeightsUnavailableError,
)
from .images import load_image, resize, save_image, shuffle_patches, to_pil
from .layers import LAYER_NAMES, layer_table
from .losses import content_loss, gram_matrix, style_loss, tv_loss
from .objective import StyleObjective
from .transfer import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, StyleTransferResult, stylize
from .vgg import VGGFeatures
from .weights import UntrainedWeightsWarning

from .version import __version__

_LAZY_MODULES = ("figures", "lesson_figures", "notebook", "widgets", "exercises", "measure")


def __getattr__(name):
    # Submodules that import matplotlib or ipywidgets load on first use, so that
    # ``import stylelab`` stays light and side-effect free.
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'stylelab' has no attribute {name!r}")


__all__ = [
    "__version__",
    "data",
    "cache",
    "analysis",
    "settings",
    "presets",
    "color",
    "validate",
    "masks",
    "scales",
    "pick_device",
    "load_image",
    "save_image",
    "to_pil",
    "resize",
    "shuffle_patches",
    "patterns",
    "LAYER_NAMES",
    "layer_table",
    "VGGFeatures",
    "gram_matrix",
    "content_loss",
    "style_loss",
    "tv_loss",
    "StyleObjective",
    "stylize",
    "StyleTransferResult",
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_STYLE_LAYERS",
    "UntrainedWeightsWarning",
    "StyleLabError",
    "ImageLoadError",
    "ImageNotFoundError",
    "ImageTooSmallError",
    "LayerNameError",
    "WeightsError",
    "WeightsFileError",
    "WeightsUnavailableError",
    "DownloadError",
    "ParameterError",
    "MemoryLimitError",
    "OutputPathError",
    "FileWriteError",
    "FileReadError",
]
