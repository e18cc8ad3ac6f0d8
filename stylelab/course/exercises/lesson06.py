"""Lesson 06's checkers: the luminance of an RGB image, and the Gram matrix of a masked region."""

from __future__ import annotations

from typing import Callable, Sequence, Tuple

import torch

from ...engine import masks
from .checking import (Fail, batch_works, call_on_copies, callable_answer, checker, close, gradient_matches,
                       require_tensor, seeded)
from .mistakes import diagnose, right, wrong

__all__ = ["check_luminance", "check_guided_gram"]

#: Y of the YIQ colour space (Gatys et al. 2017, §5.1): the weights of R, G and B.
_LUMA = (0.299, 0.587, 0.114)


def _luminance_case() -> torch.Tensor:
    return torch.rand(1, 3, 5, 7, generator=seeded(8))


def _luma(image: torch.Tensor, weights: Sequence[float] = _LUMA) -> torch.Tensor:
    w = torch.tensor(weights, dtype=torch.float64).view(1, 3, 1, 1)
    return (image.double() * w).sum(dim=1, keepdim=True)


@checker("luminance")
def check_luminance(luminance: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """Check ``luminance(image) -> 0.299 R + 0.587 G + 0.114 B``, ``(B, 3, H, W) -> (B, 1, H, W)`` (lesson 06).

    Known mistakes: ``plain_average``, ``weights_reversed``, ``channel_dropped``,
    ``grey_rgb``, ``three_channels``, ``wrong_shape``, ``batch_of_one_only``,
    ``modifies_input``, ``not_a_tensor``.
    """
    function = callable_answer(luminance, "luminance")
    image = _luminance_case()
    b, _, h, w = image.shape
    inputs = f"an RGB image of shape {tuple(image.shape)}"
    out = require_tensor(call_on_copies(function, (image,), what="luminance", inputs=inputs), "luminance")
    expected = _luma(image)
    shape = tuple(out.shape)
    if shape != (b, 1, h, w):
        if shape in ((b, h, w), (h, w)):
            raise Fail("channel_dropped", f"your luminance has shape {shape}: the channel dimension was summed "
                        f"away. Keep it, e.g. with .sum(dim=1, keepdim=True): the answer is ({b}, 1, {h}, {w}), "
                        "an image with one channel.")
        if shape == tuple(image.shape):
            if close(out, expected.expand(-1, 3, -1, -1)):
                raise Fail("grey_rgb", "you returned the grey picture, Y copied into all three channels. "
                            f"Return the one channel Y itself, shape ({b}, 1, {h}, {w}); "
                            "sl.color.gray_to_rgb makes the grey picture from it when VGG-19 needs one.")
            raise Fail("three_channels", f"you returned three channels; luminance is one channel, shape "
                        f"({b}, 1, {h}, {w}): weight R, G and B and add them up over dimension 1.")
        raise Fail("wrong_shape", f"for {inputs} the luminance should have shape ({b}, 1, {h}, {w}); yours has {shape}.")
    if not close(out, expected):
        diagnose(out, [[
            right(_LUMA),
            wrong((1 / 3, 1 / 3, 1 / 3), "plain_average", "that is the plain average of R, G and B; luminance weights "
                  "them 0.299, 0.587 and 0.114, because the eye is most sensitive to green and least to blue."),
            wrong(_LUMA[::-1], "weights_reversed", "the weights are in the wrong order: 0.299 goes with red (channel 0) "
                  "and 0.114 with blue (channel 2). Images are RGB here, not BGR as in OpenCV."),
        ]], lambda weights: _luma(image, weights))
        raise Fail("wrong_value", f"for {inputs} your values differ from Y = 0.299 R + 0.587 G + 0.114 B (largest "
                    f"difference {float((out.detach().double() - expected).abs().max()):.3g}); check the weights "
                    "and which channel each one multiplies.")
    batch = torch.rand(2, 3, 3, 4, generator=seeded(9))
    batch_works(function, batch, _luma(batch), what="luminance",
                fix="Index the channels with image[:, 0:1] (or weight and sum over dim=1) rather than image[0], "
                    "so that every image of the batch keeps its place.")
    return "Y = 0.299 R + 0.587 G + 0.114 B, one channel per image, and the input is left as it was."


# --------------------------------------------------------------------------- guided Gram matrix


def _guided_case() -> Tuple[torch.Tensor, torch.Tensor]:
    g = seeded(10)
    features = torch.rand(1, 4, 5, 6, generator=g)
    mask = torch.rand(1, 1, 5, 6, generator=g)  # soft, so that every mistake gives another answer
    return features, mask


def _guided(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return masks.guided_gram_matrix(features, mask)  # the reference answer is stylelab's own


def _guided_aspects(positions: int) -> list:
    """The guided Gram matrix as a product of masked features divided by a number; the known mistakes of each."""
    return [
        [right("both"),
         wrong("one", "mask_on_one_factor", "you multiplied only one factor by the mask; the equation masks both: "
               "(F*T)(F*T)^T."),
         wrong("none", "mask_ignored", "the mask is not used: multiply the features by the mask, in both factors, "
               "before the product: (F*T)(F*T)^T.")],
        [right("sum of squared mask"),
         wrong("positions", "normalised_by_positions", f"you divided by h*w (here {positions}), the size of the whole "
               "layer; divide by the sum of the squared mask instead, so that the result is the Gram matrix of the "
               "region alone, however small it is."),
         wrong("sum of mask", "normalised_by_mask_sum", "you divided by the sum of the mask; every position enters the "
               "product twice (once in each factor), so divide by the sum of the squared mask, (mask ** 2).sum()."),
         wrong("one", "not_normalised", "the product is not normalised: divide it by the sum of the squared mask, "
               "(mask ** 2).sum().")],
    ]


def _guided_variant(features: torch.Tensor, mask: torch.Tensor, masked: str, divide: str) -> torch.Tensor:
    b, c, h, w = features.shape
    plain = features.reshape(b, c, h * w)
    weighted = (features * mask).reshape(b, c, h * w)
    left, other = {"both": (weighted, weighted), "one": (weighted, plain), "none": (plain, plain)}[masked]
    product = left @ other.transpose(1, 2)
    return product / {"sum of squared mask": mask.pow(2).sum(), "positions": h * w, "sum of mask": mask.sum(),
                      "one": 1}[divide]


@checker("guided_gram")
def check_guided_gram(guided_gram: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    r"""Check ``guided_gram(features, mask) -> (F o T)(F o T)^T / sum(T^2)``, shape ``(1, C, C)`` (lesson 06).

    ``features`` is ``(1, C, h, w)`` and ``mask`` ``(1, 1, h, w)`` at the same resolution
    (Gatys et al. 2017, §4; :func:`stylelab.engine.masks.guided_gram_matrix`).

    Known mistakes: ``normalised_by_positions``, ``normalised_by_mask_sum``,
    ``not_normalised``, ``mask_on_one_factor``, ``mask_ignored``, ``batch_dropped``,
    ``transposed_product``, ``wrong_shape``, ``modifies_input``, ``not_a_tensor``,
    ``no_gradient``.
    """
    function = callable_answer(guided_gram, "guided_gram")
    features, mask = _guided_case()
    b, c, h, w = features.shape
    inputs = f"features of shape {tuple(features.shape)} and a soft mask of shape {tuple(mask.shape)}"
    out = require_tensor(call_on_copies(function, (features, mask), what="guided_gram", inputs=inputs), "guided_gram")
    shape = tuple(out.shape)
    if shape != (b, c, c):
        if shape == (c, c):
            raise Fail("batch_dropped", f"your guided Gram matrix has shape {shape}: the batch dimension was "
                        f"dropped. Keep it: the answer is ({b}, {c}, {c}); reshape to (1, C, h*w) and use @ "
                        "(or torch.bmm) with the transpose of the last two dimensions.")
        if shape in ((b, h * w, h * w), (h * w, h * w)):
            raise Fail("transposed_product", f"your result has shape {shape}, positions by positions: you "
                        "multiplied (F*T)^T (F*T). The Gram matrix compares channels: (F*T)(F*T)^T, with F*T of "
                        "shape (1, C, h*w), gives (1, C, C).")
        raise Fail("wrong_shape", f"for {inputs} the guided Gram matrix should have shape ({b}, {c}, {c}); "
                    f"yours has {shape}.")
    expected = _guided(features, mask)
    if not close(out, expected):
        diagnose(out, _guided_aspects(h * w), lambda masked, divide: _guided_variant(features, mask, masked, divide))
        raise Fail("wrong_value", f"for {inputs} your values differ from (F*T)(F*T)^T / sum(T^2) (largest "
                    f"difference {float((out.detach().double() - expected.double()).abs().max()):.3g}); compare "
                    "your steps with the equation.")
    gradient_matches(function, (features, mask), _guided, what="guided_gram", inputs=inputs)
    return ("(F*T)(F*T)^T divided by the sum of the squared mask: the Gram matrix of the masked region, and "
            "gradients flow through it.")
