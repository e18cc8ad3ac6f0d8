"""The fast path (bfloat16, channels-last) against the plain float32 path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import stylelab as sl


@pytest.fixture(scope="module")
def fast_model() -> sl.VGGFeatures:
    return sl.VGGFeatures(weights="random", device="cpu", precision="bfloat16", channels_last=True)


def test_features_agree_to_bfloat16_precision(model, fast_model):
    image = torch.rand(1, 3, 48, 48)
    plain = model(image, ["relu1_1", "relu3_1", "relu5_1"])
    fast = fast_model(image, ["relu1_1", "relu3_1", "relu5_1"])
    for name in plain:
        assert fast[name].dtype == torch.bfloat16
        assert fast[name].is_contiguous(memory_format=torch.channels_last)
        scale = plain[name].abs().max()
        # bfloat16 keeps 8 significant bits: errors of a few 1/256 of the range.
        assert (fast[name].float() - plain[name]).abs().max() < 0.03 * scale, name


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_adam_trajectories_match_within_one_percent(content, style, model, fast_model):
    """Stated tolerance: every one of 10 Adam losses within 1 % of the float32 run's."""
    plain = sl.stylize(content, style, model=model, optimizer="adam", steps=10, progress=False)
    fast = sl.stylize(content, style, model=fast_model, optimizer="adam", steps=10, progress=False)
    a, b = np.array(plain.history["total"]), np.array(fast.history["total"])
    assert np.all(np.abs(a - b) <= 0.01 * a)
    assert (plain.image - fast.image).abs().mean() < 0.01


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_lbfgs_starts_alike_and_both_converge(content, style, model, fast_model):
    """L-BFGS amplifies tiny differences, so only its first 3 evaluations are compared
    (1 %); after 30 evaluations both runs must have cut the loss by the same order."""
    plain = sl.stylize(content, style, model=model, steps=30, progress=False)
    fast = sl.stylize(content, style, model=fast_model, steps=30, progress=False)
    a, b = np.array(plain.history["total"]), np.array(fast.history["total"])
    assert np.all(np.abs(a[:3] - b[:3]) <= 0.01 * a[:3])
    assert min(b) < 0.5 * b[0] and min(a) < 0.5 * a[0]
    assert 0.2 < min(b) / min(a) < 5


def test_precision_options_are_checked():
    with pytest.raises(ValueError, match="precision must be .float32., .bfloat16. or .float16."):
        sl.VGGFeatures(weights="random", precision="int8")
    with pytest.raises(ValueError, match="for GPUs"):
        sl.VGGFeatures(weights="random", precision="float16", device="cpu")
    model = sl.VGGFeatures(weights="random", precision="bfloat16", channels_last=True)
    avg = model.with_pooling("avg")
    assert avg.precision == "bfloat16" and avg.channels_last and "bfloat16" in repr(avg)
