"""VGGFeatures: outputs, truncation, freezing, pooling, devices and bad input."""

from __future__ import annotations

import pytest
import torch

import stylelab as sl
from stylelab.vgg.weights import VGGWeights


def test_outputs_in_requested_order_with_shapes(model):
    image = torch.rand(1, 3, 64, 48)
    out = model(image, ["relu4_2", "relu1_1", "pool2"])
    assert list(out) == ["relu4_2", "relu1_1", "pool2"]
    assert out["relu1_1"].shape == (1, 64, 64, 48)
    assert out["pool2"].shape == (1, 128, 16, 12)
    assert out["relu4_2"].shape == (1, 512, 8, 6)


def test_iter_features_yields_in_network_order_and_matches_forward(model):
    image = torch.rand(1, 3, 40, 40)
    pairs = list(model.iter_features(image, ["relu4_2", "relu1_1", "pool2"]))
    assert [name for name, _ in pairs] == ["relu1_1", "pool2", "relu4_2"]
    out = model(image, ["relu4_2", "relu1_1", "pool2"])
    for name, value in pairs:
        assert torch.equal(value, out[name])


def test_runs_only_up_to_the_deepest_layer(model):
    called = []
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: called.append(n)) for n, m in model.layers.named_children()]
    try:
        model(torch.rand(1, 3, 32, 32), ["relu2_1"])
    finally:
        for h in hooks:
            h.remove()
    assert called[-1] == "conv2_1" or called[-1] == "relu2_1"
    assert "conv2_2" not in called and "relu5_1" not in called


def test_conv_output_is_not_overwritten_by_relu(model):
    out = model(torch.rand(1, 3, 16, 16), ["conv1_1", "relu1_1"])
    assert (out["conv1_1"] < 0).any()
    assert torch.equal(out["relu1_1"], out["conv1_1"].clamp(min=0))


def test_frozen_eval_and_gradient_to_image(model):
    assert not any(p.requires_grad for p in model.parameters())
    model.train()
    assert not model.training
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    model(image, ["relu3_1"])["relu3_1"].sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())


def test_normalisation_and_metadata(model):
    mean = torch.tensor(sl.vgg.features.IMAGENET_MEAN).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    assert torch.allclose(model.normalize(mean), torch.zeros(1, 3, 4, 4), atol=1e-6)
    assert model.layer_names[0] == "conv1_1" and len(model.layer_names) == 37
    assert model.weights_source == "random" and "random" in repr(model)


def test_avg_pooling_shares_weights_and_changes_output(model):
    avg = model.with_pooling("avg")
    assert avg.pooling == "avg"
    assert (avg.weights_source, avg.precision, avg.preprocessing) == (model.weights_source, model.precision, model.preprocessing)
    assert torch.equal(avg.layers.conv3_1.weight, model.layers.conv3_1.weight)
    image = torch.rand(1, 3, 32, 32)
    assert not torch.allclose(avg(image, ["relu3_1"])["relu3_1"], model(image, ["relu3_1"])["relu3_1"])
    with pytest.raises(ValueError, match="pooling must be"):
        sl.VGGFeatures(weights="random", pooling="min")


def test_bad_input(model):
    with pytest.raises(sl.ImageLoadError, match=r"\(B, 3, H, W\)"):
        model(torch.rand(3, 32, 32), ["relu1_1"])
    with pytest.raises(sl.ImageLoadError, match="float"):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), ["relu1_1"])
    with pytest.raises(sl.ImageTooSmallError, match="relu5_1 needs an image of at least 16x16"):
        model(torch.rand(1, 3, 12, 40), ["relu5_1"])
    with pytest.raises(sl.LayerNameError, match="Did you mean"):
        model(torch.rand(1, 3, 32, 32), ["relu_4_2"])


def test_device_choice(monkeypatch):
    assert sl.pick_device("cpu").type == "cpu"
    monkeypatch.setenv("STYLELAB_DEVICE", "cpu")
    assert sl.pick_device().type == "cpu"
    with pytest.raises(ValueError, match="Unknown device"):
        sl.pick_device("gpu9000")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            sl.pick_device("cuda")



@pytest.mark.parametrize("preprocessing", ["torchvision", "caffe"])
def test_denormalize_inverts_normalize(model, preprocessing):
    state = {f"{name}.{part}": getattr(conv, part).detach() for name, conv in model.convolutions() for part in ("weight", "bias")}
    weights = VGGWeights(state=state, source="test", preprocessing=preprocessing, note="", architecture=model.architecture.name)
    net = sl.VGGFeatures(weights, device="cpu", normalize=False)
    image = torch.rand(1, 3, 5, 6)
    assert net.preprocessing == preprocessing
    assert torch.allclose(net.denormalize(net.normalize(image)), image, atol=1e-5)
