r"""Gatys et al.'s normalised network: every filter's mean activation rescaled to 1.

Gatys, Ecker & Bethge (CVPR 2016, §2) "normalized the network by scaling the weights such
that the mean activation of each convolutional filter over images and positions is equal
to one". Because a ReLU and a pooling layer commute with multiplying a channel by a
positive number, dividing filter :math:`c` of layer :math:`l` (its weights and bias) by its
mean activation :math:`m_{l,c}` and multiplying the next convolution's input weights for
channel :math:`c` by the same :math:`m_{l,c}` leaves every later pre-activation unchanged:
the network computes the same function, but each rectified layer now reads

.. math:: \tilde F_{l,c} = F_{l,c} / m_{l,c}, \qquad \operatorname{mean}(\tilde F_{l,c}) = 1.

Why it matters: the losses grow with the activations (a content loss as their square, a
style loss as their fourth power), and activations differ by orders of magnitude between
networks. On the cat photo at 128 px the mean activations of relu1_1 ... relu5_1 are
0.03-0.08 for a seeded random VGG-19 but 17-235 for the Caffe VGG-16 (which reads pixels
in 0-255). After normalisation both read 1 on average, so a content/style weight ratio
means the same on any network, and lesson 04 can sweep the paper's own ratios.

The means are measured once per set of weights on a fixed set of images (this
repository's nine example images at 224 px, the ``calibration`` below), then cached in
``<cache>/normalization/``. Gatys et al. used ImageNet validation images; any varied
set of natural images gives similar scales.

>>> model = VGGFeatures(weights="caffe-vgg16", normalize=True)       # doctest: +SKIP
>>> model(image, "relu3_1")["relu3_1"].mean(dim=(0, 2, 3))          # about 1 per channel
"""

from __future__ import annotations

import os
from typing import Callable, Dict, Iterable, List, Mapping, Sequence, Tuple

import torch

from .download import cache_dir
from .weights import state_digest

__all__ = ["CALIBRATION_IMAGES", "CALIBRATION_SIZE", "calibration_images", "channel_means", "rescale", "weights_digest"]

#: The example images the means are measured on (``stylelab.data`` names), in this order.
CALIBRATION_IMAGES: Tuple[str, ...] = (
    "astronaut", "chelsea", "coffee", "rocket", "blocks", "hubble", "mosaic", "swirls", "waves",
)
#: Longest side, in pixels, of the calibration images.
CALIBRATION_SIZE = 224
#: Below this mean a filter counts as dead on the calibration images and keeps its scale.
DEAD = 1e-8
_VERSION = "1"  # bump when the calibration images, size or method change


def calibration_images(size: int = CALIBRATION_SIZE) -> List[torch.Tensor]:
    """The calibration set: :data:`CALIBRATION_IMAGES` as ``(1, 3, H, W)`` tensors in [0, 1]."""
    from .data import example

    return [example(name, size=size) for name in CALIBRATION_IMAGES]


def channel_means(
    features: Callable[[torch.Tensor, List[str]], Iterable[Tuple[str, torch.Tensor]]],
    layers: Sequence[str],
    images: Sequence[torch.Tensor],
) -> Dict[str, torch.Tensor]:
    """Mean activation of every channel of ``layers``, over ``images`` and positions.

    Args:
        features: ``features(image, layers)`` yields ``(name, (1, C, h, w))`` pairs, e.g. a
            :meth:`VGGFeatures.iter_features`.
        layers: the rectified layers to measure, e.g. every ``relu*``.
        images: ``(1, 3, H, W)`` images in [0, 1]; each counts equally, whatever its size.

    Returns:
        ``{layer: (C,)}`` float32 means (0 for a filter that never fires).
    """
    totals: Dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for image in images:
            for name, value in features(image, list(layers)):
                mean = value.float().mean(dim=(0, 2, 3)).cpu()
                totals[name] = totals.get(name, 0) + mean
    return {name: total / len(images) for name, total in totals.items()}


def rescale(convs: Sequence[Tuple[str, torch.nn.Conv2d]], means: Mapping[str, torch.Tensor]) -> None:
    """Fold the normalisation into the convolutions (new weight tensors, set on each convolution).

    Args:
        convs: ``(name, conv)`` pairs in network order, e.g. ``("conv1_1", Conv2d(3, 64))``.
        means: ``{conv name: (C,)}`` mean activations of each convolution's rectified output
            (of the network as it was before this call); filters below :data:`DEAD` keep
            their scale.

    Filter ``c`` of each convolution is divided by its mean and the next convolution's
    input channel ``c`` multiplied by it, so each ReLU output is divided by its mean and
    nothing else changes. The rescaled weights are new tensors: the old ones may be shared
    (memory-mapped from the weights file, or held by another model) and stay as they are.
    """
    with torch.no_grad():
        previous = None
        for name, conv in convs:
            scale = means[name].to(conv.weight)
            scale = torch.where(scale > DEAD, scale, torch.ones_like(scale))
            factor = 1 / scale.view(-1, 1, 1, 1) if previous is None else previous.view(1, -1, 1, 1) / scale.view(-1, 1, 1, 1)
            conv.weight = torch.nn.Parameter(conv.weight * factor, requires_grad=conv.weight.requires_grad)
            conv.bias = torch.nn.Parameter(conv.bias / scale, requires_grad=conv.bias.requires_grad)
            previous = scale


def weights_digest(state: Mapping[str, torch.Tensor], preprocessing: str) -> str:
    """The calibration's cache key: the weights' :func:`~stylelab.weights.state_digest` salted
    with the calibration's version, size and the weights' preprocessing."""
    return state_digest(state, salt=f"{_VERSION}|{CALIBRATION_SIZE}|{preprocessing}")


def cached_means(key: str, compute: Callable[[], Dict[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
    """``compute()`` once per ``key``: kept in ``<cache>/normalization/<key>.pt`` (written atomically;
    a damaged or unreadable entry is computed again)."""
    path = cache_dir() / "normalization" / f"{key[:32]}.pt"
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(stored, dict) and all(isinstance(v, torch.Tensor) for v in stored.values()):
            return stored
    except Exception:  # missing or damaged: compute again
        pass
    means = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(means, partial)
        os.replace(partial, path)
    except OSError:  # a read-only cache only costs the calibration next time
        pass
    return means
