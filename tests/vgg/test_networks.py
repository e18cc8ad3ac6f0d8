"""VGG-16 beside VGG-19: anatomy, recognition from weight files, and Gatys' normalisation."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import stylelab as sl
from stylelab.vgg import layers as L
from stylelab.vgg import weights as W
from stylelab.vgg.normalization import channel_means, rescale


@pytest.mark.slow  # more than half a second on a 2-core CPU
@pytest.mark.parametrize("arch, factory", [(L.VGG16, torchvision.models.vgg16), (L.VGG19, torchvision.models.vgg19)])
def test_anatomy_follows_torchvision(arch, factory):
    features = factory().features
    assert len(arch.layers) == len(features)
    kinds = {nn.Conv2d: "conv", nn.ReLU: "relu", nn.MaxPool2d: "pool"}
    for spec, module in zip(arch.layers, features):
        assert kinds[type(module)] == spec.kind, spec.name
        if spec.kind == "conv":
            assert (module.in_channels, module.out_channels) == (spec.in_channels, spec.out_channels)
    assert arch.layer_names[-1] == "pool5"


def test_vgg16_receptive_fields_and_missing_layers():
    table = {row["name"]: row["receptive_field"] for row in L.VGG16.layer_table(224)}
    # 3 convolutions in block 3 instead of 4: every deeper field is 8 (one conv at stride 4) smaller...
    assert table["relu3_3"] == 40 and table["relu4_1"] == 60
    assert table["relu5_3"] == 196 and L.VGG19.receptive_field("relu5_4") == 252
    with pytest.raises(sl.LayerNameError, match="layer of VGG-19.*Did you mean 'relu5_3'"):
        L.VGG16.check_layer_names(["relu4_2", "relu5_4"])
    # the lessons' layers exist in both networks with the same channels
    for name in (*sl.DEFAULT_STYLE_LAYERS, *sl.DEFAULT_CONTENT_LAYERS):
        assert L.VGG16.spec(name).out_channels == L.VGG19.spec(name).out_channels


def test_architecture_lookup():
    assert L.architecture("VGG-16") is L.VGG16 and L.architecture(None) is L.VGG19
    with pytest.raises(ValueError, match="'vgg16' or 'vgg19'"):
        L.architecture("resnet50")


@pytest.fixture(scope="module")
def vgg16_features():
    torch.manual_seed(5)
    return torchvision.models.vgg16().features.eval()


@pytest.mark.slow  # more than half a second on a 2-core CPU
@pytest.mark.parametrize("layout", ["whole", "features", "named"])
def test_vgg16_files_in_every_layout_match_torchvision(layout, vgg16_features, tmp_path):
    state = vgg16_features.state_dict()
    if layout == "whole":
        state = {f"features.{k}": v for k, v in state.items()} | {"classifier.0.weight": torch.zeros(2, 2)}
    elif layout == "named":
        by_index = {str(s.index): s.name for s in L.VGG16.layers}
        state = {f"{by_index[k.split('.')[0]]}.{k.split('.')[1]}": v for k, v in state.items()}
    path = tmp_path / f"vgg16_{layout}.pth"
    torch.save(state, path)
    model = sl.VGGFeatures(weights=path, device="cpu")
    assert model.architecture is L.VGG16 and len(model.layer_names) == 31
    assert "VGG-16" in model.weights_label and "VGG-16" in repr(model)
    image = torch.rand(1, 3, 48, 48)
    normalized = (image - torch.tensor(sl.vgg.features.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(sl.vgg.features.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        ours = model(image, ["relu4_2", "relu5_3"])
        assert torch.allclose(ours["relu4_2"], vgg16_features[:21](normalized), atol=1e-5)  # relu4_2 is index 20
        assert torch.allclose(ours["relu5_3"], vgg16_features[:30](normalized), atol=1e-5)


def test_caffe_file_names_choose_caffe_preprocessing(tmp_path):
    state = W.random_weights(0, "vgg16")
    for name, expected in [("my-vgg16-caffe.pth", "caffe"), ("vgg16-00b39a1b.pth", "caffe"), ("vgg16.pth", "torchvision")]:
        torch.save(state, tmp_path / name)
        assert W.load_weights(tmp_path / name).preprocessing == expected, name


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_unrecognised_and_integer_files_are_refused(tmp_path):
    state = W.random_weights(0, "vgg16")
    del state["conv5_3.weight"], state["conv5_3.bias"]
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(sl.WeightsFileError, match="no weight for conv5_3"):
        W.load_weights(tmp_path / "short.pth")
    ints = {k: (v * 100).to(torch.int64) for k, v in W.random_weights(0).items()}
    torch.save(ints, tmp_path / "ints.pth")
    with pytest.raises(sl.WeightsFileError, match="torch.int64.*floating-point"):
        W.load_weights(tmp_path / "ints.pth")


def test_random_vgg16_and_labels():
    vgg16 = W.load_weights("random-vgg16")
    assert vgg16.architecture == "vgg16" and not vgg16.trained and len(vgg16.state) == 26
    assert vgg16.label == "untrained VGG-16 (seeded random weights)"
    assert W.VGGWeights({}, "caffe-vgg16", "caffe", architecture="vgg16").label == "ImageNet-trained VGG-16 (Caffe weights)"
    assert W.VGGWeights({}, "imagenet", "torchvision").label == "ImageNet-trained VGG-19 (torchvision)"


def test_caffe_vgg16_choice_without_the_file_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLELAB_CACHE", str(tmp_path))
    with pytest.raises(sl.WeightsUnavailableError, match="python -m stylelab.vgg.convert"):
        W.load_weights("caffe-vgg16")


# ----------------------------------------------------------------- normalisation


def _relus(model):
    return [n for n in model.layer_names if n.startswith("relu")]


@pytest.fixture(scope="module")
def calibration():
    return [sl.data.example(name, size=64) for name in ("chelsea", "swirls", "coffee")]


def test_rescaling_sets_each_filter_mean_to_one_and_keeps_directions(model, calibration):
    weights = W.VGGWeights(W.random_weights(0), "random", "torchvision")
    net = sl.VGGFeatures(weights, device="cpu")
    relus = _relus(net)
    before = channel_means(net.iter_features, relus, calibration)
    rescale(net.convolutions(), {n.replace("relu", "conv"): before[n] for n in relus})
    after = channel_means(net.iter_features, relus, calibration)
    for name in relus:
        alive = before[name] > 1e-8
        assert torch.allclose(after[name][alive], torch.ones(int(alive.sum())), rtol=1e-3), name
    # same function: each channel is the original divided by its mean
    image = sl.data.example("astronaut", size=48)
    original, scaled = model(image, ["relu4_2"])["relu4_2"], net(image, ["relu4_2"])["relu4_2"]
    means = before["relu4_2"]
    means = torch.where(means > 1e-8, means, torch.ones_like(means)).view(1, -1, 1, 1)  # dead filters keep theirs
    assert torch.allclose(scaled * means, original, rtol=1e-3, atol=1e-6)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_normalised_networks_agree_whatever_the_scale_of_their_weights(tmp_path, monkeypatch):
    """A network whose first layer reads 255x larger pixels (the Caffe convention) has
    every activation 255x larger; normalised, the two give the same features and losses."""
    monkeypatch.setenv("STYLELAB_CACHE", str(tmp_path))
    state = W.random_weights(3)
    big = dict(state, **{"conv1_1.weight": state["conv1_1.weight"] * 255})
    plain = sl.VGGFeatures(W.VGGWeights(state, "random", "torchvision"), device="cpu", normalize=True)
    scaled = sl.VGGFeatures(W.VGGWeights(big, "a.pth", "torchvision"), device="cpu", normalize=True)
    raw = sl.VGGFeatures(W.VGGWeights(big, "a.pth", "torchvision"), device="cpu")
    small = sl.VGGFeatures(W.VGGWeights(state, "random", "torchvision"), device="cpu")
    image = sl.data.example("chelsea", size=48)
    a, b = plain(image, ["relu3_1"])["relu3_1"], scaled(image, ["relu3_1"])["relu3_1"]
    assert torch.allclose(a, b, rtol=1e-3, atol=1e-5)
    ratio = raw(image, ["relu3_1"])["relu3_1"].mean() / small(image, ["relu3_1"])["relu3_1"].mean()
    assert ratio == pytest.approx(255, rel=1e-3)  # unnormalised, the scale shows everywhere
    assert plain.normalized and "normalized=True" in repr(plain)
    # the calibration is cached by the weights' values: the second model reads it back
    assert len(list((tmp_path / "normalization").glob("*.json"))) == 2


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_with_pooling_keeps_the_normalisation(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLELAB_CACHE", str(tmp_path))
    net = sl.VGGFeatures(weights="random", device="cpu", normalize=True)
    avg = net.with_pooling("avg")
    assert avg.normalized and torch.equal(avg.layers.conv2_1.weight, net.layers.conv2_1.weight)


def test_stylize_checks_normalize_against_the_model_given(model, content, style):
    with pytest.raises(ValueError, match="is not normalised"):
        sl.stylize(content, style, model=model, normalize=True, steps=1, progress=False)
    result = sl.stylize(content, style, weights="random-vgg16", steps=2, progress=False)
    assert result.config["network"] == "vgg16"
    vgg16 = sl.VGGFeatures(weights="random-vgg16", device="cpu")
    with pytest.raises(sl.LayerNameError, match="not a VGG-16 layer"):
        sl.stylize(content, style, model=vgg16, style_layers=["relu5_4"], steps=1, progress=False)


def test_imagenet_vgg16_offline_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert W.imagenet_cache_path("vgg16") == tmp_path / "torch" / "hub" / "checkpoints" / "vgg16-397923af.pth"
    monkeypatch.setattr(W, "imagenet_url", lambda network="vgg19": f"http://127.0.0.1:9/models/{network}-397923af.pth")
    with pytest.raises(sl.WeightsUnavailableError, match=r"ImageNet VGG-16 .*--download-weights vgg16.*caffe-vgg16"):
        W.load_weights("imagenet-vgg16", timeout=2)
