"""The command line: a real run, --help, and one clear line for bad arguments."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import stylelab as sl
from stylelab.__main__ import main

ENV = {**os.environ, "STYLELAB_WEIGHTS": "random"}


def _cat_in_swirls(out, *options: str) -> subprocess.CompletedProcess:
    """``python -m stylelab chelsea swirls -o out OPTIONS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "stylelab", str(sl.data.example_path("chelsea")), str(sl.data.example_path("swirls")),
         "-o", str(out), *options],
        capture_output=True, text=True, env=ENV, timeout=300,
    )


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_cli_writes_an_image_and_reports_falling_loss(tmp_path):
    out = tmp_path / "out.png"
    proc = _cat_in_swirls(out, "--size", "48", "--steps", "8", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    assert sl.load_image(out).shape == (1, 3, 32, 48)
    assert "network untrained VGG-19 (seeded random weights)" in proc.stderr and "Wrote" in proc.stderr
    first, best = (float(x) for x in proc.stderr.split("loss ")[1].split(" in ")[0].split(" -> "))
    assert best < first


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--size", "--steps", "--optimizer", "--content-weight", "--style-weight", "--tv-weight",
                   "--weights", "--seed", "--init", "--pooling", "--download-weights", "STYLELAB_WEIGHTS",
                   "--precision", "--channels-last", "--normalize", "caffe-vgg16", "--layer-weighting"):
        assert option in text, option


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.jpg", "{style}", "-o", "{out}"], "No image file at 'missing.jpg'"),
        (["{content}", "{style}", "-o", "{out}", "--steps", "0"], "steps must be at least 1"),
        (["{content}", "{style}", "-o", "{out}", "--style-weight", "-5"], "style_weight must be a finite number >= 0"),
        (["{content}", "{style}", "-o", "{out}", "--size", "0"], "size must be a positive"),
        (["{content}", "{style}", "-o", "{out}", "--weights", "/no/file.pth"], "is missing"),
        (["{content}", "{style}", "-o", "{out}.xyz", "--steps", "1", "--size", "32"], "end the file name with"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, message, tmp_path, capsys):
    fill = {"content": str(sl.data.example_path("chelsea")), "style": str(sl.data.example_path("swirls")),
            "out": str(tmp_path / "o.png")}
    code = main([a.format(**fill) for a in args] + ["--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: ") and message in err[-1]


def test_missing_positional_arguments(capsys):
    with pytest.raises(SystemExit) as info:
        main(["only_content.jpg"])
    assert info.value.code == 2
    assert "give CONTENT, STYLE and -o OUTPUT" in capsys.readouterr().err


def test_fast_path_from_the_command_line(tmp_path):
    out = tmp_path / "fast.png"
    code = main([str(sl.data.example_path("chelsea")), str(sl.data.example_path("swirls")), "-o", str(out),
                 "--size", "32", "--steps", "3", "--precision", "bfloat16", "--channels-last", "--quiet"])
    assert code == 0 and sl.load_image(out).shape == (1, 3, 21, 32)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_cli_on_the_trained_vgg16_says_which_network_made_the_result(tmp_path, caffe_vgg16):
    proc = _cat_in_swirls(tmp_path / "out.png", "--size", "40", "--steps", "3", "--weights", "caffe-vgg16")
    assert proc.returncode == 0, proc.stderr
    assert "network ImageNet-trained VGG-16 (Caffe weights), normalised" in proc.stderr


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_cli_paper_layer_weighting_changes_the_loss(tmp_path):
    losses = {}
    for weighting in ("channels", "paper"):
        proc = _cat_in_swirls(tmp_path / f"{weighting}.png", "--size", "32", "--steps", "2", "--layer-weighting", weighting)
        assert proc.returncode == 0, proc.stderr
        losses[weighting] = float(proc.stderr.split("loss ")[1].split(" -> ")[0])
    assert losses["paper"] > 100 * losses["channels"]  # without 1/N_l^2 every style layer weighs thousands of times more
