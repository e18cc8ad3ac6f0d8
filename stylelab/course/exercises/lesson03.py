"""Lesson 03's checkers: the Gram matrix of a layer, and the style loss built on it."""

from __future__ import annotations

from typing import Callable, Tuple

import torch

from ...engine import losses
from .checking import (Fail, batch_works, call_on_copies, callable_answer, checker, close, fmt, gradient_matches,
                       require_tensor, scalar, seeded)
from .mistakes import diagnose, right, squaring, wrong

__all__ = ["check_gram_matrix", "check_style_loss"]

def _gram_case() -> torch.Tensor:
    return torch.rand(1, 4, 3, 5, generator=seeded(3))


def _gram(features: torch.Tensor) -> torch.Tensor:
    return losses.gram_matrix(features)  # the reference answer is stylelab's own


def _raw_gram(features: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """``F F^T`` not yet divided; ``channels_last``: F read with reshape(B, H*W, C), as if channels were last."""
    b, c, h, w = features.shape
    if channels_last:
        flat = features.reshape(b, h * w, c)
        return flat.transpose(1, 2) @ flat
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2)


def _gram_aspects(features: torch.Tensor) -> list:
    """The Gram matrix as F F^T (F read right or as if channels were last) divided by a number; the known mistakes."""
    b, c, h, w = features.shape
    return [
        [right(False),
         wrong(True, "channels_last_reshape", "the shape is right but the values are scrambled: reshape(B, H*W, C) "
               "reads the tensor as if channels were last, but they come first. Use F = features.reshape(B, C, H * W), "
               "then F @ F^T.")],
        [right(h * w),
         wrong(1, "not_normalised", f"your Gram matrix is not divided by H*W (here {h * w}): without it the values "
               "grow with the image size. Divide F F^T by the number of positions, height * width."),
         wrong(c * h * w, "normalised_by_chw", "you divided by C*H*W (as the PyTorch tutorial does); stylelab's Gram "
               "matrix divides by H*W only, the number of positions, so each entry is an average over positions.")],
    ]


