"""Lesson 05's checkers: the total-variation loss, one optimisation step, and the L-BFGS closure."""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Dict, List, Tuple

import torch

from ...engine import losses
from .checking import (Fail, call, call_on_copies, callable_answer, checker, close, describe, fixture, fmt,
                       gradient_matches, real_values, scalar, seeded, unchanged, warm_up_optimizers)
from .mistakes import diagnose, right, wrong

__all__ = ["check_tv_loss", "check_optimization_step", "check_make_closure"]

def _tv_case() -> torch.Tensor:
    return torch.rand(1, 3, 5, 6, generator=seeded(6))


_WRONG_DIMENSION = ("one of your differences runs along the colour channels (dimension 1). For (B, C, H, W) images, "
                    "neighbours are along dimension 2 (height) and 3 (width): image[..., 1:, :] and image[..., :, 1:].")


def _tv_aspects(image: torch.Tensor) -> list:
    """The TV loss as a combination of elementwise functions of neighbour differences; the known mistakes of each step."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    channel = image[:, 1:] - image[:, :-1]
    return [
        [right((dx, dy)),
         wrong((dx,), "one_direction", "you only compared horizontal neighbours (along the width); add the vertical "
               "ones too: dy = image[..., 1:, :] - image[..., :-1, :]."),
         wrong((dy,), "one_direction", "you only compared vertical neighbours (along the height); add the horizontal "
               "ones too: dx = image[..., :, 1:] - image[..., :, :-1]."),
         wrong((channel, dy), "wrong_dimension", _WRONG_DIMENSION),
         wrong((channel, dx), "wrong_dimension", _WRONG_DIMENSION)],
        [right(torch.square),
         wrong(torch.abs, "absolute_differences", "you used absolute differences (the L1 total variation); stylelab's "
               "tv_loss squares them.")],
        [right("sum of means"),
         wrong("sum of sums", "sum_instead_of_mean", "you summed the squared differences, so the loss grows with the "
               "image size. Take the mean of each direction: (dx ** 2).mean() + (dy ** 2).mean()."),
         wrong("mean of means", "averaged_directions", "you averaged the two directions (divided by 2); stylelab adds "
               "the two means: (dx ** 2).mean() + (dy ** 2).mean()."),
         wrong("one mean", "averaged_directions", "you took one mean over all differences of both directions together; "
               "stylelab adds the two means: (dx ** 2).mean() + (dy ** 2).mean().")],
    ]


def _tv_variant(differences: Tuple[torch.Tensor, ...], elementwise: Callable, combine: str) -> torch.Tensor:
    terms = [elementwise(d) for d in differences]
    if combine == "sum of sums":
        return sum(t.sum() for t in terms)
    if combine == "one mean":
        return sum(t.sum() for t in terms) / sum(t.numel() for t in terms)
    means = sum(t.mean() for t in terms)
    return means / len(terms) if combine == "mean of means" else means


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
        diagnose(value, _tv_aspects(image), _tv_variant)
        raise Fail("wrong_value", f"for {inputs} your loss is {fmt(value)} but it should be {float(expected):.6g}.")
    flat = call(function, torch.full((1, 3, 4, 4), 0.3), what="tv_loss", inputs="a constant grey image")
    if not close(scalar(flat, "tv_loss", "square the differences"), 0.0, atol=1e-7):
        raise Fail("wrong_value", f"a constant image has no variation, so its loss must be 0; yours is {fmt(flat)}.")
    gradient_matches(function, (image,), losses.tv_loss, what="tv_loss", inputs=inputs)
    return "mean squared difference of horizontal plus vertical neighbours; 0 for a flat image."


# --------------------------------------------------------------------------- one optimisation step

_STEP_LR = 0.4
_STALE = 3.0


def _step_case() -> Tuple[torch.Tensor, torch.Tensor]:
    g = seeded(7)
    start = torch.rand(1, 3, 4, 4, generator=g) * 0.6 + 0.2  # inside [0, 1]
    target = torch.rand(1, 3, 4, 4, generator=g) * 3.0 - 1.0  # partly outside: the step overshoots
    return start, target


@checker("optimization_step", prepare=warm_up_optimizers)
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

    @fixture
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
    if real_values(after) is None or after.shape != start.shape:  # complex, meta, another shape: not pixels
        raise Fail("wrong_value", f"after your step the image holds {fmt(after)}, not pixels of shape "
                   f"{tuple(start.shape)}: let optimizer.step() update it in place, then clamp it.")
    moved = not close(after, start, rtol=1e-5, atol=1e-8)
    if not moved:
        if image.grad is None or close(image.grad, torch.full_like(start, _STALE), rtol=1e-5, atol=1e-8):
            raise Fail("no_backward", "the image did not change and no new gradient was computed: call "
                        "loss.backward() after computing the loss, then optimizer.step().")
        raise Fail("no_step", "the gradient was computed but the image did not move: call optimizer.step() after "
                    "loss.backward() (and let it change the image in place rather than making a new tensor).")
    right_after = (start - _STEP_LR * true_grad).clamp(0, 1)
    if not close(after, right_after, rtol=1e-4, atol=1e-6):
        diagnose(after, _step_aspects(after), lambda gradient, clamp: _step_variant(start, gradient, clamp),
                 same=lambda a, b: close(a, b, rtol=1e-4, atol=1e-6))
        raise Fail("wrong_value", "after your step the image is not what one step of the optimiser gives "
                    f"(largest difference {float((after - right_after).abs().max()):.3g}). The order is: zero_grad, "
                    "loss, backward, step, clamp.")
    loss_before = float(loss_fn(start))
    if returned is None:
        raise Fail("returned_nothing", "the step is right, but it returns None; return the loss as a float "
                    "(loss.item()) so that the caller can record it.")
    if isinstance(returned, torch.Tensor):
        raise Fail("returned_tensor", "the step is right, but it returns a tensor; return loss.item(), a plain "
                    "float: a stored tensor keeps the whole computation graph (and its memory) alive.")
    if not _number_close(returned, loss_before):
        raise Fail("wrong_loss", f"the step is right, but you returned {describe(returned)}; return the loss computed "
                    f"before the update ({loss_before:.6g}), as loss.item().")
    return ("the step clears the old gradients, back-propagates, updates the image by exactly one optimiser step, "
            "keeps it in [0, 1] and returns the loss.")


def _number_close(value: Any, expected: float) -> bool:
    """True for a real number (int, float, numpy's) equal to ``expected`` up to 1e-4 relative; never raises."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isclose(float(value), expected, rel_tol=1e-4)
    except (OverflowError, TypeError, ValueError):
        return False


def _step_aspects(after: torch.Tensor) -> list:
    """One step as start - lr * (a gradient), clamped or not; the known mistakes of each."""
    return [
        [right("new"),
         wrong("new + stale", "forgot_zero_grad", _ZERO_GRAD_MESSAGE),
         wrong("stale", "no_backward", "the image moved by an old gradient only: call loss.backward() before "
               "optimizer.step().")],
        [right(True),
         wrong(False, "no_clamp", f"some pixels left [0, 1] (the largest is now {float(after.max()):.2f}); after the "
               "step, clamp them back with: with torch.no_grad(): image.clamp_(0, 1).")],
    ]


def _step_variant(start: torch.Tensor, gradient: str, clamp: bool) -> torch.Tensor:
    true_grad = 2 * (start - _step_case()[1])
    used = {"new": true_grad, "new + stale": true_grad + _STALE, "stale": torch.full_like(start, _STALE)}[gradient]
    after = start - _STEP_LR * used
    return after.clamp(0, 1) if clamp else after


_ZERO_GRAD_MESSAGE = ("the update also used a gradient left over from an earlier step: gradients add up in "
                      ".grad until you clear them. Call optimizer.zero_grad() at the start of every step.")


# --------------------------------------------------------------------------- the L-BFGS closure (capstone)

#: The tiny problem the closure is checked on: its weights make every term count.
_CLOSURE_SETTINGS = {"content_layer": "relu2_1", "style_layers": ["relu1_1", "relu2_1"],
                     "content_weight": 1.5, "style_weight": 30.0, "tv_weight": 0.7}
_LOOP_STEPS = 5


class _TinyNetwork(torch.nn.Module):
    """Two small convolutions named like VGG's layers, called as :class:`~stylelab.VGGFeatures` is.

    ``network(image, layers) -> {name: (1, C, h, w)}`` for ``relu1_1`` (4 channels) and
    ``relu2_1`` (6 channels, after a 2x2 pooling). Freshly built, its weights require
    gradients, as any new ``torch.nn`` module's do; ``inputs`` records every image it sees.
    """

    def __init__(self) -> None:
        super().__init__()
        g = seeded(11)
        self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, 6, 3, padding=1)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=g) * 0.5)
        self.inputs: List[torch.Tensor] = []

    @property
    @fixture
    def device(self) -> torch.device:
        """Where the network runs (the CPU), as :attr:`stylelab.VGGFeatures.device` says."""
        return torch.device("cpu")

    @fixture
    def forward(self, image: torch.Tensor, layers: Any) -> Dict[str, torch.Tensor]:
        """``{name: features}`` for the layer name or names asked; an unknown name is a ValueError."""
        self.inputs.append(image.detach().clone())
        relu1 = torch.relu(self.conv1(image))
        found = {"relu1_1": relu1, "relu2_1": torch.relu(self.conv2(torch.nn.functional.max_pool2d(relu1, 2)))}
        names = [layers] if isinstance(layers, str) else list(layers)
        unknown = [name for name in names if name not in found]
        if unknown:
            raise ValueError(f"this network has no layer {unknown[0]!r}; its layers are relu1_1 and relu2_1")
        return {name: found[name] for name in names}


