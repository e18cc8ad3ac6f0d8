"""VGG-19 (or VGG-16) as a feature extractor with Gatys et al.'s layer names.

>>> model = VGGFeatures(weights="random")            # doctest: +SKIP
>>> feats = model(image, ["relu1_1", "relu4_2"])     # {name: (1, C, h, w)}

The model takes images as stylelab stores them, ``(B, 3, H, W)`` RGB in [0, 1], and
applies the preprocessing its weights expect inside (ImageNet mean/std for torchvision
weights). Its parameters are frozen, it is always in eval mode, and a call runs the
network only up to the deepest layer it was asked for. The network, VGG-16 or VGG-19, is
the one the weights belong to (:attr:`VGGFeatures.architecture`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import torch
from torch import nn

from .. import validate
from ..errors import ImageLoadError
from .device import pick_device
from .layers import Architecture, architecture
from .normalization import cached_means, calibration_images, channel_means, rescale_shared, weights_digest
from .weights import VGGWeights, load_weights

__all__ = ["VGGFeatures", "IMAGENET_MEAN", "IMAGENET_STD", "CAFFE_MEAN_BGR", "NORMALIZE_CHOICES", "POOLINGS", "PRECISIONS",
           "normalizes"]

#: Per-channel RGB mean and standard deviation of ImageNet, in [0, 1] units.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: The values ``precision=`` takes (float16 is for GPUs).
PRECISIONS = tuple(_PRECISIONS)
#: The values ``pooling=`` takes: VGG's own max pooling, or Gatys et al.'s average pooling.
POOLINGS = ("max", "avg")
#: Mean pixel of the Caffe VGG models, BGR order, 0-255 units.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
#: The values ``normalize=`` takes.
NORMALIZE_CHOICES = (True, False, "auto")


def normalizes(normalize: bool | str, preprocessing: str) -> bool:
    """Whether ``normalize`` (``True``, ``False`` or ``"auto"``) normalises a network with this
    ``preprocessing``: ``"auto"`` means Caffe-preprocessed networks only (see :class:`VGGFeatures`)."""
    return preprocessing == "caffe" if normalize == "auto" else bool(normalize)


class VGGFeatures(nn.Module):
    """A VGG network's convolutional part, returning the activations of named layers.

    Args:
        weights: ``"auto"``, ``"imagenet"``, ``"random"``, a state-dict path, ``None``
            (read ``$STYLELAB_WEIGHTS``), or an already loaded
            :class:`~stylelab.vgg.weights.VGGWeights`. See :mod:`stylelab.vgg.weights`. The
            weights decide the network: VGG-16 or VGG-19.
        pooling: ``"max"`` (as VGG was trained) or ``"avg"`` (Gatys et al. 2016 found
            average pooling gives smoother gradients and slightly nicer images).
        device: where to run; default CUDA, then MPS, then CPU.
        preprocessing: ``"auto"``, ``"torchvision"`` or ``"caffe"`` (for files only).
        seed: seed of random weights.
        precision: ``"float32"`` (default, exact), ``"bfloat16"`` (about twice as fast
            on CPUs with bf16 matrix units and on GPUs; activations carry ~3 significant
            digits, which style transfer tolerates - see benchmarks/speed.py) or
            ``"float16"`` (GPUs only). The image, the losses and the optimiser stay
            float32 either way; activations are returned in this dtype.
        channels_last: store activations as (B, H, W, C) in memory, which oneDNN and
            cuDNN convolutions prefer; the tensors' shapes do not change.
        normalize: rescale every filter so that its mean activation over the calibration
            images is 1, as Gatys et al. (2016, §2) did; the network's function is
            unchanged, but losses and loss weights then mean the same on any network
            (see :mod:`stylelab.vgg.normalization`). The means are measured once per set of
            weights and cached. ``"auto"`` (default) normalises Caffe-preprocessed networks only: they
            read pixels in 0-255, so their activations are 50-250 times larger than a
            torchvision network's, and the default loss weights (calibrated on torchvision's
            VGG-19 by the PyTorch tutorial) would let the style term swamp the content.

    Attributes:
        architecture: the :class:`~stylelab.vgg.layers.Architecture` (VGG-16 or VGG-19).
        layer_names: every layer name, in network order.
        weights_source: ``"imagenet"``, ``"caffe-vgg16"``, ``"random"``, ... or the file's path.
        weights_label: the weights in words, e.g. ``"ImageNet-trained VGG-16 (Caffe weights)"``;
            use it to label every result.
        trained: False for seeded random weights.
        normalized: whether the filters were rescaled to mean activation 1.
        weights_note: why random weights were used under ``"auto"``, else ``""``.
        precision: dtype the convolutions run in (see Args).
        channels_last: whether activations use the channels-last memory layout.
        preprocessing: the input convention the weights expect.
        pooling: ``"max"`` or ``"avg"``.
    """

    def __init__(
        self,
        weights: str | os.PathLike | VGGWeights | None = None,
        pooling: str = "max",
        device: str | torch.device | None = None,
        *,
        preprocessing: str = "auto",
        seed: int = 0,
        precision: str = "float32",
        channels_last: bool = False,
        normalize: bool | str = "auto",
    ) -> None:
        super().__init__()
        validate.choice("pooling", pooling, POOLINGS)  # a ParameterError is a ValueError too
        validate.choice("precision", precision, PRECISIONS)
        validate.choice("normalize", normalize, NORMALIZE_CHOICES)
        chosen = pick_device(device)  # before any long work: loading, normalising
        loaded = weights if isinstance(weights, VGGWeights) else load_weights(weights, seed=seed, preprocessing=preprocessing)
        self.architecture: Architecture = architecture(loaded.architecture)
        self.weights_source: str = loaded.source
        self.weights_note: str = loaded.note
        self.weights_label: str = loaded.label
        self.trained: bool = loaded.trained
        self.preprocessing: str = loaded.preprocessing
        self.precision: str = "float32"
        self.channels_last: bool = False
        self.layers = _build_layers(self.architecture, loaded.state)
        if self.preprocessing == "caffe":
            mean, scale = torch.tensor(CAFFE_MEAN_BGR) / 255.0, torch.full((3,), 1.0 / 255.0)
        else:
            mean, scale = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()
        self.normalized: bool = loaded.normalized
        if normalizes(normalize, self.preprocessing) and not self.normalized:
            self._normalize(loaded)  # measured with max pooling: the network as it was trained
        self.pooling: str = pooling
        if pooling == "avg":
            for name, module in self.layers.named_children():
                if isinstance(module, nn.MaxPool2d):
                    setattr(self.layers, name, nn.AvgPool2d(2, 2))
        if precision == "float16" and chosen.type == "cpu":
            raise ValueError("precision='float16' is for GPUs; on the CPU use precision='bfloat16'.")
        self.precision = precision
        self.channels_last = bool(channels_last)
        self.to(chosen)
        self.layers.to(dtype=_PRECISIONS[precision])
        if self.channels_last:
            self.layers.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------------ properties

    @property
    def layer_names(self) -> List[str]:
        """``['conv1_1', 'relu1_1', 'conv1_2', ..., 'pool5']`` in network order."""
        return list(self.architecture.layer_names)

    def convolutions(self) -> List[Tuple[str, nn.Conv2d]]:
        """``[("conv1_1", Conv2d(3, 64)), ...]``: the layers that carry weights, in network order."""
        return [(name, m) for name, m in self.layers.named_children() if isinstance(m, nn.Conv2d)]

    def _normalize(self, loaded: VGGWeights) -> None:
        """Rescale every filter to mean activation 1 on the calibration images (cached)."""
        relus = [name for name in self.architecture.layer_names if name.startswith("relu")]

        def measure() -> Dict[str, torch.Tensor]:
            return channel_means(self.iter_features, relus, calibration_images())

        channels = {name: self.architecture.spec(name).out_channels for name in relus}
        key = weights_digest(loaded.state, self.preprocessing)
        means = cached_means(key, measure, channels)
        # the rescaled weights are mapped from one file in the cache: every kernel shares them
        rescale_shared(self.convolutions(), {name.replace("relu", "conv"): means[name] for name in relus}, key)
        self.normalized = True

    @property
    def device(self) -> torch.device:
        """The device the weights live on."""
        return self.mean.device

    def train(self, mode: bool = True) -> "VGGFeatures":
        """VGG has no dropout or batch norm in its features: always stay in eval mode."""
        return super().train(False)

    def extra_repr(self) -> str:
        text = (
            f"{self.architecture.title}, weights={self.weights_source!r}, pooling={self.pooling!r}, "
            f"preprocessing={self.preprocessing!r}"
        )
        if self.normalized:
            text += ", normalized=True"
        if self.precision != "float32" or self.channels_last:
            text += f", precision={self.precision!r}, channels_last={self.channels_last}"
        return text

    def with_pooling(self, pooling: str) -> "VGGFeatures":
        """A copy with another pooling type and the same weights and settings.

        The weights are taken from this model's convolutions (nothing is read from disk,
        and no second copy is kept for the model's lifetime).
        """
        state = {
            f"{name}.{part}": getattr(module, part).detach().float().cpu()
            for name, module in self.convolutions()
            for part in ("weight", "bias")
        }
        weights = VGGWeights(
            state=state, source=self.weights_source, preprocessing=self.preprocessing, note=self.weights_note,
            architecture=self.architecture.name, normalized=self.normalized,  # the copies are already rescaled
        )
        return VGGFeatures(
            weights, pooling=pooling, device=self.device, precision=self.precision, channels_last=self.channels_last,
            normalize=False,
        )

    # ------------------------------------------------------------------ computation

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """Map ``(B, 3, H, W)`` RGB in [0, 1] to what the weights were trained on.

        torchvision weights: ``(image - mean) / std`` per channel (ImageNet statistics).
        Caffe weights: BGR order, 0-255 scale, ImageNet mean pixel subtracted.
        """
        if self.preprocessing == "caffe":
            image = image.flip(1)
        return (image - self.mean) / self.scale

    def denormalize(self, network_input: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`normalize`: ``(B, 3, H, W)`` network input back to RGB pixels
        (in [0, 1] for any input that :meth:`normalize` made from such pixels)."""
        image = network_input * self.scale + self.mean
        return image.flip(1) if self.preprocessing == "caffe" else image

    def forward(self, image: torch.Tensor, layers: str | Iterable[str]) -> Dict[str, torch.Tensor]:
        """Activations of ``layers`` for ``image``.

        Args:
            image: ``(B, 3, H, W)`` float tensor, RGB in [0, 1], on the model's device.
            layers: a layer name or names (see :attr:`layer_names`).

        Returns:
            ``{name: (B, C, h, w)}`` in the order requested, in the model's
            :attr:`precision`. Only the layers up to the deepest requested one are computed.
        """
        names = self.architecture.check_layer_names(layers)
        found = dict(self.iter_features(image, names))
        return {name: found[name] for name in names}

    def iter_features(self, image: torch.Tensor, layers: str | Iterable[str], *,
                      preprocessed: bool = False) -> Iterator[Tuple[str, torch.Tensor]]:
        """Yield ``(name, activations)`` for ``layers`` in network order, as the forward pass
        reaches them, and stop after the deepest one. ``preprocessed``: ``image`` is already
        the network's input (:meth:`normalize` of some pixels), not RGB pixels.

        A loss computed on each activation before asking for the next one is recorded in
        the autograd graph between the network's layers, so the backward pass meets it
        only when it gets back to that depth: its gradient is not allocated (and held)
        from the very start of the backward pass. For style transfer at 512 px that saves
        the size of the largest feature maps at peak.
        """
        arch = self.architecture
        names = arch.check_layer_names(layers)
        _check_batch(image)
        arch.check_input_size(image.shape[-2], image.shape[-1], names)
        wanted = set(names)
        last = max(arch.spec(name).index for name in names)
        x = image.to(device=self.mean.device, dtype=self.mean.dtype)
        x = x if preprocessed else self.normalize(x)
        x = x.to(_PRECISIONS[self.precision])
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        previous: Optional[str] = None
        for index, (name, module) in enumerate(self.layers.named_children()):
            if arch.layers[index].kind == "relu" and previous not in wanted:
                x = torch.relu_(x)  # the pre-activation is not needed: save its memory
            else:
                x = module(x)
            if name in wanted:
                yield name, x
            if index == last:
                return
            previous = name


