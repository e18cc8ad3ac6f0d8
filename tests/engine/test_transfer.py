"""stylize(): the loop, its options, its result, and what happens when things go wrong."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import stylelab as sl
from stylelab.vgg.layers import spec




def _default_objective(model, content, style):
    """stylize()'s objective with its default layers and weights (tv off)."""
    return sl.StyleObjective(
        model, content, [sl.resize(style, max(content.shape[-2:]))], content_layers=sl.DEFAULT_CONTENT_LAYERS,
        style_layers={n: 1.0 for n in sl.DEFAULT_STYLE_LAYERS}, blend=[1.0],
        content_weight=1.0, style_weight=1e6, tv_weight=0.0,
    )


@pytest.mark.slow  # more than half a second on a 2-core CPU
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_loss_falls_and_result_is_complete(content, style, model, optimizer, small_run):
    result = small_run(content, style, optimizer=optimizer, steps=12)
    assert result.image.shape == content.shape and result.image.dtype == torch.float32
    assert 0 <= float(result.image.min()) and float(result.image.max()) <= 1
    assert result.status == "completed" and not result.interrupted
    assert result.evaluations == 12
    assert result.steps == 12 if optimizer == "adam" else 1 <= result.steps <= 12
    for key in ("total", "content", "style", "tv", "time", "content:relu4_2", "style:relu1_1", "style:relu5_1"):
        assert len(result.history[key]) == 12, key
    assert min(result.history["total"]) < 0.8 * result.history["total"][0]
    assert result.config["optimizer"] == optimizer and result.config["weights"] == "random"
    assert result.config["size"] == list(content.shape[-2:])
    assert "completed" in repr(result)


def test_objective_matches_its_formula(content, style, model):
    layers = {"relu1_1": 2.0, "relu3_1": 0.5}
    objective = sl.StyleObjective(
        model, content, [style], content_layers=["relu2_2"], style_layers=layers, blend=[1.0],
        content_weight=3.0, style_weight=10.0, tv_weight=0.1,
    )
    image = torch.rand_like(content)
    terms = objective(image)
    f = model(image, ["relu1_1", "relu2_2", "relu3_1"])
    c = model(content, ["relu2_2"])["relu2_2"]
    s = model(style, list(layers))
    expected_style = 10.0 * sum(
        w / spec(n).out_channels ** 2 * sl.style_loss(f[n], sl.gram_matrix(s[n])) for n, w in layers.items()
    )
    expected = 3.0 * sl.content_loss(f["relu2_2"], c) + expected_style + 0.1 * sl.tv_loss(image)
    assert torch.allclose(terms["total"], expected, rtol=1e-5)
    assert torch.allclose(terms["style"], expected_style, rtol=1e-5)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_same_seed_same_result_and_other_seed_differs(content, style, model, small_run):
    a = small_run(content, style, init="noise", seed=3)
    b = small_run(content, style, init="noise", seed=3)
    c = small_run(content, style, init="noise", seed=4)
    assert torch.equal(a.image, b.image)
    assert a.history["total"] == b.history["total"]
    assert not torch.equal(a.image, c.image)


def test_init_choices(content, style, model, small_run):
    for init in ("content", "noise", "style", torch.rand_like(content)):
        result = small_run(content, style, init=init, steps=2)
        assert result.image.shape == content.shape
    with pytest.raises(sl.ImageLoadError, match="resize it"):
        small_run(content, style, init=torch.rand(1, 3, 20, 20))
    with pytest.raises(ValueError, match="init must be"):
        small_run(content, style, init="zeros")


def test_best_image_is_returned(content, style, model, small_run):
    result = small_run(content, style, optimizer="adam", steps=8, lr=0.05)
    objective = _default_objective(model, content, style)
    with torch.no_grad():
        value = objective(result.image)["total"].item()
    assert value == pytest.approx(min(result.history["total"] + [value]), rel=1e-4)
    assert value <= min(result.history["total"]) * (1 + 1e-4)


def test_texture_synthesis_and_content_reconstruction(style, content, model, small_run):
    texture = small_run(None, style, model, size=(32, 40), steps=4)
    assert texture.image.shape == (1, 3, 32, 40) and texture.config["init"] == "noise"
    assert not any(texture.history["content"])
    recon = small_run(content, None, model, init="noise", content_layers="relu2_2", steps=8)
    assert recon.history["total"][-1] < recon.history["total"][0]
    assert not any(recon.history["style"])
    with pytest.raises(ValueError, match="pass size="):
        small_run(None, style, model)
    with pytest.raises(ValueError, match="both are None"):
        small_run(None, None, model, size=32)