def _closure_case() -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Content ``(1, 3, 8, 8)``, style ``(1, 3, 10, 6)`` (another size) and a start image ``(1, 3, 8, 8)``."""
    g = seeded(12)
    return torch.rand(1, 3, 8, 8, generator=g), torch.rand(1, 3, 10, 6, generator=g), torch.rand(1, 3, 8, 8, generator=g)


def _overshot(image: torch.Tensor) -> torch.Tensor:
    """``image`` with some pixels pushed out of [0, 1], as an L-BFGS update can leave them."""
    pushed = image.clone()
    pushed[..., 0, :] = 1.4
    pushed[..., :, 0] = -0.3
    return pushed


class _Reference:
    """The right losses and gradients of the tiny problem, by stylelab's own losses on a frozen copy of the network."""

    def __init__(self, content: torch.Tensor, style: torch.Tensor) -> None:
        self.network, s = _TinyNetwork().requires_grad_(False), _CLOSURE_SETTINGS
        self.content_target = self.network(content, [s["content_layer"]])[s["content_layer"]]
        self.style_targets = {name: losses.gram_matrix(f) for name, f in self.network(style, s["style_layers"]).items()}

    def loss(self, image: torch.Tensor, channel_factor: bool = True, tv: bool = True) -> torch.Tensor:
        """The total loss of ``image`` ``(1, 3, 8, 8)``, 0-d; optionally without the 1/N_l^2 factor or the TV term."""
        s = _CLOSURE_SETTINGS
        features = self.network(image, [s["content_layer"], *s["style_layers"]])
        total = s["content_weight"] * losses.content_loss(features[s["content_layer"]], self.content_target)
        for name, target in self.style_targets.items():
            factor = target.shape[-1] ** 2 if channel_factor else 1
            total = total + s["style_weight"] * losses.style_loss(features[name], target) / factor
        return total + s["tv_weight"] * losses.tv_loss(image) if tv else total

    def gradient(self, image: torch.Tensor) -> torch.Tensor:
        """d loss / d pixels at ``image``."""
        leaf = image.detach().clone().requires_grad_(True)
        self.loss(leaf).backward()
        return leaf.grad


