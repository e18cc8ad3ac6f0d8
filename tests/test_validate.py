"""Bad settings fail early with one sentence naming the parameter (issue 12), in stylelab.validate."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch

import stylelab as sl
from stylelab import validate




@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"content_layers": None}, "content_layers must be a layer name or a list"),
        ({"style_layers": 3}, "style_layers must be a layer name or a list"),
        ({"seed": "abc", "init": "noise"}, "seed must be a whole number"),
        ({"seed": -1}, "seed must be a whole number"),
        ({"style_blend": 0.5}, "style_blend must be a list with one weight per style image"),
        ({"scales": "64"}, "scales must be a list of image sizes"),
        ({"style_scale": 1e-6}, "style_scale=1e-06 makes the style images less than 1 pixel"),
        ({"content_weight": 0, "style_weight": 0}, "Every term of the loss is switched off"),
        ({"style_layers": {"relu1_1": 0}, "content_weight": 0}, "Every term of the loss is switched off"),
        ({"optimizer": 3}, "optimizer must be 'lbfgs' or 'adam'"),
        ({"init": 7}, "init must be 'content', 'noise', 'style' or an image"),
        ({"callback": "print"}, "callback must be a function"),
        ({"model": "vgg19"}, "model must be a stylelab.VGGFeatures"),
        ({"tv_weight": True}, "tv_weight must be a number"),
        ({"steps": np.float64(2.5)}, "steps must be a positive whole number"),
    ],
)
def test_wrong_settings_name_the_parameter(content, style, model, kwargs, message, small_run):
    # Before issue 12: TypeError/ValueError from deep inside (e.g. "'NoneType' object is not
    # iterable", "invalid literal for int()", autograd's "does not require grad").
    if kwargs.get("model") == "vgg19":
        kwargs = dict(kwargs)
        with pytest.raises(sl.ParameterError, match=message) as info:
            sl.stylize(content, style, progress=False, steps=1, **kwargs)
    else:
        with pytest.raises(sl.ParameterError, match=message) as info:
            small_run(content, style, **kwargs)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_numpy_integers_are_accepted_like_ints(content, style, model, small_run):
    result = small_run(content, style, steps=np.int64(2), seed=np.int64(3), init="noise",
                  scales=[np.int16(24), np.int64(32)])
    assert result.evaluations <= 4 and result.image.shape[-1] == 32
    assert small_run(content, style, steps=np.int32(1), size=np.int32(24)).image.shape[-1] == 24


def test_init_takes_any_image_source(content, style, model, small_run):
    array = content[0].permute(1, 2, 0).numpy()
    from_array = small_run(content, style, init=array, steps=1)
    from_tensor = small_run(content, style, init=content, steps=1)
    from_pil = small_run(content, style, init=sl.to_pil(content), steps=1)
    assert torch.allclose(from_array.image, from_tensor.image)
    assert from_pil.image.shape == from_tensor.image.shape


def test_a_1x1_image_loads_with_standard_strides_and_runs(model):
    one = sl.load_image(np.zeros((1, 1, 3), dtype=np.uint8))
    assert one.stride() == (3, 1, 1, 1)
    result = sl.stylize(one, one, model=model, steps=2, progress=False, content_layers="relu1_1",
                        style_layers=["relu1_1"])
    assert result.image.shape == (1, 3, 1, 1)
    with pytest.raises(sl.ParameterError, match="tv_weight needs an image of at least 2x2"):
        sl.stylize(one, one, model=model, steps=1, progress=False, content_layers="relu1_1",
                   style_layers=["relu1_1"], tv_weight=1)


# --------------------------------------------------------------------------- memory


def test_sizes_that_cannot_fit_are_refused_before_allocating(content, style, model, monkeypatch, small_run):
    monkeypatch.setenv("STYLELAB_MEMORY_LIMIT", "4GiB")
    with pytest.raises(sl.MemoryLimitError, match=r"needs about .* GiB of memory, above the limit of 4.0 GiB") as info:
        small_run(content, style, size=100000)  # 100000 x 66667: about 22 TiB
    assert "STYLELAB_MEMORY_LIMIT" in str(info.value) and isinstance(info.value, MemoryError)
    monkeypatch.setenv("STYLELAB_MEMORY_LIMIT", "64MiB")
    with pytest.raises(sl.MemoryLimitError, match="largest image"):
        small_run(str(sl.data.example_path("chelsea")), str(sl.data.example_path("swirls")), model, size=64,
             style_scale=100)
    monkeypatch.setenv("STYLELAB_MEMORY_LIMIT", "off")
    assert small_run(content, style, size=32, steps=1).image.shape[-1] == 32


def test_the_memory_limit_is_configurable():
    assert validate.memory_limit(environ={"STYLELAB_MEMORY_LIMIT": "512MiB"}) == 512 * 2**20
    assert validate.memory_limit(environ={"STYLELAB_MEMORY_LIMIT": "2 GB"}) == 2 * 10**9
    assert validate.memory_limit(environ={"STYLELAB_MEMORY_LIMIT": "300"}) == 300 * 2**20
    assert validate.memory_limit(environ={"STYLELAB_MEMORY_LIMIT": "off"}) is None
    assert validate.memory_limit(environ={}) is None or validate.memory_limit(environ={}) > 2**26
    with pytest.raises(sl.ParameterError, match="is not a memory size"):
        validate.memory_limit(environ={"STYLELAB_MEMORY_LIMIT": "lots"})
    assert validate.check_memory((100, 100), [(50, 50)], limit=None) == validate.memory_estimate((100, 100), [(50, 50)])
    with pytest.raises(sl.MemoryLimitError):
        validate.check_memory((1000, 1000), limit=2**20)


def test_load_image_refuses_a_size_above_its_pixel_limit():
    with pytest.raises(sl.ImageLoadError, match=r"size=100000 asks for a \d+x100000 image"):
        sl.load_image(str(sl.data.example_path("chelsea")), 100000)
    with pytest.raises(sl.ImageLoadError, match="above the 0-megapixel limit|megapixel limit"):
        sl.load_image(np.zeros((4, 4, 3), np.uint8), (1000, 1000), max_pixels=1000)


# --------------------------------------------------------------------------- images and files


def test_a_url_is_named_as_a_url_not_mangled():
    with pytest.raises(sl.ImageLoadError, match=r"'https://example.com/cat.jpg' is a URL.*download it first"):
        sl.load_image("https://example.com/cat.jpg")


def _png_rgb16(path, array):
    """Write ``array`` (H, W, 3) uint16 as a 16-bit RGB PNG, with the Paeth filter on row 1."""
    height, width, _ = array.shape
    big = array.astype(">u2")
    rows = [b"\x00" + big[0].tobytes()]
    for y in range(1, height):  # "Up" filter (2): each byte minus the byte above
        above = np.frombuffer(big[y - 1].tobytes(), np.uint8)
        here = np.frombuffer(big[y].tobytes(), np.uint8)
        rows.append(b"\x02" + ((here.astype(int) - above) % 256).astype(np.uint8).tobytes())

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
                     + chunk(b"IEND", b""))
    return path


def test_a_16_bit_rgb_png_keeps_its_full_precision(tmp_path):
    # Before issue 12 Pillow's 8-bit decode was used: 257 and 300 both became 1/255.
    rng = np.random.default_rng(0)
    array = rng.integers(0, 65536, size=(5, 7, 3)).astype(np.uint16)
    array[0, 0] = (257, 300, 65535)
    path = _png_rgb16(tmp_path / "deep.png", array)
    loaded = sl.load_image(path)
    assert torch.equal((loaded[0].permute(1, 2, 0) * 65535).round().to(torch.int64),
                       torch.from_numpy(array.astype(np.int64)))
    assert sl.load_image(path.read_bytes()).shape == (1, 3, 5, 7)
    assert sl.load_image(path, 3).shape == (1, 3, 2, 3)


def test_an_integer_weights_file_is_refused_when_loaded(tmp_path):
    state = sl.weights.random_weights()
    state = {k: (v * 100).to(torch.int64) for k, v in state.items()}
    path = tmp_path / "int.pth"
    torch.save(state, path)
    with pytest.raises(sl.WeightsFileError, match="not as floating-point numbers"):
        sl.VGGFeatures(weights=str(path))


def test_choices_are_refused_before_any_work_with_the_allowed_values_named(content, style, model):
    with pytest.raises(sl.ParameterError, match=r"normalize must be None, True, False or 'auto'; got 'yes'"):
        sl.stylize(content, style, model=model, steps=1, progress=False, normalize="yes")
    with pytest.raises(sl.ParameterError, match=r"normalize=True but the model given is not normalised"):
        sl.stylize(content, style, model=model, steps=1, progress=False, normalize=True)
    with pytest.raises(ValueError, match="normalize must be True, False or 'auto'"):
        sl.VGGFeatures(weights="/nonexistent/weights.pth", normalize=1.5)  # refused before reading any file


# --------------------------------------------------------------------------- every number finite and in range (issue 20)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": 1e300}, "lr must be at most 1000; got 1e+300 (pixels live in [0, 1]"),
        ({"lr": 1e39, "optimizer": "adam"}, "lr must be at most 1000; got 1e+39"),
        ({"lr": -1.0}, "lr must be greater than 0; got -1.0."),
        ({"lr": 10**400}, "lr must be a finite number > 0; got 10000000000000000000...0000000000."),
        ({"style_scale": 1e300}, "style_scale must be at most 100; got 1e+300"),
        ({"style_scale": np.float64("inf")}, "style_scale must be a finite number > 0; got np.float64(inf)."),
        ({"style_weight": 1e39}, "style_weight must be at most 3.40282e+38; got 1e+39 (above that, float32"),
        ({"content_weight": 1e300}, "content_weight must be at most 3.40282e+38"),
        ({"tv_weight": np.float64(1e308)}, "tv_weight must be at most 3.40282e+38"),
        ({"style_layers": {"relu1_1": 1e39}}, "the weight of style layer relu1_1 must be at most 3.40282e+38"),
        ({"style_blend": [1e308]}, "every style_blend weight must be at most 3.40282e+38"),
    ],
)
def test_every_number_is_finite_and_in_its_range(kwargs, message):
    # Before issue 20: "RuntimeError: value cannot be converted to type float without overflow" from inside
    # the optimiser (lr), an OverflowError (style_scale), and a weight of 1e39 turned infinite in float32.
    with pytest.raises(sl.ParameterError) as info:
        sl.settings.TransferSettings.from_options(**kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow  # two runs
def test_the_largest_values_in_range_still_run(content, style, small_run):
    assert small_run(content, style, lr=validate.MAX_LR, steps=2).status in ("completed", "no_progress")
    assert small_run(content, style, style_weight=validate.FLOAT32_MAX, steps=2).image.isfinite().all()


@pytest.mark.parametrize("argument", [["--lr", "1e300"], ["--lr", "1e39"], ["--content-weight", "1e300"],
                                      ["--style-weight", "1e39"], ["--lr", "inf"]])
def test_the_command_line_refuses_them_in_one_line(tmp_path, capsys, argument):
    from stylelab.__main__ import main

    photo = sl.data.example_path("chelsea")
    code = main([str(photo), str(sl.data.example_path("swirls")), "-o", str(tmp_path / "out.png"), "--quiet",
                 "--weights", "random", "--size", "16", "--steps", "1", *argument])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "must be" in err[0]
    assert not (tmp_path / "out.png").exists()
