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


# --------------------------------------------------------------------------- issue 20: inputs that reached deep tracebacks


@pytest.mark.slow  # three runs
@pytest.mark.parametrize("returned", [
    lambda: __import__("numpy").ones(3), lambda: torch.ones(3), lambda: torch.ones(2, 2, device="meta"),
])
def test_a_callback_that_returns_an_array_keeps_the_best_image(content, style, model, returned):
    # Before: "The truth value of an array ... is ambiguous" escaped and the whole run was lost.
    value = returned()
    with pytest.warns(RuntimeWarning, match=f"The callback returned a {type(value).__name__}, which is neither True "
                                            r"\(stop\) nor None \(go on\) at evaluation 1 of 4") as caught:
        result = sl.stylize(content, style, model=model, steps=4, progress=False, callback=lambda *a: value)
    assert len(caught) == 1 and result.status == "stopped" and result.evaluations == 1
    assert result.image.shape == content.shape and bool(torch.isfinite(result.image).all())


@pytest.mark.slow  # a run of two evaluations
def test_a_callback_that_returns_a_one_element_tensor_still_means_what_it_says(content, style, model):
    result = sl.stylize(content, style, model=model, steps=3, progress=False,
                        callback=lambda step, image, losses: torch.tensor(step >= 2))
    assert result.status == "stopped" and result.evaluations == 2


@pytest.mark.parametrize("mask, kind", [
    (lambda: torch.ones(48, 48, device="meta"), "meta"),
    (lambda: torch.ones(48, 48).to_sparse(), "sparse_coo"),
    (lambda: torch.ones(48, 48).to_sparse_csr(), "sparse_csr"),
])
def test_a_mask_without_values_is_one_sentence(content, style, model, mask, kind):
    # Before: NotImplementedError ("Cannot copy out of meta tensor", "Could not run 'aten::ne.Scalar'").
    with pytest.raises(sl.ParameterError, match=f"mask 1 is a {kind} tensor, which holds no ordinary values"):
        sl.stylize(content, style, model=model, steps=1, progress=False, masks=[mask()])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="a mask on another device needs a GPU")
def test_a_mask_on_another_device_is_used(content, style, model):
    on_gpu = sl.stylize(content, style, model=model, steps=2, progress=False, masks=[torch.ones(48, 48, device="cuda")])
    on_cpu = sl.stylize(content, style, model=model, steps=2, progress=False, masks=[torch.ones(48, 48)])
    assert torch.equal(on_gpu.image, on_cpu.image)


@pytest.mark.slow  # writes and reads a whole VGG-19
@pytest.mark.parametrize("kind", ["meta", "sparse", "quantised"])
def test_weights_without_values_are_one_sentence(tmp_path, kind):
    state = sl.weights.random_weights(0)
    weight = state["conv2_1.weight"]
    state["conv2_1.weight"] = {"meta": lambda: torch.empty_like(weight, device="meta"),
                               "sparse": weight.to_sparse,
                               "quantised": lambda: torch.quantize_per_tensor(weight, 0.01, 0, torch.qint8)}[kind]()
    torch.save(state, tmp_path / "vgg19.pth")
    # Before: a RuntimeError or NotImplementedError from deep inside the loader.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own notes on sparse and quantised tensors
        with pytest.raises(sl.WeightsFileError, match="stores conv2_1.weight as a .* tensor, which holds no ordinary"):
            sl.VGGFeatures(weights=tmp_path / "vgg19.pth", device="cpu")
