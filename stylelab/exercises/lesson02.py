"""Lesson 02's checker: the content loss, the mean squared difference of two feature maps."""

from __future__ import annotations

from typing import Callable, Tuple

import torch

from .checking import Fail, call, call_on_copies, callable_answer, checker, close, fmt, gradient_flows, match_mistakes, scalar, seeded

__all__ = ["check_content_loss"]

def _content_case() -> Tuple[torch.Tensor, torch.Tensor]:
    g = seeded(2)
    return torch.randn(1, 3, 4, 5, generator=g), torch.randn(1, 3, 4, 5, generator=g)


@checker("content_loss")
def check_content_loss(content_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """Check ``content_loss(generated, target) -> mean((generated - target) ** 2)`` (lesson 02).

    Known mistakes: ``sum_instead_of_mean``, ``half_sum`` (the paper's 1/2 sum),
    ``not_squared``, ``absolute_error``, ``square_root``, ``squared_the_mean``,
    ``not_reduced``, ``modifies_input``, ``not_a_tensor``, ``no_gradient``.
    """
    function = callable_answer(content_loss, "content_loss")
    generated, target = _content_case()
    inputs = "features of shape (1, 3, 4, 5)"
    out = call_on_copies(function, (generated, target), what="content_loss", inputs=inputs)
    value = scalar(out, "content_loss", "square the differences")
    diff = generated - target
    n = diff.numel()
    expected = diff.pow(2).mean()
    if not close(value, expected):
        match_mistakes(value, [
            ("sum_instead_of_mean", diff.pow(2).sum(),
             f"you took the sum of the squared differences, so the loss grows with the size of the layer "
             f"(here {n} elements, {n} times too big). Use .mean() instead of .sum()."),
            ("half_sum", 0.5 * diff.pow(2).sum(),
             "that is the paper's 1/2 * sum of squares (Gatys et al., eq. 1). stylelab uses the mean instead, "
             "which does not depend on the layer's size: replace 0.5 * (...).sum() with (...).mean()."),
            ("not_squared", diff.mean(),
             "you averaged the plain differences, so positive and negative ones cancel out (and the loss can go "
             "below zero). Square them first: ((generated - target) ** 2).mean()."),
            ("absolute_error", diff.abs().mean(),
             "you averaged the absolute differences (an L1 loss). The content loss squares them: "
             "((generated - target) ** 2).mean()."),
            ("square_root", diff.pow(2).mean().sqrt(),
             "you took the square root of the mean squared error (RMSE). Leave the root out: the loss is the "
             "mean of the squares."),
            ("squared_the_mean", diff.mean().pow(2),
             "you squared the mean difference instead of averaging the squared differences: square first, "
             "then take the mean."),
        ])
        raise Fail("wrong_value", f"for {inputs} your loss is {fmt(value)} but it should be {float(expected):.6g}.")
    same = call(function, generated.clone(), generated.clone(), what="content_loss", inputs="two identical feature maps")
    if not close(scalar(same, "content_loss", "square the differences"), 0.0, atol=1e-6):
        raise Fail("wrong_value", f"two identical feature maps should give a loss of 0, yours gives {fmt(same)}.")
    gradient_flows(function, (generated, target), "content_loss", inputs)
    return "your content loss is the mean squared difference of the two feature maps, and gradients flow through it."
