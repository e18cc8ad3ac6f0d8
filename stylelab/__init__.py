"""stylelab: learn neural style transfer (Gatys et al.) step by step.

Import as ``import stylelab as sl``. The package is built in rooms, bottom to top, each
importing only from the rooms below it (see ARCHITECTURE.md): the primitives here
(:mod:`~stylelab.errors`, :mod:`~stylelab.files`, :mod:`~stylelab.validate`), then
:mod:`stylelab.imaging`, :mod:`stylelab.vgg`, :mod:`stylelab.engine` and :mod:`stylelab.course`.
This module is the top: it gives the names the lessons use, each once.

* :func:`load_image`, :func:`save_image`, :func:`to_pil`, :func:`resize` - images as
  ``(1, 3, H, W)`` float tensors in [0, 1];
* :class:`VGGFeatures` - VGG-19 returning named layer activations (its constants are in
  ``sl.vgg.features``);
* :func:`gram_matrix`, :func:`content_loss`, :func:`style_loss`, :func:`tv_loss`;
* :func:`stylize` - the whole optimisation, returning a :class:`StyleTransferResult`;
  ``sl.settings`` holds a run's settings as one checked value, and ``sl.analysis`` reads
  results (losses at the final scale, compute spent);
* ``sl.data`` - the example images; ``sl.patterns`` - synthetic test images;
  ``sl.figures``, ``sl.lesson_figures``, ``sl.tables`` - figures and tables;
* perceptual control (Gatys et al. 2017): ``sl.color`` (keep the photo's colours),
  ``sl.masks`` (which style goes where), ``sl.scales`` and ``sl.pyramid`` (coarse-to-fine,
  mixed-scale styles), ``sl.measure`` (time and peak memory);
* ``sl.presets`` - the conventions of well-known implementations (the PyTorch and
  TensorFlow tutorials, d2l.ai, neural-style, Gatys et al.'s code): ``stylize(..., preset=...)``;
* ``sl.notebook``, ``sl.widgets``, ``sl.exercises``, ``sl.cache`` - the course's lesson
  setup, explorers, exercises and result cache.

Importing stylelab has no side effects: no downloads, no seeding, no printing, no
matplotlib settings.
"""

from . import errors, files, validate, version
from .course import analysis, cache
from .engine import color, conventions, losses, masks, objective, optimize, prepare, presets, pyramid, result, scales
from .engine import settings, tables, transfer
from .engine.losses import content_loss, gram_matrix, style_loss, tv_loss
from .engine.objective import StyleObjective
from .engine.result import StyleTransferResult
from .engine.settings import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
from .engine.transfer import stylize
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
from .imaging import data, decoding, download, images, patterns
from .imaging.images import load_image, resize, save_image, shuffle_patches, to_pil
from .vgg import device, layers, network, normalization, weights
from .vgg.device import pick_device
from .vgg.features import VGGFeatures
from .vgg.layers import LAYER_NAMES, layer_table
from .vgg.weights import UntrainedWeightsWarning

from .version import __version__

_LAZY_MODULES = ("figures", "lesson_figures", "notebook", "widgets", "exercises", "measure")


def __getattr__(name):
    # Submodules that import matplotlib or ipywidgets load on first use, so that
    # ``import stylelab`` stays light and side-effect free.
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"{__name__}.course.{name}")
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
    "pyramid",
    "tables",
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
