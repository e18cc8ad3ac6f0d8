"""The anatomy of VGG-19: layer names, channels, torchvision indices, receptive fields.

VGG-19 (Simonyan & Zisserman, 2015) has 16 convolutions (3x3, stride 1, padding 1), each
followed by a ReLU, in five blocks separated by 2x2 pooling with stride 2. Gatys et al.
name the layers by block and position: ``conv3_2`` is the second convolution of the
third block. We name every step of the network that way:

    conv1_1 relu1_1 conv1_2 relu1_2 pool1 conv2_1 relu2_1 ... conv5_4 relu5_4 pool5

``convX_Y`` is the convolution's output before the ReLU and ``reluX_Y`` the rectified
response after it. Gatys et al. write "conv4_2" for the *rectified* responses (their Caffe
network applied the ReLU in place), so the paper's "conv4_2" is our ``relu4_2``.

Position ``i`` in :data:`LAYERS` is also the index of the same module in
``torchvision.models.vgg19().features``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, List, Sequence, Tuple

from .errors import ImageTooSmallError, LayerNameError

__all__ = [
    "LayerSpec",
    "LAYERS",
    "LAYER_NAMES",
    "CONV_NAMES",
    "check_layer_names",
    "min_input_size",
    "check_input_size",
    "spec",
    "layer_table",
]

# Output channels of each convolution; "M" marks a pooling layer.
_VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
          512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


@dataclass(frozen=True)
class LayerSpec:
    """One step of VGG-19's ``features`` part.

    Attributes:
        name: Gatys-style name, e.g. ``"relu4_2"``.
        kind: ``"conv"``, ``"relu"`` or ``"pool"``.
        index: index of this module in ``torchvision.models.vgg19().features``.
        in_channels: channels entering the layer.
        out_channels: channels leaving the layer.
        block: 1-5, the block the layer belongs to.
        pools_before: pooling layers from the input up to and including this one.
    """

    name: str
    kind: str
    index: int
    in_channels: int
    out_channels: int
    block: int
    pools_before: int


def _build() -> Tuple[LayerSpec, ...]:
    specs: List[LayerSpec] = []
    block, position, channels, pools = 1, 1, 3, 0
    for entry in _VGG19:
        if entry == "M":
            pools += 1
            specs.append(LayerSpec(f"pool{block}", "pool", len(specs), channels, channels, block, pools))
            block, position = block + 1, 1
            continue
        specs.append(LayerSpec(f"conv{block}_{position}", "conv", len(specs), channels, entry, block, pools))
        specs.append(LayerSpec(f"relu{block}_{position}", "relu", len(specs), entry, entry, block, pools))
        channels, position = entry, position + 1
    return tuple(specs)


#: Every layer of VGG-19's feature extractor, in network order.
LAYERS: Tuple[LayerSpec, ...] = _build()
#: ``['conv1_1', 'relu1_1', 'conv1_2', ..., 'pool5']``.
LAYER_NAMES: Tuple[str, ...] = tuple(spec.name for spec in LAYERS)
#: The 16 convolutions, the layers that carry weights.
CONV_NAMES: Tuple[str, ...] = tuple(spec.name for spec in LAYERS if spec.kind == "conv")
_BY_NAME = {spec.name: spec for spec in LAYERS}


def spec(name: str) -> LayerSpec:
    """The :class:`LayerSpec` of one layer name (validated)."""
    return _BY_NAME[check_layer_names([name])[0]]


def check_layer_names(names: str | Iterable[str]) -> List[str]:
    """Validate layer names and return them as a list (a single string is one name).

    Raises:
        LayerNameError: for an unknown name, suggesting the closest valid ones.
    """
    if isinstance(names, str):
        names = [names]
    result = list(names)
    if not result:
        raise LayerNameError("No layers were requested; pass at least one layer name such as 'relu4_2'.")
    for name in result:
        if not isinstance(name, str) or name not in _BY_NAME:
            close = difflib.get_close_matches(str(name), LAYER_NAMES, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise LayerNameError(
                f"{name!r} is not a VGG-19 layer.{hint} Valid names look like 'conv1_1', "
                "'relu4_2' or 'pool3' (see stylelab.LAYER_NAMES)."
            )
    return result


def min_input_size(names: str | Sequence[str]) -> int:
    """Smallest image side (pixels) for which every named layer has at least 1x1 output."""
    deepest = max(_BY_NAME[name].pools_before for name in check_layer_names(names))
    return 2 ** deepest


def check_input_size(height: int, width: int, names: Sequence[str], what: str = "this image") -> None:
    """Raise :class:`ImageTooSmallError` if an image is too small for ``names``.

    ``what`` names the image in the message (e.g. ``"the style image"``).
    """
    if isinstance(names, str):
        names = [names]
    if not names:
        return
    for name in check_layer_names(names):
        need = 2 ** _BY_NAME[name].pools_before
        if height < need or width < need:
            pools = _BY_NAME[name].pools_before
            raise ImageTooSmallError(
                f"Layer {name} needs an image of at least {need}x{need} pixels (it comes after "
                f"{pools} pooling layers, each halving the size), but {what} is "
                f"{height}x{width}; load it with a larger size= or use shallower layers."
            )


def layer_table(height: int = 224, width: int | None = None) -> List[dict]:
    """One row per layer for an input of ``height x width`` pixels.

    Each row holds ``name``, ``kind``, ``channels``, ``height`` and ``width`` of the
    layer's output, ``receptive_field`` (the side, in input pixels, of the square patch
    that can influence one output value) and ``stride`` (input pixels between two
    neighbouring output values).

    Receptive field recursion: a k x k layer with stride s grows the field by
    ``(k - 1) * jump`` and multiplies the jump by ``s``; ReLUs change neither.
    """
    width = height if width is None else width
    rows = []
    field, jump, h, w = 1, 1, height, width
    for layer in LAYERS:
        if layer.kind == "conv":
            field += 2 * jump
        elif layer.kind == "pool":
            field += jump
            jump *= 2
            h, w = h // 2, w // 2
        rows.append(
            {
                "name": layer.name,
                "kind": layer.kind,
                "channels": layer.out_channels,
                "height": h,
                "width": w,
                "receptive_field": field,
                "stride": jump,
            }
        )
    return rows
