"""Lesson 02's checker: the content loss, the mean squared difference of two feature maps."""

from __future__ import annotations

from typing import Callable, Tuple

import torch

from .checking import Fail, call, call_on_copies, callable_answer, checker, close, fmt, gradient_matches, scalar, seeded
from .mistakes import diagnose, right, squaring, wrong

__all__ = ["check_content_loss"]

def _content_case() -> Tuple[torch.Tensor, torch.Tensor]:
    g = seeded(2)
    return torch.randn(1, 3, 4, 5, generator=g), torch.randn(1, 3, 4, 5, generator=g)


def _reference(generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((generated - target) ** 2).mean()


def _content_aspects(n: int) -> list:
    """The content loss as a reduction of an elementwise function of ``diff``, then an outer step; the known
    mistakes of each (``n``: the number of elements, for the message)."""
    return [
        squaring("", "((generated - target) ** 2).mean()"),
        [right(torch.mean),
         wrong(torch.sum, "sum_instead_of_mean", f"you took the sum of the squared differences, so the loss grows with "
               f"the size of the layer (here {n} elements, {n} times too big). Use .mean() instead of .sum()."),
         wrong(lambda d: 0.5 * d.sum(), "half_sum", "that is the paper's 1/2 * sum of squares (Gatys et al., eq. 1). "
               "stylelab uses the mean instead, which does not depend on the layer's size: replace 0.5 * (...).sum() "
               "with (...).mean().")],
        [right("plain"),
         wrong("root", "square_root", "you took the square root of the mean squared error (RMSE). Leave the root "
               "out: the loss is the mean of the squares."),
         wrong("square of mean", "squared_the_mean", "you squared the mean difference instead of averaging the squared "
               "differences: square first, then take the mean.")],
    ]


def _content_variant(diff: torch.Tensor, elementwise, reduce, after: str) -> torch.Tensor:
    """One combination: ``after`` is "plain", "root" (of the reduced value) or "square of mean" (reduce the
    plain differences, then square: the elementwise step is left out)."""
    if after == "square of mean":
        return reduce(diff) ** 2
    value = reduce(elementwise(diff))
    return value.sqrt() if after == "root" else value


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
        diagnose(value, _content_aspects(n), lambda *choices: _content_variant(diff, *choices))
        raise Fail("wrong_value", f"for {inputs} your loss is {fmt(value)} but it should be {float(expected):.6g}.")
    same = call(function, generated.clone(), generated.clone(), what="content_loss", inputs="two identical feature maps")
    if not close(scalar(same, "content_loss", "square the differences"), 0.0, atol=1e-6):
        raise Fail("wrong_value", f"two identical feature maps should give a loss of 0, yours gives {fmt(same)}.")
    gradient_matches(function, (generated, target), _reference, what="content_loss", inputs=inputs)
    return "your content loss is the mean squared difference of the two feature maps, and gradients flow through it."
