"""Weights: random, files in every accepted layout, ImageNet cache/download, and bad files."""

from __future__ import annotations

import http.server
import os
import threading
import warnings
from pathlib import Path

import pytest
import torch
import torchvision

import stylelab as sl
from stylelab.vgg import weights as W


@pytest.fixture(scope="module")
def tv_features():
    """A torchvision VGG-19 ``features`` with (seeded) random weights."""
    torch.manual_seed(123)
    return torchvision.models.vgg19().features.eval()


@pytest.fixture(scope="module")
def features_file(tmp_path_factory, tv_features) -> Path:
    path = tmp_path_factory.mktemp("weights") / "features_only.pth"
    torch.save(tv_features.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def full_file(tmp_path_factory, tv_features) -> Path:
    """The layout of a whole torchvision VGG-19 (classifier shrunk to keep the file small)."""
    state = {f"features.{k}": v for k, v in tv_features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)
    state["classifier.0.bias"] = torch.zeros(4)
    path = tmp_path_factory.mktemp("weights") / "vgg19_full.pth"
    torch.save(state, path)
    return path


def test_random_weights_are_seeded_and_leave_global_rng_alone():
    torch.manual_seed(7)
    expected_next = torch.rand(1)
    torch.manual_seed(7)
    a, b, c = W.random_weights(0), W.random_weights(0), W.random_weights(1)
    assert torch.equal(torch.rand(1), expected_next)
    assert torch.equal(a["conv3_1.weight"], b["conv3_1.weight"])
    assert not torch.equal(a["conv3_1.weight"], c["conv3_1.weight"])
    assert len(a) == 32


@pytest.mark.slow  # more than half a second on a 2-core CPU
@pytest.mark.parametrize("layout", ["features_file", "full_file"])
def test_file_layouts_match_torchvision(layout, request, tv_features):
    path = request.getfixturevalue(layout)
    model = sl.VGGFeatures(weights=str(path), device="cpu")
    assert model.weights_source == str(path) and model.preprocessing == "torchvision"
    image = torch.rand(1, 3, 40, 40)
    normalized = (image - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        ours = model(image, ["relu3_1", "conv4_2", "relu4_2"])
        theirs = {name: tv_features[: idx + 1](normalized) for name, idx in [("relu3_1", 11), ("conv4_2", 21), ("relu4_2", 22)]}
    for name in ours:
        assert torch.allclose(ours[name], theirs[name], atol=1e-5), name


def test_layer_names_map_to_torchvision_indices(tmp_path):
    # Fill each conv's bias with its torchvision index: the names must pick the right one.
    state = {}
    for spec in sl.layers.LAYERS:
        if spec.kind == "conv":
            state[f"{spec.index}.weight"] = torch.zeros(spec.out_channels, spec.in_channels, 3, 3, dtype=torch.float16)
            state[f"{spec.index}.bias"] = torch.full((spec.out_channels,), float(spec.index), dtype=torch.float16)
    torch.save(state, tmp_path / "indexed.pth")
    model = sl.VGGFeatures(weights=tmp_path / "indexed.pth", device="cpu")
    for name, index in [("conv1_1", 0), ("conv3_2", 12), ("conv4_2", 21), ("conv5_4", 34)]:
        conv = getattr(model.layers, name)
        assert conv.weight.dtype == torch.float32
        assert torch.all(conv.bias == index), name


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_gatys_layer_named_file_uses_caffe_preprocessing(tmp_path):
    state = {f"{k}": v.half() for k, v in W.random_weights(3).items()}  # conv1_1.weight, ...
    torch.save(state, tmp_path / "vgg_conv.pth")
    model = sl.VGGFeatures(weights=tmp_path / "vgg_conv.pth", device="cpu")
    assert model.preprocessing == "caffe"
    gray = torch.full((1, 3, 2, 2), 0.5)
    expected = torch.tensor([127.5 - 103.939, 127.5 - 116.779, 127.5 - 123.68]).view(1, 3, 1, 1)
    assert torch.allclose(model.normalize(gray), expected.expand(1, 3, 2, 2), atol=1e-3)
    red = torch.zeros(1, 3, 1, 1)
    red[0, 0] = 1.0
    assert model.normalize(red)[0, 2, 0, 0] == pytest.approx(255 - 123.68, abs=1e-3)  # red is last in BGR
    torch.save(state, tmp_path / "mine.pth")
    assert sl.VGGFeatures(weights=tmp_path / "mine.pth", preprocessing="caffe").preprocessing == "caffe"
    assert sl.VGGFeatures(weights=tmp_path / "mine.pth").preprocessing == "torchvision"


def test_missing_and_bad_files(tmp_path):
    with pytest.raises(sl.WeightsFileError, match="is missing"):
        sl.VGGFeatures(weights=tmp_path / "nope.pth")
    with pytest.raises(sl.WeightsFileError, match="is a folder"):
        W.read_state_dict(tmp_path)
    (tmp_path / "junk.pth").write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(sl.WeightsFileError, match="not a readable PyTorch state dict"):
        sl.VGGFeatures(weights=tmp_path / "junk.pth")
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(sl.WeightsFileError, match="not a readable"):
        W.read_state_dict(tmp_path / "text.pth")


def test_truncated_file(tmp_path, features_file):
    data = features_file.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 3])
    with pytest.raises(sl.WeightsFileError, match="not a readable"):
        W.read_state_dict(tmp_path / "cut.pth")


