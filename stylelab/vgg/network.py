"""Which network a run uses, and the one function that builds it.

:class:`NetworkSettings` names a network (weights, pooling, normalisation, device,
precision, memory layout); :func:`build_model` turns it into a
:class:`~stylelab.VGGFeatures`. :func:`~stylelab.stylize`, the command line, the result
cache, :mod:`stylelab.course.measure`, the widgets and the lessons' ``setup()`` all build their
network here, so a new option is added in one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional, Union

from .. import validate
from ..errors import ParameterError, StyleLabError
from .device import check_device
from .features import NORMALIZE_CHOICES, POOLINGS, PRECISIONS, VGGFeatures, normalizes

__all__ = ["NetworkSettings", "build_model", "use_model", "NETWORK_FIELDS"]

#: The keyword arguments of :func:`~stylelab.stylize` that choose the network.
NETWORK_FIELDS = ("weights", "pooling", "normalize", "device", "precision", "channels_last")


@dataclass(frozen=True)
class NetworkSettings:
    """The network of a run; checked when created.

    Attributes:
        weights: a weights name (``"auto"``, ``"imagenet"``, ``"caffe-vgg16"``,
            ``"random"``, ...), a state-dict path, or ``None`` for ``$STYLELAB_WEIGHTS``
            (see :mod:`stylelab.vgg.weights`).
        pooling: ``"max"`` or ``"avg"``.
        normalize: ``True``, ``False``, ``"auto"`` (Caffe networks only), or ``None``:
            ``"auto"`` for a network built here, a given model's own setting otherwise.
        device: ``"cpu"``, ``"cuda"``, ``"mps"`` or ``None`` (the best available).
        precision: ``"float32"``, ``"bfloat16"`` or ``"float16"`` (GPUs).
        channels_last: the channels-last memory layout.
    """

    weights: Union[str, os.PathLike, None] = field(default=None, metadata=dict(
        help="auto | imagenet | imagenet-vgg16 | caffe-vgg16 | random | random-vgg16 | PATH "
             "(default: $STYLELAB_WEIGHTS or auto)", metavar="WEIGHTS"))
    pooling: str = field(default="max", metadata=dict(help="VGG pooling", choices=POOLINGS))
    normalize: Union[bool, str, None] = field(default=None, metadata=dict(
        help="rescale every filter to mean activation 1 (Gatys et al. 2016); auto: Caffe networks only "
             "(default: a given model's own setting, else auto)", choices=NORMALIZE_CHOICES))
    device: Optional[str] = field(default=None, metadata=dict(help="cpu, cuda, mps (default: best available)"))
    precision: str = field(default="float32", metadata=dict(
        help="dtype of the network's convolutions: bfloat16 is about 2.5x faster on CPUs with bf16 matrix "
             "units and on GPUs; float16 is for GPUs", choices=PRECISIONS))
    channels_last: bool = field(default=False, metadata=dict(
        help="channels-last memory layout for the network (faster with --precision bfloat16)"))

    def __post_init__(self) -> None:
        if self.weights is not None and not isinstance(self.weights, (str, os.PathLike)):
            raise ParameterError(f"weights must be a weights name or a file path; got {self.weights!r}.")
        validate.choice("pooling", self.pooling, POOLINGS)
        validate.choice("normalize", self.normalize, (None, *NORMALIZE_CHOICES))
        validate.choice("precision", self.precision, PRECISIONS)
        if self.device is not None and not isinstance(self.device, str):
            object.__setattr__(self, "device", str(self.device))  # a torch.device
        if self.device is not None:
            check_device(self.device)  # here too, so that a model= given beside it cannot hide it
        object.__setattr__(self, "channels_last", bool(self.channels_last))


def build_model(settings: NetworkSettings) -> VGGFeatures:
    """The :class:`~stylelab.VGGFeatures` that ``settings`` names.

    Raises :class:`~stylelab.ParameterError` for a setting the network refuses (float16
    on a CPU, ...) and the weights' own errors for weights that cannot be loaded.
    """
    try:
        return VGGFeatures(
            weights=settings.weights,
            pooling=settings.pooling,
            device=settings.device,
            precision=settings.precision,
            channels_last=settings.channels_last,
            normalize="auto" if settings.normalize is None else settings.normalize,
        )
    except StyleLabError:
        raise
    except (ValueError, TypeError) as exc:  # VGGFeatures' own checks
        raise ParameterError(str(exc).strip().splitlines()[0]) from None


def use_model(model: Optional[VGGFeatures], settings: NetworkSettings) -> VGGFeatures:
    """``model`` if given (checked to be a VGGFeatures that agrees with ``settings.normalize``),
    else the network :func:`build_model` makes from ``settings``."""
    if model is None:
        return build_model(settings)
    if not isinstance(model, VGGFeatures):
        raise ParameterError(f"model must be a stylelab.VGGFeatures; got a {type(model).__name__}.")
    wanted = settings.normalize
    if wanted is not None and normalizes(wanted, model.preprocessing) != model.normalized:
        state = "is" if model.normalized else "is not"
        raise ParameterError(
            f"normalize={wanted!r} but the model given {state} normalised; build it with "
            f"VGGFeatures(..., normalize={wanted!r}) or leave normalize= out."
        )
    return model
