"""NetworkSettings and the one function that builds a network from them."""

from __future__ import annotations

import pytest

from stylelab import ParameterError, VGGFeatures
from stylelab.vgg.network import NetworkSettings, build_model, use_model


def test_build_model_follows_the_settings():
    model = build_model(NetworkSettings(weights="random-vgg16", pooling="avg", device="cpu"))
    assert isinstance(model, VGGFeatures)
    assert model.architecture.name == "vgg16" and model.pooling == "avg" and model.device.type == "cpu"
    assert not model.normalized  # normalize=None builds with "auto": random networks stay as they are


@pytest.mark.parametrize(
    "options, words",
    [({"pooling": "min"}, "pooling must be 'max' or 'avg'"), ({"normalize": "yes"}, "normalize must be"),
     ({"precision": "float64"}, "precision must be"), ({"weights": 19}, "weights must be a weights name")],
)
def test_wrong_network_settings_are_named(options, words):
    with pytest.raises(ParameterError, match=words):
        NetworkSettings(**options)


def test_a_setting_the_network_refuses_is_a_parameter_error():
    with pytest.raises(ParameterError, match="float16"):
        build_model(NetworkSettings(weights="random", device="cpu", precision="float16"))


def test_a_given_model_is_used_and_checked(model):
    assert use_model(model, NetworkSettings()) is model
    assert use_model(model, NetworkSettings(normalize="auto")) is model  # auto leaves a random network as it is
    with pytest.raises(ParameterError, match="normalize=True but the model given is not normalised"):
        use_model(model, NetworkSettings(normalize=True))
    with pytest.raises(ParameterError, match="model must be a stylelab.VGGFeatures"):
        use_model("vgg19", NetworkSettings())
