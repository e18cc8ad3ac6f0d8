"""Run analysis: numbers read off a run's history and configuration, without figures."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
import torch

import stylelab as sl
from stylelab.course import analysis


def test_first_reach_counts_evaluations_from_one_and_reads_the_time():
    fast = {"total": [4.0, 1.0, 0.5], "time": [0.5, 1.0, 1.5]}
    slow = {"total": [4.0, 3.0, 2.0, 0.9], "time": [0.1, 0.2, 0.3, 0.4]}
    assert analysis.first_reach(fast, 1.0) == (2, 1.0)  # "<= level" counts as reached
    assert analysis.first_reach(slow, 1.0) == (4, 0.4)
    assert analysis.first_reach(slow, 0.1) is None
    assert analysis.first_reach({"style": [3.0, 0.2], "time": [1, 2]}, 0.5, term="style") == (2, 2.0)


def test_final_scale_losses_keep_only_the_largest_scale():
    history = {"total": [9.0, 8.0, 3.0, 2.0], "content": [1, 1, 0.5, 0.4], "scale": [16, 16, 32, 32]}
    assert analysis.final_scale_losses(history) == [3.0, 2.0]
    assert analysis.final_scale_losses(history, key="content") == [0.5, 0.4]
    plain = {"total": [1.0, 0.5]}
    result = analysis.final_scale_losses(plain)
    assert result == [1.0, 0.5] and result is not plain["total"]  # a new list
    assert analysis.final_scale_losses({"total": [1.0], "scale": []}) == [1.0]


def test_pixel_cost_sums_evaluations_times_pixels_over_the_stages():
    run = SimpleNamespace(config={"stages": [{"size": (16, 24), "evaluations": 3, "steps": 3},
                                             {"size": (32, 48), "evaluations": 2, "steps": 5}]})
    assert analysis.pixel_cost(run) == 3 * 16 * 24 + 2 * 32 * 48


def test_run_analysis_has_one_home():
    """The lessons read these as sl.analysis.*; scales and plotting no longer repeat them."""
    assert sl.analysis is analysis
    assert not hasattr(sl.scales, "final_scale_losses") and not hasattr(sl.scales, "pixel_cost")


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_analysis_needs_no_matplotlib():
    import subprocess

    code = "import sys, stylelab.course.analysis\nassert 'matplotlib' not in sys.modules, 'analysis imported matplotlib'\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- choosing β and reading pictures


@pytest.fixture()
def pair():
    return sl.data.example("chelsea", size=32), sl.data.example("swirls", size=32)


def test_balance_point_is_the_paintings_content_loss_over_the_photos_style_term(model, pair):
    content, style = pair
    judge = sl.StyleObjective(model, content, [style], content_layers=["relu3_2"], style_layers={"relu1_1": 1.0, "relu2_1": 2.0},
                              blend=[1.0], content_weight=1.0, style_weight=1.0, tv_weight=0.0)
    painting = sl.resize(style, tuple(content.shape[-2:]))
    expected = float(judge(painting)["content"] / judge(content)["style"])
    found = analysis.balance_point(model, content, style, content_layers=["relu3_2"],
                                   style_layers={"relu1_1": 1.0, "relu2_1": 2.0})
    assert found == pytest.approx(expected, rel=1e-6) and found > 0
    # At β = the balance point the photo and the painting score the same total (up to the painting's own
    # small style loss: resized to the photo's shape, its Gram matrices move a little).
    at_balance = sl.StyleObjective(model, content, [style], content_layers=["relu3_2"],
                                   style_layers={"relu1_1": 1.0, "relu2_1": 2.0}, blend=[1.0], content_weight=1.0,
                                   style_weight=found, tv_weight=0.0)
    assert float(at_balance(content)["total"]) == pytest.approx(float(at_balance(painting)["total"]), rel=0.02)


def test_the_layer_weighting_changes_the_balance_point(model, pair):
    channels = analysis.balance_point(model, *pair)
    paper = analysis.balance_point(model, *pair, layer_weighting="paper")
    assert paper < channels  # without the 1/N^2 factors the style term is larger, so less β balances it


def test_course_style_weight_is_the_strength_times_the_balance_point(model, pair):
    assert analysis.course_style_weight(model, *pair) == pytest.approx(analysis.STYLE_STRENGTH * analysis.balance_point(model, *pair))
    assert analysis.course_style_weight(model, *pair, strength=2.0) == pytest.approx(2.0 * analysis.balance_point(model, *pair))
    with pytest.raises(ValueError, match="strength must be a positive number"):
        analysis.course_style_weight(model, *pair, strength=0.0)


def test_content_distance_is_zero_for_the_photo_and_grows_with_the_change(model, pair):
    photo, style = pair
    painting = sl.resize(style, tuple(photo.shape[-2:]))
    assert analysis.content_distance(model, photo, photo) == 0.0
    slightly = (photo + 0.02 * torch.randn(photo.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert 0 < analysis.content_distance(model, slightly, photo) < analysis.content_distance(model, painting, photo)
    with pytest.raises(ValueError, match="pictures of one size"):
        analysis.content_distance(model, sl.resize(photo, 16), photo)


def test_style_distance_is_zero_for_the_style_and_does_not_need_one_size(model, pair):
    photo, style = pair
    assert analysis.style_distance(model, style, style) == 0.0
    assert analysis.style_distance(model, photo, style) > 0
    per_layer = [analysis.style_distance(model, photo, style, [name]) for name in ("relu1_1", "relu2_1")]
    assert analysis.style_distance(model, photo, style, ["relu1_1", "relu2_1"]) == pytest.approx(sum(per_layer) / 2)


def test_layout_and_detail_similarity_read_what_a_picture_keeps(pair):
    photo = sl.data.example("chelsea", size=96)
    assert analysis.layout_similarity(photo, photo) == pytest.approx(1.0, abs=1e-5)
    assert analysis.detail_similarity(photo, photo) == pytest.approx(1.0, abs=1e-5)
    # Brightness and contrast do not count; blurring keeps the layout and loses the detail.
    assert analysis.detail_similarity(0.5 * photo + 0.2, photo) == pytest.approx(1.0, abs=1e-4)
    blurred = torch.nn.functional.avg_pool2d(photo, 5, stride=1, padding=2, count_include_pad=False)
    assert analysis.layout_similarity(blurred, photo) > 0.95 and analysis.detail_similarity(blurred, photo) < 0.6
    noise = torch.rand(photo.shape, generator=torch.Generator().manual_seed(1))
    assert abs(analysis.layout_similarity(noise, photo)) < 0.2 and abs(analysis.detail_similarity(noise, photo)) < 0.1
    with pytest.raises(ValueError, match="pictures of one size"):
        analysis.detail_similarity(photo[..., :32, :32], photo)


def test_content_lost_runs_from_zero_at_the_photo_to_one_at_the_painting(model, pair):
    photo, style = pair
    painting = sl.resize(style, tuple(photo.shape[-2:]))
    assert analysis.content_lost(model, photo, photo, style) == 0.0
    assert analysis.content_lost(model, painting, photo, style) == pytest.approx(1.0)
    halfway = 0.5 * photo + 0.5 * painting
    assert 0 < analysis.content_lost(model, halfway, photo, style) < 1
