"""Lesson 04: check_style_layers judges a choice of style layers by the receptive fields of the learner's network."""

from __future__ import annotations

import pytest

import stylelab as sl
from stylelab.course import exercises


@pytest.mark.parametrize("answer, look, mistake, phrase", [
    ("relu1_1", "fine texture", "string_not_list", "['relu1_1']"),
    ([], "fine texture", "empty_choice", "no layer"),
    (["relu1_1", "relu6_1"], "fine texture", "unknown_layer", "'relu6_1' is not a VGG-19 layer"),
    ({"relu1_1": 1.0, "relu2_1": -0.5}, "fine texture", "negative_weight", "'relu2_1' is -0.5"),
    (["relu1_1", "relu2_1", "relu3_1"], "fine texture", "too_coarse", "relu3_1 (24 px)"),
    (["relu1_1", "relu2_1", "relu3_1"], "large structures", "too_fine", "largest receptive field is 24 px"),
    (["relu1_1"], "cubism", "unknown_look", "'fine texture'"),
    # issue 20: these crashed the checker or were accepted
    ([["relu1_1"]], "fine texture", "not_a_layer_name", "a flat list"),
    (["relu1_1"], ["fine texture"], "unknown_look", "not ['fine texture']"),
    ({"relu1_1": float("inf")}, "fine texture", "infinite_weight", "is inf"),
    ({"relu1_1": float("nan")}, "fine texture", "infinite_weight", "is nan"),
    ({"relu1_1": "1"}, "fine texture", "not_a_weight", "is '1'"),
    # issue 23: the lessons teach relu names; a convolution's output is the layer before its ReLU
    (["conv1_1", "relu2_1"], "fine texture", "conv_not_relu", "choose 'relu1_1' instead"),
    (["relu4_1", "conv5_1"], "large structures", "conv_not_relu", "after the ReLU"),
])
def test_style_layer_choice_mistakes(answer, look, mistake, phrase):
    result = exercises.check_style_layers(answer, look, quiet=True)
    assert result.status == "failed" and result.mistake == mistake, result.message
    assert phrase in result.message, result.message


def test_numpy_weights_are_numbers():
    # Issue 20: np.float32 weights were called negative.
    np = pytest.importorskip("numpy")
    weights = {"relu1_1": np.float32(1.0), "relu2_1": np.float64(0.5), "relu2_2": np.int64(0)}
    assert exercises.check_style_layers(weights, "fine texture", quiet=True).passed


def test_style_layer_choice_is_judged_by_receptive_fields():
    fields = {row["name"]: row["receptive_field"] for row in sl.layer_table()}
    small = [name for name, field in fields.items() if field <= 16 and not name.startswith("conv")]
    assert exercises.check_style_layers(small, "fine texture", quiet=True).passed
    assert exercises.check_style_layers(["relu4_1"], "large structures", quiet=True).passed
    # a deep layer switched off by a zero weight does not count
    assert exercises.check_style_layers({"relu1_1": 1, "relu5_1": 0}, "fine texture", quiet=True).passed
    result = exercises.check_style_layers({"relu1_1": 1, "relu5_1": 0}, "large structures", quiet=True)
    assert result.mistake == "too_fine"
    assert exercises.check_style_layers(["relu1_1"], "large structures", quiet=True).exercise == "large_structure_layers"


def test_the_rules_follow_the_learners_network(model):
    # VGG-16's relu4_1 sees 60 px, VGG-19's 68 px: the bar for "large structures" is each network's own relu4_1
    passed = exercises.check_style_layers(["relu4_1"], "large structures", network="vgg16", quiet=True)
    assert passed.passed and "relu4_1 (60 px)" in passed.message and "VGG-16" in passed.message
    assert exercises.check_style_layers(["relu4_1"], "large structures", network=model, quiet=True).passed
    too_fine = exercises.check_style_layers(["relu3_4"], "large structures", network=model, quiet=True)
    assert too_fine.mistake == "too_fine" and "68 px or more" in too_fine.message and "48 px" in too_fine.message
    unknown = exercises.check_style_layers(["relu3_4"], "large structures", network="vgg16", quiet=True)
    assert unknown.mistake == "unknown_layer" and "VGG-16" in unknown.message


def test_a_network_that_is_not_vgg_is_named():
    result = exercises.check_style_layers(["relu1_1"], "fine texture", network="resnet50", quiet=True)
    assert result.status == "failed" and result.mistake == "unknown_network" and "network=model" in result.message
