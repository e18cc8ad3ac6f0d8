"""Figures: each function draws what it promises, with titles and labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import stylelab as sl  # noqa: E402
from stylelab import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_show_images_titles_and_errors():
    fig = plotting.show_images([torch.rand(1, 3, 8, 8), torch.rand(3, 8, 8)], ["a", "b"], title="pair")
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert fig._suptitle.get_text() == "pair"
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        plotting.show_images([torch.rand(3, 4, 4)] * 2, ["x"])


def test_image_grid_labels():
    cells = [[torch.rand(1, 3, 4, 4)] * 3 for _ in range(2)]
    fig = plotting.image_grid(cells, ["r1", "r2"], ["c1", "c2", "c3"], title="grid")
    assert fig.axes[0].get_title() == "c1" and fig.axes[3].get_ylabel() == "r2"
    with pytest.raises(ValueError, match="labels"):
        plotting.image_grid(cells, ["r1"], ["c1", "c2", "c3"])


def test_feature_maps_picks_most_active_channels():
    feats = torch.zeros(1, 10, 4, 4)
    feats[0, 7] = 5.0
    feats[0, 2] = 3.0
    assert plotting.top_channels(feats, 2) == [7, 2]
    fig = plotting.feature_maps(feats, k=2, title="maps")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("ch 7") and titles[1].startswith("ch 2")


def test_gram_heatmap_and_loss_curves():
    fig = plotting.gram_heatmap(sl.gram_matrix(torch.rand(1, 6, 5, 5)), title="G")
    assert fig.axes[0].get_title() == "G" and fig.axes[0].get_xlabel() == "channel j"
    history = {"total": [3.0, 2.0, 1.0], "content": [1.0, 0.5, 0.2], "style": [2.0, 1.5, 0.8], "tv": [0, 0, 0],
               "time": [0.1, 0.2, 0.3]}
    fig = plotting.loss_curves(history)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["total", "content", "style"]  # an all-zero term is skipped
    fig = plotting.loss_curves({"adam": history, "lbfgs": history}, x="time")
    assert fig.axes[0].get_xlabel() == "seconds" and len(fig.axes[0].lines) == 2


def test_ablation_grid_captions_missing_cells_and_axis_titles():
    image = torch.rand(1, 3, 6, 8)
    fig = plotting.ablation_grid(
        [[image, None], [image, image]], ["max", "avg"], ["a", "b"],
        captions=[["s=1", "s=2"], ["", "s=4"]], row_title="pooling", col_title="weights",
        missing="needs ImageNet", title="ablation",
    )
    axes = fig.axes
    assert axes[0].get_title() == "a" and axes[2].get_ylabel() == "avg"
    assert axes[0].get_xlabel() == "s=1" and axes[3].get_xlabel() == "s=4"
    assert [t.get_text() for t in axes[1].texts] == ["needs ImageNet"] and not axes[0].texts
    assert fig._supylabel.get_text() == "pooling" and fig._supxlabel.get_text() == "weights"
    assert fig._suptitle.get_text() == "ablation"
    with pytest.raises(ValueError, match="captions"):
        plotting.ablation_grid([[image]], ["r"], ["c"], captions=[["x", "y"]])
    with pytest.raises(ValueError, match="not None"):
        plotting.ablation_grid([[None]], ["r"], ["c"])


def test_zoom_crops_shows_the_box_enlarged():
    image = torch.zeros(1, 3, 10, 12)
    image[..., 2:5, 3:7] = 1.0
    fig = plotting.zoom_crops([image, image * 0.5], ["plain", "half"], (2, 3, 3, 4), title="zoom")
    crop = fig.axes[2].images[0].get_array()
    assert crop.shape[:2] == (3, 4) and float(crop.min()) == 1.0  # exactly the white box
    assert len(fig.axes[0].patches) == 1 and fig.axes[1].get_title() == "half"
    with pytest.raises(ValueError, match="does not fit"):
        plotting.zoom_crops([image], ["x"], (8, 0, 5, 5))


def test_first_reach_and_convergence_plot():
    fast = {"total": [4.0, 1.0, 0.5], "time": [0.5, 1.0, 1.5]}
    slow = {"total": [4.0, 3.0, 2.0, 0.9], "time": [0.1, 0.2, 0.3, 0.4]}
    assert plotting.first_reach(fast, 1.0) == (2, 1.0)
    assert plotting.first_reach(slow, 1.0) == (4, 0.4)
    assert plotting.first_reach(slow, 0.1) is None
    fig = plotting.convergence({"fast": fast, "slow": slow}, level=1.0, title="race")
    by_eval, by_time = fig.axes
    assert by_eval.get_xlabel().startswith("evaluation") and by_time.get_xlabel() == "seconds"
    dots = [line for line in by_time.lines if line.get_marker() == "o"]
    assert [tuple(d.get_xdata()) for d in dots] == [(1.0,), (0.4,)]
    with pytest.raises(ValueError, match="at least one run"):
        plotting.convergence({})
