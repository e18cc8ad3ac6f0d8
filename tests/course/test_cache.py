"""ResultCache: hits, misses on every setting, damaged entries, runs that must not be kept."""

from __future__ import annotations

import json
import os
import warnings

import pytest
import torch

import stylelab as sl
from stylelab.course.cache import ResultCache

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

    from stylelab.engine.settings import TransferSettings

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
    monkeypatch.setattr(sl.version, "__version__", "999.0")
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
    with pytest.warns(RuntimeWarning):  # the tv loss becomes infinite at evaluation 3
        result = cache.stylize(content, style, model=model, tv_weight=3e38, init="noise", **SMALL)
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


# --------------------------------------------------------------------------- entries are not trusted (issue 20)

KEY = "0123456789abcdef" * 2
DESCRIPTION = {"format": 4, "content": "ab" * 32, "settings": {"steps": 3, "style_weight": 1e6}}


def _result(image=None, evaluations=3, status="completed"):
    image = torch.rand(1, 3, 5, 7) if image is None else image
    history = {"total": [3.0, 2.0, 1.0][:evaluations], "time": [0.1, 0.2, 0.3][:evaluations]}
    return sl.StyleTransferResult(image=image, history=history, facts={"size": list(image.shape[-2:])},
                                  best_step=evaluations, steps=2, evaluations=evaluations, seconds=0.3,
                                  status=status, message="Completed.")


def _rewrite(cache, *, meta=None, array=None):
    """Change an entry's files, keeping its checksum right, so that only the check under test can see it."""
    import hashlib
    import io

    import numpy as np

    image_path, meta_path = cache.paths(KEY)
    stored = json.loads(meta_path.read_text())
    if array is not None:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        image_path.write_bytes(buffer.getvalue())
        stored["image_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
        stored["shape"] = list(array.shape)
        stored["config"]["size"] = list(array.shape[2:]) if array.ndim == 4 else stored["config"]["size"]
    if meta is not None:
        meta(stored)
    meta_path.write_text(stored if isinstance(stored, str) else json.dumps(stored))


TAMPERING = {
    # the image
    "nan_pixels": dict(array=torch.full((1, 3, 5, 7), float("nan")).numpy()),
    "value_7": dict(array=torch.full((1, 3, 5, 7), 7.0).numpy()),
    "negative": dict(array=torch.full((1, 3, 5, 7), -0.5).numpy()),
    "zero_by_zero": dict(array=torch.zeros(1, 3, 0, 0).numpy()),
    "wrong_shape": dict(array=torch.rand(1, 3, 7, 5).numpy()),  # the run makes 5x7
    "one_channel": dict(array=torch.rand(1, 1, 5, 7).numpy()),
    "float64": dict(array=torch.rand(1, 3, 5, 7).double().numpy()),
    # the history and counters
    "short_history": dict(meta=lambda m: m["history"].update(total=[1.0])),
    "history_not_numbers": dict(meta=lambda m: m["history"].update(total=["a", "b", "c"])),
    "no_total": dict(meta=lambda m: m["history"].pop("total")),
    "best_step_beyond": dict(meta=lambda m: m.update(best_step=99)),
    "zero_evaluations": dict(meta=lambda m: m.update(evaluations=0)),
    "negative_seconds": dict(meta=lambda m: m.update(seconds=-1.0)),
    "bool_steps": dict(meta=lambda m: m.update(steps=True)),
    "stopped_status": dict(meta=lambda m: m.update(status="stopped")),
    # the JSON itself
    "no_marker": dict(meta=lambda m: m.pop("written_by")),
    "other_key": dict(meta=lambda m: m.update(key="f" * 32)),
    "other_settings": dict(meta=lambda m: m.update(settings={"steps": 4})),
    "config_not_a_dict": dict(meta=lambda m: m.update(config=[1, 2])),
    "bad_run_settings": dict(meta=lambda m: m.update(run_settings={"steps": -3})),
    "checksum_missing": dict(meta=lambda m: m.pop("image_sha256")),
}


@pytest.mark.parametrize("damage", sorted(TAMPERING))
def test_an_entry_that_no_run_makes_is_a_miss_never_a_hit(cache, damage):
    # Before issue 20 NaN, 7.0 or a 0x0 image came back as a completed hit.
    assert cache.save(KEY, _result(), settings=DESCRIPTION)
    assert cache.load(KEY, DESCRIPTION, (5, 7)) is not None  # the untouched entry is a hit
    _rewrite(cache, **TAMPERING[damage])
    with pytest.warns(RuntimeWarning, match="Ignoring the damaged cache entry") as caught:
        assert cache.load(KEY, DESCRIPTION, (5, 7)) is None
    assert len(caught) == 1 and "\n" not in str(caught[0].message)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "[1, 2]", "null", "\"text\"", "{", "\xff\xfe", "[" * 5000])
