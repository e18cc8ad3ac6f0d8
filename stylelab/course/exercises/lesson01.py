"""Lesson 01's checker: the output shape of a layer of VGG, computed without running the network."""

from __future__ import annotations

import itertools
import math
import numbers
import operator
from typing import Any, Callable, List, Sequence, Tuple

from ...vgg.layers import VGG19, Architecture, NetworkLike
from .checking import Fail, TimeUp, architecture_of, call, callable_answer, checker, describe
from .mistakes import diagnose, right, wrong

__all__ = ["check_output_shape"]

_SHAPE_CASES = (("conv1_1", 224, 224), ("pool1", 224, 224), ("relu3_2", 100, 75), ("conv4_1", 100, 75),
                ("pool4", 100, 75), ("relu5_1", 90, 130), ("relu2_1", 37, 53))


def _shape_reference(layer: str, height: int, width: int, network: Architecture = VGG19) -> Tuple[int, int, int]:
    row = next(r for r in network.layer_table(height, width) if r["name"] == layer)
    return row["channels"], row["height"], row["width"]


def _shape_aspects() -> list:
    """An answer as a layout of (channels, height, width), a way of shrinking the sizes and a count of channels;
    the known mistakes of each."""
    return [
        [right("chw"),
         wrong("hwc", "channels_last", "you returned (height, width, channels); PyTorch puts channels first: return "
               "(channels, height, width)."),
         wrong("cwh", "height_width_swapped", "height and width are swapped: the answer is (channels, height, width) "
               "and height is the first size you are given.")],
        [right("floor"),
         wrong("none", "no_pooling", "your sizes never shrink. Each pooling layer (2x2, stride 2) halves the height "
               "and the width; a layer in block b comes after b - 1 pooling layers (and poolb after b)."),
         wrong("own block", "counted_own_block", "you halved the size once too often: a convolution in block b comes "
               "after b - 1 pooling layers, not b (the pooling layer closes its block)."),
         wrong("ceil", "rounded_up", "for odd sizes you rounded up; VGG's pooling drops the last odd row or column, "
               "so each pool gives floor(size / 2) (size // 2 in Python).")],
        [right("out"),
         wrong("in", "input_channels", "you gave the channels that enter the layer; a convolution's output has as "
               "many channels as it has filters (64, 128, 256, 512, 512 in blocks 1-5).")],
    ]


def _shape_variant(network: Architecture, layout: str, pooling: str, channels: str) -> List[Tuple[int, int, int]]:
    """The answers to every case of :data:`_SHAPE_CASES` that one combination of choices gives."""
    answers = []
    for layer, height, width in _SHAPE_CASES:
        info = network.spec(layer)
        count, h, w = _shape_reference(layer, height, width, network)
        if pooling == "none":
            h, w = height, width
        elif pooling == "own block":
            halvings = info.block if info.kind != "pool" else info.pools_before
            h, w = height // 2 ** halvings, width // 2 ** halvings
        elif pooling == "ceil":
            h, w = height, width
            for _ in range(info.pools_before):
                h, w = -(-h // 2), -(-w // 2)
        if channels == "in":
            count = info.in_channels
        answers.append({"chw": (count, h, w), "hwc": (h, w, count), "cwh": (count, w, h)}[layout])
    return answers


def _whole_numbers(got: Any, layer: str, height: int, width: int) -> Tuple[int, ...]:
    """The sizes the answer returned for one case, as ints; fail if they are not three whole numbers.

    At most four items are read, so an endless generator is not read forever.
    """
    case = f"for {layer!r} on a {height}x{width} image your output_shape returned {describe(got)}"
    try:
        items = list(itertools.islice(iter(got), 4))
    except TimeUp:
        raise
    except BaseException:  # noqa: BLE001 - not iterable, or its iteration raised
        items = None
    if items is None or len(items) != 3:
        raise Fail("not_three_numbers", f"{case}; return three whole numbers: (channels, height, width).")
    values = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Real):
            raise Fail("not_three_numbers", f"{case}; return three whole numbers: (channels, height, width).")
        number = None if isinstance(item, numbers.Integral) else float(item)
        if number is not None and not math.isfinite(number):
            raise Fail("not_finite", f"{case}, which holds an infinite or NaN value; return three whole numbers: "
                       "(channels, height, width).")
        if number is not None and not number.is_integer():
            raise Fail("true_division", f"{case}: {describe(item)} is not a size. Sizes are whole numbers: halve with "
                       "// (floor division), which drops the odd row or column as VGG's pooling does, not with /.")
        values.append(int(item))
    return tuple(values)


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

    Known mistakes (also several together, e.g. ``channels_last+rounded_up``): ``no_pooling``,
    ``counted_own_block``, ``channels_last``, ``rounded_up``, ``input_channels``,
    ``height_width_swapped``, ``not_three_numbers``, ``not_finite``, ``true_division``.
    """
    function = callable_answer(output_shape, "output_shape")
    arch = architecture_of(network)
    answers = []
    for layer, height, width in _SHAPE_CASES:
        got = call(function, layer, height, width, what="output_shape", inputs=f"({layer!r}, {height}, {width})")
        answers.append(_whole_numbers(got, layer, height, width))
    expected = [_shape_reference(*case, arch) for case in _SHAPE_CASES]
    if answers == expected:
        return ("every layer has the right (channels, height, width): channels come from the block, and each "
                "pooling layer before it halves the size, rounding down.")
    diagnose(answers, _shape_aspects(), lambda *choices: _shape_variant(arch, *choices), same=operator.eq)
    index = next(i for i, (a, e) in enumerate(zip(answers, expected)) if a != e)
    layer, height, width = _SHAPE_CASES[index]
    raise Fail(
        "wrong_value",
        f"for {layer!r} on a {height}x{width} image you said {answers[index]}, but it is {expected[index]}. "
        f"Look at sl.layer_table({height}, {width}) for that layer.",
    )
