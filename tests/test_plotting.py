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