def _build_layers(arch: Architecture, state: Dict[str, torch.Tensor]) -> nn.Sequential:
    """The network's modules, named by layer, with max pooling and the given weights.

    The convolutions hold ``state``'s tensors themselves, not copies: weights
    memory-mapped from a file stay shared between processes, and a copy of a model (see
    :meth:`VGGFeatures.with_pooling`) shares its original's. Nothing changes them in place
    (the normalisation makes new tensors).
    """
    modules: "OrderedDict[str, nn.Module]" = OrderedDict()
    for layer in arch.layers:
        if layer.kind == "conv":
            conv = nn.Conv2d(layer.in_channels, layer.out_channels, kernel_size=3, padding=1, device="meta")
            conv.weight = nn.Parameter(state[f"{layer.name}.weight"], requires_grad=False)
            conv.bias = nn.Parameter(state[f"{layer.name}.bias"], requires_grad=False)
            modules[layer.name] = conv
        else:
            modules[layer.name] = nn.ReLU() if layer.kind == "relu" else nn.MaxPool2d(2, 2)
    return nn.Sequential(modules)


def _check_batch(image: torch.Tensor) -> None:
    if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ImageLoadError(
            f"VGGFeatures expects a (B, 3, H, W) image tensor; got {shape}. Use "
            "stylelab.load_image(...) to make one."
        )
    if not image.dtype.is_floating_point:
        raise ImageLoadError(
            f"VGGFeatures expects float pixels in [0, 1], not {image.dtype}; use stylelab.load_image(...)."
        )