def test_style_blend(content, model, small_run):
    a, b = sl.data.example("swirls", 48), sl.data.example("mosaic", 48)
    single = small_run(content, a, model, steps=4)
    blended = small_run(content, [a, b], model, style_blend=[1, 0], steps=4)
    assert torch.equal(single.image, blended.image)
    mixed = small_run(content, [a, b], model, style_blend=[3, 1], steps=2)
    assert mixed.config["style_blend"] == [0.75, 0.25]
    with pytest.raises(ValueError, match="one weight per style image"):
        small_run(content, [a, b], model, style_blend=[1])
    with pytest.raises(ValueError, match=">= 0"):
        small_run(content, [a, b], model, style_blend=[1, -1])
    with pytest.raises(ValueError, match="all 0"):
        small_run(content, [a, b], model, style_blend=[0, 0])


def test_per_layer_style_weights(content, style, model, small_run):
    only_first = small_run(content, style, style_layers={"relu1_1": 1.0, "relu3_1": 0.0}, steps=1)
    assert only_first.history["style:relu3_1"][0] > 0  # measured, but weighted 0
    expected = 1e6 * only_first.history["style:relu1_1"][0] / 64**2
    assert only_first.history["style"][0] == pytest.approx(expected, rel=1e-5)


def test_callback_sees_every_evaluation_and_can_stop(content, style, model, small_run):
    seen = []

    def callback(step, image, losses):
        seen.append((step, tuple(image.shape), losses["total"]))
        return step == 3

    result = small_run(content, style, callback=callback, steps=10)
    assert [s for s, _, _ in seen] == [1, 2, 3]
    assert seen[0][1] == tuple(content.shape)
    assert result.status == "stopped" and result.evaluations == 3 and "callback" in result.message


def test_keyboard_interrupt_returns_best_image_so_far(content, style, model, small_run):
    def interrupt(step, image, losses):
        if step == 4:
            raise KeyboardInterrupt

    result = small_run(content, style, callback=interrupt, steps=50)
    assert result.status == "interrupted" and result.interrupted
    assert "best image so far" in result.message
    assert result.evaluations == 4 and result.steps <= 4
    assert result.image.shape == content.shape and torch.isfinite(result.image).all()
    assert result.best_step == 1 + result.history["total"].index(min(result.history["total"]))


def test_non_finite_loss_stops_with_a_cause(content, style, small_run):
    # A weight beyond float32 is refused before any work (issue 20); a weight within it can still make the
    # loss infinite, and the run stops with the best image and the cause.
    with pytest.raises(sl.ParameterError, match="style_weight must be at most 3.40282e\\+38; got 1e\\+39"):
        small_run(content, style, style_weight=1e39)
    with pytest.warns(RuntimeWarning, match="tv loss became infinite at evaluation 3: tv_weight=3e\\+38 is too large"):
        result = small_run(content, style, tv_weight=3e38, init="noise", steps=5)
    assert result.status == "diverged" and result.evaluations == 2 and bool(torch.isfinite(result.image).all())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"style_weight": -1}, "style_weight must be a finite number >= 0"),
        ({"content_weight": float("nan")}, "content_weight must be a finite"),
        ({"tv_weight": "lots"}, "tv_weight must be a number"),
        ({"steps": 0}, "steps must be at least 1"),
        ({"steps": 2.5}, "steps must be a positive whole number"),
        ({"optimizer": "sgd"}, "optimizer must be 'lbfgs' or 'adam'"),
        ({"lr": 0}, "lr must be greater than 0"),
        ({"style_layers": ["relu1_1", "relu9_1"]}, "'relu9_1' is not a VGG-19 layer"),
        ({"style_layers": {"relu1_1": -2}}, "style layer relu1_1 must be a finite number >= 0"),
        ({"content_layers": "conv4-2"}, "Did you mean 'conv4_2'"),
    ],
)
def test_bad_arguments(content, style, model, kwargs, message, small_run):
    with pytest.raises(ValueError, match=message):
        small_run(content, style, **kwargs)


def test_image_too_small_names_the_layer(style, model, small_run):
    tiny = torch.rand(1, 3, 12, 12)
    with pytest.raises(sl.ImageTooSmallError, match="relu5_1 needs an image of at least 16x16"):
        small_run(tiny, style, model)
    with pytest.raises(sl.ImageTooSmallError, match="style image 1"):
        small_run(sl.data.example("chelsea", 64), style, model, style_scale=0.2)


