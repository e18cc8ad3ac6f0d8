"""Lesson 05: check_tv_loss, check_optimization_step and check_make_closure name each common mistake."""

from __future__ import annotations

import pytest
import torch

import stylelab as sl
from stylelab.course import exercises

from .helpers import load_solution, verdict


def _d(image):
    return image[..., :, 1:] - image[..., :, :-1], image[..., 1:, :] - image[..., :-1, :]


def tv_channels_last_indexing(image):
    dx = image[:, 1:, :] - image[:, :-1, :]      # meant width, slices channels
    dy = image[:, :, 1:] - image[:, :, :-1]      # meant height, slices height
    return (dx ** 2).mean() + (dy ** 2).mean()


def tv_in_place(image):
    image[..., :, 1:] -= image[..., :, :-1].clone()
    dy = image[..., 1:, :] - image[..., :-1, :]
    return (image[..., :, 1:] ** 2).mean() + (dy ** 2).mean()


def tv_detached(image):
    dx, dy = _d(image.detach())
    return (dx ** 2).mean() + (dy ** 2).mean()


@pytest.mark.parametrize("answer, mistake, phrase", [
    (lambda im: sum((d ** 2).sum() for d in _d(im)), "sum_instead_of_mean", "grows with the image size"),
    (lambda im: (_d(im)[0] ** 2).mean(), "one_direction", "only compared horizontal"),
    (lambda im: (_d(im)[1] ** 2).mean(), "one_direction", "only compared vertical"),
    (lambda im: sum(d.abs().mean() for d in _d(im)), "absolute_differences", "L1"),
    (lambda im: sum((d ** 2).mean() for d in _d(im)) / 2, "averaged_directions", "divided by 2"),
    (lambda im: torch.cat([(d ** 2).flatten() for d in _d(im)]).mean(), "averaged_directions", "one mean over all"),
    (tv_channels_last_indexing, "wrong_dimension", "colour channels (dimension 1)"),
    (lambda im: (_d(im)[0] ** 2).mean(dim=(2, 3)) + (_d(im)[1] ** 2).mean(dim=(2, 3)), "not_reduced", "(1, 3)"),
    (tv_in_place, "modifies_input", "in-place"),
    (tv_detached, "no_gradient", "no gradient can flow"),
])
def test_tv_loss_mistakes(answer, mistake, phrase):
    verdict(exercises.check_tv_loss, answer, mistake, phrase)


def test_tv_loss_must_be_zero_for_a_flat_image():
    def tv_loss(image):  # right value on the random case only by adding a constant that is 0 there
        dx, dy = _d(image)
        offset = 0.0 if image.std() > 0 else 1.0
        return (dx ** 2).mean() + (dy ** 2).mean() + offset

    verdict(exercises.check_tv_loss, tv_loss, "wrong_value", "constant image")


# --------------------------------------------------------------------------- 05 optimization_step


def step_no_zero_grad(image, optimizer, loss_fn):
    loss = loss_fn(image)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        image.clamp_(0, 1)
    return loss.item()


