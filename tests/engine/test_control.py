"""Perceptual control (Gatys et al. 2017): colour, several styles, masks, scales.

Each test measures the effect a control promises; costs are compared in evaluations x
pixels, never in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import stylelab as sl
from stylelab.engine import color
from stylelab.engine.masks import guided_gram_matrix, layer_mask, load_mask






def _left_half(shape):
    mask = torch.zeros(shape)
    mask[:, : shape[1] // 2] = 1
    return mask


# --------------------------------------------------------------------------- colour


def test_yiq_is_invertible_and_luminance_is_brightness():
    image = torch.rand(1, 3, 9, 11)
    assert torch.allclose(color.yiq_to_rgb(color.rgb_to_yiq(image)), image, atol=1e-6)
    white, grey = torch.ones(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.25)
    assert torch.allclose(color.rgb_to_yiq(white)[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]), atol=1e-3)
    assert torch.allclose(color.luminance(grey), torch.full((1, 1, 2, 2), 0.25), atol=1e-6)
    pure_red = torch.zeros(1, 3, 1, 1)
    pure_red[:, 0] = 1
    assert color.luminance(pure_red).item() == pytest.approx(0.299, abs=1e-6)
    lum = color.luminance_image(image)
    assert lum.shape == image.shape and torch.equal(lum[:, 0], lum[:, 1]) and torch.equal(lum[:, 1], lum[:, 2])
    assert torch.allclose(color.luminance(lum), color.luminance(image), atol=1e-6)  # grey keeps its Y


def test_match_luminance_copies_mean_and_spread(content, style):
    matched = color.match_luminance(color.luminance(style) * 0.5 + 0.2, color.luminance(content))
    target = color.luminance(content)
    assert matched.mean().item() == pytest.approx(target.mean().item(), abs=2e-3)
    assert matched.std(unbiased=False).item() == pytest.approx(target.std(unbiased=False).item(), rel=2e-2)


@pytest.mark.parametrize("mode", ["eigen", "cholesky"])
@pytest.mark.parametrize("name", ["swirls", "mosaic", "blocks"])
def test_histogram_matching_copies_colour_mean_and_covariance(content, mode, name):
    style = sl.data.example(name, 48)
    mu_c, cov_c = color.color_statistics(content)
    mu_s, cov_s = color.color_statistics(style)
    assert (cov_s - cov_c).abs().max() > 0.1 * cov_c.abs().max()  # they really differ before
    raw = color.match_color_histogram(style, content, mode=mode, clamp=False)
    mu, cov = color.color_statistics(raw)
    assert torch.allclose(mu, mu_c, atol=1e-6)
    assert (cov - cov_c).abs().max() < 2e-3 * cov_c.abs().max()
    clipped = color.match_color_histogram(style, content, mode=mode)
    assert 0 <= clipped.min() and clipped.max() <= 1 and clipped.shape == style.shape
    mu, cov = color.color_statistics(clipped)
    assert (mu - mu_c).abs().max() < 0.02 and (cov - cov_c).abs().max() < 0.1 * cov_c.abs().max()


def test_histogram_matching_survives_a_flat_style(content):
    flat = torch.full((1, 3, 16, 16), 0.4)
    out = color.match_color_histogram(flat, content)
    assert torch.isfinite(out).all()
    with pytest.raises(ValueError, match="mode must be 'eigen' or 'cholesky'"):
        color.match_color_histogram(flat, content, mode="pca")


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_luminance_only_transfer_keeps_the_content_chrominance(content, style, model, small_run):
    result = small_run(content, style, preserve_color="luminance", steps=8)
    plain = small_run(content, style, steps=8)
    yiq_result, yiq_content = color.rgb_to_yiq(result.image), color.rgb_to_yiq(content)
    chroma_change = (yiq_result[:, 1:] - yiq_content[:, 1:]).abs()
    assert chroma_change.mean() < 1e-3 and chroma_change.flatten().quantile(0.99) < 5e-3
    assert (yiq_result[:, :1] - yiq_content[:, :1]).abs().mean() > 5e-3  # the style did act, on luminance
    plain_change = (color.rgb_to_yiq(plain.image)[:, 1:] - yiq_content[:, 1:]).abs().mean()
    assert plain_change > 5 * chroma_change.mean()
    assert result.config["preserve_color"] == "luminance"


def test_luminance_mode_turns_any_start_grey(content, style, model, small_run):
    for init in ("noise", "style"):
        result = small_run(content, style, preserve_color="luminance", init=init, steps=1)
        chroma = (color.rgb_to_yiq(result.image)[:, 1:] - color.rgb_to_yiq(content)[:, 1:]).abs().mean()
        assert chroma < 1e-3, init


def test_histogram_mode_is_transfer_with_the_recoloured_style(content, style, model, small_run):
    result = small_run(content, style, preserve_color="histogram", steps=3)
    manual = small_run(content, color.match_color_histogram(style, content), model, steps=3)
    assert torch.equal(result.image, manual.image)
    assert result.config["preserve_color"] == "histogram"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"preserve_color": "lum"}, "preserve_color must be None, 'luminance' or 'histogram'"),
        ({"preserve_color": 1}, "preserve_color must be None"),
    ],
)
def test_bad_preserve_color(content, style, model, kwargs, message, small_run):
    with pytest.raises(ValueError, match=message):
        small_run(content, style, **kwargs)


def test_preserve_color_needs_a_content_image(style, model, small_run):
    with pytest.raises(ValueError, match="there is no content image"):
        small_run(None, style, model, size=32, preserve_color="luminance")


# --------------------------------------------------------------------------- several styles


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_blend_one_zero_reproduces_the_single_style_under_every_control(content, model, small_run):
    a, b = sl.data.example("swirls", 48), sl.data.example("mosaic", 48)
    controls = [({"preserve_color": "histogram"}, 3), ({"preserve_color": "luminance"}, 3), ({"scales": (24, 48)}, (3, 2))]
    for extra, steps in controls:
        single = small_run(content, a, model, steps=steps, **extra)
        blended = small_run(content, [a, b], model, style_blend=[1, 0], steps=steps, **extra)
        if "scales" in extra:
            # The blended targets are bit-identical (checked below), but the CPU convolution may pick another
            # kernel the first time it meets the small 16x24 shape: even two identical single-style runs can
            # then differ in the last bit.
            assert torch.allclose(single.image, blended.image, atol=1e-5), extra
        else:
            assert torch.equal(single.image, blended.image), extra
    kwargs = dict(content_layers=["relu4_2"], style_layers={"relu1_1": 1, "relu5_1": 1}, content_weight=1,
                  style_weight=1, tv_weight=0)
    one = sl.StyleObjective(model, content, [a], blend=[1.0], **kwargs)
    two = sl.StyleObjective(model, content, [a, b], blend=[1.0, 0.0], **kwargs)
    for name in ("relu1_1", "relu5_1"):
        assert torch.equal(one.terms["style"].targets[name], two.terms["style"].targets[name])


def test_blend_weights_move_the_target(content, model):
    a, b = sl.data.example("swirls", 48), sl.data.example("blocks", 48)
    layers = ["relu1_1"]
    ga, gb = (sl.gram_matrix(model(s, layers)["relu1_1"]) for s in (a, b))
    objective = sl.StyleObjective(model, content, [a, b], content_layers=["relu4_2"], style_layers={"relu1_1": 1},
                                  blend=[0.7, 0.3], content_weight=1, style_weight=1, tv_weight=0)
    assert torch.allclose(objective.terms["style"].targets["relu1_1"], 0.7 * ga + 0.3 * gb, atol=1e-6)


# --------------------------------------------------------------------------- masks


def test_guided_gram_matrix_is_the_gram_matrix_of_the_region():
    features = torch.randn(1, 5, 6, 7)
    ones = torch.ones(1, 1, 6, 7)
    assert torch.allclose(guided_gram_matrix(features, ones), sl.gram_matrix(features), atol=1e-6)
    assert torch.allclose(guided_gram_matrix(features, 0.3 * ones), sl.gram_matrix(features), atol=1e-6)
    region = torch.zeros(1, 1, 6, 7)
    region[..., 1:4, 2:6] = 1
    inside = features[..., 1:4, 2:6]
    assert torch.allclose(guided_gram_matrix(features, region), sl.gram_matrix(inside), atol=1e-6)
    with pytest.raises(ValueError, match="Use layer_mask"):
        guided_gram_matrix(features, torch.ones(1, 1, 3, 3))


def test_layer_masks_have_each_layers_resolution(model):
    image = torch.rand(1, 3, 37, 53)
    mask = torch.rand(1, 1, 37, 53)
    layers = list(sl.DEFAULT_STYLE_LAYERS) + ["relu4_2", "pool5"]
    feats = model(image, layers)
    for name in layers:
        small = layer_mask(mask, name)
        assert small.shape[-2:] == feats[name].shape[-2:], name
        assert 0 <= small.min() and small.max() <= 1
    half = torch.zeros(1, 1, 32, 32)
    half[..., :16] = 1
    assert torch.equal(layer_mask(half, "relu3_1")[..., :4], torch.ones(1, 1, 8, 4))


def test_a_mask_of_ones_is_the_unmasked_transfer(content, style, model, small_run):
    plain = small_run(content, style, steps=3)
    masked = small_run(content, style, steps=3, masks=[torch.ones(content.shape[-2:])])
    assert masked.history["total"][0] == pytest.approx(plain.history["total"][0], rel=1e-5)
    assert torch.allclose(masked.image, plain.image, atol=1e-3)


def test_keep_the_photo_outside_the_mask(model, small_run):
    content, style = sl.data.example("chelsea", 64), sl.data.example("swirls", 64)
    height, width = content.shape[-2:]
    result = small_run(content, style, steps=10, masks=[_left_half((height, width))])
    change = (result.image - content).abs().mean(dim=1)[0]
    inside, outside = change[:, : width // 2].mean(), change[:, width // 2 :].mean()
    assert inside > 0.01  # the left half really was stylised
    assert outside < 0.1 * inside  # "far less": the right half keeps the photo
    assert result.config["masks"] == 1


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_two_styles_go_where_their_masks_say(content, model, small_run):
    a, b = sl.data.example("swirls", 48), sl.data.example("blocks", 48)
    left = _left_half(content.shape[-2:])
    a_left = small_run(content, [a, b], model, steps=14, masks=[left, None])
    b_left = small_run(content, [b, a], model, steps=14, masks=[left, None])
    name = "relu1_1"
    target_a, target_b = (sl.gram_matrix(model(s, [name])[name]) for s in (a, b))
    region = layer_mask(left[None, None], name)

    def distance(result, mask, target):
        return float(((guided_gram_matrix(model(result.image, [name])[name], mask) - target) ** 2).mean())

    # In each half, the run that put style X there is closer to X's statistics than the run that did not.
    assert distance(a_left, region, target_a) < distance(b_left, region, target_a)
    assert distance(b_left, region, target_b) < distance(a_left, region, target_b)
    assert distance(a_left, 1 - region, target_b) < distance(b_left, 1 - region, target_b)
    assert distance(b_left, 1 - region, target_a) < distance(a_left, 1 - region, target_a)


def test_mask_sources_and_the_rest(content, tmp_path):
    height, width = content.shape[-2:]
    as_uint8 = (np.arange(height * width).reshape(height, width) % 2 * 255).astype(np.uint8)
    assert torch.equal(load_mask(as_uint8), torch.from_numpy(as_uint8 / 255.0).float()[None, None])
    assert load_mask(np.ones((height, width), dtype=bool)).shape == (1, 1, height, width)
    path = tmp_path / "mask.png"
    Image.fromarray(np.full((height * 2, width * 2), 255, dtype=np.uint8)).save(path)
    from_file = load_mask(path, (height, width))
    assert from_file.shape == (1, 1, height, width) and torch.allclose(from_file, torch.ones_like(from_file))
    left = _left_half((height, width))
    masks = sl.masks.prepare_masks([left, None], 2, (height, width))
    assert torch.equal(masks[1][0, 0], 1 - left)


@pytest.mark.parametrize(
    "masks, message",
    [
        ([torch.ones(20, 20)], "mask 1 is 20x20 pixels but the content image is 32x48"),
        ([torch.full((32, 48), 255.0)], "masks must be in \\[0, 1\\] \\(it looks like 0-255: divide by 255\\)"),
        ([torch.full((32, 48), -0.5)], "masks must be in \\[0, 1\\]"),
        ([torch.rand(3, 32, 48)], "mask 1 must have shape \\(H, W\\)"),
        ([torch.ones(32, 48), torch.ones(32, 48)], "2 mask\\(s\\) for 1 style image\\(s\\)"),
        ([torch.zeros(32, 48)], "mask 1 is zero everywhere"),
    ],
)
def test_bad_masks(content, style, model, masks, message, small_run):
    with pytest.raises(ValueError, match=message):
        small_run(content, style, masks=masks)


def test_masks_exclude_blend_and_need_a_style(content, style, model, small_run):
    a, b = style, sl.data.example("mosaic", 48)
    with pytest.raises(ValueError, match="Only one mask may be None"):
        small_run(content, [a, b], model, masks=[None, None])
    with pytest.raises(ValueError, match="Give masks or style_blend, not both"):
        small_run(content, [a, b], model, masks=[None, torch.ones(32, 48)], style_blend=[1, 1])
    with pytest.raises(ValueError, match="no style image"):
        small_run(content, None, model, masks=[torch.ones(32, 48)])


# --------------------------------------------------------------------------- scales


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_coarse_to_fine_reaches_a_lower_loss_for_the_same_compute(model, small_run):
    content, style = sl.data.example("chelsea", 64), sl.data.example("swirls", 64)
    single = small_run(content, style, steps=10)
    coarse_to_fine = small_run(content, style, scales=(32, 64), steps=(16, 5))
    assert coarse_to_fine.image.shape == single.image.shape == content.shape
    assert sl.analysis.pixel_cost(coarse_to_fine) <= sl.analysis.pixel_cost(single)
    # Both final-scale losses come from the same objective at 43x64 pixels.
    assert min(sl.analysis.final_scale_losses(coarse_to_fine.history)) < 0.8 * min(sl.analysis.final_scale_losses(single.history))


def test_coarse_to_fine_result_records_every_scale(content, style, model, small_run):
    seen = []
    result = small_run(content, style, scales=(24, 48), steps=(3, 2),
                  callback=lambda step, image, losses: seen.append((step, tuple(image.shape[-2:]))))
    assert [s for s, _ in seen] == [1, 2, 3, 4, 5]
    assert seen[0][1] == (16, 24) and seen[-1][1] == (32, 48)
    assert result.config["scales"] == [24, 48] and result.config["size"] == [32, 48]
    assert [stage["size"] for stage in result.config["stages"]] == [[16, 24], [32, 48]]
    assert result.history["scale"] == [24.0] * 3 + [48.0] * 2
    assert result.evaluations == 5 and 1 <= result.steps <= 5 and len(result.history["total"]) == 5
    assert sl.analysis.pixel_cost(result) == 3 * 16 * 24 + 2 * 32 * 48
    assert result.history["time"] == sorted(result.history["time"])
    assert "Coarse-to-fine at 24/48 px" in result.message
    same = small_run(content, style, scales=[48], steps=3)
    plain = small_run(content, style, steps=3)
    assert torch.equal(same.image, plain.image)
    assert sl.analysis.pixel_cost(plain) == 3 * 32 * 48 and "scale" not in plain.history


def test_masks_follow_the_image_through_the_scales(content, style, model, small_run):
    left = _left_half(content.shape[-2:])
    result = small_run(content, style, masks=[left], scales=(24, 48), steps=(2, 2))
    assert result.image.shape == content.shape and [s["size"] for s in result.config["stages"]] == [[16, 24], [32, 48]]
    change = (result.image - content).abs().mean(dim=1)[0]
    # The kept half restarts from the sharp photo at every scale, not from the blurred upsampled image.
    assert change[:, 24:].mean() < 0.1 * change[:, :24].mean()


def test_interrupt_during_a_coarse_scale_still_returns_a_full_size_image(content, style, model, small_run):
    def interrupt(step, image, losses):
        if step == 2:
            raise KeyboardInterrupt

    result = small_run(content, style, scales=(24, 48), steps=(4, 4), callback=interrupt)
    assert result.status == "interrupted" and result.image.shape == content.shape
    assert "upsampled to 32x48 from the 24 px scale" in result.message


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scales": (48, 24)}, "scales must increase from coarse to fine"),
        ({"scales": (24, 24)}, "scales must increase"),
        ({"scales": (24.5, 48)}, "every scale must be a positive whole number"),
        ({"scales": ()}, "scales is empty"),
        ({"scales": "big"}, "scales must be a list of image sizes"),
        ({"scales": (24, 48), "steps": (3, 2, 1)}, "steps has 3 entries for 2 scales"),
        ({"scales": (24, 48), "size": 40}, "The last scale \\(48\\) must be the output size"),
        ({"scales": (24, 48), "steps": (3, 0)}, "steps must be at least 1"),
    ],
)
def test_bad_scales(content, style, model, kwargs, message, small_run):
    with pytest.raises(ValueError, match=message):
        small_run(content, style, **kwargs)


def test_a_scale_too_small_for_the_layers_is_named(content, style, model, small_run):
    with pytest.raises(sl.ImageTooSmallError, match="the image at scale 8"):
        small_run(content, style, scales=(8, 48))


def test_combine_scales_takes_fine_texture_and_keeps_coarse_layout(model):
    coarse, fine = sl.data.example("waves", 48), sl.data.example("mosaic", 48)
    mixed = sl.scales.combine_scales(coarse, fine, steps=12, model=model)
    assert mixed.shape == coarse.shape
    fine = sl.resize(fine, max(coarse.shape[-2:]))
    name = "relu1_1"
    gram = {k: sl.gram_matrix(model(v, [name])[name]) for k, v in (("mixed", mixed), ("coarse", coarse), ("fine", fine))}
    # Fine scale: the low layer's statistics moved most of the way from the coarse image to the fine one.
    assert ((gram["mixed"] - gram["fine"]) ** 2).mean() < 0.2 * ((gram["coarse"] - gram["fine"]) ** 2).mean()

    # Coarse scale: blurred down to 6x6 pixels, the new image still follows the coarse image's layout.
    def layout_correlation(a, b):
        a, b = (torch.nn.functional.adaptive_avg_pool2d(x, 6).flatten() for x in (a, b))
        a, b = a - a.mean(), b - b.mean()
        return float(a @ b / (a.norm() * b.norm()))

    assert layout_correlation(fine, coarse) < 0.2
    assert layout_correlation(mixed, coarse) > 0.5


def test_final_scale_losses_keep_only_the_last_scale():
    history = {"total": [5.0, 4.0, 3.0, 2.0], "scale": [16, 16, 32, 32]}
    assert sl.analysis.final_scale_losses(history) == [3.0, 2.0]
    assert sl.analysis.final_scale_losses({"total": [1.0, 0.5]}) == [1.0, 0.5]
