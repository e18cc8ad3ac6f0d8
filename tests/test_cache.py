"""ResultCache: hits, misses on every setting, damaged entries, runs that must not be kept."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

import stylelab as sl
from stylelab.cache import ResultCache

SMALL = dict(steps=3, progress=False)


@pytest.fixture()
def cache(tmp_path):
    return ResultCache(tmp_path / "cache")


def test_second_call_is_a_hit_with_identical_result(cache, content, style, model):
    first = cache.stylize(content, style, model=model, **SMALL)
    assert (cache.hits, cache.misses, cache.last_hit) == (0, 1, False)
    second = cache.stylize(content, style, model=model, **SMALL)
    assert (cache.hits, cache.misses, cache.last_hit) == (1, 1, True)
    assert torch.equal(first.image, second.image)  # lossless: bit for bit
    assert second.history == first.history
    assert second.config == json.loads(json.dumps(first.config))
    assert (second.steps, second.evaluations, second.best_step, second.status) == (
        first.steps, first.evaluations, first.best_step, "completed")
    assert second.seconds == first.seconds and second.message == first.message
    assert len(cache) == 1 and "1 entries" in repr(cache)


def test_hit_needs_no_optimisation(cache, content, style, model, monkeypatch):
    cache.stylize(content, style, model=model, **SMALL)

    def fail(*args, **kwargs):
        raise AssertionError("stylize ran although the result was cached")

    monkeypatch.setattr(sl.cache, "run", fail)
    assert cache.stylize(content, style, model=model, **SMALL).status == "completed"


def test_same_pixels_from_another_source_and_explicit_defaults_hit(cache, content, style, model, tmp_path):
    path = tmp_path / "style.png"
    sl.save_image(style, path)
    style = sl.load_image(path)  # the same pixels, once as a file and once as a tensor
    cache.stylize(content, style, model=model, **SMALL)
    explicit = dict(SMALL, content_layers="relu4_2", style_weight=1_000_000, lr=None, init="content",
                    optimizer="LBFGS", callback=lambda *a: None, progress=True)
    key = cache.key(content, style, model=model, **SMALL)
    assert cache.key(content.clone(), path, model=model, **explicit) == key
    cache.stylize(content.clone(), str(path), model=model, **explicit)
    assert cache.last_hit


CHANGES = {
    "content_layers": ["relu3_2"],
    "style_layers": ["relu1_1", "relu2_1"],
    "content_weight": 2.0,
    "style_weight": 1e5,
    "tv_weight": 1e-3,
    "optimizer": "adam",
    "steps": 4,
    "lr": 0.5,
    "init": "noise",
    "seed": 1,
    "size": 40,
    "style_scale": 0.8,
    "style_blend": [1.0],
    "preserve_color": "luminance",
    "masks": [torch.ones(48, 48)],
    "scales": [24, 48],
    "line_search": False,
    "layer_weighting": "paper",
    "tv_power": 1,
    "tv_reduction": "sum",
    "image_units": "network",
    "clamp": False,
    "adam_betas": (0.5, 0.9),
    "adam_eps": 1e-3,
    "adam_eps_hat": True,
}


def test_every_setting_is_tried():
    import dataclasses

    from stylelab.settings import TransferSettings

    # The network's settings are keyed by the model's fingerprint (test_pixels_weights_and_model_change_the_key).
    settings = {field.name for field in dataclasses.fields(TransferSettings)} - {"network"}
    assert settings | {"masks"} == set(CHANGES)


@pytest.mark.slow  # more than half a second on a 2-core CPU
@pytest.mark.parametrize("name", sorted(CHANGES))
def test_every_setting_changes_the_key(cache, content, style, model, name):
    base = cache.key(content, style, model=model, **SMALL)
    assert cache.key(content, style, model=model, **dict(SMALL, **{name: CHANGES[name]})) != base


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_pixels_weights_and_model_change_the_key(cache, content, style, model):
    base = cache.key(content, style, model=model, **SMALL)
    nudged = content.clone()
    nudged[0, 0, 0, 0] += 1 / 255
    assert cache.key(nudged, style, model=model, **SMALL) != base
    assert cache.key(content, style.flip(-1), model=model, **SMALL) != base
    assert cache.key(content, [style, style], model=model, **SMALL) != base
    assert cache.key(content, None, model=model, **SMALL) != base
    assert cache.key(content, style, model=model, init=torch.rand_like(content), **SMALL) != base
    assert cache.key(content, style, model=model, style_layers={"relu1_1": 1.0, "relu2_1": 2.0}, **SMALL) != \
        cache.key(content, style, model=model, style_layers={"relu1_1": 1.0, "relu2_1": 1.0}, **SMALL)
    assert cache.key(content, style, model=model.with_pooling("avg"), **SMALL) != base
    other_seed = sl.VGGFeatures(weights="random", seed=1, device="cpu")
    assert other_seed.weights_source == model.weights_source  # only the weights' hash tells them apart
    assert cache.key(content, style, model=other_seed, **SMALL) != base
    assert cache.key(content, style, model=model.with_pooling("max"), **SMALL) == base
    half = torch.zeros(48, 48)
    half[:, :24] = 1
    assert cache.key(content, style, model=model, masks=[half], **SMALL) != \
        cache.key(content, style, model=model, masks=[torch.ones(48, 48)], **SMALL)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_precision_and_layout_change_the_key(cache, content, style):
    plain = sl.VGGFeatures(weights="random", device="cpu")
    fast = sl.VGGFeatures(weights="random", device="cpu", precision="bfloat16", channels_last=True)
    assert cache.key(content, style, model=plain, **SMALL) != cache.key(content, style, model=fast, **SMALL)


def test_version_is_part_of_the_key(cache, content, style, model, monkeypatch):
    base = cache.key(content, style, model=model, **SMALL)
    monkeypatch.setattr(sl, "__version__", "999.0")
    assert cache.key(content, style, model=model, **SMALL) != base


def test_a_hit_carries_the_settings_of_the_run(cache, content, style, model):
    first = cache.stylize(content, style, model=model, style_weight=2e5, **SMALL)
    again = cache.stylize(content, style, model=model, style_weight=2e5, **SMALL)
    assert cache.last_hit and again.settings == first.settings and again.settings.style_weight == 2e5


def test_changed_setting_is_a_miss_and_computed(cache, content, style, model):
    cache.stylize(content, style, model=model, **SMALL)
    other = cache.stylize(content, style, model=model, **dict(SMALL, style_weight=1e3))
    assert not cache.last_hit and cache.misses == 2 and len(cache) == 2
    assert other.config["style_weight"] == 1e3


@pytest.mark.slow  # more than half a second on a 2-core CPU
@pytest.mark.parametrize("damage", ["truncate_json", "garbage_image", "delete_image", "swap_image", "old_format"])
def test_damaged_entry_is_recomputed_not_fatal(cache, content, style, model, damage):
    first = cache.stylize(content, style, model=model, **SMALL)
    key = cache.key(content, style, model=model, **SMALL)
    image_path, meta_path = cache.paths(key)
    if damage == "truncate_json":
        meta_path.write_text(meta_path.read_text()[:40])
    elif damage == "garbage_image":
        image_path.write_bytes(b"\x93NUMPY not really")
    elif damage == "delete_image":
        image_path.unlink()
    elif damage == "swap_image":  # a valid array, but not the one the entry was written with
        import numpy as np

        np.save(image_path, torch.zeros_like(first.image).numpy())
    else:
        meta = json.loads(meta_path.read_text())
        meta["format"] = -1
        meta_path.write_text(json.dumps(meta))
    with pytest.warns(RuntimeWarning, match="damaged cache entry"):
        again = cache.stylize(content, style, model=model, **SMALL)
    assert not cache.last_hit and cache.misses == 2
    assert torch.equal(again.image, first.image)  # same settings, same result
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten entry is healthy
        cache.stylize(content, style, model=model, **SMALL)
    assert cache.last_hit


def test_json_without_image_is_a_quiet_miss_and_orphan_image_too(cache, content, style, model):
    key = cache.key(content, style, model=model, **SMALL)
    image_path, meta_path = cache.paths(key)
    cache.folder.mkdir(parents=True)
    image_path.write_bytes(b"half-written")  # a crash after the image, before the json
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.stylize(content, style, model=model, **SMALL)
    assert not cache.last_hit and meta_path.exists()


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_stopped_and_interrupted_runs_are_not_cached(cache, content, style, model):
    stopped = cache.stylize(content, style, model=model, callback=lambda step, image, losses: step >= 2, **SMALL)
    assert stopped.status == "stopped" and len(cache) == 0

    def ctrl_c(step, image, losses):
        raise KeyboardInterrupt

    interrupted = cache.stylize(content, style, model=model, callback=ctrl_c, **SMALL)
    assert interrupted.status == "interrupted" and len(cache) == 0
    complete = cache.stylize(content, style, model=model, **SMALL)
    assert not cache.last_hit and complete.status == "completed" and len(cache) == 1
    assert cache.misses == 3


def test_diverged_run_is_not_cached(cache, content, style, model):
    with pytest.warns(RuntimeWarning):
        result = cache.stylize(content, style, model=model, style_weight=1e39, **SMALL)
    assert result.status == "diverged" and len(cache) == 0


def test_a_run_that_never_improved_is_kept_too(cache, content, style, model):
    # Adam with a huge step jumps every pixel to 0 or 1: no evaluation beats the start image.
    first = cache.stylize(content, style, model=model, optimizer="adam", lr=50, **SMALL)
    again = cache.stylize(content, style, model=model, optimizer="adam", lr=50, **SMALL)
    assert first.status == "no_progress" and cache.last_hit and torch.equal(again.image, first.image)


def test_save_refuses_incomplete_results(cache, content, style, model):
    result = sl.stylize(content, style, model=model, **SMALL)
    result.status = "interrupted"
    assert cache.save("k" * 32, result) is False and len(cache) == 0


def test_writes_are_atomic_and_leave_no_temporary_files(cache, content, style, model, monkeypatch):
    cache.stylize(content, style, model=model, **SMALL)
    assert sorted(p.suffix for p in cache.folder.iterdir()) == [".json", ".npy"]
    # A failure half-way through a write leaves neither a partial entry nor a temp file.
    import os

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.warns(RuntimeWarning, match="Could not write to the result cache"):
        result = cache.stylize(content, style, model=model, **dict(SMALL, steps=2))
    assert result.status == "completed" and len(cache) == 1
    assert sorted(p.suffix for p in cache.folder.iterdir()) == [".json", ".npy"]


def test_clear_and_bad_folder(cache, content, style, model, tmp_path):
    cache.stylize(content, style, model=model, **SMALL)
    assert cache.clear() == 1 and len(cache) == 0
    file = tmp_path / "not-a-folder"
    file.write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        ResultCache(file)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_model_built_from_weights_and_pooling(cache, content, style, model):
    built = cache.stylize(content, style, weights="random", pooling="avg", device="cpu", **SMALL)
    assert built.config["pooling"] == "avg"
    cache.stylize(content, style, model=model.with_pooling("avg"), **SMALL)
    assert cache.last_hit


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_weights_changed_in_place_are_a_different_model(cache, content, style):
    # Before issue 12 the weights' hash was computed once per model object, so after an
    # in-place change the cache returned the image of the old weights.
    model = sl.VGGFeatures(weights="random", device="cpu")
    first = cache.stylize(content, style, model=model, **SMALL)
    key = cache.key(content, style, model=model, **SMALL)
    with torch.no_grad():
        next(model.parameters()).mul_(2.0)
    assert cache.key(content, style, model=model, **SMALL) != key
    second = cache.stylize(content, style, model=model, **SMALL)
    assert not cache.last_hit and not torch.equal(first.image, second.image)
    next(model.parameters()).data.mul_(0.5)  # .data bypasses PyTorch's version counter
    assert cache.key(content, style, model=model, **SMALL) == key
    assert cache.stylize(content, style, model=model, **SMALL) is not None and cache.last_hit