def test_wrong_keys_and_wrong_network(tmp_path):
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "resnet.pth")
    with pytest.raises(sl.WeightsFileError, match="no weight for conv1_1.*not a VGG-16 or VGG-19 state dict"):
        W.read_state_dict(tmp_path / "resnet.pth")
    narrow = W.random_weights(0)
    narrow["conv2_1.weight"] = torch.zeros(96, 64, 3, 3)  # another network's width
    torch.save(narrow, tmp_path / "narrow.pth")
    with pytest.raises(sl.WeightsFileError, match=r"conv2_1.weight the shape \(96, 64, 3, 3\).*another network"):
        W.read_state_dict(tmp_path / "narrow.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(sl.WeightsFileError, match="state dict of tensors"):
        W.read_state_dict(tmp_path / "list.pth")
    bad = W.random_weights(0)
    bad["conv2_1.bias"][0] = float("nan")
    torch.save(bad, tmp_path / "nan.pth")
    with pytest.raises(sl.WeightsFileError, match="NaN"):
        W.read_state_dict(tmp_path / "nan.pth")


def test_whole_pickled_model_is_explained(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pth")
    with pytest.raises(sl.WeightsFileError, match="whole pickled model"):
        W.read_state_dict(tmp_path / "module.pth")


def test_wrapped_state_dict(tmp_path, features_file):
    torch.save({"state_dict": torch.load(features_file)}, tmp_path / "wrapped.pth")
    assert len(W.read_state_dict(tmp_path / "wrapped.pth")) == 32


def test_environment_variable_and_unknown_choice(monkeypatch):
    monkeypatch.setenv("STYLELAB_WEIGHTS", "random")
    assert W.load_weights().source == "random"
    with pytest.raises(sl.WeightsFileError, match="Unknown weights choice 'imagenett'"):
        W.load_weights("imagenett")
    with pytest.raises(sl.WeightsFileError, match="preprocessing"):
        W.load_weights("random", preprocessing="bgr")


@pytest.fixture()
def offline(monkeypatch, tmp_path):
    """An empty torch cache and an ImageNet URL on a port where nothing listens."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(W, "imagenet_url", lambda network="vgg19": "http://127.0.0.1:9/models/vgg19-dcbb9e9d.pth")
    return tmp_path


def test_imagenet_offline_is_a_clear_error(offline):
    with pytest.raises(sl.WeightsUnavailableError, match="--download-weights") as info:
        W.load_weights("imagenet", timeout=2)
    assert "vgg19-dcbb9e9d.pth" in str(info.value) and "STYLELAB_WEIGHTS=random" in str(info.value)


def test_auto_falls_back_to_random_loudly(offline):
    with pytest.warns(sl.UntrainedWeightsWarning, match="UNTRAINED"):
        loaded = W.load_weights("auto", timeout=2)
    assert loaded.source == "random" and "could not be downloaded" in loaded.note


def test_imagenet_from_cache(offline, features_file):
    target = W.imagenet_cache_path()
    target.parent.mkdir(parents=True)
    target.symlink_to(features_file)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning
        model = sl.VGGFeatures(weights="auto", device="cpu")
    assert model.weights_source == "imagenet"


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_imagenet_download_checks_the_hash(monkeypatch, tmp_path, features_file):
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(features_file.parent), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        served = features_file.parent / "vgg19-dcbb9e9d.pth"
        served.write_bytes(features_file.read_bytes())  # right name, wrong content
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
        monkeypatch.setattr(W, "imagenet_url", lambda network="vgg19": f"http://127.0.0.1:{server.server_port}/vgg19-dcbb9e9d.pth")
        with pytest.raises(sl.WeightsUnavailableError, match="SHA-256"):
            W.load_weights("imagenet", timeout=5)
        assert not W.imagenet_cache_path().exists()  # nothing half-written is left
    finally:
        server.shutdown()


def _mapped_ranges(path: Path) -> list:
    """The address ranges at which this process maps ``path`` (Linux's /proc/self/maps)."""
    ranges = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[5] == str(path):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            ranges.append((start, end))
    return ranges


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads Linux's /proc/self/maps")
def test_a_weights_file_is_memory_mapped_and_the_model_computes_on_its_pages(tmp_path, tv_features):
    path = tmp_path / "features.pth"
    torch.save(tv_features.state_dict(), path)
    model = sl.VGGFeatures(weights=str(path), device="cpu", normalize=False)
    ranges = _mapped_ranges(path.resolve())
    assert ranges, "the weights file is not mapped"
    for name, conv in model.convolutions():  # no copy: kernels that map the same file share its pages
        assert any(lo <= conv.weight.data_ptr() < hi for lo, hi in ranges), name
    copy = model.with_pooling("avg")  # shares the weights too
    assert copy.layers.conv5_4.weight.data_ptr() == model.layers.conv5_4.weight.data_ptr()
    assert torch.equal(model.layers.conv1_1.weight, tv_features[0].weight)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads Linux's /proc/self/maps")
def test_an_old_format_file_is_read_once_and_mapped_from_a_copy_in_the_cache(tmp_path, tv_features, monkeypatch):
    monkeypatch.setenv("STYLELAB_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "legacy.pth"  # PyTorch's format before 1.6, as torchvision's VGG files
    torch.save(tv_features.state_dict(), path, _use_new_zipfile_serialization=False)
    first = W.load_weights(str(path))
    (copy,) = (tmp_path / "cache" / "weights" / "mapped").glob("legacy-*.pth")
    assert torch.equal(first.state["conv3_1.weight"], tv_features[10].weight)
    assert any(lo <= first.state["conv3_1.weight"].data_ptr() < hi for lo, hi in _mapped_ranges(copy.resolve()))
    path.write_bytes(path.read_bytes()[:64])  # the original is no longer read ...
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
    with pytest.raises(W.WeightsFileError, match="not a readable PyTorch state dict"):
        W.load_weights(str(path))  # ... yet a changed file (its size) is read again, not its old copy
    torch.save(tv_features.state_dict(), path, _use_new_zipfile_serialization=False)
    assert torch.equal(W.load_weights(str(path)).state["conv1_1.weight"], tv_features[0].weight)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("STYLELAB_CACHE", str(blocked / "cache"))  # a cache that cannot be written, even by root
    torch.save({k: v * 2 for k, v in tv_features.state_dict().items()}, path, _use_new_zipfile_serialization=False)
    assert torch.equal(W.load_weights(str(path)).state["conv1_1.weight"], tv_features[0].weight * 2)


def test_normalising_a_model_leaves_the_weights_it_was_built_from_unchanged():
    loaded = W.load_weights("random-vgg16")
    before = {key: value.clone() for key, value in loaded.state.items()}
    normalised = sl.VGGFeatures(loaded, device="cpu", normalize=True)
    plain = sl.VGGFeatures(loaded, device="cpu", normalize=False)
    assert normalised.normalized and not torch.equal(normalised.layers.conv2_1.weight, plain.layers.conv2_1.weight)
    assert all(torch.equal(loaded.state[key], before[key]) for key in before)
    assert torch.equal(plain.layers.conv2_1.weight, before["conv2_1.weight"])
