"""The normalisation cache: a file is used only if it holds this network's own means (issue 20)."""

from __future__ import annotations

import json
import os
import stat
import warnings

import pytest
import torch

import stylelab as sl
from stylelab.vgg import normalization as N

KEY = "9" * 64
CHANNELS = {"relu1_1": 4, "relu2_1": 3}


def _means():
    return {"relu1_1": torch.tensor([0.5, 2.0, 0.0, 1.5]), "relu2_1": torch.tensor([3.0, 1.0, 0.25])}


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLELAB_CACHE", str(tmp_path))
    return tmp_path / "normalization" / f"{KEY[:32]}.json"


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return _means()


def _same(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_means_are_measured_once_then_read_back_exactly(cache):
    measure = Counter()
    first = N.cached_means(KEY, measure, CHANNELS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = N.cached_means(KEY, measure, CHANNELS)
    assert measure.calls == 1 and _same(first, _means()) and _same(again, _means())
    record = json.loads(cache.read_text())
    assert record["written_by"] == "stylelab.normalization" and record["key"] == KEY


def _record(**changes):
    record = {"written_by": N.MARK, "version": N._VERSION, "key": KEY,
              "means": {k: v.tolist() for k, v in _means().items()}}
    record.update(changes)
    return json.dumps(record)


DAMAGE = {
    "missing_layer": (_record(means={"relu1_1": [1.0] * 4}), "holds the layers"),
    "extra_layer": (_record(means={"relu1_1": [1.0] * 4, "relu2_1": [1.0] * 3, "relu9_1": [1.0]}), "holds the layers"),
    "other_network": (_record(key="8" * 64), "another network's fingerprint"),
    "wrong_shape": (_record(means={"relu1_1": [1.0] * 5, "relu2_1": [1.0] * 3}), "relu1_1 does not hold 4"),
    "nested": (_record(means={"relu1_1": [[1.0] * 4], "relu2_1": [1.0] * 3}), "relu1_1 does not hold 4"),
    "nan": (_record().replace("0.5", "NaN"), "relu1_1 does not hold 4 finite means"),
    "infinity": (_record().replace("3.0", "Infinity"), "relu2_1 does not hold 3 finite means"),
    "huge": (_record().replace("3.0", "1e999"), "relu2_1 does not hold 3 finite means"),
    "negative": (_record(means={"relu1_1": [1.0, -1.0, 1.0, 1.0], "relu2_1": [1.0] * 3}), "finite means >= 0"),
    "all_dead": (_record(means={"relu1_1": [0.0] * 4, "relu2_1": [1.0] * 3}), "every filter of relu1_1 has mean 0"),
    "strings": (_record(means={"relu1_1": ["1"] * 4, "relu2_1": [1.0] * 3}), "relu1_1 does not hold 4"),
    "booleans": (_record(means={"relu1_1": [True] * 4, "relu2_1": [1.0] * 3}), "relu1_1 does not hold 4"),
    "means_not_a_dict": (_record(means=[1, 2]), "holds the layers list"),
    "no_marker": (_record(written_by="someone"), "not a file this version of stylelab wrote"),
    "old_version": (_record(version="0"), "not a file this version of stylelab wrote"),
    "not_json": ("\x80PK\x03\x04 garbage", "not valid JSON"),
    "empty": ("", "not valid JSON"),
    "a_list": ("[1, 2, 3]", "not a file this version of stylelab wrote"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_or_foreign_file_is_refused_named_and_rebuilt(cache, damage):
    # Before issue 20: KeyError or RuntimeError from deep inside, or an unnormalised network saying normalized=True.
    text, reason = DAMAGE[damage]
    cache.parent.mkdir(parents=True)
    cache.write_bytes(text.encode("latin-1"))
    measure = Counter()
    with pytest.warns(RuntimeWarning) as caught:
        means = N.cached_means(KEY, measure, CHANNELS)
    message = str(caught[0].message)
    assert len(caught) == 1 and "\n" not in message
    assert f"Ignoring the normalisation cache file {str(cache)!r}" in message and reason in message
    assert "measured again and the file rewritten (or delete it)" in message
    assert measure.calls == 1 and _same(means, _means())
    assert json.loads(cache.read_text())["key"] == KEY  # rewritten: the next network reads it quietly


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes")
def test_a_named_pipe_or_a_link_to_a_device_is_never_opened(cache):
    cache.parent.mkdir(parents=True)
    os.mkfifo(cache)  # before issue 20, opening it waited forever
    with pytest.warns(RuntimeWarning, match="is a named pipe"):
        assert _same(N.cached_means(KEY, Counter(), CHANNELS), _means())
    assert stat.S_ISREG(os.lstat(cache).st_mode)  # replaced by a real file
    cache.unlink()
    os.symlink("/dev/zero", cache)
    with pytest.warns(RuntimeWarning, match="is a device"):
        assert _same(N.cached_means(KEY, Counter(), CHANNELS), _means())


def test_a_cache_that_cannot_be_written_costs_only_the_measurement(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("STYLELAB_CACHE points at this file")
    monkeypatch.setenv("STYLELAB_CACHE", str(blocker))
    with pytest.warns(RuntimeWarning, match="were not kept .* is a file, not a folder"):
        assert _same(N.cached_means(KEY, Counter(), CHANNELS), _means())
    assert blocker.read_text() == "STYLELAB_CACHE points at this file"


def test_the_file_follows_the_umask(cache):
    previous = os.umask(0o022)
    try:
        N.cached_means(KEY, Counter(), CHANNELS)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o644 and stat.S_IMODE(cache.parent.stat().st_mode) == 0o755


def test_measured_means_that_cannot_normalise_are_an_error(cache):
    broken = lambda: {"relu1_1": torch.full((4,), float("nan")), "relu2_1": torch.ones(3)}  # noqa: E731
    with pytest.raises(sl.WeightsError, match="cannot be normalised: on the calibration images relu1_1"):
        N.cached_means(KEY, broken, CHANNELS)
    assert not cache.exists()


@pytest.mark.slow  # builds three normalised networks
def test_a_network_built_from_a_damaged_cache_is_normalised_all_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLELAB_CACHE", str(tmp_path))
    fresh = sl.VGGFeatures(weights="random", device="cpu", normalize=True)
    (path,) = (tmp_path / "normalization").glob("*.json")
    record = json.loads(path.read_text())
    del record["means"]["relu3_1"]  # before issue 20: a KeyError from deep inside VGGFeatures
    path.write_text(json.dumps(record))
    with pytest.warns(RuntimeWarning, match="holds the layers"):
        rebuilt = sl.VGGFeatures(weights="random", device="cpu", normalize=True)
    record["means"] = {layer: [1.0] * len(values) for layer, values in json.loads(path.read_text())["means"].items()}
    record["key"] = "0" * 64  # plausible means, but measured on other weights
    path.write_text(json.dumps(record))
    with pytest.warns(RuntimeWarning, match="another network's fingerprint"):
        again = sl.VGGFeatures(weights="random", device="cpu", normalize=True)
    for model in (rebuilt, again):
        assert model.normalized and all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                                            fresh.state_dict().values()))


# ---------------------------------------------------------------- the rescaled weights, mapped (issue 19)

def _convs():
    torch.manual_seed(0)  # frozen, as a VGGFeatures network's are
    return [("conv1_1", torch.nn.Conv2d(3, 4, 3).requires_grad_(False)),
            ("conv2_1", torch.nn.Conv2d(4, 3, 3).requires_grad_(False))]


def _conv_means():
    return {name.replace("relu", "conv"): values for name, values in _means().items()}


def _held(convs):
    return [tensor.detach().clone() for _, conv in convs for tensor in (conv.weight, conv.bias)]


def _mapped_files():
    """The files this process has memory-mapped (Linux)."""
    with open("/proc/self/maps", encoding="utf-8") as maps:
        return {line.split(maxsplit=5)[5].strip() for line in maps if len(line.split(maxsplit=5)) == 6}


@pytest.fixture()
def weights_file(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLELAB_CACHE", str(tmp_path))
    return tmp_path / "normalization" / f"{KEY[:32]}.pth"


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads which files are mapped from /proc")
def test_rescaled_weights_are_mapped_from_one_file_and_equal_rescale(weights_file):
    expected = _convs()
    N.rescale(expected, _conv_means())
    first = _convs()
    assert N.rescale_shared(first, _conv_means(), KEY)
    assert weights_file.is_file() and str(weights_file) in _mapped_files()
    written = weights_file.stat().st_mtime_ns
    second = _convs()  # another kernel: reads the file, writes nothing
    assert N.rescale_shared(second, _conv_means(), KEY) and weights_file.stat().st_mtime_ns == written
    for convs in (first, second):
        assert all(torch.equal(a, b) for a, b in zip(_held(convs), _held(expected)))
        assert not any(conv.weight.requires_grad for _, conv in convs)


@pytest.mark.parametrize("damage", ["one value", "a layer missing", "not a zip file"])
def test_a_file_that_is_not_these_weights_rescaled_is_named_and_written_again(weights_file, damage):
    expected = _convs()
    N.rescale(expected, _conv_means())
    state = dict(zip(["conv1_1.weight", "conv1_1.bias", "conv2_1.weight", "conv2_1.bias"], _held(expected)))
    if damage == "one value":
        state["conv2_1.weight"][0, 0, 0, 0] += 1e-3
    elif damage == "a layer missing":
        del state["conv2_1.weight"], state["conv2_1.bias"]
    weights_file.parent.mkdir(parents=True)
    if damage == "not a zip file":
        weights_file.write_bytes(b"\x80\x02not a state dict")
    else:
        torch.save(state, weights_file)
    convs = _convs()
    with pytest.warns(RuntimeWarning, match="normalised weights file .* written again"):
        assert N.rescale_shared(convs, _conv_means(), KEY)
    assert all(torch.equal(a, b) for a, b in zip(_held(convs), _held(expected)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten file is used without a word
        assert N.rescale_shared(_convs(), _conv_means(), KEY)


def test_a_cache_that_cannot_be_written_keeps_the_weights_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("STYLELAB_CACHE points at this file")
    monkeypatch.setenv("STYLELAB_CACHE", str(blocker))
    expected, convs = _convs(), _convs()
    N.rescale(expected, _conv_means())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not N.rescale_shared(convs, _conv_means(), KEY)
    assert all(torch.equal(a, b) for a, b in zip(_held(convs), _held(expected)))
    assert blocker.read_text() == "STYLELAB_CACHE points at this file"
