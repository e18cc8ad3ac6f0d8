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
``<cache>/normalization/<key>.json`` (written by :func:`stylelab.files.write_atomic`, so
a cache an instructor builds can be shared). Gatys et al. used ImageNet validation
images; any varied set of natural images gives similar scales.

A cached file is checked before it is used (:func:`checked_means`): it must name the
weights it was measured on (their fingerprint, :func:`weights_digest`), hold every
rectified layer of the network with one finite mean >= 0 per channel, and at least one
live filter per layer. A mean of 0 is a filter that never fired on the calibration images
(trained networks have a few); it keeps its scale. Anything else (another network's
means, a missing layer, wrong shapes, NaN, a negative mean, a file that is not one
stylelab wrote) is said in one ``RuntimeWarning`` naming the file, and the means are
measured again and the file rewritten; a network that says ``normalized=True`` is always
normalised by the means of its own weights.

The rescaled weights themselves are kept next to the means, in ``<key>.pth``, and every
process memory-maps that one file (:func:`rescale_shared`): thirty kernels on a hub that
share a cache folder hold one normalised network, not thirty.

>>> model = VGGFeatures(weights="caffe-vgg16", normalize=True)       # doctest: +SKIP
>>> model(image, "relu3_1")["relu3_1"].mean(dim=(0, 2, 3))          # about 1 per channel
"""

from __future__ import annotations

import json
import math
import os
import warnings
import zipfile
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import torch

from ..errors import FileReadError, FileWriteError, WeightsError
from ..files import read_regular, write_atomic
from ..imaging.download import cache_dir
from .weights import load_mapped, save_mappable, state_digest

__all__ = [
    "CALIBRATION_IMAGES", "CALIBRATION_SIZE", "calibration_images", "channel_means", "rescale", "rescale_shared",
    "weights_digest",
    "cached_means", "checked_means", "InvalidMeans",
]

#: The example images the means are measured on (``stylelab.imaging.data`` names), in this order.
CALIBRATION_IMAGES: Tuple[str, ...] = (
    "astronaut", "chelsea", "coffee", "rocket", "blocks", "hubble", "mosaic", "swirls", "waves",
)
#: Longest side, in pixels, of the calibration images.
CALIBRATION_SIZE = 224
#: Below this mean a filter counts as dead on the calibration images and keeps its scale.
DEAD = 1e-8
_VERSION = "1"  # bump when the calibration images, size or method change
#: The marker a cache file starts with.
MARK = "stylelab.normalization"
#: Largest cache file: VGG-19's 5,504 means as JSON take about 120 KB.
FILE_LIMIT = 4 * 2**20


def calibration_images(size: int = CALIBRATION_SIZE) -> List[torch.Tensor]:
    """The calibration set: :data:`CALIBRATION_IMAGES` as ``(1, 3, H, W)`` tensors in [0, 1]."""
    from ..imaging.data import example

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
    convs = list(convs)
    for (_, conv), (weight, bias) in zip(convs, _rescaled(convs, means)):
        _set(conv, weight, bias)


def rescale_shared(convs: Sequence[Tuple[str, torch.nn.Conv2d]], means: Mapping[str, torch.Tensor], key: str) -> bool:
    """:func:`rescale`, with the rescaled weights kept in one file that every process maps.

    The rescaled weights are a copy of the network in every process that builds it (56 MiB
    for VGG-16, in every student's kernel). Saved once in ``<cache>/normalization/<key[:32]>.pth``
    (PyTorch's zip format) and memory-mapped, they are the operating system's cached pages
    of that file: one copy for every kernel that uses the same cache folder. The file is
    trusted in nothing: it is used only if it holds exactly these convolutions' weights and
    biases and each is bit for bit what :func:`rescale` computes from ``convs`` and ``means``
    (checked one layer at a time, so no second copy of the network is made). Otherwise it
    is written again, with one ``RuntimeWarning`` if it was there; a cache that cannot be
    written only costs the memory (the weights stay as :func:`rescale` makes them).

    Args:
        convs, means: as for :func:`rescale`.
        key: the weights' fingerprint, :func:`weights_digest`.

    Returns:
        Whether the convolutions now hold the mapped file's tensors.
    """
    convs = list(convs)
    path = cache_dir() / "normalization" / f"{key[:32]}.pth"
    state = _mapped(path, convs, means)
    if state is None:
        if os.path.lexists(path):  # os.path's tests never raise
            warnings.warn(f"Ignoring the normalised weights file {str(path)!r}: it does not hold these weights "
                          "rescaled by their means; it is written again (or delete it).", RuntimeWarning, stacklevel=4)
        rescaled = {}
        for (name, _), (weight, bias) in zip(convs, _rescaled(convs, means)):
            rescaled[f"{name}.weight"], rescaled[f"{name}.bias"] = weight, bias
        state = _mapped(path, convs, means) if save_mappable(rescaled, path) else None
    mapped = state is not None
    if not mapped:
        state = rescaled
    for name, conv in convs:
        _set(conv, state[f"{name}.weight"], state[f"{name}.bias"])
    return mapped


def _rescaled(convs: Sequence[Tuple[str, torch.nn.Conv2d]],
              means: Mapping[str, torch.Tensor]) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """The rescaled ``(weight, bias)`` of each convolution in turn, from the weights it holds
    (see :func:`rescale`); nothing is changed."""
    previous = None
    for name, conv in convs:
        with torch.no_grad():
            scale = means[name].to(conv.weight)
            scale = torch.where(scale > DEAD, scale, torch.ones_like(scale))
            factor = 1 / scale.view(-1, 1, 1, 1) if previous is None else previous.view(1, -1, 1, 1) / scale.view(-1, 1, 1, 1)
            weight, bias = conv.weight * factor, conv.bias / scale
        yield weight, bias
        previous = scale


def _set(conv: torch.nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor) -> None:
    conv.weight = torch.nn.Parameter(weight, requires_grad=conv.weight.requires_grad)
    conv.bias = torch.nn.Parameter(bias, requires_grad=conv.bias.requires_grad)


def _mapped(path: Path, convs: Sequence[Tuple[str, torch.nn.Conv2d]],
            means: Mapping[str, torch.Tensor]) -> Optional[Dict[str, torch.Tensor]]:
    """The file's tensors, memory-mapped, if they are exactly the rescaled ``convs``; else None."""
    try:
        if not path.is_file() or not zipfile.is_zipfile(path):
            return None
        state = load_mapped(path)
    except Exception:  # noqa: BLE001 - torch.load fails in many ways on a damaged file
        return None
    names = {f"{name}.{part}" for name, _ in convs for part in ("weight", "bias")}
    if not isinstance(state, dict) or set(state) != names:
        return None
    for (name, _), expected in zip(convs, _rescaled(convs, means)):
        for part, want in zip(("weight", "bias"), expected):
            got = state[f"{name}.{part}"]
            if not (isinstance(got, torch.Tensor) and got.dtype == want.dtype and got.shape == want.shape
                    and torch.equal(got, want)):
                return None
    return state


def weights_digest(state: Mapping[str, torch.Tensor], preprocessing: str) -> str:
    """The calibration's cache key: the weights' :func:`~stylelab.vgg.weights.state_digest` salted
    with the calibration's version, size and the weights' preprocessing."""
    return state_digest(state, salt=f"{_VERSION}|{CALIBRATION_SIZE}|{preprocessing}")


class InvalidMeans(ValueError):
    """Means that must not be used to normalise a network (the reason is the message)."""


def checked_means(means: Mapping[str, object], channels: Mapping[str, int]) -> Dict[str, torch.Tensor]:
    """``means`` as ``{layer: (C,)}`` float32 tensors, if they can normalise this network.

    Args:
        means: ``{layer: values}`` (tensors or lists of numbers), measured or read back.
        channels: ``{layer: C}``, every rectified layer of the network and its channels.

    Raises:
        InvalidMeans: a layer is missing or extra, has the wrong number of values, a value
            is not a finite number >= 0, or a layer has no live filter (all below :data:`DEAD`).
    """
    if not isinstance(means, Mapping) or set(means) != set(channels):
        layers = sorted(means) if isinstance(means, Mapping) else type(means).__name__
        raise InvalidMeans(f"it holds the layers {layers}, not this network's {len(channels)} rectified layers")
    checked = {}
    for layer, count in channels.items():
        values = means[layer]
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().reshape(-1).tolist() if values.dim() == 1 and not values.is_meta else None
        if not (isinstance(values, list) and len(values) == count and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0 for v in values)):
            raise InvalidMeans(f"{layer} does not hold {count} finite means >= 0")
        if max(values) <= DEAD:
            raise InvalidMeans(f"every filter of {layer} has mean 0, which no trained or random network gives")
        checked[layer] = torch.tensor(values, dtype=torch.float32)
    return checked


def cached_means(key: str, compute: Callable[[], Dict[str, torch.Tensor]],
                 channels: Mapping[str, int]) -> Dict[str, torch.Tensor]:
    """``compute()`` once per ``key``: kept in ``<cache>/normalization/<key[:32]>.json``.

    Args:
        key: the weights' fingerprint, :func:`weights_digest`.
        compute: measures the means (``{layer: (C,)}``), when the cache cannot give them.
        channels: ``{layer: C}`` of every rectified layer (see :func:`checked_means`).

    A file that is missing is measured and written; one that does not pass
    :func:`checked_means`, names other weights, or is not a regular file is said in one
    ``RuntimeWarning`` (naming the file), measured again and rewritten. A cache that
    cannot be written (read-only, a full disk) only costs the measurement next time.

    Raises:
        WeightsError: the measured means themselves are unusable (NaN activations).
    """
    path = cache_dir() / "normalization" / f"{key[:32]}.json"
    try:
        raw = read_regular(path, limit=FILE_LIMIT, what="the normalisation cache file")
        if raw is not None:
            return _from_file(raw, key, channels)
    except (FileReadError, InvalidMeans) as exc:
        warnings.warn(f"Ignoring the normalisation cache file {str(path)!r}: {str(exc).rstrip('.')}; the means are "
                      "measured again and the file rewritten (or delete it).", RuntimeWarning, stacklevel=4)
    try:
        means = checked_means(compute(), channels)
    except InvalidMeans as exc:
        raise WeightsError(f"These weights cannot be normalised: on the calibration images {exc}; check the weights "
                           "file, or use normalize=False.") from None
    record = {"written_by": MARK, "version": _VERSION, "key": key,
              "means": {layer: values.tolist() for layer, values in means.items()}}
    try:
        write_atomic(path, json.dumps(record, allow_nan=False), what="the normalisation cache file")
    except FileWriteError as exc:  # a read-only or full cache only costs the calibration next time
        warnings.warn(f"The normalisation means were not kept ({str(exc).rstrip('.')}); they will be measured again "
                      "next time.", RuntimeWarning, stacklevel=4)
    return means


def _from_file(raw: bytes, key: str, channels: Mapping[str, int]) -> Dict[str, torch.Tensor]:
    """The means a cache file holds, if it is one stylelab wrote for these weights."""
    try:
        record = json.loads(raw.decode("utf-8"), parse_constant=lambda name: float("nan"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidMeans("it is not a file stylelab wrote (not valid JSON)") from None
    if not isinstance(record, dict) or record.get("written_by") != MARK or record.get("version") != _VERSION:
        raise InvalidMeans("it is not a file this version of stylelab wrote")
    if record.get("key") != key:
        raise InvalidMeans("it holds the means of other weights (another network's fingerprint)")
    return checked_means(record.get("means"), channels)
