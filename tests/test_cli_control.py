"""The command line's perceptual controls: --style/--blend, --mask, --preserve-color, --scales."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

import stylelab as sl
from stylelab.__main__ import main

CONTENT = str(sl.data.example_path("chelsea"))
SWIRLS = str(sl.data.example_path("swirls"))
MOSAIC = str(sl.data.example_path("mosaic"))


def _left_mask(path, height, width):
    array = np.zeros((height, width), dtype=np.uint8)
    array[:, : width // 2] = 255
    Image.fromarray(array).save(path)
    return str(path)


def test_help_lists_the_control_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--style", "--blend", "--mask", "--preserve-color", "luminance", "histogram", "--scales", "rest"):
        assert option in text, option


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_every_control_from_the_command_line(tmp_path, capsys):
    full = sl.load_image(CONTENT)
    mask = _left_mask(tmp_path / "mask.png", *full.shape[-2:])  # full resolution: resized to --size
    runs = {
        "blend": ["--style", SWIRLS, MOSAIC, "--blend", "0.7", "0.3", "--size", "32", "--steps", "2"],
        "mask": ["--style", SWIRLS, MOSAIC, "--mask", mask, "rest", "--size", "32", "--steps", "2"],
        "keep": [SWIRLS, "--mask", mask, "--size", "32", "--steps", "2"],
        "luminance": [SWIRLS, "--preserve-color", "luminance", "--size", "32", "--steps", "2"],
        "histogram": [SWIRLS, "--preserve-color", "histogram", "--size", "32", "--steps", "2"],
        "scales": [SWIRLS, "--scales", "24", "48", "--steps", "2", "1"],
    }
    for name, extra in runs.items():
        out = tmp_path / f"out-{name}.png"  # not mask.png: that is an input, and inputs are never overwritten
        code = main([CONTENT, *extra, "-o", str(out), "--quiet", "--weights", "random"])
        err = capsys.readouterr().err
        assert code == 0, (name, err)
        expected = (1, 3, 32, 48) if name == "scales" else (1, 3, 21, 32)
        assert sl.load_image(out).shape == expected, name
        assert "Wrote" in err
    luminance = sl.load_image(tmp_path / "out-luminance.png")
    content = sl.load_image(CONTENT, 32)
    chroma = (sl.color.rgb_to_yiq(luminance)[:, 1:] - sl.color.rgb_to_yiq(content)[:, 1:]).abs().mean()
    assert chroma < 0.01  # 8-bit PNG rounding aside, the photo's colours


@pytest.mark.parametrize(
    "args, message",
    [
        (["--style", SWIRLS, MOSAIC, "--blend", "1"], "style_blend has 1 weights for 2 style images"),
        (["--style", SWIRLS, MOSAIC, "--blend", "1", "-1"], "every style_blend weight must be a finite number >= 0"),
        ([SWIRLS, "--scales", "48", "24"], "scales must increase from coarse to fine"),
        ([SWIRLS, "--scales", "24", "48", "--size", "32"], "The last scale (48) must be the output size"),
        ([SWIRLS, "--steps", "2", "3"], "steps has 2 entries for 1 scale; give one number, or one per scale"),
        (["--style", SWIRLS, MOSAIC, "--mask", "{mask}"], "1 mask(s) for 2 style image(s)"),
        ([SWIRLS, "--mask", "{small}"], "mask 1 is 10x10 pixels but the content image is 21x32"),
        ([SWIRLS, "--mask", "/no/mask.png"], "Could not read mask 1"),
    ],
)
def test_bad_control_arguments_exit_2_with_one_line(args, message, tmp_path, capsys):
    full = sl.load_image(CONTENT)
    fill = {"mask": _left_mask(tmp_path / "m.png", *full.shape[-2:]), "small": _left_mask(tmp_path / "s.png", 10, 10)}
    argv = [CONTENT, *[a.format(**fill) for a in args], "-o", str(tmp_path / "o.png"), "--quiet", "--weights", "random"]
    if "--size" not in argv and "--scales" not in argv:
        argv += ["--size", "32"]
    code = main(argv + ["--steps", "1"] if "--steps" not in argv else argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: ") and message in err[-1]


def test_argparse_rejects_unknown_colour_mode_and_double_style(capsys):
    with pytest.raises(SystemExit) as info:
        main([CONTENT, SWIRLS, "-o", "x.png", "--preserve-color", "sepia"])
    assert info.value.code == 2
    assert "invalid choice: 'sepia'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main([CONTENT, SWIRLS, "--style", MOSAIC, "-o", "x.png"])
    assert info.value.code == 2
    assert "either as STYLE or with --style, not both" in capsys.readouterr().err
