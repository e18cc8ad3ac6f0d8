"""The explorers, driven like a learner would: set control values, click buttons, read the view.

No browser is involved: a widget's state is its controls' ``value``s, and what it shows
is the PNG bytes and HTML text of its view widgets. tests/test_browser.py checks that the
same widgets also render and react in a real JupyterLab.
"""

from __future__ import annotations

import io
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import stylelab as sl  # noqa: E402
from stylelab.course import figures, widgets  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode(png: bytes) -> np.ndarray:
    png = bytes(png)
    assert png.startswith(PNG_SIGNATURE), "the view does not hold a PNG image"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def png_file(colour, size=(30, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def upload_entry(name: str, content: bytes) -> dict:
    import datetime

    return {"name": name, "type": "image/png", "size": len(content), "content": memoryview(content),
            "last_modified": datetime.datetime.now(datetime.timezone.utc)}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- figure helpers


def test_png_bytes_of_figure_closes_it_and_of_image_keeps_pixels():
    fig = figures.show_images([torch.rand(1, 3, 8, 8)], ["x"])
    png = figures.png_bytes(fig)
    assert png.startswith(PNG_SIGNATURE) and not plt.fignum_exists(fig.number)
    image = torch.zeros(1, 3, 5, 7)
    image[0, 0] = 1.0  # pure red
    pixels = decode(figures.png_bytes(image))
    assert pixels.shape == (5, 7, 3) and (pixels[..., 0] == 255).all() and (pixels[..., 1:] == 0).all()


def test_gram_comparison_shares_the_scale_and_centres_the_difference():
    a = torch.tensor([[2.0, 1.0], [1.0, 3.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    fig = figures.gram_comparison(a, b, ("cat", "waves"), title="t")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["Gram matrix: cat", "Gram matrix: waves", "difference (cat - waves)"]
    limits = [ax.images[0].get_clim() for ax in axes]
    assert limits[0] == limits[1] == (0.0, 3.0)
    assert limits[2] == (-2.0, 2.0)
    with pytest.raises(ValueError, match="same size"):
        figures.gram_comparison(a, torch.eye(3))


# --------------------------------------------------------------------------- FeatureMapExplorer


@pytest.fixture()
def explorer(model):
    return widgets.FeatureMapExplorer(model, ["chelsea", "swirls"], size=40)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_feature_map_explorer_layer_change_redraws_maps_and_stats(explorer, model):
    assert explorer.image.label == "chelsea" and explorer.channel.value == widgets.TOP
    before_maps, before_stats = explorer.maps.value, explorer.stats.value
    assert "64 channels" in before_stats and "3&times;3 px patch" in before_stats

    explorer.layer.value = "relu2_1"

    assert explorer.maps.value != before_maps
    height, width = sl.data.example("chelsea", size=40).shape[-2:]
    assert f"<b>relu2_1</b>: 128 channels of {height // 2}&times;{width // 2} positions" in explorer.stats.value
    assert "10&times;10 px patch" in explorer.stats.value  # receptive field of relu2_1
    assert len(explorer.channel.options) == 1 + 128
    # the "top 16" view really shows the 16 most active channels of this layer
    feats = model(sl.data.example("chelsea", size=40), ["relu2_1"])["relu2_1"]
    shown = explorer.stats.value.split("shown: ")[1].split("<")[0]
    assert [int(c) for c in shown.split(", ")] == figures.top_channels(feats, 16)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_feature_map_explorer_channel_shows_its_statistics(explorer, model):
    explorer.layer.value = "relu1_2"
    top_view = explorer.maps.value
    explorer.channel.value = 7
    assert explorer.maps.value != top_view
    channel = model(sl.data.example("chelsea", size=40), ["relu1_2"])["relu1_2"][0, 7]
    stats = explorer.channel_statistics(7)
    assert stats["mean"] == pytest.approx(float(channel.mean()), rel=1e-5)
    assert stats["active"] == pytest.approx(float((channel > 0).float().mean()))
    assert f"<b>channel 7</b>: mean {stats['mean']:.3g}" in explorer.stats.value
    # a channel that the next layer does not have falls back to "top"
    explorer.layer.value = "relu2_1"
    explorer.channel.value = 100
    explorer.layer.value = "relu1_1"
    assert explorer.channel.value == widgets.TOP and "all channels" in explorer.stats.value


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_feature_map_explorer_image_change_and_upload(explorer):
    preview, maps = explorer.preview.value, explorer.maps.value
    explorer.image.dropdown.value = "swirls"
    assert explorer.preview.value != preview and explorer.maps.value != maps

    redraws = []
    explorer.maps.observe(lambda change: redraws.append(change["new"]), names="value")
    explorer.image.upload.value = (upload_entry("red.png", png_file((255, 0, 0))),)

    assert len(redraws) == 1  # straight to the upload, no detour through another image
    assert explorer.image.label == "upload: red.png"
    assert "upload: red.png" in explorer.image.dropdown.options
    pixels = decode(explorer.preview.value)
    assert pixels.shape[:2] == (27, 40)  # 30x20 upload resized to a longest side of 40
    assert (pixels[..., 0] == 255).all() and (pixels[..., 1:] == 0).all()
    assert explorer.image.upload.value == ()  # ready for the next upload


def test_feature_map_explorer_reports_a_bad_upload_without_raising(explorer):
    options = explorer.image.dropdown.options
    explorer.image.upload.value = (upload_entry("notes.png", b"these are not pixels"),)
    assert "'notes.png' could not be used as an image" in explorer.status.value
    assert explorer.image.dropdown.options == options and explorer.image.label == "chelsea"


def test_a_decompression_bomb_upload_is_refused_before_decoding(explorer):
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    # A PNG header that claims 100000 x 100000 pixels: refused from the header alone.
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")
    explorer.image.upload.value = (upload_entry("bomb.png", bomb),)
    assert "'bomb.png' could not be used as an image" in explorer.status.value
    assert explorer.image.label == "chelsea"


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_feature_map_explorer_reports_an_image_too_small_for_a_layer(model):
    explorer = widgets.FeatureMapExplorer(model, {"tiny": torch.rand(1, 3, 8, 8)}, size=8)
    maps = explorer.maps.value
    explorer.layer.value = "pool5"
    assert "needs an image of at least 32x32 pixels" in explorer.status.value
    assert explorer.maps.value == maps  # the last good view stays
    explorer.layer.value = "relu2_1"
    assert explorer.status.value == "" and explorer.maps.value != maps


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_explorers_display_as_their_root_widget(explorer):
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    with pytest.raises(sl.LayerNameError, match="relu9_9"):
        widgets.FeatureMapExplorer(explorer.model, ["chelsea"], layer="relu9_9")


# --------------------------------------------------------------------------- GramExplorer


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_gram_explorer_layer_change_and_loss(model):
    explorer = widgets.GramExplorer(model, ["chelsea", "swirls", "waves"], size=40)
    heatmaps, loss_text = explorer.heatmaps.value, explorer.loss.value

    explorer.layer.value = "relu2_1"

    assert explorer.heatmaps.value != heatmaps and explorer.loss.value != loss_text
    cat, swirls = sl.data.example("chelsea", size=40), sl.data.example("swirls", size=40)
    a = model(cat, ["relu2_1"])["relu2_1"]
    b = model(swirls, ["relu2_1"])["relu2_1"]
    expected = float(sl.style_loss(a, sl.gram_matrix(b)))
    assert explorer.style_loss_value() == pytest.approx(expected, rel=1e-5)
    assert f"<b>{expected:.4g}</b>" in explorer.loss.value


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_gram_explorer_same_image_gives_zero_loss_and_images_show(model):
    explorer = widgets.GramExplorer(model, ["chelsea", "swirls"], size=40)
    right_view = explorer.right_view.value
    explorer.right.dropdown.value = "chelsea"
    assert explorer.right_view.value != right_view
    assert explorer.style_loss_value() == 0.0 and "<b>0</b>" in explorer.loss.value


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_gram_explorer_upload_on_one_side(model):
    explorer = widgets.GramExplorer(model, ["chelsea", "swirls"], size=40)
    loss = explorer.loss.value
    explorer.right.upload.value = (upload_entry("blue.png", png_file((0, 0, 255), size=(40, 40))),)
    assert explorer.right.label == "upload: blue.png" and "upload: blue.png" not in explorer.left.dropdown.options
    assert "'upload: blue.png'" in explorer.loss.value and explorer.loss.value != loss


# --------------------------------------------------------------------------- StylePlayground


@pytest.fixture()
def playground(model):
    return widgets.StylePlayground(model, ["chelsea"], ["swirls", "waves"], size=32, steps=2, preview_every=1)


def test_playground_settings_follow_the_controls(playground):
    playground.ratio.value = 1e3
    playground.layer_boxes["relu5_1"].value = False
    playground.layer_boxes["relu4_1"].value = False
    playground.layer_weights["relu1_1"].value = 2.5
    playground.layer_weights["relu3_1"].value = 0.0  # a zero weight switches a layer off too
    playground.optimizer.value = "lbfgs"
    playground.content_layer.value = "relu3_2"
    playground.tv_weight.value = 0.01
    settings = playground.settings()
    assert settings.style_weight == pytest.approx(1e3) and settings.content_weight == 1.0
    assert settings.style_layer_weights == {"relu1_1": 2.5, "relu2_1": 1.0}
    assert settings.optimizer == "lbfgs" and settings.content_layers == ("relu3_2",)
    assert settings.tv_weight == pytest.approx(0.01) and settings.steps == 2


def test_playground_run_updates_progress_preview_and_gallery(playground):
    playground.steps.value = 3
    playground.layer_boxes["relu5_1"].value = False
    previews = []
    playground.preview.observe(lambda change: previews.append(change["new"]), names="value")
    start_view = playground.preview.value

    result = playground.run()

    assert result is not None and result.status == "completed" and result.evaluations == 3
    assert playground.progress.value == 3 and playground.progress.max == 3
    assert len(previews) >= 3  # live previews during the run, then the final image
    assert playground.preview.value != start_view
    assert decode(playground.preview.value).tolist() == decode(figures.png_bytes(result.image)).tolist()
    assert "Completed 3 evaluations" in playground.status.value
    assert len(playground.gallery.children) == 1
    caption = playground.gallery.children[0].children[1].value
    assert "chelsea + swirls" in caption and "relu4_1&times;1" in caption and "relu5_1" not in caption
    assert "3/3 evaluations, completed" in caption
    assert playground.runs[0]["settings"].style_layer_weights == {n: 1.0 for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1")}
    assert not playground.run_button.disabled and playground.stop_button.disabled


def test_playground_gallery_keeps_the_newest_runs(playground):
    playground.gallery_size = 2
    playground.steps.value = 1
    for ratio in (1e2, 1e4, 1e6):
        playground.ratio.value = ratio
        playground.run()
    captions = [card.children[1].value for card in playground.gallery.children]
    assert len(captions) == 2 and len(playground.runs) == 3
    assert "style/content 1.0e+06" in captions[0] and "style/content 1.0e+04" in captions[1]


def test_playground_without_style_layers_explains_instead_of_running(playground):
    for box in playground.layer_boxes.values():
        box.value = False
    assert playground.run() is None
    assert "Tick at least one style layer" in playground.status.value
    assert playground.gallery.children == () and not playground.run_button.disabled


def test_playground_stop_keeps_the_image_so_far(playground):
    playground.steps.value = 2000
    playground.run_button.click()  # starts a background thread
    deadline = time.monotonic() + 120
    while playground.progress.value < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert playground.progress.value >= 2, "the background run did not make progress"
    assert playground.running and not playground.stop_button.disabled
    assert playground.run_button.disabled

    playground.stop_button.click()

    assert playground.wait(timeout=120), "Stop did not end the run"
    result = playground.result
    assert result.status == "stopped" and 2 <= result.evaluations < 2000
    assert f"Stopped after evaluation {result.evaluations} of 2000" in playground.status.value
    assert decode(playground.preview.value).tolist() == decode(figures.png_bytes(result.image)).tolist()
    caption = playground.gallery.children[0].children[1].value
    assert f"{result.evaluations}/2000 evaluations, stopped" in caption
    assert not playground.running and not playground.run_button.disabled


def test_playground_second_run_while_busy_is_refused(playground):
    playground.steps.value = 2000
    thread = playground.start()
    deadline = time.monotonic() + 120
    while playground.progress.value < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert playground.start() is None
        assert playground.run() is None
    finally:
        playground.stop()
        thread.join(120)
    assert len(playground.runs) == 1


def test_playground_set_style_layers_ticks_exactly_those(playground):
    playground.set_style_layers(["relu1_2", "relu2_1"])
    assert playground.settings().style_layer_weights == {"relu1_2": 1.0, "relu2_1": 1.0}
    names = [row.children[0].description for row in playground.layer_rows.children]
    assert names[:3] == ["relu1_1", "relu1_2", "relu2_1"]  # the new row sits in network order
    playground.set_style_layers({"relu5_1": 0.5})
    assert playground.settings().style_layer_weights == {"relu5_1": 0.5}
    with pytest.raises(sl.LayerNameError, match="relu9_1"):
        playground.set_style_layers(["relu9_1"])
    with pytest.raises(ValueError, match=">= 0"):
        playground.set_style_layers({"relu1_1": -1})


def test_playground_preview_follows_the_content_choice_between_runs(model):
    playground = widgets.StylePlayground(model, ["chelsea", "coffee"], ["swirls"], size=32)
    first = playground.preview.value
    playground.content.dropdown.value = "coffee"
    assert playground.preview.value != first
    expected = decode(figures.png_bytes(sl.data.example("coffee", size=32)))
    assert decode(playground.preview.value).tolist() == expected.tolist()


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_explorers_accept_any_file_name_and_bound_their_memory(model):
    explorer = widgets.FeatureMapExplorer(model, ["chelsea"], size=32)
    # "$...$" would be maths for matplotlib, and "$_$" is not valid maths: it must stay text
    explorer.image.upload.value = (upload_entry("x$_$.png", png_file((0, 255, 0))),)
    assert explorer.image.label == "upload: x$_$.png" and explorer.status.value == ""
    for layer in sl.LAYER_NAMES[:12]:
        explorer.layer.value = layer
    assert len(explorer.state.cached()) <= widgets.KEEP
    gram = widgets.GramExplorer(model, ["chelsea"], size=32)
    gram.left.upload.value = (upload_entry("a$\\alph$.png", png_file((0, 255, 0))),)
    assert "'upload: a$\\alph$.png'" in gram.loss.value


def test_playground_takes_one_layer_name_and_checks_weights(model):
    one = widgets.StylePlayground(model, size=32, style_layers="relu3_1")
    assert one.style_layer_weights() == {"relu3_1": 1.0}
    with pytest.raises(ValueError, match=">= 0"):
        widgets.StylePlayground(model, size=32, style_layers={"relu1_1": float("nan")})


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_an_upload_decodes_exactly_like_the_same_file_by_path(explorer, tmp_path):
    # Before issue 12 an upload was decoded at full size through PIL (a 144-megapixel PNG
    # took the kernel from 0.75 to 4.9 GB); now it takes the path's bounded decoding.
    noise = np.random.default_rng(0).integers(0, 256, size=(300, 400, 3), dtype=np.uint8)
    path = tmp_path / "big.png"
    Image.fromarray(noise).save(path)
    explorer.image.upload.value = (upload_entry("big.png", path.read_bytes()),)
    assert explorer.image.label == "upload: big.png"
    assert torch.equal(explorer.image.image(), sl.load_image(path, explorer.image.size))


def test_a_30000_squared_bomb_upload_names_the_reason(explorer):
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30_000, 30_000, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")
    explorer.image.upload.value = (upload_entry("bomb.png", bomb),)
    # Before issue 12: "Pillow cannot read it".
    assert "900 megapixels" in explorer.status.value and "decompression bombs" in explorer.status.value


def test_playground_settings_start_as_the_controls_show_them(model):
    # A control clamps what it is given; the run uses what the learner sees.
    playground = widgets.StylePlayground(model, size=32, ratio=1e12, style_layers={"relu1_1": 5000.0})
    assert playground.ratio.value == pytest.approx(1e10) and playground.layer_weights["relu1_1"].value == 1e3
    assert playground.settings().style_weight == pytest.approx(1e10)
    assert playground.settings().style_layer_weights == {"relu1_1": 1e3}
    assert playground.state.settings() == playground.settings()
