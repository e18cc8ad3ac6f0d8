"""Lesson 05's checkers: the total-variation loss, one optimisation step, and the L-BFGS closure."""

from __future__ import annotations

import math
from typing import Callable, Tuple

import torch

from .checking import Fail, call, call_on_copies, callable_answer, checker, close, fmt, gradient_flows, match_mistakes, scalar, seeded

__all__ = ["check_tv_loss", "check_optimization_step"]

def _tv_case() -> torch.Tensor:
    return torch.rand(1, 3, 5, 6, generator=seeded(6))


@checker("tv_loss")
def check_tv_loss(tv_loss: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """Check ``tv_loss(image) -> mean(dx ** 2) + mean(dy ** 2)`` (lesson 05).

    Known mistakes: ``sum_instead_of_mean``, ``one_direction``, ``absolute_differences``,
    ``averaged_directions``, ``wrong_dimension``, ``not_reduced``, ``modifies_input``,
    ``not_a_tensor``, ``no_gradient``.
    """
    function = callable_answer(tv_loss, "tv_loss")
    image = _tv_case()
    inputs = f"an image of shape {tuple(image.shape)}"
    out = call_on_copies(function, (image,), what="tv_loss", inputs=inputs)
    value = scalar(out, "tv_loss", "square the differences of neighbouring pixels")
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    expected = dx.pow(2).mean() + dy.pow(2).mean()
    if not close(value, expected):
        channel = image[:, 1:] - image[:, :-1]
        match_mistakes(value, [
            ("sum_instead_of_mean", dx.pow(2).sum() + dy.pow(2).sum(),
             "you summed the squared differences, so the loss grows with the image size. Take the mean of each "
             "direction: (dx ** 2).mean() + (dy ** 2).mean()."),
            ("one_direction", dx.pow(2).mean(),
             "you only compared horizontal neighbours (along the width); add the vertical ones too: "
             "dy = image[..., 1:, :] - image[..., :-1, :]."),
            ("one_direction", dy.pow(2).mean(),
             "you only compared vertical neighbours (along the height); add the horizontal ones too: "
             "dx = image[..., :, 1:] - image[..., :, :-1]."),
            ("absolute_differences", dx.abs().mean() + dy.abs().mean(),
             "you used absolute differences (the L1 total variation); stylelab's tv_loss squares them."),
            ("averaged_directions", expected / 2,
             "you averaged the two directions (divided by 2); stylelab adds the two means: "
             "(dx ** 2).mean() + (dy ** 2).mean()."),
            ("averaged_directions", (dx.pow(2).sum() + dy.pow(2).sum()) / (dx.numel() + dy.numel()),
             "you took one mean over all differences of both directions together; stylelab adds the two means: "
             "(dx ** 2).mean() + (dy ** 2).mean()."),
            ("wrong_dimension", channel.pow(2).mean() + (image[:, :, 1:] - image[:, :, :-1]).pow(2).mean(),
             "one of your differences runs along the colour channels (dimension 1). For (B, C, H, W) images, "
             "neighbours are along dimension 2 (height) and 3 (width): image[..., 1:, :] and image[..., :, 1:]."),
            ("wrong_dimension", channel.pow(2).mean() + dx.pow(2).mean(),
             "one of your differences runs along the colour channels (dimension 1). For (B, C, H, W) images, "
             "neighbours are along dimension 2 (height) and 3 (width): image[..., 1:, :] and image[..., :, 1:]."),
        ])
        raise Fail("wrong_value", f"for {inputs} your loss is {fmt(value)} but it should be {float(expected):.6g}.")
    flat = call(function, torch.full((1, 3, 4, 4), 0.3), what="tv_loss", inputs="a constant grey image")
    if not close(scalar(flat, "tv_loss", "square the differences"), 0.0, atol=1e-7):
        raise Fail("wrong_value", f"a constant image has no variation, so its loss must be 0; yours is {fmt(flat)}.")
    gradient_flows(function, (image,), "tv_loss", inputs)
    return "mean squared difference of horizontal plus vertical neighbours; 0 for a flat image."


# --------------------------------------------------------------------------- one optimisation step

_STEP_LR = 0.4
_STALE = 3.0


def _step_case() -> Tuple[torch.Tensor, torch.Tensor]:
    g = seeded(7)
    start = torch.rand(1, 3, 4, 4, generator=g) * 0.6 + 0.2  # inside [0, 1]
    target = torch.rand(1, 3, 4, 4, generator=g) * 3.0 - 1.0  # partly outside: the step overshoots
    return start, target


@checker("optimization_step")
def check_optimization_step(optimization_step: Callable[[torch.Tensor, torch.optim.Optimizer, Callable], float]) -> str:
    """Check ``optimization_step(image, optimizer, loss_fn) -> float`` (lesson 05).

    The step must clear old gradients, evaluate ``loss_fn(image)``, back-propagate, let
    the optimiser update ``image`` in place, clamp it to [0, 1] without recording the
    clamp, and return the loss (before the update) as a Python float.

    Known mistakes: ``forgot_zero_grad``, ``no_backward``, ``no_step``, ``no_clamp``,
    ``clamp_without_no_grad``, ``returned_tensor``, ``returned_nothing``, ``wrong_loss``.
    """
    function = callable_answer(optimization_step, "optimization_step")
    start, target = _step_case()

    def loss_fn(x: torch.Tensor) -> torch.Tensor:
        return ((x - target) ** 2).sum()

    image = start.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([image], lr=_STEP_LR)
    image.grad = torch.full_like(start, _STALE)  # a gradient left over from a previous step
    inputs = "an image of shape (1, 3, 4, 4), an SGD optimizer and a squared-error loss"
    returned = call(function, image, optimizer, loss_fn, what="optimization_step", inputs=inputs, hints=(
        ("leaf Variable that requires grad", "clamp_without_no_grad", "PyTorch refused to change the image in place "
         "while recording gradients. Wrap the clamp in torch.no_grad(): with torch.no_grad(): image.clamp_(0, 1)."),
        ("does not require grad", "raised_error", "PyTorch said: {text}. The loss was computed without a graph: do "
         "not wrap loss_fn(image) in torch.no_grad() or detach the image."),
    ))
    true_grad = 2 * (start - target)
    after = image.detach()
    moved = not torch.allclose(after, start)
    if not moved:
        if image.grad is None or torch.allclose(image.grad, torch.full_like(start, _STALE)):
            raise Fail("no_backward", "the image did not change and no new gradient was computed: call "
                        "loss.backward() after computing the loss, then optimizer.step().")
        raise Fail("no_step", "the gradient was computed but the image did not move: call optimizer.step() after "
                    "loss.backward() (and let it change the image in place rather than making a new tensor).")
    right = (start - _STEP_LR * true_grad).clamp(0, 1)
    if not close(after, right, rtol=1e-4, atol=1e-6):
        stale = start - _STEP_LR * (true_grad + _STALE)
        match_mistakes(after, [
            ("forgot_zero_grad", stale.clamp(0, 1), _ZERO_GRAD_MESSAGE),
            ("forgot_zero_grad", stale, _ZERO_GRAD_MESSAGE),
            ("no_backward", (start - _STEP_LR * _STALE).clamp(0, 1),
             "the image moved by an old gradient only: call loss.backward() before optimizer.step()."),
            ("no_clamp", start - _STEP_LR * true_grad,
             f"some pixels left [0, 1] (the largest is now {float(after.max()):.2f}); after the step, clamp them "
             "back with: with torch.no_grad(): image.clamp_(0, 1)."),
        ])
        raise Fail("wrong_value", "after your step the image is not what one step of the optimiser gives "
                    f"(largest difference {float((after - right).abs().max()):.3g}). The order is: zero_grad, "
                    "loss, backward, step, clamp.")
    loss_before = float(loss_fn(start))
    if returned is None:
        raise Fail("returned_nothing", "the step is right, but it returns None; return the loss as a float "
                    "(loss.item()) so that the caller can record it.")
    if isinstance(returned, torch.Tensor):
        raise Fail("returned_tensor", "the step is right, but it returns a tensor; return loss.item(), a plain "
                    "float: a stored tensor keeps the whole computation graph (and its memory) alive.")
    if not isinstance(returned, (int, float)) or not math.isclose(float(returned), loss_before, rel_tol=1e-4):
        raise Fail("wrong_loss", f"the step is right, but you returned {returned!r}; return the loss computed "
                    f"before the update ({loss_before:.6g}), as loss.item().")
    return ("the step clears the old gradients, back-propagates, updates the image by exactly one optimiser step, "
            "keeps it in [0, 1] and returns the loss.")


_ZERO_GRAD_MESSAGE = ("the update also used a gradient left over from an earlier step: gradients add up in "
                      ".grad until you clear them. Call optimizer.zero_grad() at the start of every step.")
