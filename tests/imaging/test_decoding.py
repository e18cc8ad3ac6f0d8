"""stylelab.imaging.decoding: opening image files and bytes safely and decoding them upright and cheaply."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import torch
from PIL import Image

import stylelab as sl
from stylelab.imaging import decoding


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
    assert decoding.image_shape(path) == (40, 20)
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


# --------------------------------------------------------------------------- PIL modes and TIFF orientation (issue 20)

GREY = (np.arange(48 * 64).reshape(48, 64) % 256).astype(np.uint8)  # every 8-bit value, mean 127.5


def _in_mode(mode):
    grey = Image.fromarray(GREY)
    if mode == "I;16":
        return grey.convert("I;16")
    if mode in ("La", "RGBa"):
        return grey.convert("LA" if mode == "La" else "RGBA").convert(mode)
    return grey.convert(mode)


@pytest.mark.parametrize("mode", ["L", "LA", "La", "RGBa", "I", "F", "P", "PA", "CMYK", "RGB", "YCbCr"])
def test_every_mode_of_the_same_grey_picture_loads_alike(mode):
    # Before issue 20: mode La raised a ValueError from Pillow; mode I and F of 8-bit values came out almost
    # black (I) or were refused (F).
    image = sl.load_image(_in_mode(mode))
    assert image.shape == (1, 3, 48, 64)
    assert float((image[0, 0] - torch.from_numpy(GREY / 255.0).float()).abs().max()) < 0.02, mode


def test_i16_follows_its_mode_and_i_and_f_their_range():
    # The decision, documented in decoding.pil_to_array: I;16 is 16-bit by its mode; I and F have no range
    # of their own, so it is read from the data (within 0-255 as 8-bit, within 0-65535 as 16-bit).
    assert float(sl.load_image(_in_mode("I;16")).max()) == pytest.approx(255 / 65535)
    assert float(sl.load_image(Image.fromarray(np.array([[0, 1000]], np.int32))).max()) == pytest.approx(1000 / 65535)
    assert float(sl.load_image(Image.fromarray(np.array([[0, 0.5]], np.float32))).max()) == 0.5
    for values in ([[-5, 100]], [[0, 70000]]):
        with pytest.raises(sl.ImageLoadError, match="fit no 8-bit or 16-bit scale"):
            sl.load_image(Image.fromarray(np.array(values, np.int32)))


def test_transparency_of_every_kind_is_composited_on_white():
    alpha = np.array([[255, 0], [128, 255]], np.uint8)
    rgba = Image.fromarray(np.dstack([np.full((2, 2, 3), 200, np.uint8), alpha]), "RGBA")
    expected = sl.load_image(rgba)
    assert float(expected[0, 0, 0, 1]) == 1.0  # the transparent pixel is white
    for image in (rgba.convert("RGBa"), rgba.convert("LA"), rgba.convert("LA").convert("La")):
        assert float((sl.load_image(image) - expected).abs().max()) < 0.01, image.mode
    palette = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), "P")
    palette.putpalette([0, 0, 0, 0, 255, 0, 0, 255] + [0] * (256 * 4 - 8), rawmode="RGBA")  # index 0: transparent
    assert sl.load_image(palette)[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0]  # was black before issue 20
    indexed = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    indexed.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    indexed.info["transparency"] = 0
    assert sl.load_image(indexed)[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0]


def _tiff(array, orientation, compression):
    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="TIFF", compression=compression, tiffinfo=info)
    return buffer.getvalue()


def _png(array, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("compression", ["raw", "tiff_lzw"])
def test_a_tiff_is_turned_exactly_once(orientation, compression):
    # Recent Pillow turns a TIFF itself (its size is already upright); before issue 20 stylelab swapped the
    # size a second time, so a portrait asked for at size=40 came back as a squashed landscape.
    stored = np.random.default_rng(orientation).integers(0, 256, (20, 40, 3), dtype=np.uint8)
    tiff, png = _tiff(stored, orientation, compression), _png(stored, orientation)
    upright = (40, 20) if orientation >= 5 else (20, 40)
    assert decoding.image_shape(tiff) == upright == decoding.image_shape(png)
    assert torch.equal(sl.load_image(tiff), sl.load_image(png))  # the same pixels, turned the same way
    half = (upright[0] // 2, upright[1] // 2)
    assert tuple(sl.load_image(tiff, size=20).shape[-2:]) == half == tuple(sl.load_image(png, size=20).shape[-2:])
    assert torch.allclose(sl.load_image(tiff, size=20), sl.load_image(png, size=20))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes")
def test_a_named_pipe_or_a_long_name_is_one_sentence(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(sl.ImageLoadError, match="is not a regular file"):
        sl.load_image(tmp_path / "pipe.png")  # before: opened, then "empty (0 bytes)"
    with pytest.raises(sl.ImageNotFoundError, match="No image file at"):
        sl.load_image(tmp_path / ("x" * 300 + ".png"))  # before: OSError "File name too long"
