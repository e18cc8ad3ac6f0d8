"""The optimisation loop on a small objective with a known minimum (no network)."""

from __future__ import annotations

import math

import pytest
import torch

from stylelab.engine.optimize import optimize, zero_blocked_gradient

TARGET = torch.linspace(0.1, 0.9, 48).reshape(1, 3, 4, 4)


def _objective(image):
    error = ((image - TARGET) ** 2).sum()
    zero = error * 0
    return {"content": error, "style": zero, "tv": zero, "total": error}


@pytest.mark.parametrize("optimizer, lr", [("lbfgs", 1.0), ("adam", 0.05)])
def test_the_loss_falls_within_the_budget_and_the_best_image_is_returned(optimizer, lr):
    result = optimize(_objective, torch.zeros(1, 3, 4, 4), optimizer=optimizer, steps=20, lr=lr, progress=False)
    total = result.history["total"]
    assert result.evaluations <= 20 and len(total) == result.evaluations
    assert min(total) < 0.5 * total[0] and result.status == "completed"
    assert math.isclose(_objective(result.image)["total"].item(), min(total), rel_tol=1e-5) or optimizer == "adam"


def test_lbfgs_reaches_the_minimum_of_a_quadratic():
    result = optimize(_objective, torch.zeros(1, 3, 4, 4), steps=30, progress=False)
    assert torch.allclose(result.image, TARGET, atol=1e-3)


def test_the_callback_can_stop_the_run_and_keeps_the_best_image():
    seen = []
    result = optimize(_objective, torch.zeros(1, 3, 4, 4), steps=50, callback=lambda n, image, losses: seen.append(n) or n == 3,
                      progress=False)
    assert seen == [1, 2, 3] and result.status == "stopped" and result.evaluations == 3


def test_a_failing_callback_stops_the_run_with_a_warning_not_an_exception():
    def broken(n, image, losses):
        raise KeyError("oops")

    with pytest.warns(RuntimeWarning, match="The callback raised KeyError"):
        result = optimize(_objective, torch.zeros(1, 3, 4, 4), steps=5, callback=broken, progress=False)
    assert result.status == "stopped" and result.evaluations == 1


def test_a_nan_loss_ends_the_run_with_the_image_before_it():
    def nan_after_two(image, calls=[0]):  # noqa: B006 - a counter kept between calls
        calls[0] += 1
        terms = _objective(image)
        if calls[0] > 2:
            terms["style"] = terms["style"] + float("nan")
            terms["total"] = terms["total"] + float("nan")
        return terms

    with pytest.warns(RuntimeWarning, match="The style loss became NaN at evaluation 3"):
        result = optimize(nan_after_two, torch.zeros(1, 3, 4, 4), steps=10, progress=False, weights={"style": 1.0})
    assert result.status == "diverged" and result.evaluations == 2 and torch.isfinite(result.image).all()


@pytest.mark.parametrize("optimizer, lr", [("lbfgs", 1.0), ("adam", 0.5)])
def test_pixels_stay_in_the_unit_range(optimizer, lr):
    # The loss keeps falling as the pixels grow: without the projection they would pass 1.
    result = optimize(lambda image: {"total": -(image.sum())}, torch.rand(1, 3, 4, 4), optimizer=optimizer, lr=lr,
                      steps=8, progress=False)
    assert result.image.min() >= 0 and result.image.max() == 1.0


def test_blocked_gradients_are_zeroed_at_the_bounds_only():
    image = torch.tensor([[[[0.0, 1.0, 0.5, 0.0]]]], requires_grad=True)
    image.grad = torch.tensor([[[[1.0, -1.0, 1.0, -1.0]]]])
    zero_blocked_gradient(image)
    assert image.grad.tolist() == [[[[0.0, 0.0, 1.0, -1.0]]]]


def test_without_clamp_the_pixels_may_leave_the_unit_range_but_the_result_is_clipped():
    seen = []
    result = optimize(lambda image: {"total": -(image.sum())}, torch.rand(1, 3, 4, 4), optimizer="adam", lr=0.5,
                      steps=8, progress=False, clamp=False, callback=lambda n, image, losses: seen.append(losses["total"]))
    assert seen[-1] < -48  # the sum of 48 pixels passed 48: they went above 1
    assert result.image.max() == 1.0  # the returned picture is clipped


def test_other_units_change_lbfgs_first_step_only_by_their_scale():
    # L-BFGS on 10 * x: its first step is 10 times shorter in x; from there on, the same path.
    scale = 10.0
    plain, scaled = [], []
    optimize(_objective, torch.zeros(1, 3, 4, 4), steps=6, line_search=False, progress=False, clamp=False,
             callback=lambda n, image, losses: plain.append(losses["total"]))
    optimize(lambda y: _objective(y / scale), torch.zeros(1, 3, 4, 4), steps=6, line_search=False, progress=False,
             clamp=False, units=(lambda x: x * scale, lambda y: y / scale),
             callback=lambda n, image, losses: scaled.append(losses["total"]))
    step = TARGET.sum()  # the first gradient is -2 * TARGET; L-BFGS's first step has L1 length 1
    first = lambda length: ((TARGET * (1 - length / step)) ** 2).sum().item()  # noqa: E731
    assert plain[1] == pytest.approx(first(1.0), rel=1e-5) and scaled[1] == pytest.approx(first(1 / scale), rel=1e-5)
    assert plain[0] == scaled[0] and plain[1] != scaled[1]


def test_units_keep_the_bounds_of_the_pixels():
    # In units 2x - 1, the pixels' bounds [0, 1] are [-1, 1]: the projection still keeps the pixels in [0, 1].
    seen = []
    optimize(lambda y: {"total": y[:, 0].sum() - y[:, 1].sum()}, torch.full((1, 3, 4, 4), 0.5),
             optimizer="adam", lr=0.5, steps=6, progress=False, units=(lambda x: 2 * x - 1, lambda y: (y + 1) / 2),
             callback=lambda n, image, losses: seen.append(losses["total"]))
    assert min(seen) == -32.0  # red went to pixel 0 (-1 in these units), green to 1 (+1), and no further


def test_keras_epsilon_is_added_before_the_bias_correction():
    # Keras's Adam: x -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps), written out by hand.
    lr, (b1, b2), eps = 0.05, (0.99, 0.999), 0.1
    x, m, v, expected = torch.zeros(1, 3, 4, 4), 0.0, 0.0, []
    for t in range(1, 5):
        expected.append(x.clone())
        grad = 2 * (x - TARGET)
        m, v = b1 * m + (1 - b1) * grad, b2 * v + (1 - b2) * grad ** 2
        x = x - lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (v.sqrt() + eps)
    seen = []
    optimize(_objective, torch.zeros(1, 3, 4, 4), optimizer="adam", lr=lr, steps=4, progress=False, adam_betas=(b1, b2),
             adam_eps=eps, adam_eps_hat=True, callback=lambda n, image, losses: seen.append(image.clone()))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(seen, expected))
    plain = []
    optimize(_objective, torch.zeros(1, 3, 4, 4), optimizer="adam", lr=lr, steps=4, progress=False, adam_betas=(b1, b2),
             adam_eps=eps, callback=lambda n, image, losses: plain.append(image.clone()))
    assert not torch.allclose(plain[1], expected[1], atol=1e-4)  # PyTorch's place for epsilon is another path
