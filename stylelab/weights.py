"""Where VGG-19's weights come from: ImageNet, seeded random, or a file.

The lessons are written for VGG-19 trained on ImageNet (torchvision's
``VGG19_Weights.IMAGENET1K_V1``). The source is chosen by the ``weights`` argument or,
when that is ``None``, by the ``STYLELAB_WEIGHTS`` environment variable:

``"auto"`` (default)
    ImageNet weights if cached or downloadable; otherwise seeded random weights with a
    loud :class:`UntrainedWeightsWarning`.
``"imagenet"``
    ImageNet weights, or a :class:`~stylelab.errors.WeightsUnavailableError` that says how
    to get them offline.
``"random"``
    seeded, *untrained* VGG-19 (He, Wang & Hopcroft 2016 show that such networks still
    synthesise textures). Used by the tests and CI, which never download anything.
a file path
    a state dict: a whole torchvision VGG-19 (``features.0.weight`` ...), its
    ``features`` part only (``0.weight`` ...), or keys named by layer
    (``conv1_1.weight`` ..., the layout of Gatys et al.'s ``vgg_conv.pth``).

Files converted from the original Caffe model (jcjohnson's ``vgg19-d01eb7cb.pth``,
Gatys et al.'s ``vgg_conv.pth``) expect Caffe preprocessing: BGR channels, values in
0-255, mean subtracted. Those two names are recognised; for any other Caffe-converted file
pass ``preprocessing="caffe"``.

Nothing here pretends: :attr:`VGGWeights.source` always says which weights were used.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional

import torch

from .download import download
from .errors import DownloadError, WeightsFileError, WeightsUnavailableError
from .layers import CONV_NAMES, LAYERS

__all__ = [
    "VGGWeights",
    "UntrainedWeightsWarning",
    "load_weights",
    "resolve_weights_choice",
    "imagenet_url",
    "imagenet_cache_path",
    "download_imagenet_weights",
    "random_weights",
    "read_state_dict",
]

_CAFFE_FILES = {"vgg19-d01eb7cb.pth", "vgg_conv.pth"}
_PREFIXES = ("module.", "features.", "layers.", "body.", "vgg.")


class UntrainedWeightsWarning(UserWarning):
    """The network runs on random, untrained weights."""


@dataclass
class VGGWeights:
    """Weights for VGG-19's 16 convolutions.

    Attributes:
        state: ``{"conv1_1.weight": (64, 3, 3, 3), "conv1_1.bias": (64,), ...}``, float32.
        source: ``"imagenet"``, ``"random"`` or the file path.
        preprocessing: ``"torchvision"`` (RGB in [0, 1], ImageNet mean/std) or
            ``"caffe"`` (BGR in [0, 255] minus the ImageNet mean).
        note: why this source was used when it is not the one asked for, else ``""``.
    """

    state: Dict[str, torch.Tensor]
    source: str
    preprocessing: str
    note: str = ""


def resolve_weights_choice(weights: Optional[str | os.PathLike] = None) -> str:
    """The weights choice in effect: the argument, else ``$STYLELAB_WEIGHTS``, else ``"auto"``."""
    choice = weights if weights is not None else os.environ.get("STYLELAB_WEIGHTS") or "auto"
    return os.fspath(choice)


def imagenet_url() -> str:
    """Download address of torchvision's ImageNet VGG-19 weights."""
    from torchvision.models import VGG19_Weights

    return VGG19_Weights.IMAGENET1K_V1.url