def step_no_backward(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    optimizer.step()
    return loss.item()


def step_no_step(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    with torch.no_grad():
        image.clamp_(0, 1)
    return loss.item()


def step_new_tensor(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    image = (image - 0.4 * image.grad).clamp(0, 1)  # a new tensor: the caller's image never moves
    return loss.item()


def step_no_clamp(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_clamp_with_grad(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    optimizer.step()
    image.clamp_(0, 1)
    return loss.item()


def step_returns_tensor(image, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(image)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        image.clamp_(0, 1)
    return loss


def step_returns_nothing(image, optimizer, loss_fn):
    step_returns_tensor(image, optimizer, loss_fn)


def step_returns_loss_after(image, optimizer, loss_fn):
    step_returns_tensor(image, optimizer, loss_fn)
    return loss_fn(image).item()


@pytest.mark.parametrize("answer, mistake, phrase", [
    (step_no_zero_grad, "forgot_zero_grad", "optimizer.zero_grad()"),
    (step_no_backward, "no_backward", "loss.backward()"),
    (step_no_step, "no_step", "optimizer.step()"),
    (step_new_tensor, "no_step", "new tensor"),
    (step_no_clamp, "no_clamp", "left [0, 1]"),
    (step_clamp_with_grad, "clamp_without_no_grad", "torch.no_grad()"),
    (step_returns_tensor, "returned_tensor", "loss.item()"),
    (step_returns_nothing, "returned_nothing", "returns None"),
    (step_returns_loss_after, "wrong_loss", "before the update"),
])
def test_optimization_step_mistakes(answer, mistake, phrase):
    verdict(exercises.check_optimization_step, answer, mistake, phrase)


def test_optimization_step_works_with_adam_in_a_loop():
    namespace = load_solution("optimization_step.py")
    step = namespace["optimization_step"]
    image = torch.full((1, 3, 8, 8), 0.5, requires_grad=True)
    optimizer = torch.optim.Adam([image], lr=0.05)
    target = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    losses = [step(image, optimizer, lambda x: ((x - target) ** 2).mean()) for _ in range(30)]
    assert all(isinstance(v, float) for v in losses) and losses[-1] < 0.2 * losses[0]


# --------------------------------------------------------------------------- make_closure (capstone)


def closure_maker(*, freeze=True, targets="once", clamp="first", zero_grad="always", backward=True, returns="tensor",
                  channel_factor=True, tv=True, step_inside=False):
    """A make_closure as a learner writes it, with stylelab's losses; each switch makes one mistake."""

    def make_closure(model, content, style, image, optimizer, settings):
        if freeze:
            model.requires_grad_(False)
        layer, style_layers = settings["content_layer"], settings["style_layers"]

        def targets_now():
            with torch.no_grad():
                return (model(content, [layer])[layer],
                        {n: sl.gram_matrix(f) for n, f in model(style, style_layers).items()})

        fixed = targets_now() if targets == "once" else None
        calls = []

        def closure():
            if clamp == "first":
                with torch.no_grad():
                    image.clamp_(0, 1)
            if zero_grad == "always" or (zero_grad == "first call only" and not calls):
                optimizer.zero_grad()
            calls.append(1)
            content_target, style_targets = fixed or targets_now()
            features = model(image, [layer, *style_layers])
            loss = settings["content_weight"] * sl.content_loss(features[layer], content_target)
            for n, target in style_targets.items():
                factor = target.shape[-1] ** 2 if channel_factor else 1
                loss = loss + settings["style_weight"] * sl.style_loss(features[n], target) / factor
            if tv:
                loss = loss + settings["tv_weight"] * sl.tv_loss(image)
            if backward:
                loss.backward()
            if clamp == "after":
                with torch.no_grad():
                    image.clamp_(0, 1)
            if step_inside:
                optimizer.step()
            return {"tensor": loss, "float": loss.item(), "none": None}[returns]

        return closure

    return make_closure


def test_the_reference_closure_passes():
    answer = load_solution("make_closure.py")["make_closure"]
    for name in ("content_loss", "gram_matrix", "style_loss", "tv_loss"):
        answer.__globals__[name] = getattr(sl, name)  # the learner's own losses, here stylelab's
    result = exercises.check_make_closure(answer, quiet=True)
    assert result.passed, result.message
    assert exercises.check_make_closure(closure_maker(), quiet=True).passed


@pytest.mark.parametrize("switch, mistake, phrase", [
    (dict(zero_grad="never"), "forgot_zero_grad", "optimizer.zero_grad()"),
    (dict(clamp="never"), "no_clamp", "image.clamp_(0, 1)"),
    (dict(clamp="after"), "clamped_after_loss", "clamp first"),
    (dict(returns="float"), "returned_float", "return the loss tensor itself"),
    (dict(returns="none"), "returned_nothing", "return loss"),
    (dict(targets="every call"), "targets_in_closure", "compute them once in make_closure"),
    (dict(freeze=False), "network_not_frozen", "model.requires_grad_(False)"),
    (dict(backward=False), "no_backward", "loss.backward()"),
    (dict(channel_factor=False), "no_channel_factor", "N_l^2"),
    (dict(tv=False), "no_tv", "tv_loss(image)"),
    (dict(step_inside=True), "step_in_closure", "optimizer.step(closure)"),
])
def test_make_closure_mistakes(switch, mistake, phrase):
    verdict(exercises.check_make_closure, closure_maker(**switch), mistake, phrase)


def test_targets_recomputed_on_an_unfrozen_network_are_named_as_targets_in_the_closure():
    # both mistakes at once: the one to fix first is computing the targets in the closure
    verdict(exercises.check_make_closure, closure_maker(targets="every call", freeze=False), "targets_in_closure",
            "wrong if the network is not frozen")


def test_make_closure_that_returns_the_loss_instead_of_the_closure():
    def make_closure(model, content, style, image, optimizer, settings):
        return closure_maker()(model, content, style, image, optimizer, settings)()

    verdict(exercises.check_make_closure, make_closure, "not_a_closure", "return closure, without parentheses")


def test_make_closure_with_fixed_layer_names_is_told_to_read_the_settings():
    def make_closure(model, content, style, image, optimizer, settings):
        return closure_maker()(model, content, style, image, optimizer, dict(settings, content_layer="relu4_2"))

    verdict(exercises.check_make_closure, make_closure, "fixed_layer_names", "settings['content_layer']")


def test_make_closure_stub_and_unfinished_losses(monkeypatch):
    def make_closure(model, content, style, image, optimizer, settings):
        raise NotImplementedError  # replace this line with your code

    assert exercises.check_make_closure(make_closure, quiet=True).status == "not attempted"

    def gram_matrix(features):
        raise NotImplementedError

    answer = load_solution("make_closure.py")["make_closure"]
    answer.__globals__.update(content_loss=sl.content_loss, gram_matrix=gram_matrix, style_loss=sl.style_loss,
                              tv_loss=sl.tv_loss)
    verdict(exercises.check_make_closure, answer, "unfinished_dependency", "finish gram_matrix first")


def test_make_closure_that_uses_an_undefined_loss_is_told_to_run_its_cell():
    answer = load_solution("make_closure.py")["make_closure"]  # a fresh namespace: no content_loss there
    verdict(exercises.check_make_closure, answer, "undefined_name", "name 'gram_matrix' is not defined", "run the cell")


def test_a_closure_that_is_right_only_once_is_caught_in_the_loop():
    answer = closure_maker(zero_grad="first call only")
    verdict(exercises.check_make_closure, answer, "wrong_in_a_loop", "L-BFGS steps", "starts afresh")
