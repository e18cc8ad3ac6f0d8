"""Figures: each function draws what it promises, with titles and labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import stylelab as sl  # noqa: E402
from stylelab.course import figures, lesson_figures  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_show_images_titles_and_errors():
    fig = figures.show_images([torch.rand(1, 3, 8, 8), torch.rand(3, 8, 8)], ["a", "b"], title="pair")
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert fig._suptitle.get_text() == "pair"
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        figures.show_images([torch.rand(3, 4, 4)] * 2, ["x"])


def test_image_grid_labels():
    cells = [[torch.rand(1, 3, 4, 4)] * 3 for _ in range(2)]
    fig = figures.image_grid(cells, ["r1", "r2"], ["c1", "c2", "c3"], title="grid")
    assert fig.axes[0].get_title() == "c1" and fig.axes[3].get_ylabel() == "r2"
    with pytest.raises(ValueError, match="labels"):
        figures.image_grid(cells, ["r1"], ["c1", "c2", "c3"])


def test_feature_maps_picks_most_active_channels():
    feats = torch.zeros(1, 10, 4, 4)
    feats[0, 7] = 5.0
    feats[0, 2] = 3.0
    assert figures.top_channels(feats, 2) == [7, 2]
    fig = figures.feature_maps(feats, k=2, title="maps")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("ch 7") and titles[1].startswith("ch 2")


def test_gram_heatmap_and_loss_curves():
    fig = figures.gram_heatmap(sl.gram_matrix(torch.rand(1, 6, 5, 5)), title="G")
    assert fig.axes[0].get_title() == "G" and fig.axes[0].get_xlabel() == "channel j"
    history = {"total": [3.0, 2.0, 1.0], "content": [1.0, 0.5, 0.2], "style": [2.0, 1.5, 0.8], "tv": [0, 0, 0],
               "time": [0.1, 0.2, 0.3]}
    fig = figures.loss_curves(history)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["total", "content", "style"]  # an all-zero term is skipped
    fig = figures.loss_curves({"adam": history, "lbfgs": history}, x="time")
    assert fig.axes[0].get_xlabel() == "seconds" and len(fig.axes[0].lines) == 2


# --------------------------------------------------------------------------- lesson 01-03 figures


def test_feature_map_grid_rows_are_layers_and_panels_are_top_channels():
    a = torch.zeros(1, 5, 4, 4)
    a[0, 3] = 2.0
    b = torch.rand(1, 7, 2, 2)
    fig = lesson_figures.feature_map_grid({"relu1_1": a, "relu2_1": b}, k=3, title="t")
    axes = fig.axes
    assert len(axes) == 6
    assert axes[0].get_title() == "ch 3" and axes[0].get_ylabel().startswith("relu1_1\n5 x 4 x 4")
    assert axes[3].get_ylabel().startswith("relu2_1\n7 x 2 x 2")
    with pytest.raises(ValueError, match="at least one layer"):
        lesson_figures.feature_map_grid({})


def test_receptive_fields_draws_one_square_per_layer_with_the_table_size():
    fig = lesson_figures.receptive_fields(torch.rand(1, 3, 64, 64), ["relu1_1", "relu3_1"])
    patches = fig.axes[0].patches
    assert [p.get_width() for p in patches] == [3, 24]
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["relu1_1: 3 px", "relu3_1: 24 px"]
    with pytest.raises(ValueError, match="not a VGG-19 layer"):
        lesson_figures.receptive_fields(torch.rand(1, 3, 8, 8), ["conv9_9"])


def test_channel_histograms_one_panel_per_image():
    fig = lesson_figures.channel_histograms({"raw": torch.rand(1, 3, 8, 8), "normalised": torch.randn(1, 3, 8, 8)})
    assert [ax.get_title() for ax in fig.axes] == ["raw", "normalised"]
    assert len(fig.axes[0].patches) == 3  # three step histograms


def test_channel_histograms_name_and_colour_each_channel_by_its_order():
    # A Caffe network's input is B, G, R: its first channel must be labelled B and drawn blue.
    from matplotlib.colors import to_rgba

    bgr = torch.stack([torch.full((8, 8), -17.0), torch.zeros(8, 8), torch.full((8, 8), 30.0)])[None]
    fig = lesson_figures.channel_histograms({"raw": torch.rand(1, 3, 8, 8), "caffe": bgr}, channel_names={"raw": "RGB", "caffe": "BGR"})
    caffe = fig.axes[1]
    labels = [t.get_text() for t in caffe.get_legend().get_texts()]
    assert labels == ["B", "G", "R"]
    first = caffe.patches[0]  # the first channel's histogram: all its mass at -17
    assert first.get_edgecolor() == to_rgba("tab:blue") and first.get_path().vertices[:, 0].min() < -16
    assert [p.get_edgecolor() for p in fig.axes[0].patches] == [to_rgba(c) for c in ("tab:red", "tab:green", "tab:blue")]
    with pytest.raises(ValueError, match="no channel_names for"):
        lesson_figures.channel_histograms({"a": bgr}, channel_names={"b": "RGB"})


def test_responses_labels_layers_and_channels():
    feats = {"relu1_1": torch.zeros(1, 4, 8, 8), "relu3_1": torch.zeros(1, 2, 2, 2)}
    feats["relu1_1"][0, 2] = 1.0
    fig = lesson_figures.responses([torch.rand(1, 3, 8, 8)], [feats], row_labels=["stripes"])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["input", "relu1_1 ch 2", "relu3_1 ch 0"] and fig.axes[0].get_ylabel() == "stripes"
    with pytest.raises(ValueError, match="as many feature dicts"):
        lesson_figures.responses([torch.rand(1, 3, 8, 8)] * 2, [feats], row_labels=["a"])


def test_intervals_bars_and_reference():
    fig = lesson_figures.intervals({"a": (2, 6), "b": (0, 10)}, reference={"a": (1, 7)}, marker=5, title="bands")
    ax = fig.axes[0]
    bars = [(p.get_x(), p.get_width()) for p in ax.patches]
    assert bars == [(2, 4), (1, 6), (0, 10)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"] and ax.get_title() == "bands"


def test_heatmaps_and_images_and_grams():
    fig = lesson_figures.heatmaps([torch.rand(5, 5), torch.rand(1, 1, 5, 5)], ["g1", "g2"], colorbar_label="|grad|")
    assert [ax.get_title() for ax in fig.axes[:1]] == ["g1"] and len(fig.axes) == 4  # two maps, two colour bars
    with pytest.raises(ValueError, match="2-D maps"):
        lesson_figures.heatmaps([torch.rand(2, 5, 5)], ["x"])
    grams = [sl.gram_matrix(torch.rand(1, 40, 4, 4)), sl.gram_matrix(2 * torch.rand(1, 40, 4, 4))]
    fig = lesson_figures.images_and_grams([torch.rand(1, 3, 8, 8)] * 2, grams, ["a", "b"], max_channels=16)
    heat = [im for ax in fig.axes for im in ax.images if im.get_array().shape == (16, 16)]
    assert len(heat) == 2 and heat[0].get_clim() == heat[1].get_clim()  # one shared colour scale


def test_grouped_bars():
    fig = lesson_figures.grouped_bars({"gram": {"relu1_1": 0.1, "relu2_1": 0.2}, "content": {"relu1_1": 1, "relu2_1": 2}},
                                ylabel="relative change", log=True)
    ax = fig.axes[0]
    assert len(ax.patches) == 4 and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["relu1_1", "relu2_1"]


def test_ablation_grid_captions_missing_cells_and_axis_titles():
    image = torch.rand(1, 3, 6, 8)
    fig = lesson_figures.ablation_grid(
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
        lesson_figures.ablation_grid([[image]], ["r"], ["c"], captions=[["x", "y"]])
    with pytest.raises(ValueError, match="not None"):
        lesson_figures.ablation_grid([[None]], ["r"], ["c"])


def test_zoom_crops_shows_the_box_enlarged():
    image = torch.zeros(1, 3, 10, 12)
    image[..., 2:5, 3:7] = 1.0
    fig = lesson_figures.zoom_crops([image, image * 0.5], ["plain", "half"], (2, 3, 3, 4), title="zoom")
    crop = fig.axes[2].images[0].get_array()
    assert crop.shape[:2] == (3, 4) and float(crop.min()) == 1.0  # exactly the white box
    assert len(fig.axes[0].patches) == 1 and fig.axes[1].get_title() == "half"
    with pytest.raises(ValueError, match="does not fit"):
        lesson_figures.zoom_crops([image], ["x"], (8, 0, 5, 5))


def test_convergence_plot_marks_where_each_run_first_reaches_the_level():
    fast = {"total": [4.0, 1.0, 0.5], "time": [0.5, 1.0, 1.5]}
    slow = {"total": [4.0, 3.0, 2.0, 0.9], "time": [0.1, 0.2, 0.3, 0.4]}
    fig = lesson_figures.convergence({"fast": fast, "slow": slow}, level=1.0, title="race")
    by_eval, by_time = fig.axes
    assert by_eval.get_xlabel().startswith("evaluation") and by_time.get_xlabel() == "seconds"
    dots = [line for line in by_time.lines if line.get_marker() == "o"]
    assert [tuple(d.get_xdata()) for d in dots] == [(1.0,), (0.4,)]
    with pytest.raises(ValueError, match="at least one run"):
        lesson_figures.convergence({})


def test_wrap_label_keeps_long_network_labels_over_their_column():
    label = "VGG-16 from vgg16-imagenet-caffe.pth, Caffe preprocessing"
    wrapped = figures.wrap_label(label, width=26)
    assert all(len(line) <= 26 for line in wrapped.splitlines()) and len(wrapped.splitlines()) > 1
    assert wrapped.replace("\n", " ") == label and figures.wrap_label("short") == "short"


def test_amplified_difference_scales_by_a_percentile_not_a_fixed_gain():
    a = torch.zeros(1, 3, 10, 10)
    b = a.clone()
    b[..., :5, :] = 0.01  # a small difference everywhere in the top half
    b[..., 0, 0] = 0.9  # and one large outlier
    image, gain = figures.amplified_difference(a, b, percentile=95.0)
    assert gain == pytest.approx(100.0, rel=1e-3)  # the 95th percentile is 0.01, not the outlier
    assert image[..., 2, 2].max() == pytest.approx(1.0) and image[..., 7, 7].max() == 0.0 and image.max() <= 1.0
    assert figures.amplified_difference(a, a)[1] == 1.0  # identical: nothing to amplify
