"""VGG-19 anatomy: names, torchvision indices, receptive fields, size checks."""

from __future__ import annotations

import pytest
import torchvision
from torch import nn

import stylelab as sl
from stylelab.vgg.layers import LAYERS, check_input_size, check_layer_names, min_input_size


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_names_follow_torchvision_features_order():
    features = torchvision.models.vgg19().features
    assert len(LAYERS) == len(features) == 37
    kinds = {nn.Conv2d: "conv", nn.ReLU: "relu", nn.MaxPool2d: "pool"}
    for spec, module in zip(LAYERS, features):
        assert kinds[type(module)] == spec.kind
        if spec.kind == "conv":
            assert (module.in_channels, module.out_channels) == (spec.in_channels, spec.out_channels)
    assert sl.LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert sl.LAYER_NAMES[-1] == "pool5"
    assert {s.name: s.index for s in LAYERS}["relu4_2"] == 22  # the paper's content layer


def test_receptive_fields_and_shapes():
    table = {row["name"]: row for row in sl.layer_table(224)}
    assert table["conv1_1"]["receptive_field"] == 3
    assert table["conv1_2"]["receptive_field"] == 5
    assert table["pool1"]["receptive_field"] == 6
    assert table["conv2_1"]["receptive_field"] == 10
    assert table["conv5_4"]["receptive_field"] == 252
    assert (table["relu4_2"]["height"], table["relu4_2"]["channels"]) == (28, 512)
    assert table["pool5"]["stride"] == 32 and table["pool5"]["height"] == 7


def test_unknown_layer_suggests_close_names():
    with pytest.raises(sl.LayerNameError, match="Did you mean 'relu4_2'"):
        check_layer_names(["relu4_2", "relu42"])
    with pytest.raises(KeyError):
        check_layer_names("conv9_9")
    with pytest.raises(ValueError, match="No layers"):
        check_layer_names([])


def test_minimum_sizes():
    assert min_input_size("relu1_1") == 1
    assert min_input_size(["relu1_1", "relu5_1"]) == 16
    assert min_input_size("pool5") == 32
    with pytest.raises(sl.ImageTooSmallError, match=r"relu5_1 needs an image of at least 16x16 pixels.*10x12"):
        check_input_size(10, 12, ["relu1_1", "relu5_1"])
    check_input_size(16, 16, ["relu5_1"])
