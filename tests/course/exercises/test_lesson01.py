"""Lesson 01: check_output_shape names each common mistake about a layer's output shape."""

from __future__ import annotations

import math

import pytest

from stylelab.course import exercises

from .helpers import load_solution, verdict


CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}


def _block_and_pools(layer):
    block = int(layer[4]) if layer.startswith("pool") else int(layer.split("_")[0][-1])
    return block, block if layer.startswith("pool") else block - 1


def shape_no_pooling(layer, height, width):
    block, _ = _block_and_pools(layer)
    return CHANNELS[block], height, width


def shape_counted_own_block(layer, height, width):
    block, _ = _block_and_pools(layer)
    return CHANNELS[block], height // 2 ** block, width // 2 ** block


def shape_channels_last(layer, height, width):
    block, pools = _block_and_pools(layer)
    return height // 2 ** pools, width // 2 ** pools, CHANNELS[block]


def shape_rounded_up(layer, height, width):
    block, pools = _block_and_pools(layer)
    for _ in range(pools):
        height, width = math.ceil(height / 2), math.ceil(width / 2)
    return CHANNELS[block], height, width


def shape_input_channels(layer, height, width):
    block, pools = _block_and_pools(layer)
    channels = CHANNELS[block]
    if layer.startswith("conv") and layer.endswith("_1"):
        channels = {1: 3, 2: 64, 3: 128, 4: 256, 5: 512}[block]
    return channels, height // 2 ** pools, width // 2 ** pools


def shape_swapped(layer, height, width):
    block, pools = _block_and_pools(layer)
    return CHANNELS[block], width // 2 ** pools, height // 2 ** pools


def shape_two_numbers(layer, height, width):
    _, pools = _block_and_pools(layer)
    return height // 2 ** pools, width // 2 ** pools


@pytest.mark.parametrize("answer, mistake, phrase", [
    (shape_no_pooling, "no_pooling", "never shrink"),
    (shape_counted_own_block, "counted_own_block", "once too often"),
    (shape_channels_last, "channels_last", "channels first"),
    (shape_rounded_up, "rounded_up", "floor(size / 2)"),
    (shape_input_channels, "input_channels", "as many channels as it has filters"),
    (shape_swapped, "height_width_swapped", "swapped"),
    (shape_two_numbers, "not_three_numbers", "three whole numbers"),
])
def test_output_shape_mistakes(answer, mistake, phrase):
    verdict(exercises.check_output_shape, answer, mistake, phrase)


def test_output_shape_unknown_mistake_names_the_failing_case():
    def output_shape(layer, height, width):
        return (64, 1, 1)

    verdict(exercises.check_output_shape, output_shape, "wrong_value", "'conv1_1' on a 224x224 image", "(64, 224, 224)")


@pytest.mark.parametrize("network", ["vgg16", "vgg19"])
def test_output_shape_follows_the_learners_network(network):
    # the cases exist in both networks and have the same shapes in both
    answer = load_solution("output_shape.py")["output_shape"]
    assert exercises.check_output_shape(answer, network=network, quiet=True).passed
    assert exercises.check_output_shape(answer, network="alexnet", quiet=True).mistake == "unknown_network"