@checker("gram_matrix")
def check_gram_matrix(gram_matrix: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """Check ``gram_matrix(features)``: ``(B, C, H, W) -> (B, C, C)``, ``F F^T / (H W)`` (lesson 03).

    Known mistakes: ``batch_dropped``, ``transposed_product``, ``wrong_shape``,
    ``not_normalised``, ``normalised_by_chw``, ``channels_last_reshape``,
    ``batch_of_one_only``, ``modifies_input``, ``not_a_tensor``, ``no_gradient``.
    """
    function = callable_answer(gram_matrix, "gram_matrix")
    features = _gram_case()
    b, c, h, w = features.shape
    inputs = f"features of shape {tuple(features.shape)} (B={b}, C={c}, H={h}, W={w})"
    out = require_tensor(call_on_copies(function, (features,), what="gram_matrix", inputs=inputs), "gram_matrix")
    shape = tuple(out.shape)
    if shape != (b, c, c):
        if shape == (c, c):
            raise Fail("batch_dropped", f"your Gram matrix has shape {shape}: the batch dimension was dropped. "
                        f"Keep it: for {inputs} the result is ({b}, {c}, {c}), one C x C matrix per image.")
        if shape in ((b, h * w, h * w), (h * w, h * w)):
            raise Fail("transposed_product", f"your result has shape {shape}, H*W x H*W: you multiplied "
                        "F^T F (positions with positions). The Gram matrix compares channels: F F^T, with F of "
                        "shape (B, C, H*W), gives (B, C, C).")
        raise Fail("wrong_shape", f"for {inputs} the Gram matrix should have shape ({b}, {c}, {c}); yours has {shape}.")
    expected = _gram(features)
    if not close(out, expected):
        diagnose(out, _gram_aspects(features), lambda flatten, divide: _raw_gram(features, flatten) / divide)
        raise Fail("wrong_value", f"for {inputs} your Gram matrix differs from F F^T / (H*W) (largest "
                    f"difference {float((out.detach().double() - expected.double()).abs().max()):.3g}).")
    batch = torch.rand(2, 3, 2, 4, generator=seeded(4))
    batch_works(function, batch, _gram(batch), what="gram_matrix",
                fix="Keep the batch dimension through the reshape: features.reshape(B, C, H * W), then multiply "
                    "with its transpose over the last two dimensions (@ or torch.bmm).")
    gradient_matches(function, (features,), _gram, what="gram_matrix", inputs=inputs)
    return "shape (B, C, C), F F^T divided by H*W, and it works for batches too."


def _style_case() -> Tuple[torch.Tensor, torch.Tensor]:
    g = seeded(5)
    generated = torch.rand(1, 4, 3, 5, generator=g)
    style = torch.rand(1, 4, 6, 2, generator=g) * 2  # another image size: the Gram matrix is still 4 x 4
    return generated, _gram(style)


def _style_aspects(features: torch.Tensor, c: int) -> list:
    """The style loss as a reduction of an elementwise function of G - A, perhaps rooted; the known mistakes of each
    step, and of the Gram matrix G the learner's own gram_matrix may give."""
    b, _, h, w = features.shape
    return [
        [right(_gram(features)),
         wrong(_raw_gram(features), "gram_not_normalised", "the Gram matrix of the generated features is not divided "
               "by H*W, so it cannot match the target, which is. If you call your own gram_matrix, run "
               "check_gram_matrix on it first."),
         wrong(_gram(features) / c, "gram_normalised_by_chw", "the Gram matrix of the generated features is divided "
               "by C*H*W; the target's is divided by H*W only. If you call your own gram_matrix, run "
               "check_gram_matrix on it first."),
         wrong(_raw_gram(features, True) / (h * w), "gram_channels_last", "the Gram matrix of the generated features "
               "is scrambled (reshape(B, H*W, C) reads channels as if they were last). If you call your own "
               "gram_matrix, run check_gram_matrix on it first.")],
        squaring(" of the Gram matrices", "((G - A) ** 2).mean()"),
        [right(torch.mean),
         wrong(torch.sum, "sum_instead_of_mean", f"you summed the squared differences over the {c}x{c} Gram entries; "
               "stylelab takes their mean (.mean() instead of .sum()), so that layers with more channels do not "
               "dominate."),
         wrong(lambda d: d.mean() / 4, "paper_quarter", "you included the paper's factor 1/4 (E_l = 1/(4 N^2 M^2) "
               "sum (G - A)^2). With Gram matrices already divided by H*W, stylelab's style loss is the plain mean "
               "of (G - A)^2, which equals 4 E_l.")],
        [right(False),
         wrong(True, "square_root", "you took the square root of the mean squared difference; leave the root out.")],
    ]


def _style_variant(diff: torch.Tensor, elementwise, reduce, root: bool) -> torch.Tensor:
    value = reduce(elementwise(diff))
    return value.sqrt() if root else value


@checker("style_loss")
def check_style_loss(style_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """Check ``style_loss(generated_features, target_gram) -> mean((G - A) ** 2)`` (lesson 03).

    Known mistakes: ``sum_instead_of_mean``, ``paper_quarter``, ``not_squared``,
    ``absolute_error``, ``square_root``, ``gram_not_normalised``, ``not_reduced``,
    ``modifies_input``, ``not_a_tensor``, ``no_gradient``, ``unfinished_dependency``.
    """
    function = callable_answer(style_loss, "style_loss")
    features, target = _style_case()
    b, c, h, w = features.shape
    inputs = f"features of shape {tuple(features.shape)} and a target Gram matrix of shape {tuple(target.shape)}"
    out = call_on_copies(function, (features, target), what="style_loss", inputs=inputs)
    value = scalar(out, "style_loss", "square the differences of the two Gram matrices")
    diff = _gram(features) - target
    expected = diff.pow(2).mean()
    if not close(value, expected):
        diagnose(value, _style_aspects(features, c), lambda gram, *rest: _style_variant(gram - target, *rest))
        raise Fail("wrong_value", f"for {inputs} your loss is {fmt(value)} but it should be {float(expected):.6g}.")
    gradient_matches(function, (features, target), losses.style_loss, what="style_loss", inputs=inputs)
    return ("your style loss is the mean squared difference between the Gram matrix of the generated features "
            "and the target, and gradients flow through it.")
