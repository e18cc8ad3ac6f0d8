"""A run's plan: every size at every scale and the terms that are on, worked out in one place."""

from __future__ import annotations

import re

import pytest
import torch

import stylelab as sl
from stylelab import validate
from stylelab.engine.prepare import check_memory, plan
from stylelab.engine.settings import TransferSettings


def test_the_plan_gives_every_size_at_every_scale():
    settings = TransferSettings(scales=(100, 200, 400), style_scale=0.5)
    made = plan(settings, (600, 800), style_count=2)
    assert made.shape == (300, 400)  # the last scale is the output's longest side
    assert made.sizes == ((75, 100), (150, 200), (300, 400))
    assert made.style_sides == (50, 100, 200)  # style_scale times each scale's longest side
    assert made.style_side_at((150, 200)) == 100
    assert made.content_layers == ("relu4_2",) and [name for name, _ in made.style_layers][0] == "relu1_1"


def test_the_plan_says_which_terms_are_on():
    assert plan(TransferSettings(content_weight=0), (32, 32), 1).content_layers == ()
    assert plan(TransferSettings(), None, 1).content_layers == ()  # no content image
    assert plan(TransferSettings(size=32), (32, 32), 0).style_layers == ()  # no style image
    assert plan(TransferSettings(style_layers={"relu1_1": 0.0}), (32, 32), 1).style_layers == ()
    assert plan(TransferSettings(style_layers={"relu1_1": 0.0, "relu2_1": 2.0}), (32, 32), 1).style_layers == (
        ("relu1_1", 0.0), ("relu2_1", 2.0))


def test_without_content_the_size_setting_is_the_output():
    assert plan(TransferSettings(size=24), None, 1).shape == (24, 24)
    assert plan(TransferSettings(size=(20, 30)), None, 1).sizes == ((20, 30),)


@pytest.mark.parametrize(
    "settings, message",
    [
        (TransferSettings(size=300, scales=(100, 200)), "The last scale (200) must be the output size"),
        (TransferSettings(style_scale=0.001), "makes the style images less than 1 pixel wide"),
    ],
)
def test_a_plan_that_cannot_work_is_refused_with_one_sentence(settings, message):
    with pytest.raises(sl.ParameterError, match=re.escape(message)):
        plan(settings, (60, 80), style_count=1)


def test_the_plan_carries_the_memory_estimate_of_its_last_scale():
    settings = TransferSettings(scales=(200, 400), style_scale=0.5)
    made = plan(settings, (600, 800), 2, [(1000, 500), None])  # the second style's size is unknown
    assert made.style_shapes == ((200, 100),)  # at the last scale: style_scale x 400 = 200 px
    assert made.memory == 300 * 400 * validate.BYTES_PER_PIXEL + 200 * 100 * validate.STYLE_BYTES_PER_PIXEL
    assert plan(settings, (600, 800), 1).memory == 300 * 400 * validate.BYTES_PER_PIXEL  # no style size given


def test_check_memory_refuses_a_run_by_its_plans_estimate(monkeypatch):
    content, style = torch.rand(1, 3, 60, 80), torch.rand(1, 3, 90, 120)
    settings = TransferSettings(size=80)
    need = plan(settings, (60, 80), 1, [(90, 120)]).memory
    assert need == 60 * 80 * validate.BYTES_PER_PIXEL + 60 * 80 * validate.STYLE_BYTES_PER_PIXEL
    monkeypatch.setenv("STYLELAB_MEMORY_LIMIT", f"{need}b")
    check_memory(content, [style], settings, "cpu")  # exactly at the limit: allowed
    monkeypatch.setenv("STYLELAB_MEMORY_LIMIT", f"{need - 1}b")
    with pytest.raises(sl.MemoryLimitError, match="A 60x80 run .largest image 60x80. needs about"):
        check_memory(content, [style], settings, "cpu")
