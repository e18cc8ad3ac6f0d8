"""The explorers' models (stylelab.course.widgets.models): state and computation without ipywidgets.

Each test drives a model the way its view does (select an image, a layer, tick layers,
run, stop) and checks what the model computes against stylelab's own functions.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

import stylelab as sl
from stylelab.course.widgets import models
from stylelab.course.widgets.models import TOP, FeatureMaps, GramComparison, ImageChoice, PlaygroundRun


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_the_models_do_not_import_ipywidgets():
    code = "import sys, stylelab.course.widgets.models\nassert 'ipywidgets' not in sys.modules, 'a model imported ipywidgets'\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- ImageChoice


def test_image_choice_selects_loads_once_and_refuses_unknown_labels():
    choice = ImageChoice(["chelsea", "swirls"], size=40, value="swirls")
    assert choice.labels == ["chelsea", "swirls"] and choice.label == "swirls"
    assert ImageChoice(["chelsea"], value="absent").label == "chelsea"
    image = choice.image()
    assert image.shape[-2:] == sl.data.example("swirls", size=40).shape[-2:] and choice.image() is image
    choice.select("chelsea")
    assert torch.equal(choice.image(), sl.data.example("chelsea", size=40))
    with pytest.raises(ValueError, match="not one of the images"):
        choice.select("waves")
    with pytest.raises(ValueError, match="at least one image"):
        ImageChoice([], description="style")


def test_image_choice_add_numbers_taken_labels_and_selects():
    choice = ImageChoice({"red": torch.zeros(1, 3, 8, 8)}, size=16)
    assert choice.add("red", torch.ones(1, 3, 4, 4)) == "red (2)"
    assert choice.add("red", torch.ones(1, 3, 4, 4)) == "red (3)"
    assert choice.labels == ["red", "red (2)", "red (3)"] and choice.label == "red (3)"
    assert choice.image().shape == (1, 3, 16, 16)


def test_a_bad_upload_raises_one_sentence_and_changes_nothing():
    choice = ImageChoice(["chelsea"], size=32)
    with pytest.raises(sl.ImageLoadError, match="'notes.png' could not be used as an image"):
        choice.add_upload("notes.png", b"these are not pixels")
    assert choice.labels == ["chelsea"] and choice.label == "chelsea"


def test_an_upload_is_decoded_like_a_file_and_selected(tmp_path):
    from PIL import Image

    path = tmp_path / "blue.png"
    Image.new("RGB", (30, 20), (0, 0, 255)).save(path)
    choice = ImageChoice(["chelsea"], size=40)
    assert choice.add_upload("blue.png", path.read_bytes()) == "upload: blue.png"
    assert choice.label == "upload: blue.png" and torch.equal(choice.image(), sl.load_image(path, 40))


# --------------------------------------------------------------------------- FeatureMaps


@pytest.fixture()
def maps(model):
    return FeatureMaps(model, ImageChoice(["chelsea", "swirls"], size=40), layer="relu1_2", top=4)


def test_feature_maps_are_the_networks_activations_and_top_channels(maps, model):
    expected = model(sl.data.example("chelsea", size=40), ["relu1_2"])["relu1_2"]
    assert torch.allclose(maps.features(), expected)
    assert maps.channel == TOP and maps.shown_channels() == sl.figures.top_channels(expected, 4)
    assert maps.channel_choices()[:2] == [("top 4", TOP), ("0", 0)] and len(maps.channel_choices()) == 65
    maps.select_channel(7)
    stats = maps.channel_statistics(7)
    assert maps.shown_channels() == [7] and stats["mean"] == pytest.approx(float(expected[0, 7].mean()), rel=1e-5)
    assert stats["active"] == pytest.approx(float((expected[0, 7] > 0).float().mean()))
    row = maps.layer_row()
    assert row["name"] == "relu1_2" and row["channels"] == 64 and row["receptive_field"] == 5


def test_a_new_layer_keeps_the_channel_only_if_it_has_it(maps):
    maps.select_layer("relu2_1")
    maps.select_channel(100)
    assert maps.select_layer("relu3_1") == 100 and maps.channel == 100
    assert maps.select_layer("relu1_1") == TOP and maps.channel == TOP
    with pytest.raises(ValueError, match="channels 0 to 63"):
        maps.select_channel(64)
    with pytest.raises(sl.LayerNameError, match="relu9_9"):
        maps.select_layer("relu9_9")
    with pytest.raises(sl.LayerNameError, match="relu9_9"):
        FeatureMaps(maps.model, maps.images, layer="relu9_9")


def test_feature_maps_follow_the_image_and_keep_a_bounded_cache(maps):
    first = maps.features()
    maps.images.select("swirls")
    assert not torch.equal(maps.features(), first)
    for layer in sl.LAYER_NAMES[:12]:
        maps.select_layer(layer)
        maps.features()
    assert len(maps.cached()) == models.KEEP and maps.cached()[-1] == ("swirls", sl.LAYER_NAMES[11])


def test_a_layer_too_deep_for_the_image_raises_a_stylelab_error(model):
    maps = FeatureMaps(model, ImageChoice({"tiny": torch.rand(1, 3, 8, 8)}, size=8), layer="pool5")
    with pytest.raises(sl.StyleLabError, match="at least 32x32"):
        maps.features()


# --------------------------------------------------------------------------- GramComparison


def test_gram_comparison_loss_is_the_style_loss(model):
    left, right = ImageChoice(["chelsea"], size=40), ImageChoice(["swirls", "chelsea"], size=40)
    grams = GramComparison(model, left, right, layer="relu2_1")
    a = model(sl.data.example("chelsea", size=40), ["relu2_1"])["relu2_1"]
    b = model(sl.data.example("swirls", size=40), ["relu2_1"])["relu2_1"]
    assert torch.allclose(grams.gram(left), sl.gram_matrix(a)) and grams.gram(left).shape == (1, 128, 128)
    assert grams.style_loss() == pytest.approx(float(sl.style_loss(a, sl.gram_matrix(b))), rel=1e-5)
    right.select("chelsea")
    assert grams.style_loss() == 0.0
    grams.select_layer("relu1_1")
    assert grams.gram(left).shape == (1, 64, 64)
    with pytest.raises(sl.LayerNameError):
        grams.select_layer("relu9_1")


# --------------------------------------------------------------------------- PlaygroundRun


def playground(model, **options) -> PlaygroundRun:
    options = {"steps": 2, "preview_every": 1, **options}
    return PlaygroundRun(model, ImageChoice(["chelsea"], size=32), ImageChoice(["swirls"], size=32), **options)


def recorder(run: PlaygroundRun) -> list:
    events = []
    for event in run.EVENTS:
        run.on(event, lambda *arguments, event=event: events.append((event, arguments)))
    return events


def test_playground_settings_come_from_its_attributes(model):
    run = playground(model, style_layers={"relu1_1": 2.0, "relu1_2": 0.5})
    assert list(run.ticked) == ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "relu1_2"]
    assert run.style_layer_weights() == {"relu1_1": 2.0, "relu1_2": 0.5}
    run.ratio, run.optimizer, run.content_layer, run.tv_weight = 1e3, "lbfgs", "relu3_2", 0.01
    run.weights["relu1_2"] = 0.0  # a zero weight switches a layer off
    run.ticked["relu2_1"] = True
    settings = run.settings()
    assert settings.style_layer_weights == {"relu1_1": 2.0, "relu2_1": 1.0} and settings.style_weight == 1e3
    assert settings.optimizer == "lbfgs" and settings.content_layers == ("relu3_2",)
    assert settings.tv_weight == 0.01 and settings.steps == 2 and settings.init == "content"


def test_set_style_layers_adds_layers_in_network_order(model):
    run = playground(model)
    assert run.set_style_layers(["relu1_2", "relu2_1"]) == ["relu1_2"]
    assert list(run.ticked)[:3] == ["relu1_1", "relu1_2", "relu2_1"]
    assert run.style_layer_weights() == {"relu1_2": 1.0, "relu2_1": 1.0}
    assert run.set_style_layers({"relu5_1": 0.5}) == [] and run.style_layer_weights() == {"relu5_1": 0.5}
    with pytest.raises(sl.LayerNameError, match="relu9_1"):
        run.set_style_layers(["relu9_1"])
    with pytest.raises(ValueError, match=">= 0"):
        run.set_style_layers({"relu1_1": -1})
    with pytest.raises(ValueError, match="not an event"):
        run.on("clicked", print)


def test_a_run_reports_its_steps_and_result_in_order(model):
    run = playground(model, steps=3, style_layers=["relu1_1", "relu2_1"])
    events = recorder(run)
    result = run.run()
    assert result is not None and result.status == "completed" and result.evaluations == 3
    names = [event for event, _ in events]
    assert names == ["started", "step", "step", "step", "finished", "idle"]
    assert [arguments[0] for event, arguments in events if event == "step"] == [1, 2, 3]
    assert all(arguments[3] for event, arguments in events if event == "step")  # preview_every=1
    settings, finished, message = events[-2][1]
    assert finished is result and settings == run.settings() and message.startswith("Completed 3 evaluations")
    assert run.result is result and run.runs == [{"settings": settings, "result": result}] and not run.running


def test_previews_are_asked_for_every_few_steps_and_at_the_end(model):
    run = playground(model, steps=5, preview_every=2, style_layers=["relu1_1"])
    events = recorder(run)
    run.run()
    assert [arguments[3] for event, arguments in events if event == "step"] == [False, True, False, True, True]


def test_nothing_runs_without_a_style_layer_and_a_failure_is_reported(model):
    run = playground(model)
    events = recorder(run)
    for name in run.ticked:
        run.ticked[name] = False
    assert run.run() is None and run.runs == []
    assert events[0][0] == "refused" and "Tick at least one style layer" in events[0][1][0] and events[-1][0] == "idle"
    tiny = PlaygroundRun(model, ImageChoice({"tiny": torch.rand(1, 3, 8, 8)}, size=8),
                         ImageChoice({"tiny": torch.rand(1, 3, 8, 8)}, size=8), steps=1, style_layers=["relu5_1"])
    events = recorder(tiny)
    assert tiny.run() is None
    assert [event for event, _ in events] == ["started", "failed", "idle"] and "needs an image of at least" in events[1][1][0]


def test_stop_ends_a_background_run_with_the_image_so_far(model):
    run = playground(model, steps=2000, style_layers=["relu1_1"])
    steps = []
    run.on("step", lambda step, *rest: steps.append(step))
    thread = run.start()
    deadline = time.monotonic() + 120
    while len(steps) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.running and run.start() is None
    refusals = []
    run.on("refused", refusals.append)
    assert run.run() is None and refusals == ["A run is already in progress; press Stop first."]
    run.stop()
    assert run.wait(timeout=120) and not thread.is_alive() and not run.running
    assert run.result.status == "stopped" and 2 <= run.result.evaluations < 2000
    assert run.outcome(run.runs[0]["settings"], run.result).startswith(
        f"Stopped after evaluation {run.result.evaluations} of 2000")


def test_the_playground_starts_at_the_courses_style_weight(model):
    # One β story: the slider starts where lessons 04-06 put β, ten times the starting images' balance point.
    run = playground(model)
    expected = sl.analysis.course_style_weight(model, run.content.image(), run.style.image())
    assert run.ratio == pytest.approx(expected) and playground(model, ratio=123.0).ratio == 123.0
