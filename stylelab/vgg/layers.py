"""The anatomy of VGG-16 and VGG-19: layer names, channels, torchvision indices, receptive fields.

VGG (Simonyan & Zisserman, 2015) stacks 3x3 convolutions (stride 1, padding 1), each
followed by a ReLU, in five blocks separated by 2x2 pooling with stride 2. VGG-19 has
2, 2, 4, 4, 4 convolutions per block (16 in all), VGG-16 has 2, 2, 3, 3, 3 (13 in all);
their channels are the same: 64, 128, 256, 512, 512. Gatys et al. name the layers by block
and position: ``conv3_2`` is the second convolution of the third block. We name every
step of the network that way:

    conv1_1 relu1_1 conv1_2 relu1_2 pool1 conv2_1 relu2_1 ... relu5_4 pool5   (VGG-19)

``convX_Y`` is the convolution's output before the ReLU and ``reluX_Y`` the rectified
response after it. Gatys et al. write "conv4_2" for the *rectified* responses (their Caffe
network applied the ReLU in place), so the paper's "conv4_2" is our ``relu4_2``.

Every layer the lessons use (``relu1_1`` ... ``relu5_1``, ``relu4_2``) exists in both
networks. Layers ``conv3_4``, ``conv4_4``, ``conv5_4`` (and their ReLUs) are VGG-19's own.

Position ``i`` in :attr:`Architecture.layers` is also the index of the same module in
``torchvision.models.vgg19().features`` (or ``vgg16()``). The module-level names
(:data:`LAYERS`, :data:`LAYER_NAMES`, :func:`layer_table`, ...) describe VGG-19 unless a
``network=`` argument says otherwise; a :class:`~stylelab.VGGFeatures` model knows its own
:attr:`~stylelab.VGGFeatures.architecture`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple, Union

from ..errors import ImageTooSmallError, LayerNameError, ParameterError
from ..validate import non_negative

__all__ = [
    "LayerSpec",
    "Architecture",
    "VGG16",
    "VGG19",
    "ARCHITECTURES",
    "architecture",
    "LAYERS",
    "LAYER_NAMES",
    "CONV_NAMES",
    "check_layer_names",
    "layer_names",
    "style_layer_weights",
    "min_input_size",
    "check_input_size",
    "spec",
    "layer_table",
]


@dataclass(frozen=True)
class LayerSpec:
    """One step of a VGG network's ``features`` part.

    Attributes:
        name: Gatys-style name, e.g. ``"relu4_2"``.
        kind: ``"conv"``, ``"relu"`` or ``"pool"``.
        index: index of this module in torchvision's ``vgg16().features`` / ``vgg19().features``.
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


def _build(convs_per_block: Sequence[int]) -> Tuple[LayerSpec, ...]:
    specs: List[LayerSpec] = []
    channels, pools = 3, 0
    for block, (count, width) in enumerate(zip(convs_per_block, (64, 128, 256, 512, 512)), start=1):
        for position in range(1, count + 1):
            specs.append(LayerSpec(f"conv{block}_{position}", "conv", len(specs), channels, width, block, pools))
            specs.append(LayerSpec(f"relu{block}_{position}", "relu", len(specs), width, width, block, pools))
            channels = width
        pools += 1
        specs.append(LayerSpec(f"pool{block}", "pool", len(specs), channels, channels, block, pools))
    return tuple(specs)


