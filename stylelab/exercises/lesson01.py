"""Lesson 01's checker: the output shape of a layer of VGG, computed without running the network."""

from __future__ import annotations

from typing import Callable, Dict, Sequence, Tuple

from ..layers import VGG19, Architecture, NetworkLike
from .checking import Fail, architecture_of, call, callable_answer, checker

__all__ = ["check_output_shape"]

_SHAPE_CASES = (("conv1_1", 224, 224), ("pool1", 224, 224), ("relu3_2", 100, 75), ("conv4_1", 100, 75),
                ("pool4", 100, 75), ("relu5_1", 90, 130), ("relu2_1", 37, 53))


def _shape_reference(layer: str, height: int, width: int, network: Architecture = VGG19) -> Tuple[int, int, int]:
    row = next(r for r in network.layer_table(height, width) if r["name"] == layer)
    return row["channels"], row["height"], row["width"]


def _shape_variants(layer: str, height: int, width: int, network: Architecture = VGG19) -> Dict[str, Tuple[int, int, int]]:
    info = network.spec(layer)
    channels, h, w = _shape_reference(layer, height, width, network)
    pools = info.pools_before
    own_block = info.block if info.kind != "pool" else info.pools_before
    ceil_h, ceil_w = height, width
    for _ in range(pools):
        ceil_h, ceil_w = -(-ceil_h // 2), -(-ceil_w // 2)
    return {
        "no_pooling": (channels, height, width),
        "counted_own_block": (channels, height // 2 ** own_block, width // 2 ** own_block),
        "channels_last": (h, w, channels),
        "rounded_up": (channels, ceil_h, ceil_w),
        "input_channels": (info.in_channels, h, w),
        "height_width_swapped": (channels, w, h),
    }


_SHAPE_MESSAGES = {
    "no_pooling": "your sizes never shrink. Each pooling layer (2x2, stride 2) halves the height and the "
                  "width; a layer in block b comes after b - 1 pooling layers (and poolb after b).",
    "counted_own_block": "you halved the size once too often: a convolution in block b comes after b - 1 "
                         "pooling layers, not b (the pooling layer closes its block).",
    "channels_last": "you returned (height, width, channels); PyTorch puts channels first: return "
                     "(channels, height, width).",
    "rounded_up": "for odd sizes you rounded up; VGG's pooling drops the last odd row or column, so each "
                  "pool gives floor(size / 2) (size // 2 in Python).",
    "input_channels": "you gave the channels that enter the layer; a convolution's output has as many "
                      "channels as it has filters (64, 128, 256, 512, 512 in blocks 1-5).",
    "height_width_swapped": "height and width are swapped: the answer is (channels, height, width) and "
                            "height is the first size you are given.",
}


@checker("output_shape")
def check_output_shape(output_shape: Callable[[str, int, int], Sequence[int]], network: NetworkLike = None) -> str:
    """Check ``output_shape(layer, height, width) -> (channels, h, w)`` (lesson 01).

    Args:
        output_shape: the learner's function.
        network: the network the learner studies: the lesson's model (a
            :class:`~stylelab.VGGFeatures`), ``"vgg16"`` or ``"vgg19"``; default VGG-19. The
            cases asked exist in both networks and have the same shapes in both (VGG-16 and
            VGG-19 differ only in how many convolutions a block has, which changes no shape),
            but the reference answers come from the given network's own layer table.

    Known mistakes: ``no_pooling``, ``counted_own_block``, ``channels_last``,
    ``rounded_up``, ``input_channels``, ``height_width_swapped``, ``not_three_numbers``,
    ``not_finite``.
    """
    function = callable_answer(output_shape, "output_shape")
    arch = architecture_of(network)
    answers = []
    for layer, height, width in _SHAPE_CASES:
        got = call(function, layer, height, width, what="output_shape", inputs=f"({layer!r}, {height}, {width})")
        try:
            values = tuple(int(v) for v in got)
        except OverflowError:  # int(inf): the learner's value, not a checker bug
            raise Fail(
                "not_finite",
                f"for {layer!r} on a {height}x{width} image your output_shape returned {got!r}, which holds an "
                "infinite or NaN value; return three whole numbers: (channels, height, width).",
            ) from None
        except (TypeError, ValueError):
            values = ()
        if len(values) != 3:
            raise Fail(
                "not_three_numbers",
                f"for {layer!r} on a {height}x{width} image your output_shape returned {got!r}; return three "
                "whole numbers: (channels, height, width).",
            )
        answers.append(values)
    expected = [_shape_reference(*case, arch) for case in _SHAPE_CASES]
    if answers == expected:
        return ("every layer has the right (channels, height, width): channels come from the block, and each "
                "pooling layer before it halves the size, rounding down.")
    variants = [_shape_variants(*case, arch) for case in _SHAPE_CASES]
    for mistake, message in _SHAPE_MESSAGES.items():
        if answers == [v[mistake] for v in variants]:
            raise Fail(mistake, message)
    index = next(i for i, (a, e) in enumerate(zip(answers, expected)) if a != e)
    layer, height, width = _SHAPE_CASES[index]
    raise Fail(
        "wrong_value",
        f"for {layer!r} on a {height}x{width} image you said {answers[index]}, but it is {expected[index]}. "
        f"Look at sl.layer_table({height}, {width}) for that layer.",
    )
