"""The command line: a real run, --help, and one clear line for bad arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Tuple

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


# --------------------------------------------------------------------------- options made from the settings' fields


def _settings_of(*options: str, settings_class=None):
    from stylelab.__main__ import build_parser, setting_values, settings_from_args

    argv = ["a.jpg", "b.jpg", "-o", "c.png", *options]
    if settings_class is None:
        return settings_from_args(build_parser().parse_args(argv))
    return settings_class.from_options(**setting_values(build_parser(settings_class).parse_args(argv), settings_class))


def test_help_lists_every_setting_field(capsys):
    import dataclasses

    from stylelab.vgg.network import NetworkSettings

    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    names = [f.name for f in dataclasses.fields(sl.settings.TransferSettings) if f.name != "network"]
    names += [f.name for f in dataclasses.fields(NetworkSettings)]
    assert len(names) == 30
    missing = [name for name in names if f"--{name.replace('_', '-')}" not in text]
    assert not missing


@pytest.mark.parametrize(
    "options, expected",
    [
        # Every option of the README, the module docstring and the tests, as it parsed before.
        (["--size", "512", "--steps", "300"], dict(size=512, steps=300)),
        (["--size", "768", "--steps", "500", "--tv-weight", "1e-3"], dict(size=768, steps=500, tv_weight=1e-3)),
        (["--preserve-color", "luminance"], dict(preserve_color="luminance")),
        (["--style", "x.jpg", "y.jpg", "--blend", "0.7", "0.3"], dict(style_blend=(0.7, 0.3))),
        (["--scales", "256", "512", "1024", "--steps", "300", "100", "50"],
         dict(scales=(256, 512, 1024), steps=(300, 100, 50))),
        (["--optimizer", "adam", "--lr", "50", "--seed", "1"], dict(optimizer="adam", lr=50.0, seed=1)),
        (["--content-weight", "2", "--style-weight", "10", "--init", "noise"],
         dict(content_weight=2.0, style_weight=10.0, init="noise")),
        (["--precision", "bfloat16", "--channels-last", "--pooling", "avg", "--device", "cpu"],
         dict(precision="bfloat16", channels_last=True, pooling="avg", device="cpu")),
        (["--weights", "caffe-vgg16", "--normalize", "no", "--layer-weighting", "paper"],
         dict(weights="caffe-vgg16", normalize=False, layer_weighting="paper")),
        (["--normalize", "yes"], dict(normalize=True)),
        (["--normalize", "auto"], dict(normalize="auto")),
        (["--preset", "neural-style"], dict(preset="neural-style")),
        # Settings that had no option before.
        (["--content-layers", "relu3_2", "--style-layers", "relu1_1", "relu3_1:0.5"],
         dict(content_layers=("relu3_2",), style_layers={"relu1_1": 1.0, "relu3_1": 0.5})),
        (["--no-line-search", "--style-scale", "0.5", "--size", "30", "45"],
         dict(line_search=False, style_scale=0.5, size=(30, 45))),
        (["--tv-power", "1", "--tv-reduction", "sum", "--image-units", "network", "--no-clamp"],
         dict(tv_power=1, tv_reduction="sum", image_units="network", clamp=False)),
        (["--optimizer", "adam", "--adam-betas", "0.5", "0.9", "--adam-eps", "1e-7", "--adam-eps-hat"],
         dict(optimizer="adam", adam_betas=(0.5, 0.9), adam_eps=1e-7, adam_eps_hat=True)),
    ],
)
def test_every_option_parses_to_its_setting(options, expected):
    expected = dict(expected)
    assert _settings_of(*options) == sl.presets.settings(expected.pop("preset", None), **expected)


def test_left_out_options_give_the_api_defaults_size_included():
    assert _settings_of() == sl.settings.TransferSettings()
    assert _settings_of().size is None  # one default size for the API and the command line


def test_a_new_settings_field_appears_on_the_command_line_and_parses(capsys):
    import dataclasses

    from stylelab.__main__ import build_parser

    Extended = dataclasses.make_dataclass(
        "Extended",
        [("halo_radius", float, dataclasses.field(default=0.25, metadata={"help": "blur the halo by this much"})),
         ("halo_layers", Tuple[str, ...], dataclasses.field(default=("relu1_1",), metadata={"help": "where the halo is"}))],
        bases=(sl.settings.TransferSettings,), frozen=True,
    )
    with pytest.raises(SystemExit):
        build_parser(Extended).parse_args(["--help"])
    text = capsys.readouterr().out
    assert "--halo-radius X" in text and "blur the halo by this much (default 0.25)" in text
    chosen = _settings_of("--halo-radius", "1.5", "--halo-layers", "relu2_1", "relu3_1", "--steps", "4",
                          settings_class=Extended)
    assert isinstance(chosen, Extended) and chosen.halo_radius == 1.5 and chosen.steps == 4
    assert chosen.halo_layers == ("relu2_1", "relu3_1")
    assert _settings_of(settings_class=Extended).halo_radius == 0.25  # left out: the field's default


def test_a_malformed_style_layer_weight_is_one_sentence(tmp_path, capsys):
    code = main([str(sl.data.example_path("chelsea")), str(sl.data.example_path("swirls")), "-o",
                 str(tmp_path / "o.png"), "--style-layers", "relu1_1:heavy", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1] == ("error: --style-layers takes NAME or NAME:WEIGHT such as relu3_1:0.5; "
                                     "got 'relu1_1:heavy'.")