_CLOSURE_HINTS = (
    ("is not defined", "undefined_name",
     "your code uses a name that is not defined here ({text}): run the cell that defines it (your content_loss, "
     "gram_matrix, style_loss and tv_loss from the earlier exercises), then run this check again."),
    ("missing 1 required positional argument: 'closure'", "step_in_closure",
     "your closure calls optimizer.step(), but the optimiser calls your closure itself (as often as it needs): "
     "remove optimizer.step() from the closure and call optimizer.step(closure) in the loop instead."),
    ("has no layer", "fixed_layer_names",
     "your code asked for a layer this network does not have ({text}): take the layer names from "
     "settings['content_layer'] and settings['style_layers'] instead of writing them out."),
)


@checker("make_closure", prepare=warm_up_optimizers)
def check_make_closure(make_closure: Callable[..., Callable[[], torch.Tensor]]) -> str:
    """Check ``make_closure(model, content, style, image, optimizer, settings) -> closure`` (lesson 05).

    ``make_closure`` freezes ``model`` and computes the targets once; each call of the
    ``closure()`` it returns clamps ``image`` into [0, 1], clears the old gradients, scores
    the image (``content_weight * content_loss + style_weight * sum_l style_loss_l / N_l^2 +
    tv_weight * tv_loss``), back-propagates and returns the loss tensor. The check runs it on
    a two-layer network and 8x8 images, once by hand and then for a few ``torch.optim.LBFGS``
    steps.

    Known mistakes: ``targets_in_closure``, ``network_not_frozen``, ``forgot_zero_grad``,
    ``no_backward``, ``no_clamp``, ``clamped_after_loss``, ``returned_float``,
    ``returned_nothing``, ``not_reduced``, ``no_channel_factor``, ``no_tv``, ``not_a_closure``,
    ``step_in_closure``, ``fixed_layer_names``, ``undefined_name``, ``wrong_value``,
    ``wrong_in_a_loop``.
    """
    function = callable_answer(make_closure, "make_closure")
    content, style, start = _closure_case()
    network, image, optimizer, closure = _make(function, content, style, start)
    before = len(network.inputs)
    with torch.no_grad():
        image.copy_(_overshot(start))
    image.grad = torch.full_like(start, _STALE)  # a gradient left over from an earlier evaluation
    returned = call(closure, what="closure", inputs="an image with some pixels outside [0, 1]", hints=_CLOSURE_HINTS)
    _check_forward_passes(network, before, content, style)
    _check_frozen(network)
    reference = _Reference(content, style)
    _check_gradient(image, reference, start)
    _check_returned(returned, reference, start)
    right_grad = reference.gradient(_overshot(start).clamp(0, 1))
    if not close(image.grad, right_grad, rtol=1e-3, atol=1e-6):
        raise Fail("wrong_gradient", "the loss is right but the gradient in image.grad is not its gradient: call "
                   "loss.backward() on the loss you return, and keep every step from the pixels to the loss a torch "
                   "operation (no .detach(), .item() or torch.tensor(...) in between).")
    _check_loop(function, reference, content, style, start)
    return ("make_closure freezes the network and computes the targets once; the closure clamps the pixels, clears "
            "the old gradient, scores the image with every term, back-propagates into the pixels only and returns "
            "the loss tensor, and L-BFGS runs with it.")


