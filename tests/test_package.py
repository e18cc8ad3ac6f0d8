"""The package as a whole: public API, and no side effects on import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import stylelab as sl


def test_public_api_exists():
    for name in ("load_image", "save_image", "to_pil", "resize", "VGGFeatures", "gram_matrix", "content_loss",
                 "style_loss", "tv_loss", "stylize", "StyleTransferResult", "LAYER_NAMES", "data"):
        assert hasattr(sl, name), name
    for module in ("plotting", "notebook", "widgets", "exercises", "cache", "scales", "measure", "color", "masks"):
        assert getattr(sl, module).__name__ == f"stylelab.{module}"  # loaded on first use


def test_import_has_no_side_effects():
    code = (
        "import matplotlib, torch, sys\n"
        "before = dict(matplotlib.rcParams)\n"
        "state = torch.get_rng_state()\n"
        "import stylelab\n"
        "assert dict(matplotlib.rcParams) == before\n"
        "assert torch.equal(torch.get_rng_state(), state)\n"
        "assert 'matplotlib.pyplot' not in sys.modules and 'ipywidgets' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""


def test_notebook_helpers(monkeypatch, capsys):
    monkeypatch.setenv("STYLELAB_FAST", "1")
    assert sl.notebook.fast_mode() and sl.notebook.choose(full=512, fast=64) == 64
    monkeypatch.setenv("STYLELAB_FAST", "0")
    assert not sl.notebook.fast_mode()
    assert sl.notebook.image_size(full=512, fast=64) == 512
    monkeypatch.setenv("STYLELAB_SIZE", "200")
    monkeypatch.setenv("STYLELAB_STEPS", "7")
    assert sl.notebook.image_size(full=512, fast=64) == 200 and sl.notebook.step_count(300, 10) == 7
    monkeypatch.setenv("STYLELAB_STEPS", "many")
    with pytest.raises(ValueError, match="STYLELAB_STEPS must be a whole number"):
        sl.notebook.step_count(300, 10)
    monkeypatch.delenv("STYLELAB_SIZE")
    monkeypatch.delenv("STYLELAB_STEPS")
    model = sl.notebook.setup(weights="random", device="cpu")
    out = capsys.readouterr().out
    assert "network: untrained VGG-19 (seeded random weights)" in out and "fast mode: off" in out
    assert "Untrained network" in sl.notebook.weights_banner(model)
