"""Synthetic test images: each pattern has the property its name promises."""

from __future__ import annotations

import pytest
import torch

import stylelab as sl
from stylelab.imaging import patterns


@pytest.mark.parametrize("kind", patterns.KINDS)
def test_every_kind_is_an_image_tensor(kind):
    image = patterns.pattern(kind, (40, 56))
    assert image.shape == (1, 3, 40, 56) and image.dtype == torch.float32
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    assert torch.equal(image, patterns.pattern(kind, (40, 56)))  # deterministic


def test_edge_is_a_vertical_step_at_the_centre():
    image = patterns.edge(32)
    assert torch.all(image[..., :16] == 0) and torch.all(image[..., 16:] == 1)
    horizontal = patterns.edge(32, angle=90)
    assert torch.all(horizontal[..., :16, :] == 0) and torch.all(horizontal[..., 16:, :] == 1)
    grey = patterns.edge(8, low=0.25, high=0.75)
    assert set(grey.unique().tolist()) == {0.25, 0.75}


@pytest.mark.parametrize("period", [4, 8, 16])
def test_stripes_have_the_requested_period(period):
    row = patterns.stripes(64, period=period)[0, 0, 10]
    spectrum = torch.fft.rfft(row - row.mean()).abs()
    assert int(spectrum.argmax()) == 64 // period  # cycles per image width
    assert torch.allclose(patterns.stripes(64, period=period)[0, 0, 3], row)  # vertical stripes: rows equal
    assert torch.allclose(row[period:], row[:-period], atol=1e-5)


def test_square_stripes_and_rotation():
    bars = patterns.stripes(32, period=8, square=True)
    assert set(bars.unique().tolist()) == {0.0, 1.0}
    turned = patterns.stripes(32, period=8, angle=90)
    assert torch.allclose(turned[0, 0, :, 0], turned[0, 0, :, 20], atol=1e-5)  # now constant along rows


def test_checkerboard_alternates():
    board = patterns.checkerboard(8, period=4)[0, 0]
    assert board[0, 0] == 0 and board[0, 2] == 1 and board[2, 0] == 1 and board[2, 2] == 0
    assert board.mean() == 0.5


def test_blobs_have_their_colours_at_their_centres():
    colours = ("red", "blue", "red", "green", "yellow")
    image = patterns.blobs((90, 120), colours=colours)
    centres = patterns.blob_centres((90, 120), len(colours))
    assert len(centres) == 5 and len(set(centres)) == 5
    for colour, (y, x) in zip(colours, centres):
        assert torch.allclose(image[0, :, y, x], torch.tensor(patterns.BLOB_COLOURS[colour]), atol=1e-6)
    assert torch.allclose(image[0, :, 0, 0], torch.full((3,), 0.5))  # background in the corner


def test_noise_depends_on_seed_and_flat_is_constant():
    assert not torch.equal(patterns.noise(16, seed=0), patterns.noise(16, seed=1))
    grey = patterns.noise(16, colour=False)
    assert torch.equal(grey[0, 0], grey[0, 2])
    assert torch.all(patterns.flat(8, level=0.3) == 0.3)


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="Unknown pattern 'zebra'; choose one of edge"):
        patterns.pattern("zebra", 32)
    with pytest.raises(ValueError, match="period must be a number of pixels >= 2"):
        patterns.stripes(32, period=1)
    with pytest.raises(ValueError, match="size must be an int or a"):
        patterns.edge("big")
    with pytest.raises(ValueError, match="at least 2x2"):
        patterns.flat(1)
    with pytest.raises(ValueError, match="blobs needs one or more colours"):
        patterns.blobs(32, colours=("purple",))
    with pytest.raises(ValueError, match="level must be a grey level between 0 and 1"):
        patterns.flat(8, level=2)


def test_patterns_feed_the_network(model):
    feats = model(sl.patterns.pattern("stripes", 32, period=4), ["relu2_1"])
    assert feats["relu2_1"].shape == (1, 128, 16, 16)
