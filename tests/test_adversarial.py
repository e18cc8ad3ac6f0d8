"""Cases found by the adversarial pass of issue 12: each gives one documented sentence, or just works."""

from __future__ import annotations

import warnings

import pytest
import torch

import stylelab as sl


def test_a_callback_that_raises_keeps_the_best_image(content, style, model):
    # Before: the callback's ZeroDivisionError ended the run and every evaluation was lost.
    def callback(step, image, losses):
        if step == 2:
            raise ZeroDivisionError("division by zero")

    with pytest.warns(RuntimeWarning, match="The callback raised ZeroDivisionError: division by zero at evaluation 2"):
        result = sl.stylize(content, style, model=model, steps=5, progress=False, callback=callback)
    assert result.status == "stopped" and result.evaluations == 2 and result.image.shape == content.shape


def test_init_may_be_a_path(content, style, model, tmp_path):
    path = sl.save_image(content, tmp_path / "start.png")
    result = sl.stylize(content, style, model=model, steps=1, progress=False, init=path)
    by_string = sl.stylize(content, style, model=model, steps=1, progress=False, init=str(path))
    assert torch.equal(result.image, by_string.image) and result.config["init"] == "image"
    cache = sl.cache.ResultCache(tmp_path / "cache")
    other = sl.save_image(torch.zeros_like(content), tmp_path / "other.png")
    assert cache.key(content, style, model=model, init=str(path)) != cache.key(content, style, model=model, init=str(other))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda c, s, m: sl.stylize(c, s, steps=1, progress=False, device="tpu"), sl.ParameterError, "Unknown device 'tpu'"),
        (lambda c, s, m: sl.stylize(c, s, steps=1, progress=False, pooling="min", weights="random"), sl.ParameterError,
         "pooling must be 'max' or 'avg'"),
        (lambda c, s, m: sl.save_image(c, "/tmp/q.jpg", quality="abc"), sl.ParameterError, "quality must be a whole number"),
        (lambda c, s, m: sl.load_image(torch.empty(3, 4, 4, device="meta")), sl.ImageLoadError, "no ordinary pixel data"),
        (lambda c, s, m: sl.cache.ResultCache(sl.data.example_path("chelsea")), sl.OutputPathError, "is a file, not a folder"),
    ],
)
def test_adversarial_cases_give_one_documented_sentence(content, style, model, call, error, message):
    # Before: ValueError (device, pooling, quality, cache folder) and NotImplementedError (meta tensor).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=message) as info:
            call(content, style, model)
    assert "\n" not in str(info.value)


def test_the_memory_message_shows_small_limits_in_kib(content, style, model, monkeypatch):
    monkeypatch.setenv("STYLELAB_MEMORY_LIMIT", "1KiB")
    with pytest.raises(sl.MemoryLimitError, match="above the limit of 1 KiB"):
        sl.stylize(content, style, model=model, steps=1, progress=False)