def imagenet_cache_path() -> Path:
    """Where torch keeps the ImageNet weights (``$TORCH_HOME/hub/checkpoints/...``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / imagenet_url().rsplit("/", 1)[-1]


def download_imagenet_weights(timeout: float = 60.0) -> Path:
    """Download the ImageNet VGG-19 weights (548 MB) into torch's cache, once.

    The file name carries the first 8 hex digits of its SHA-256, which are checked.
    """
    path = imagenet_cache_path()
    digest = re.search(r"-([0-9a-f]{8,})\.pth$", path.name)
    return download(imagenet_url(), path, sha256=digest.group(1) if digest else None, timeout=timeout)


def random_weights(seed: int = 0) -> Dict[str, torch.Tensor]:
    """Seeded, untrained weights, initialised as torchvision initialises VGG.

    Kaiming-normal weights for ReLU networks (std = sqrt(2 / fan_out)) and zero biases,
    drawn from a private generator: the global random state is not touched.
    """
    generator = torch.Generator().manual_seed(int(seed))
    state: Dict[str, torch.Tensor] = {}
    for layer in LAYERS:
        if layer.kind != "conv":
            continue
        fan_out = layer.out_channels * 9
        shape = (layer.out_channels, layer.in_channels, 3, 3)
        state[f"{layer.name}.weight"] = torch.randn(shape, generator=generator) * (2.0 / fan_out) ** 0.5
        state[f"{layer.name}.bias"] = torch.zeros(layer.out_channels)
    return state


def read_state_dict(path: str | os.PathLike) -> Dict[str, torch.Tensor]:
    """Read a VGG-19 state dict from ``path`` and return it keyed by layer name.

    Accepts the layouts listed in the module docstring (and ``{"state_dict": ...}``
    wrappers); validates that all 16 convolutions are present with VGG-19's shapes.

    Raises:
        WeightsFileError: missing file, unreadable file, or not VGG-19 weights.
    """
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "missing"
        raise WeightsFileError(
            f"The weights file {str(path)!r} is {what}; pass the path of a .pth state-dict file, "
            "or weights='imagenet' / 'random'."
        )
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load fails in many ways on damaged files (KeyError, EOFError, ...)
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise WeightsFileError(
            f"{str(path)!r} is not a readable PyTorch state dict ({first}); it may be damaged or "
            "a whole pickled model: download it again, or save model.state_dict() instead."
        ) from None
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(raw, Mapping) and wrapper in raw and isinstance(raw[wrapper], Mapping):
            raw = raw[wrapper]
    if not isinstance(raw, Mapping) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise WeightsFileError(
            f"{str(path)!r} does not hold a state dict of tensors; save model.state_dict() of a "
            "torchvision vgg19 (or of its .features) with torch.save."
        )
    return _to_layer_names(raw, str(path))


def load_weights(
    weights: Optional[str | os.PathLike] = None,
    *,
    seed: int = 0,
    preprocessing: str = "auto",
    timeout: float = 30.0,
) -> VGGWeights:
    """Resolve ``weights`` (see the module docstring) and load them.

    Args:
        weights: ``"auto"``, ``"imagenet"``, ``"random"``, a path, or ``None`` to read
            ``$STYLELAB_WEIGHTS``.
        seed: seed of the random weights.
        preprocessing: ``"auto"``, ``"torchvision"`` or ``"caffe"``; only files can be
            Caffe-style, and ``"auto"`` recognises the known Caffe-converted file names.
        timeout: seconds allowed for the ImageNet download (``auto`` and ``imagenet``).
    """
    if preprocessing not in ("auto", "torchvision", "caffe"):
        raise WeightsFileError(
            f"preprocessing must be 'auto', 'torchvision' or 'caffe', not {preprocessing!r}."
        )
    choice = resolve_weights_choice(weights)
    lowered = choice.lower()
    if lowered == "random":
        return VGGWeights(random_weights(seed), "random", _plain(preprocessing))
    if lowered in ("imagenet", "auto"):
        try:
            path = _imagenet_file(timeout)
        except WeightsUnavailableError as exc:
            if lowered == "imagenet":
                raise
            warnings.warn(
                "Using UNTRAINED random VGG-19 weights, so results will NOT look like the "
                f"lessons' figures. {exc}",
                UntrainedWeightsWarning,
                stacklevel=3,
            )
            return VGGWeights(random_weights(seed), "random", _plain(preprocessing), note=str(exc))
        return VGGWeights(read_state_dict(path), "imagenet", _plain(preprocessing))
    path = Path(choice).expanduser()
    if not path.exists() and not any(sep in choice for sep in ("/", "\\", ".")):
        raise WeightsFileError(
            f"Unknown weights choice {choice!r}; use 'auto', 'imagenet', 'random' or the path of a .pth file."
        )
    state = read_state_dict(path)
    if preprocessing == "auto":
        preprocessing = "caffe" if path.name in _CAFFE_FILES else "torchvision"
    return VGGWeights(state, str(path), preprocessing)


# --------------------------------------------------------------------------- helpers


def _plain(preprocessing: str) -> str:
    if preprocessing == "caffe":
        raise WeightsFileError(
            "Caffe preprocessing only applies to Caffe-converted weight files; pass the file's "
            "path as weights=, or use preprocessing='auto'."
        )
    return "torchvision"


def _imagenet_file(timeout: float) -> Path:
    path = imagenet_cache_path()
    if path.is_file():
        return path
    try:
        return download_imagenet_weights(timeout=timeout)
    except DownloadError as exc:
        raise WeightsUnavailableError(
            f"The ImageNet VGG-19 weights are not in {path.parent} and could not be downloaded "
            f"({exc}). Run `python -m stylelab --download-weights` on a machine with internet, "
            f"or copy {path.name} from {imagenet_url()} into {path.parent} (set TORCH_HOME to "
            "use another folder). Set STYLELAB_WEIGHTS=random to run untrained on purpose."
        ) from None


def _to_layer_names(raw: Mapping[str, torch.Tensor], origin: str) -> Dict[str, torch.Tensor]:
    """Map any accepted key layout to ``{"conv1_1.weight": ..., ...}`` and validate it."""
    by_index = {str(layer.index): layer.name for layer in LAYERS}
    state: Dict[str, torch.Tensor] = {}
    for key, value in raw.items():
        stripped = key
        while True:
            for prefix in _PREFIXES:
                if stripped.startswith(prefix):
                    stripped = stripped[len(prefix):]
                    break
            else:
                break
        head, _, param = stripped.rpartition(".")
        if param not in ("weight", "bias"):
            continue
        name = by_index.get(head, head)
        if name in CONV_NAMES:
            if not torch.is_tensor(value) or not value.is_floating_point():  # reliability (issue 12): dtype check
                kind = value.dtype if torch.is_tensor(value) else type(value).__name__
                raise WeightsFileError(
                    f"{origin!r} stores {name}.{param} as {kind}, not as floating-point numbers, so it "
                    "cannot be a trained network's weights; save the state dict of the float model."
                )
            state[f"{name}.{param}"] = value.detach().to(torch.float32)
    for layer in LAYERS:
        if layer.kind != "conv":
            continue
        for param, shape in (("weight", (layer.out_channels, layer.in_channels, 3, 3)), ("bias", (layer.out_channels,))):
            key = f"{layer.name}.{param}"
            if key not in state:
                sample = ", ".join(list(raw.keys())[:3]) or "no keys at all"
                raise WeightsFileError(
                    f"{origin!r} has no {param} for {layer.name} (torchvision key "
                    f"features.{layer.index}.{param}); it holds {sample}... so it is not a VGG-19 "
                    "state dict: use torchvision's vgg19 weights or its .features part."
                )
            if tuple(state[key].shape) != shape:
                raise WeightsFileError(
                    f"{origin!r} gives {layer.name}.{param} the shape {tuple(state[key].shape)}, but "
                    f"VGG-19 needs {shape}; the file belongs to another network (VGG-16?)."
                )
            if not torch.isfinite(state[key]).all():
                raise WeightsFileError(
                    f"{origin!r} has NaN or infinite values in {layer.name}.{param}; the file is "
                    "damaged: download it again."
                )
    return state