def test_a_json_that_the_cache_did_not_write_is_a_miss(cache, text):
    cache.save(KEY, _result(), settings=DESCRIPTION)
    meta_path = cache.paths(KEY)[1]
    if text == "NaN":  # a NaN token in an otherwise perfect entry: json.loads would accept it
        meta_path.write_text(meta_path.read_text().replace('"total": [3.0', '"total": [NaN'))
    else:
        meta_path.write_bytes(text.encode("latin-1"))
    with pytest.warns(RuntimeWarning, match="Ignoring the damaged cache entry"):
        assert cache.load(KEY, DESCRIPTION, (5, 7)) is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes")
@pytest.mark.parametrize("which", ["json", "npy"])
def test_a_named_pipe_in_the_cache_folder_does_not_hang(cache, which):
    # Before issue 20 reading <key>.json waited forever for a writer that never came.
    import threading

    cache.save(KEY, _result(), settings=DESCRIPTION)
    path = cache.paths(KEY)[0 if which == "npy" else 1]
    path.unlink()
    os.mkfifo(path)
    outcome = {}

    def load():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome["result"] = cache.load(KEY, DESCRIPTION, (5, 7))
            outcome["warnings"] = [str(w.message) for w in caught]

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():  # the old code: free it before failing
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    assert not worker.is_alive() and outcome["result"] is None
    assert len(outcome["warnings"]) == 1 and "is a named pipe (FIFO)" in outcome["warnings"][0]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="a POSIX device")
def test_a_link_to_a_device_is_refused_before_it_is_read(cache):
    # Before issue 20 a <key>.json linked to /dev/zero was read until the memory ran out.
    cache.save(KEY, _result(), settings=DESCRIPTION)
    for path in cache.paths(KEY):
        path.unlink()
        os.symlink("/dev/zero", path)
    with pytest.warns(RuntimeWarning, match="is a device, not a file stylelab wrote"):
        assert cache.load(KEY, DESCRIPTION, (5, 7)) is None
    assert len(cache) == 0 and cache.clear() == 0
    assert all(os.path.islink(p) for p in cache.paths(KEY))  # not ours: left alone


def test_an_oversized_entry_is_not_read(cache, monkeypatch):
    cache.save(KEY, _result(), settings=DESCRIPTION)
    monkeypatch.setattr(sl.cache, "META_LIMIT", 100)  # a .json larger than any entry's
    with pytest.warns(RuntimeWarning, match="more than such a file can hold"):
        assert cache.load(KEY, DESCRIPTION, (5, 7)) is None


def test_clear_deletes_only_what_the_cache_wrote(cache):
    # Before issue 20 clear() deleted every *.json and *.npy in the folder, the user's own too.
    import numpy as np

    cache.save(KEY, _result(), settings=DESCRIPTION)
    cache.save("f" * 32, _result(), settings=DESCRIPTION)
    (cache.folder / ("e" * 32 + ".npy")).write_bytes(cache.paths(KEY)[0].read_bytes())  # an orphaned image
    (cache.folder / ".ffffffffffffffffffffffffffffffff.json.ab12cd34.tmp").write_text("x")  # format 3's temporary file
    mine = {"notes.json": b"{}", "data.npy": None, "a" * 32 + ".json": b'{"key": "mine"}',
            "b" * 32 + ".npy": None, ".hidden.tmp": b"x", "README": b"hello"}
    for name, data in mine.items():
        if data is None:
            np.save(cache.folder / name, np.arange(3))
        else:
            (cache.folder / name).write_bytes(data)
    assert len(cache) == 2
    assert cache.clear() == 2 and len(cache) == 0
    assert sorted(p.name for p in cache.folder.iterdir()) == sorted(mine)


def test_entries_follow_the_umask(tmp_path):
    # Before issue 20 entries were written 0600: a cache an instructor built was unreadable to students.
    import stat

    previous = os.umask(0o022)
    try:
        cache = ResultCache(tmp_path / "shared" / "cache")
        cache.save(KEY, _result(), settings=DESCRIPTION)
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [cache.folder, *cache.paths(KEY)]}
    assert modes == {"cache": 0o755, f"{KEY}.npy": 0o644, f"{KEY}.json": 0o644}


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_an_invalid_entry_is_recomputed_and_replaced(cache, content, style, model):
    first = cache.stylize(content, style, model=model, **SMALL)
    key = cache.key(content, style, model=model, **SMALL)
    image_path, meta_path = cache.paths(key)
    meta = json.loads(meta_path.read_text())
    meta["history"]["total"] = meta["history"]["total"][:1]  # a history that does not fit
    meta_path.write_text(json.dumps(meta))
    with pytest.warns(RuntimeWarning, match="loss history does not hold 3 finite values"):
        again = cache.stylize(content, style, model=model, **SMALL)
    assert not cache.last_hit and torch.equal(again.image, first.image)
    rewritten = json.loads(meta_path.read_text())["history"]
    assert {k: v for k, v in rewritten.items() if k != "time"} == json.loads(json.dumps(
        {k: v for k, v in first.history.items() if k != "time"}))  # the same run again, its own clock
