"""stylelab.decoding: opening image files and bytes safely and decoding them upright and cheaply."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import stylelab as sl
from stylelab import decoding


def phone_photo(path):
    """A JPEG stored 20 rows x 40 columns whose EXIF orientation (6) shows it 40 x 20."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(path, exif=exif.tobytes())
    return path


def test_upright_size_and_image_shape_apply_the_exif_orientation(tmp_path):
    path = phone_photo(tmp_path / "phone.jpg")
    with decoding.open_path(path, sl.images.MAX_PIXELS) as image:
        assert image.size == (40, 20) and decoding.upright_size(image, "'phone.jpg'") == (40, 20)
    assert decoding.image_shape(path) == (40, 20) == sl.images.image_shape(path)
    assert decoding.image_shape(path.read_bytes()) == (40, 20)
    assert decoding.image_shape(tmp_path / "missing.png") is None
    assert decoding.image_shape("https://example.org/cat.jpg") is None


def test_decode_keeps_at_least_the_wanted_size_and_turns_the_picture_upright(tmp_path):
    path = phone_photo(tmp_path / "phone.jpg")
    assert decoding.decode(decoding.open_path(path, 10**6), None, "x").shape == (40, 20, 3)
    Image.new("RGB", (800, 400), (0, 0, 255)).save(tmp_path / "wide.png")
    reduced = decoding.decode(decoding.open_path(tmp_path / "wide.png", 10**6), (50, 100), "x")
    assert reduced.dtype == np.uint8 and reduced.shape == (100, 200, 3)  # box-reduced, twice the target
    full = decoding.decode(Image.open(tmp_path / "wide.png"), (50, 100), "x", draft=False)
    assert full.shape == (400, 800, 3)


def test_opening_refuses_urls_bombs_and_non_images(tmp_path):
    with pytest.raises(sl.ImageLoadError, match="is a URL"):
        decoding.check_not_url("http://example.org/cat.jpg")
    with pytest.raises(sl.ImageLoadError, match="megapixel safety limit"):
        decoding.check_pixels((2000, 1000), 10**6, "this picture")
    (tmp_path / "notes.png").write_text("not pixels")
    with pytest.raises(sl.ImageLoadError, match="not an image that Pillow can read"):
        decoding.open_path(tmp_path / "notes.png", 10**6)
    with pytest.raises(sl.ImageNotFoundError):
        decoding.open_path(tmp_path / "absent.png", 10**6)
    with pytest.raises(sl.ImageLoadError, match="empty"):
        decoding.open_bytes(b"", 10**6)
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300)).save(buffer, format="PNG")
    with pytest.raises(sl.ImageLoadError, match="0-megapixel safety limit"):
        decoding.open_bytes(buffer.getvalue(), 1000)


def test_pil_to_array_handles_every_mode():
    assert decoding.pil_to_array(Image.new("1", (3, 2), 1)).tolist() == [[255] * 3] * 2
    assert decoding.pil_to_array(Image.new("I;16", (3, 2), 40000)).dtype == np.uint16
    assert decoding.pil_to_array(Image.new("CMYK", (3, 2))).shape == (2, 3, 3)
    palette = Image.new("P", (3, 2))
    assert decoding.pil_to_array(palette).shape == (2, 3, 3)


@pytest.mark.parametrize("suffix, stored, size, shape, largest", [
    ("jpg", (2400, 1600), 120, (80, 120), 2 * 2400 // 8),  # the JPEG decoder scaled down by 1/8
    ("png", (1600, 1200), 100, (75, 100), 400),  # box-reduced while 8-bit: never a full-size float tensor
])
def test_a_large_image_is_decoded_at_reduced_scale(tmp_path, monkeypatch, suffix, stored, size, shape, largest):
    path = tmp_path / f"big.{suffix}"
    Image.new("RGB", stored, (10, 200, 30)).save(path)
    decoded = []
    original = decoding.pil_to_array
    monkeypatch.setattr(decoding, "pil_to_array", lambda im: decoded.append(im.size) or original(im))
    assert sl.load_image(path, size=size).shape == (1, 3, *shape)
    assert decoded and max(decoded[0]) <= largest