def test_progress_bar_can_be_switched_off(content, style, model, capsys, small_run):
    small_run(content, style, steps=2, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    small_run(content, style, steps=2, progress=True)
    assert "stylize" in capsys.readouterr().err


def test_result_save_and_display(content, style, model, tmp_path, small_run):
    result = small_run(content, style, steps=1)
    path = result.save(tmp_path / "out.png")
    assert sl.load_image(path).shape == content.shape
    assert result._repr_png_().startswith(b"\x89PNG")
    assert result.to_pil().size == (content.shape[-1], content.shape[-2])
    assert math.isfinite(result.seconds)


def test_builds_its_own_model_from_weights_argument(content, style):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sl.stylize(content, style, weights="random", steps=1, progress=False, device="cpu")
    assert result.config["weights"] == "random"


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_lbfgs_line_search_is_stable_and_plain_lbfgs_still_available(content, style, model, small_run):
    searched = small_run(content, style, steps=25)
    plain = small_run(content, style, steps=25, line_search=False)
    assert searched.config["line_search"] is True and plain.config["line_search"] is False
    assert plain.evaluations == searched.evaluations == 25
    # Same budget, lower loss: the line search rejects the overshooting steps.
    assert min(searched.history["total"]) < min(plain.history["total"])


def test_blocked_gradient_components_are_zeroed_and_the_rest_kept():
    from stylelab.engine.optimize import zero_blocked_gradient as _zero_blocked_gradient

    image = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.5, 0.5]).view(1, 1, 2, 3).requires_grad_(True)
    image.grad = torch.tensor([2.0, -2.0, -3.0, 3.0, 4.0, -4.0]).view(1, 1, 2, 3)
    _zero_blocked_gradient(image)
    # At 0 a positive gradient (descent goes below 0) and at 1 a negative one are blocked.
    assert image.grad.flatten().tolist() == [0.0, -2.0, 0.0, 3.0, 4.0, -4.0]


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_lbfgs_with_line_search_does_not_stall_on_saturated_pixels(model, small_run):
    # The PyTorch tutorial's objective (conv-layer outputs, style weight 1e6) saturates
    # about 10% of the pixels at 128 px. With the raw gradient the line search then kept
    # re-evaluating one point (the same loss for 10-200 evaluations in a row, see
    # transfer._zero_blocked_gradient); with the projected gradient it keeps moving.
    content = sl.data.example("chelsea", size=128)
    style = sl.data.example("swirls", size=content.shape[-2:])
    style_layers = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    result = small_run(content, style, steps=60, content_layers=["conv4_2"], style_weight=1e6,
                  style_layers=style_layers, content_weight=1.0, tv_weight=0.0)
    totals = result.history["total"]
    longest, run = 1, 1
    for before, after in zip(totals, totals[1:]):
        run = run + 1 if after == before else 1
        longest = max(longest, run)
    assert longest <= 3, f"the loss stayed at one value for {longest} evaluations"
    assert min(totals) < 0.01 * totals[0]


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_lbfgs_returns_an_image_whose_loss_is_the_best_recorded(content, style, model, small_run):
    result = small_run(content, style, steps=30)
    objective = _default_objective(model, content, style)
    with torch.no_grad():
        value = objective(result.image)["total"].item()
    # Pixels are projected onto [0, 1] before each evaluation, so no clamping at the end
    # can make the returned image worse than the loss the history promises.
    assert value == pytest.approx(min(result.history["total"]), rel=1e-4)


def test_paper_layer_weighting_drops_the_channel_factor(model, content, style):
    """"channels" is eq. 7 with w_l / N_l^2; "paper" keeps eq. 7's w_l: relu1_1 (64 channels)
    weighs 64 times relu4_1 (512 channels) under the first, the same under the second."""
    layers = {"relu1_1": 1.0, "relu4_1": 1.0}
    noise = torch.rand(content.shape, generator=torch.Generator().manual_seed(0))
    terms = {}
    for weighting in ("channels", "paper"):
        objective = sl.StyleObjective(model, None, [style], content_layers=[], style_layers=layers, blend=[1.0],
                                      content_weight=0, style_weight=1, tv_weight=0, layer_weighting=weighting)
        terms[weighting] = objective(noise)
    per_layer = {name: terms["paper"][f"style:{name}"] for name in layers}
    assert torch.allclose(terms["paper"]["style"], sum(per_layer.values()))
    assert torch.allclose(terms["channels"]["style"], per_layer["relu1_1"] / 64**2 + per_layer["relu4_1"] / 512**2)
    with pytest.raises(sl.ParameterError, match="layer_weighting must be 'channels' or 'paper'"):
        sl.stylize(content, style, model=model, steps=1, progress=False, layer_weighting="N")
    result = sl.stylize(content, style, model=model, steps=2, progress=False, layer_weighting="paper")
    assert result.config["layer_weighting"] == "paper"