def _make(function: Callable, content: torch.Tensor, style: torch.Tensor, start: torch.Tensor) -> tuple:
    """Call the learner's ``make_closure`` on a fresh network, image and L-BFGS optimiser."""
    network = _TinyNetwork()
    image = start.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image], lr=1, max_iter=1, history_size=10, tolerance_grad=-1, tolerance_change=-1)
    inputs = "a two-layer network, 8x8 images, an L-BFGS optimizer and settings"
    given = (content.clone(), style.clone())
    closure = call(function, network, *given, image, optimizer, dict(_CLOSURE_SETTINGS), what="make_closure",
                   inputs=inputs, hints=_CLOSURE_HINTS)
    unchanged((content, style), given, "make_closure")
    if isinstance(closure, torch.Tensor) or isinstance(closure, (int, float)):
        raise Fail("not_a_closure", "your make_closure returned a loss, not a function: return the inner function itself "
                   "(return closure, without parentheses), so that the optimiser can call it again and again.")
    if not callable(closure):
        raise Fail("not_a_closure", f"your make_closure returned a {type(closure).__name__}; define def closure(): ... "
                   "inside make_closure and return closure (the function, without parentheses).")
    return network, image, optimizer, closure


def _check_forward_passes(network: _TinyNetwork, before: int, content: torch.Tensor, style: torch.Tensor) -> None:
    seen = network.inputs[before:]
    if any(close(x, t, rtol=0, atol=0) for x in seen for t in (content, style)):
        raise Fail("targets_in_closure", "your closure runs the network on the content or style image at every call: "
                   "the targets never change, so compute them once in make_closure, before def closure(), under "
                   "torch.no_grad(). Recomputing them is slow (extra forward passes per evaluation) and wrong if the "
                   "network is not frozen (the loss then also pulls on the targets).")
    if not seen:
        raise Fail("wrong_value", "your closure never ran the network on the image: compute "
                   "model(image, layers) inside the closure, so that each call scores the current pixels.")


def _check_frozen(network: _TinyNetwork) -> None:
    if any(p.grad is not None or p.requires_grad for p in network.parameters()):
        raise Fail("network_not_frozen", "gradients flow into the network's weights (they require grad), so every "
                   "backward pass also computes and stores gradients nobody uses: freeze the network once in "
                   "make_closure with model.requires_grad_(False); only the pixels are optimised.")


