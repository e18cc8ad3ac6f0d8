"""load_image / save_image / resize / to_pil: every supported source and every bad input."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

import stylelab as sl


def _check_image(t: torch.Tensor, h: int, w: int) -> None:
    assert t.shape == (1, 3, h, w)
    assert t.dtype == torch.float32
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0


# --------------------------------------------------------------------- sources and modes


def test_loads_example_jpeg():
    t = sl.load_image(sl.data.example_path("chelsea"))
    _check_image(t, 300, 451)


def test_grayscale_png_repeats_channels(tmp_path):
    data = np.arange(0, 240, dtype=np.uint8).reshape(12, 20)
    Image.fromarray(data, mode="L").save(tmp_path / "g.png")
    t = sl.load_image(tmp_path / "g.png")
    _check_image(t, 12, 20)
    assert torch.equal(t[0, 0], t[0, 1]) and torch.equal(t[0, 1], t[0, 2])
    assert torch.allclose(t[0, 0], torch.from_numpy(data).float() / 255)


def test_palette_image_expands_to_its_colours(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, :4] = (255, 0, 0)
    rgb[:, 4:] = (0, 0, 255)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(tmp_path / "p.png")
    t = sl.load_image(tmp_path / "p.png")
    assert torch.allclose(t[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(t[0, :, 0, 7], torch.tensor([0.0, 0.0, 1.0]))


def test_palette_transparency_is_composited_on_white(tmp_path):
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 1)
    image.info["transparency"] = 0  # palette index 0 (black) is transparent
    image.save(tmp_path / "pt.png", transparency=0)
    t = sl.load_image(tmp_path / "pt.png")
    assert torch.allclose(t[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))  # opaque red
    assert torch.allclose(t[0, :, 3, 3], torch.ones(3))  # transparent -> white


def test_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0] = 255  # red
    rgba[0, 0, 3] = 255  # opaque
    rgba[0, 1, 3] = 0  # fully transparent
    rgba[0, 2, 3] = 128  # half
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    t = sl.load_image(tmp_path / "a.png")
    assert torch.allclose(t[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(t[0, :, 0, 1], torch.ones(3))
    half = 128 / 255
    assert torch.allclose(t[0, :, 0, 2], torch.tensor([1.0, 1 - half, 1 - half]), atol=1e-6)


def test_la_image_composited_on_white(tmp_path):
    la = np.zeros((2, 2, 2), np.uint8)
    la[..., 1] = 0  # all transparent black
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    assert torch.allclose(sl.load_image(tmp_path / "la.png"), torch.ones(1, 3, 2, 2))


def test_cmyk_jpeg_converted_to_rgb(tmp_path):
    image = Image.new("CMYK", (16, 16), (255, 0, 0, 0))  # pure cyan ink
    image.save(tmp_path / "c.jpg", quality=100)
    t = sl.load_image(tmp_path / "c.jpg")
    _check_image(t, 16, 16)
    r, g, b = t[0, :, 8, 8].tolist()
    assert r < 0.1 and g > 0.9 and b > 0.9


def test_16_bit_png_keeps_precision(tmp_path):
    data = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000 + 7).astype(np.uint16)
    Image.fromarray(data).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    t = sl.load_image(tmp_path / "deep.png")
    expected = torch.from_numpy(data.astype(np.float32) / 65535)
    # 8-bit quantisation would be off by up to 1/510; 16-bit data is exact.
    assert torch.allclose(t[0, 0], expected, atol=1e-6)


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)  # stored wide: 20 rows x 40 columns
    pixels[:, :10] = (255, 0, 0)  # red band at the stored left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=100)
    t = sl.load_image(tmp_path / "phone.jpg")
    _check_image(t, 40, 20)  # shown tall
    assert t[0, 0, 2, 10] > 0.9 and t[0, 0, -3, 10] < 0.2  # left edge rotated to the top
    small = sl.load_image(tmp_path / "phone.jpg", size=(8, 4))
    _check_image(small, 8, 4)


def test_float_and_integer_numpy_arrays():
    gray = np.linspace(0, 1, 12, dtype=np.float64).reshape(3, 4)
    t = sl.load_image(gray)
    _check_image(t, 3, 4)
    assert torch.allclose(t[0, 1], torch.from_numpy(gray).float())
    rgb16 = np.full((2, 2, 3), 65535, np.uint16)
    assert torch.allclose(sl.load_image(rgb16), torch.ones(1, 3, 2, 2))
    as_int = np.full((2, 2, 3), 255, np.int64)
    assert torch.allclose(sl.load_image(as_int), torch.ones(1, 3, 2, 2))
    rgba = np.zeros((2, 2, 4), np.float32)  # transparent -> white
    assert torch.allclose(sl.load_image(rgba), torch.ones(1, 3, 2, 2))


def test_tensor_layouts_and_no_aliasing():
    base = torch.rand(3, 5, 6)
    for source in (base, base[None], base[:1, :, :].expand(1, 5, 6)[0], (base * 255).to(torch.uint8)):
        t = sl.load_image(source)
        assert t.shape[-2:] == (5, 6) and t.shape[:2] == (1, 3)
    t = sl.load_image(base)
    t.zero_()
    assert base.abs().sum() > 0  # the input was not modified through the result


def test_pil_image_source():
    t = sl.load_image(Image.new("RGB", (7, 3), (0, 255, 0)))
    _check_image(t, 3, 7)
    assert torch.allclose(t[0, 1], torch.ones(3, 7))


# --------------------------------------------------------------------- resizing


def test_size_int_sets_longest_side_and_pair_is_exact():
    path = sl.data.example_path("coffee")  # 512 x 341
    _check_image(sl.load_image(path, 128), 85, 128)
    _check_image(sl.load_image(path, (50, 60)), 50, 60)
    assert sl.resize(torch.rand(1, 3, 10, 20), 5).shape == (1, 3, 2, 5)


@pytest.mark.parametrize("size", [0, -3, 1.5, "big", (10,), (10, 0), True])
def test_bad_size_values(size):
    with pytest.raises(sl.ImageLoadError, match="size"):
        sl.load_image(torch.rand(3, 8, 8), size)


# --------------------------------------------------------------------- bad input


def test_missing_path():
    with pytest.raises(FileNotFoundError, match="No image file"):
        sl.load_image("/no/such/picture.jpg")
    with pytest.raises(sl.ImageNotFoundError):
        sl.load_image("/no/such/picture.jpg")


def test_directory(tmp_path):
    with pytest.raises(sl.ImageLoadError, match="is a folder"):
        sl.load_image(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(sl.ImageLoadError, match="empty"):
        sl.load_image(tmp_path / "empty.png")


def test_text_file_named_jpg(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a picture\n")
    with pytest.raises(ValueError, match="not an image"):
        sl.load_image(tmp_path / "notes.jpg")


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_files(tmp_path, suffix):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / f"full{suffix}")
    data = (tmp_path / f"full{suffix}").read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(sl.ImageLoadError, match="damaged or truncated"):
        sl.load_image(tmp_path / f"cut{suffix}")


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused(tmp_path):
    (tmp_path / "bomb.png").write_bytes(_png_header_only(100_000, 100_000))
    with pytest.raises(sl.ImageLoadError, match="decompression bomb"):
        sl.load_image(tmp_path / "bomb.png")
    Image.new("RGB", (100, 100)).save(tmp_path / "ok.png")
    with pytest.raises(sl.ImageLoadError, match="megapixel safety limit"):
        sl.load_image(tmp_path / "ok.png", max_pixels=5000)


def test_wrong_shapes_and_values():
    with pytest.raises(sl.ImageLoadError, match="moveaxis"):
        sl.load_image(np.zeros((3, 16, 16), np.float32))
    with pytest.raises(sl.ImageLoadError, match="batch of 2"):
        sl.load_image(torch.rand(2, 3, 8, 8))
    with pytest.raises(sl.ImageLoadError, match=r"\(C, H, W\)"):
        sl.load_image(torch.rand(8, 8, 3))
    with pytest.raises(sl.ImageLoadError, match="NaN"):
        sl.load_image(torch.full((3, 4, 4), float("nan")))
    with pytest.raises(sl.ImageLoadError, match="divide by 255"):
        sl.load_image(np.full((4, 4, 3), 200.0))
    with pytest.raises(sl.ImageLoadError, match="ambiguous"):
        sl.load_image(np.full((4, 4), 1000, np.int32))
    with pytest.raises(sl.ImageLoadError, match="cannot read a list"):
        sl.load_image([[0, 1], [1, 0]])


# --------------------------------------------------------------------- saving


def test_save_roundtrip_png(tmp_path):
    image = torch.rand(1, 3, 9, 11)
    path = sl.save_image(image, tmp_path / "deep" / "folder" / "x.png")
    back = sl.load_image(path)
    assert torch.allclose(back, image, atol=0.5 / 255 + 1e-6)


def test_save_jpeg_and_bad_extension(tmp_path):
    sl.save_image(torch.rand(3, 8, 8), tmp_path / "x.jpg")
    assert Image.open(tmp_path / "x.jpg").format == "JPEG"
    with pytest.raises(sl.OutputPathError, match="end the file name with"):
        sl.save_image(torch.rand(3, 8, 8), tmp_path / "x.unknown")


def test_to_pil_clamps_and_rejects_nan():
    pil = sl.to_pil(torch.full((1, 3, 2, 2), 2.0))
    assert pil.mode == "RGB" and pil.getpixel((0, 0)) == (255, 255, 255)
    with pytest.raises(sl.ImageLoadError, match="NaN"):
        sl.to_pil(torch.full((1, 3, 2, 2), float("nan")))


# --------------------------------------------------------------------------- shuffle_patches


def test_shuffle_patches_permutes_whole_tiles():
    image = torch.rand(1, 3, 32, 48)
    shuffled = sl.shuffle_patches(image, 16, seed=3)
    assert shuffled.shape == image.shape and not torch.equal(shuffled, image)
    tiles = {image[..., r:r + 16, c:c + 16].flatten().numpy().tobytes() for r in (0, 16) for c in (0, 16, 32)}
    moved = {shuffled[..., r:r + 16, c:c + 16].flatten().numpy().tobytes() for r in (0, 16) for c in (0, 16, 32)}
    assert tiles == moved  # the same six tiles, in another order
    assert torch.equal(shuffled, sl.shuffle_patches(image, 16, seed=3))
    assert not torch.equal(shuffled, sl.shuffle_patches(image, 16, seed=4))


def test_shuffle_patches_keeps_the_leftover_strip_and_the_pixels():
    image = torch.rand(2, 3, 20, 30)
    shuffled = sl.shuffle_patches(image, 8)
    assert torch.equal(shuffled[..., 16:, :], image[..., 16:, :])  # 20 = 2 * 8 + 4
    assert torch.equal(shuffled[..., :, 24:], image[..., :, 24:])  # 30 = 3 * 8 + 6
    assert torch.equal(shuffled.flatten(2).sort().values, image.flatten(2).sort().values)


def test_shuffle_patches_never_returns_the_input_unchanged():
    image = torch.arange(2 * 4, dtype=torch.float32).reshape(1, 1, 2, 4)
    for seed in range(20):  # two tiles: half the draws are the identity, which is drawn again
        assert not torch.equal(sl.shuffle_patches(image, 2, seed=seed), image)
    single = torch.rand(1, 3, 4, 6)
    assert torch.equal(sl.shuffle_patches(single, 4), single)  # one tile fits: nothing can move


def test_shuffle_patches_moves_every_tile():
    # Tiles numbered by their position: a tile still in place would show its own number there.
    for rows, cols in ((2, 2), (3, 3), (1, 5)):
        numbers = torch.arange(rows * cols, dtype=torch.float32).reshape(1, 1, rows, cols)
        image = numbers.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)
        for seed in range(10):
            shuffled = sl.shuffle_patches(image, 4, seed=seed)[0, 0, ::4, ::4]
            assert not (shuffled == numbers[0, 0]).any(), (rows, cols, seed)
            assert sorted(shuffled.flatten().tolist()) == sorted(numbers.flatten().tolist())


def test_shuffle_patches_bad_input():
    with pytest.raises(ValueError, match="patch must be a whole number of pixels between 1 and 8"):
        sl.shuffle_patches(torch.rand(1, 3, 8, 10), 9)
    with pytest.raises(ValueError, match="patch must be"):
        sl.shuffle_patches(torch.rand(1, 3, 8, 10), 2.5)
    with pytest.raises(sl.ImageLoadError, match=r"expects a \(B, C, H, W\) tensor"):
        sl.shuffle_patches(torch.rand(3, 8, 8), 2)
