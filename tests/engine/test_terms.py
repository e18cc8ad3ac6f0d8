"""The objective's terms: each against a hand computation, and the objective as their sum."""

from __future__ import annotations

import pytest
import torch

import stylelab as sl
from stylelab.vgg.layers import spec
from stylelab.engine.terms import ContentTerm, GuidedStyleTerm, StyleTerm, TVTerm, style_scales


def _gram_by_hand(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(F o T)(F o T)^T / sum(T^2), one sum at a time; T = 1 gives F F^T / (h w)."""
    _, channels, height, width = features.shape
    mask = torch.ones(1, 1, height, width) if mask is None else mask
    weighted = (features * mask)[0]
    gram = torch.zeros(channels, channels, dtype=features.dtype)
    for i in range(channels):
        for j in range(channels):
            gram[i, j] = (weighted[i] * weighted[j]).sum()
    return (gram / (mask**2).sum())[None]


@pytest.fixture()
def features():
    generator = torch.Generator().manual_seed(0)
    return {"relu1_1": torch.randn(1, 3, 6, 5, generator=generator), "relu2_1": torch.randn(1, 4, 3, 2, generator=generator)}


def test_content_term_is_alpha_over_layers_times_the_summed_mean_squares(features):
    generator = torch.Generator().manual_seed(1)
    targets = {name: torch.randn(f.shape, generator=generator) for name, f in features.items()}
    term = ContentTerm(targets, weight=3.0 / 2)
    by_hand = 1.5 * sum(((features[n] - targets[n]) ** 2).sum() / targets[n].numel() for n in targets)
    assert torch.allclose(term(features), by_hand, rtol=1e-6)
    assert torch.allclose(term.layer_loss("relu2_1", features["relu2_1"]),
                          ((features["relu2_1"] - targets["relu2_1"]) ** 2).mean())
    assert float(ContentTerm(targets, 1.0)(targets)) == 0.0


def test_style_term_is_beta_times_the_scaled_gram_differences(features):
    generator = torch.Generator().manual_seed(2)
    grams = {name: _gram_by_hand(torch.randn(f.shape[:2] + (4, 4), generator=generator)) for name, f in features.items()}
    scales = {"relu1_1": 2.0 / 3**2, "relu2_1": 0.5 / 4**2}
    term = StyleTerm(grams, scales, weight=10.0)
    by_hand = 10.0 * sum(scales[n] * ((_gram_by_hand(features[n]) - grams[n]) ** 2).mean() for n in grams)
    assert torch.allclose(term(features), by_hand, rtol=1e-5)
    assert term.layers == ["relu1_1", "relu2_1"] and term.scales == scales


def test_guided_style_term_sums_each_regions_guided_gram_difference(features):
    generator = torch.Generator().manual_seed(3)
    left = torch.zeros(1, 1, 6, 5)
    left[..., :2] = 1
    soft = torch.rand(1, 1, 6, 5, generator=generator)
    a, b = (_gram_by_hand(torch.randn(1, 3, 4, 4, generator=generator)) for _ in range(2))
    term = GuidedStyleTerm({"relu1_1": [(left, a), (soft, b)]}, {"relu1_1": 0.25}, weight=4.0)
    x = features["relu1_1"]
    by_hand = 4.0 * 0.25 * (((_gram_by_hand(x, left) - a) ** 2).mean() + ((_gram_by_hand(x, soft) - b) ** 2).mean())
    assert torch.allclose(term({"relu1_1": x}), by_hand, rtol=1e-5)
    # Only the pixels inside a 0/1 region count for it: the others can change freely.
    left_only = GuidedStyleTerm({"relu1_1": [(left, a)]}, {"relu1_1": 1.0}, weight=1.0)
    changed = x.clone()
    changed[..., 2:] += 5
    assert torch.equal(left_only.layer_loss("relu1_1", changed), left_only.layer_loss("relu1_1", x))
    assert not torch.equal(term.layer_loss("relu1_1", changed), term.layer_loss("relu1_1", x))


def test_a_guided_term_with_masks_of_ones_is_the_plain_style_term(features):
    # The guided Gram matrix under a mask of ones is (F F^T) / sum(1) = F F^T / (h w), the Gram matrix:
    # the two terms agree to float rounding (the guided one multiplies by the mask and divides by a tensor).
    generator = torch.Generator().manual_seed(4)
    grams = {name: _gram_by_hand(torch.randn(f.shape[:2] + (3, 3), generator=generator)) for name, f in features.items()}
    scales = {"relu1_1": 1 / 9, "relu2_1": 1 / 16}
    ones = {name: [(torch.ones(1, 1, *f.shape[-2:]), grams[name])] for name, f in features.items()}
    plain, guided = StyleTerm(grams, scales, 1e3), GuidedStyleTerm(ones, scales, 1e3)
    assert torch.allclose(guided(features), plain(features), rtol=1e-6, atol=0)
    for name in features:
        assert torch.allclose(guided.layer_loss(name, features[name]), plain.layer_loss(name, features[name]), rtol=1e-6)


def test_a_layer_no_region_reaches_costs_nothing_and_a_mask_of_the_wrong_size_is_refused(features):
    term = GuidedStyleTerm({"relu1_1": [], "relu2_1": [(torch.ones(1, 1, 3, 2), torch.eye(4)[None])]},
                           {"relu1_1": 1.0, "relu2_1": 1.0}, 1.0)
    assert float(term.layer_loss("relu1_1", features["relu1_1"])) == 0.0
    assert term.targets["relu1_1"] == []
    with pytest.raises(ValueError, match="masks are 3x2 at layer relu2_1 but the features are 6x5"):
        term.layer_loss("relu2_1", torch.randn(1, 4, 6, 5))


@pytest.mark.parametrize(("power", "reduction", "expected"), [(2, "mean", 4.0 / 2), (1, "sum", 2 * 3 * 2 * 2.0)])
def test_tv_term_on_a_ramp(power, reduction, expected):
    # A horizontal ramp rising by 2 per pixel, 3 channels, 2 x 3: every dx is 2, every dy 0.
    ramp = (2.0 * torch.arange(3.0)).expand(1, 3, 2, 3)
    term = TVTerm(0.5, power, reduction)
    assert float(term(ramp)) == pytest.approx(0.5 * expected * (2 if power == 2 else 1))
    with pytest.raises(sl.ParameterError, match="tv_power"):
        TVTerm(1.0, power=3)


def test_terms_hold_targets_without_gradient(features):
    leaf = {name: f.clone().requires_grad_(True) for name, f in features.items()}
    content = ContentTerm(leaf, 1.0)
    style = StyleTerm({n: sl.gram_matrix(f) for n, f in leaf.items()}, {n: 1.0 for n in leaf}, 1.0)
    guided = GuidedStyleTerm({"relu1_1": [(torch.ones(1, 1, 6, 5).requires_grad_(True), sl.gram_matrix(leaf["relu1_1"]))]},
                             {"relu1_1": 1.0}, 1.0)
    held = list(content.buffers()) + list(style.buffers()) + list(guided.buffers())
    assert len(held) == 2 + 2 + 2 and not any(t.requires_grad for t in held)
    assert list(content.parameters()) == []
    # ... and they go where the term goes, like a module's buffers.
    assert content.double().targets["relu2_1"].dtype == torch.float64


def test_style_scales_are_w_over_channels_squared_or_w(model):
    layers = {"relu1_1": 2.0, "relu4_1": 1.0}
    assert style_scales(model, layers, "channels") == {"relu1_1": 2.0 / 64**2, "relu4_1": 1.0 / 512**2}
    assert style_scales(model, layers, "paper") == layers
    with pytest.raises(sl.ParameterError, match="layer_weighting"):
        style_scales(model, layers, "N")


def test_terms_from_images_hold_the_images_own_features_and_gram_matrices(model, content, style):
    content_term = ContentTerm.from_image(model, content, ["relu2_2", "relu1_1"], content_weight=3.0)
    assert content_term.layers == ["relu1_1", "relu2_2"] and content_term.weight == 1.5
    own = model(content, content_term.layers)
    assert all(torch.equal(content_term.targets[n], own[n]) for n in own)
    assert float(content_term(own)) == 0.0
    style_term = StyleTerm.from_images(model, [style], [1.0], {"relu2_1": 1.0, "relu1_1": 2.0}, weight=5.0)
    assert style_term.layers == ["relu1_1", "relu2_1"] and style_term.scales == {"relu1_1": 2.0 / 64**2, "relu2_1": 1.0 / 128**2}
    features = model(style, style_term.layers)
    assert all(torch.equal(style_term.targets[n], sl.gram_matrix(features[n])) for n in features)
    assert float(style_term(features)) == 0.0


# --------------------------------------------------------------------------- the objective as their sum


LAYERS = {"relu1_1": 1.0, "relu2_1": 0.5, "relu3_1": 2.0}


def test_the_objective_is_the_sum_of_its_terms(model, content, style):
    objective = sl.StyleObjective(model, content, [style], content_layers=["relu3_2", "relu2_2"], style_layers=LAYERS,
                                  blend=[1.0], content_weight=2.0, style_weight=1e5, tv_weight=1e-2)
    assert list(objective.terms) == ["content", "style", "tv"]
    assert objective.terms["content"].weight == 2.0 / 2 and objective.terms["style"].weight == 1e5
    image = torch.rand_like(content)
    values = objective(image)
    features = model(image, objective.layers)
    parts = {key: term(image if key == "tv" else features) for key, term in objective.terms.items()}
    for key, part in parts.items():
        assert torch.allclose(values[key], part, rtol=1e-6), key
    assert torch.allclose(values["total"], sum(parts.values()), rtol=1e-6)
    # Each layer's entry is the term's unweighted loss of that layer.
    for name in LAYERS:
        assert torch.allclose(values[f"style:{name}"], objective.terms["style"].layer_loss(name, features[name]))
    assert set(values) == {"total", "content", "style", "tv", "content:relu2_2", "content:relu3_2",
                           *(f"style:{n}" for n in LAYERS)}


def test_the_same_image_gives_the_same_value_twice(model, content, style):
    objective = sl.StyleObjective(model, content, [style], content_layers=["relu2_2"], style_layers=LAYERS,
                                  blend=[1.0], content_weight=1.0, style_weight=1e6, tv_weight=1e-3)
    image = torch.rand_like(content)
    first, second = objective(image), objective(image.clone())
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_the_objective_keeps_gram_matrices_not_style_features(model, content, style):
    objective = sl.StyleObjective(model, content, [style], content_layers=["relu2_2"], style_layers=LAYERS,
                                  blend=[1.0], content_weight=1.0, style_weight=1.0, tv_weight=0.0)
    for name, gram in objective.terms["style"].targets.items():
        channels = spec(name).out_channels
        assert gram.shape == (1, channels, channels) and not gram.requires_grad
    assert [n for n, _ in objective.terms["style"].named_buffers()] == [f"target_{n}" for n in LAYERS]


def test_masks_of_ones_give_the_objective_without_masks(model, content, style):
    kwargs = dict(content_layers=["relu2_2"], style_layers=LAYERS, blend=[1.0], content_weight=1.0,
                  style_weight=1e6, tv_weight=0.0)
    plain = sl.StyleObjective(model, content, [style], **kwargs)
    guided = sl.StyleObjective(model, content, [style], masks=[torch.ones(1, 1, *content.shape[-2:])], **kwargs)
    assert isinstance(guided.terms["style"], GuidedStyleTerm) and type(plain.terms["style"]) is StyleTerm
    image = torch.rand_like(content)
    a, b = plain(image), guided(image)
    assert torch.allclose(a["style"], b["style"], rtol=1e-6) and torch.equal(a["content"], b["content"])
