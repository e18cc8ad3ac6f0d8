"""TransferSettings: one frozen, checked value for every setting of a run."""

from __future__ import annotations

import dataclasses
import json

import pytest

from stylelab import ParameterError, stylize
from stylelab.errors import LayerNameError
from stylelab.engine.settings import DEFAULT_STYLE_LAYERS, TransferSettings


def test_settings_are_frozen():
    settings = TransferSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.style_weight = 1.0  # type: ignore[misc]


def test_values_are_kept_in_one_normal_form():
    settings = TransferSettings(
        content_layers="relu3_2", style_layers=["relu2_1", "relu1_1"], optimizer="ADAM", steps=[7], scales=None,
        size=[40, 30], style_blend=[1, 3], preserve_color="Luminance", style_weight=10,
    )
    assert settings.content_layers == ("relu3_2",)
    assert settings.style_layers == (("relu2_1", 1.0), ("relu1_1", 1.0))  # the order given is kept
    assert settings.optimizer == "adam" and settings.learning_rate == 0.02
    assert settings.steps == 7 and settings.stage_steps == [7]
    assert settings.size == (40, 30) and settings.style_blend == (1.0, 3.0)
    assert settings.preserve_color == "luminance" and isinstance(settings.style_weight, float)
    assert TransferSettings(style_layers={"relu1_1": 2, "relu3_1": 0.5}).style_layer_weights == {
        "relu1_1": 2.0, "relu3_1": 0.5}


def test_defaults_are_the_documented_ones():
    settings = TransferSettings()
    assert [name for name, _ in settings.style_layers] == list(DEFAULT_STYLE_LAYERS)
    assert settings.learning_rate == 1.0 and settings.optimizer == "lbfgs" and settings.line_search
    assert settings.start_rule(has_content=True) == "content" and settings.start_rule(has_content=False) == "noise"
    assert TransferSettings(scales=(32, 64), steps=5).stage_steps == [5, 5]


@pytest.mark.parametrize(
    "options, words",
    [
        ({"style_weight": -1}, "style_weight must be a finite number >= 0"),
        ({"steps": 0}, "steps must be at least 1"),
        ({"optimizer": "sgd"}, "optimizer must be 'lbfgs' or 'adam'"),
        ({"init": "sideways"}, "init must be"),
        ({"scales": (64, 32)}, "scales must increase"),
        ({"steps": (1, 2)}, "steps has 2 entries for 1 scale"),
        ({"scales": (32, 64), "steps": (1, 2, 3)}, "steps has 3 entries for 2 scales"),
        ({"line_search": "yes"}, "line_search must be True or False"),
        ({"style_blend": [0, 0]}, "all 0"),
        ({"preserve_color": "sepia"}, "preserve_color must be"),
        ({"seed": -3}, "seed must be a whole number"),
        ({"layer_weighting": "equal"}, "layer_weighting must be"),
    ],
)
def test_a_wrong_value_is_named_when_the_settings_are_made(options, words):
    with pytest.raises(ParameterError, match=words):
        TransferSettings(**options)


def test_an_unknown_layer_is_named():
    with pytest.raises(LayerNameError, match="relu9_9"):
        TransferSettings(content_layers=["relu9_9"])


def test_a_misspelt_keyword_gets_the_closest_setting():
    with pytest.raises(ParameterError, match="'stye_weight' is not a style-transfer setting; did you mean 'style_weight'"):
        TransferSettings.from_options(stye_weight=1e5)
    with pytest.raises(ParameterError, match="did you mean 'pooling'"):
        stylize(None, None, poolng="avg")


def test_replace_checks_again_and_reaches_the_network():
    settings = TransferSettings.from_options(style_weight=1e5, weights="random")
    avg = settings.replace(pooling="avg", steps=10)
    assert avg.network.pooling == "avg" and avg.network.weights == "random" and avg.steps == 10
    assert settings.network.pooling == "max"  # the original is unchanged
    with pytest.raises(ParameterError, match="style_weight"):
        settings.replace(style_weight=-1)
    with pytest.raises(ParameterError, match="pooling must be 'max' or 'avg'"):
        settings.replace(pooling="min")


def test_a_record_is_json_and_gives_the_same_settings_back():
    settings = TransferSettings.from_options(
        style_layers={"relu2_1": 0.5, "relu1_1": 2.0}, scales=(24, 48), steps=(3, 4), size=(48, 36),
        style_blend=(0.25, 0.75), normalize=True, pooling="avg", init="noise", lr=0.5,
    )
    text = json.dumps(settings.record())
    again = TransferSettings.from_record(json.loads(text))
    assert again == settings and again.record() == settings.record()


def test_equal_settings_are_equal_values():
    assert TransferSettings(style_layers=["relu1_1"], steps=[5]) == TransferSettings(style_layers={"relu1_1": 1}, steps=5)
    assert TransferSettings(style_weight=1) != TransferSettings(style_weight=2)


def test_a_result_carries_the_settings_that_made_it(content, style, model):
    result = stylize(content, style, model=model, steps=2, style_weight=5e5, progress=False)
    assert isinstance(result.settings, TransferSettings)
    assert result.settings.style_weight == 5e5 and result.settings.steps == 2
    assert result.config["style_weight"] == 5e5  # the JSON record says the same