class Architecture:
    """The layers of one VGG network and everything that follows from them.

    Args:
        name: ``"vgg16"`` or ``"vgg19"``.
        title: how people write it, ``"VGG-16"``.
        convs_per_block: convolutions in each of the five blocks.

    Attributes:
        layers: every :class:`LayerSpec` in network order.
        layer_names: ``('conv1_1', 'relu1_1', ..., 'pool5')``.
        conv_names: the convolutions, the layers that carry weights.
    """

    def __init__(self, name: str, title: str, convs_per_block: Sequence[int]) -> None:
        self.name = name
        self.title = title
        self.layers: Tuple[LayerSpec, ...] = _build(convs_per_block)
        self.layer_names: Tuple[str, ...] = tuple(s.name for s in self.layers)
        self.conv_names: Tuple[str, ...] = tuple(s.name for s in self.layers if s.kind == "conv")
        self._by_name: Dict[str, LayerSpec] = {s.name: s for s in self.layers}

    def __repr__(self) -> str:
        return f"Architecture({self.title}: {len(self.conv_names)} convolutions)"

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def spec(self, name: str) -> LayerSpec:
        """The :class:`LayerSpec` of one layer name (validated)."""
        return self._by_name[self.check_layer_names([name])[0]]

    def check_layer_names(self, names: str | Iterable[str]) -> List[str]:
        """Validate layer names and return them as a list (a single string is one name).

        Raises:
            LayerNameError: for an unknown name, suggesting the closest valid ones.
        """
        if isinstance(names, str):
            names = [names]
        try:
            result = list(names)
        except TypeError:
            raise LayerNameError(
                f"Layer names must be a name or a list of names such as ['relu4_2']; got {names!r}."
            ) from None
        if not result:
            raise LayerNameError("No layers were requested; pass at least one layer name such as 'relu4_2'.")
        for name in result:
            if not isinstance(name, str) or name not in self._by_name:
                raise LayerNameError(self._unknown(name))
        return result

    def _unknown(self, name: object) -> str:
        close = difflib.get_close_matches(str(name), self.layer_names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        other = next((a for a in ARCHITECTURES.values() if a is not self and name in a), None)
        if other is not None:
            hint = f" It is a layer of {other.title}, not of this network; {self.title} ends its blocks earlier.{hint}"
        return (
            f"{name!r} is not a {self.title} layer.{hint} Valid names look like 'conv1_1', "
            f"'relu4_2' or 'pool3' (see the model's layer_names)."
        )

    def ordered(self, names: Iterable[str]) -> List[str]:
        """``names`` (validated, without repeats) sorted in network order."""
        wanted = set(self.check_layer_names(list(names)))
        return [name for name in self.layer_names if name in wanted]

    def min_input_size(self, names: str | Sequence[str]) -> int:
        """Smallest image side (pixels) for which every named layer has at least 1x1 output."""
        deepest = max(self._by_name[name].pools_before for name in self.check_layer_names(names))
        return 2 ** deepest

    def check_input_size(self, height: int, width: int, names: Sequence[str], what: str = "this image") -> None:
        """Raise :class:`ImageTooSmallError` if an image is too small for ``names``.

        ``what`` names the image in the message (e.g. ``"the style image"``).
        """
        if isinstance(names, str):
            names = [names]
        if not names:
            return
        for name in self.check_layer_names(names):
            pools = self._by_name[name].pools_before
            need = 2 ** pools
            if height < need or width < need:
                raise ImageTooSmallError(
                    f"Layer {name} needs an image of at least {need}x{need} pixels (it comes after "
                    f"{pools} pooling layers, each halving the size), but {what} is "
                    f"{height}x{width}; load it with a larger size= or use shallower layers."
                )

    def layer_table(self, height: int = 224, width: int | None = None) -> List[dict]:
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
        for layer in self.layers:
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

    def receptive_field(self, name: str) -> int:
        """Side in input pixels of the patch one value of layer ``name`` can see."""
        self.spec(name)
        return next(row["receptive_field"] for row in self.layer_table(224) if row["name"] == name)


#: VGG-16: 13 convolutions (2, 2, 3, 3, 3 per block).
VGG16 = Architecture("vgg16", "VGG-16", (2, 2, 3, 3, 3))
#: VGG-19: 16 convolutions (2, 2, 4, 4, 4 per block), the network of Gatys et al.
VGG19 = Architecture("vgg19", "VGG-19", (2, 2, 4, 4, 4))
#: Both networks by name.
ARCHITECTURES: Dict[str, Architecture] = {"vgg16": VGG16, "vgg19": VGG19}

NetworkLike = Union[str, Architecture, None]


def architecture(network: NetworkLike = None) -> Architecture:
    """The :class:`Architecture` for ``"vgg16"``, ``"vgg19"``, an architecture, or ``None`` (VGG-19).

    Anything with an ``architecture`` attribute (a :class:`~stylelab.VGGFeatures`) gives its own.
    """
    if network is None:
        return VGG19
    if isinstance(network, Architecture):
        return network
    own = getattr(network, "architecture", None)
    if isinstance(own, Architecture):
        return own
    key = str(network).lower().replace("-", "").replace("_", "")
    if key not in ARCHITECTURES:
        raise ValueError(f"network must be 'vgg16' or 'vgg19', not {network!r}.")
    return ARCHITECTURES[key]


#: Every layer of VGG-19's feature extractor, in network order.
LAYERS: Tuple[LayerSpec, ...] = VGG19.layers
#: ``['conv1_1', 'relu1_1', 'conv1_2', ..., 'pool5']`` (VGG-19).
LAYER_NAMES: Tuple[str, ...] = VGG19.layer_names
#: VGG-19's 16 convolutions.
CONV_NAMES: Tuple[str, ...] = VGG19.conv_names


def spec(name: str, network: NetworkLike = None) -> LayerSpec:
    """The :class:`LayerSpec` of one layer name of ``network`` (default VGG-19)."""
    return architecture(network).spec(name)


def check_layer_names(names: str | Iterable[str], network: NetworkLike = None) -> List[str]:
    """Validate layer names of ``network`` (default VGG-19); see :meth:`Architecture.check_layer_names`."""
    return architecture(network).check_layer_names(names)


def layer_names(name: str, value: Any) -> List[str]:
    """A layer name or a list of names, checked (``name`` is the parameter, for the message)."""
    if isinstance(value, str):
        return check_layer_names(value)
    if value is None or isinstance(value, (Mapping, bytes)) or not isinstance(value, Iterable):
        raise ParameterError(
            f"{name} must be a layer name or a list of layer names such as ['relu4_2']; got {value!r}."
        )
    return check_layer_names(list(value))


def style_layer_weights(style_layers: Any) -> Dict[str, float]:
    """``{layer: weight}`` from a name, a list of names (weight 1 each) or a mapping.

    Raises :class:`~stylelab.LayerNameError` for an unknown name and
    :class:`~stylelab.ParameterError` for a wrong type or a weight that is not a finite
    number >= 0.
    """
    if isinstance(style_layers, Mapping):
        names = layer_names("style_layers", list(style_layers))
        return {layer: non_negative(f"the weight of style layer {layer}", style_layers[layer]) for layer in names}
    return {layer: 1.0 for layer in layer_names("style_layers", style_layers)}


def min_input_size(names: str | Sequence[str], network: NetworkLike = None) -> int:
    """Smallest image side for which every named layer has at least 1x1 output."""
    return architecture(network).min_input_size(names)


def check_input_size(
    height: int, width: int, names: Sequence[str], what: str = "this image", network: NetworkLike = None
) -> None:
    """Raise :class:`ImageTooSmallError` if an image is too small for ``names``."""
    architecture(network).check_input_size(height, width, names, what)


def layer_table(height: int = 224, width: int | None = None, network: NetworkLike = None) -> List[dict]:
    """One row per layer of ``network`` (default VGG-19); see :meth:`Architecture.layer_table`."""
    return architecture(network).layer_table(height, width)