def _check_gradient(image: torch.Tensor, reference: _Reference, start: torch.Tensor) -> None:
    pixels = real_values(image.detach())
    if pixels is None or pixels.shape != start.shape:
        raise Fail("wrong_value", f"after your closure the image holds {fmt(image.detach())}, not pixels of shape "
                   f"{tuple(start.shape)}: change it only with the clamp (and let the optimiser do the rest).")
    if pixels.min() < 0 or pixels.max() > 1:
        raise Fail("no_clamp", "after your closure some pixels are still outside [0, 1] (an L-BFGS step can push "
                   "them out): start the closure with: with torch.no_grad(): image.clamp_(0, 1).")
    right = reference.gradient(_overshot(start).clamp(0, 1))
    grad = image.grad
    if grad is None or close(grad, torch.full_like(start, _STALE), rtol=1e-5, atol=1e-8):
        raise Fail("no_backward", "the closure left no new gradient in image.grad: call loss.backward() before "
                   "returning the loss; L-BFGS reads the gradient from there.")
    if close(grad, right + _STALE, rtol=1e-3, atol=1e-5):
        raise Fail("forgot_zero_grad", "the gradient in image.grad is the new one plus one left over from an earlier call: "
                   "gradients add up until you clear them, so call optimizer.zero_grad() in the closure before "
                   "loss.backward().")
    if close(grad, reference.gradient(_overshot(start)), rtol=1e-3, atol=1e-5):
        raise Fail("clamped_after_loss", "you clamped the pixels after computing the loss, so the loss and gradient "
                   "belong to the image before the clamp: clamp first, at the top of the closure, then score.")


def _check_returned(returned: Any, reference: _Reference, start: torch.Tensor) -> None:
    if returned is None:
        raise Fail("returned_nothing", "the closure returned None: end it with return loss, so that "
                   "optimizer.step(closure) can read the loss and hand it back to your loop.")
    if isinstance(returned, numbers.Real):
        raise Fail("returned_float", "the closure returned a Python number (loss.item() or float(loss)): return the "
                   "loss tensor itself (return loss), as PyTorch's optimisers expect of a closure; "
                   "optimizer.step(closure) hands it back, and the loop calls .item() on it.")
    value = scalar(returned, "closure", "add up the weighted terms")
    clamped = _overshot(start).clamp(0, 1)
    expected = reference.loss(clamped)
    if not close(value, expected, rtol=1e-4, atol=1e-6):
        diagnose(value, [
            [right(True),
             wrong(False, "no_channel_factor", "each layer's style loss must be divided by N_l^2, its number of channels "
                   "squared (target.shape[-1] ** 2), as stylize does; without it the deep layers dominate.")],
            [right(True),
             wrong(False, "no_tv", "the total-variation term is missing: add settings['tv_weight'] * tv_loss(image).")],
        ], lambda channel_factor, tv: reference.loss(clamped, channel_factor=channel_factor, tv=tv),
            same=lambda a, b: close(a, b, rtol=1e-4, atol=1e-6))
        raise Fail("wrong_value", f"the closure returned {fmt(value)}, but the total loss of this image is "
                   f"{float(expected):.6g}: content_weight * content_loss + style_weight * sum of style_loss / N_l^2 "
                   "+ tv_weight * tv_loss.")


def _check_loop(function: Callable, reference: _Reference, content: torch.Tensor, style: torch.Tensor,
                start: torch.Tensor) -> None:
    """A few L-BFGS steps with the learner's closure give the same losses as with the reference."""
    _, _, optimizer, closure = _make(function, content, style, start)
    inputs = f"{_LOOP_STEPS} steps of torch.optim.LBFGS"
    got = []
    for _ in range(_LOOP_STEPS):
        loss = real_values(call(optimizer.step, closure, what="closure", inputs=inputs, hints=_CLOSURE_HINTS))
        got.append(float(loss.reshape(-1)[0]) if loss is not None and loss.numel() == 1 else math.nan)
    image = start.clone().requires_grad_(True)
    lbfgs = torch.optim.LBFGS([image], lr=1, max_iter=1, history_size=10, tolerance_grad=-1, tolerance_change=-1)

    def right() -> torch.Tensor:
        with torch.no_grad():
            image.clamp_(0, 1)
        lbfgs.zero_grad()
        loss = reference.loss(image)
        loss.backward()
        return loss

    want = [lbfgs.step(right).item() for _ in range(_LOOP_STEPS)]
    if not all(math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6) for a, b in zip(got, want)):
        raise Fail("wrong_in_a_loop", f"one call of your closure is right, but {_LOOP_STEPS} L-BFGS steps with it give "
                   f"the losses {[round(v, 5) for v in got]} instead of {[round(v, 5) for v in want]}: make sure each "
                   "call starts afresh (clamp, zero_grad) and keeps nothing from the call before.")
