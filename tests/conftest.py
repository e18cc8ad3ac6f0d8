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
def content() -> torch.Tensor:
    return sl.data.example("chelsea", size=48)


@pytest.fixture()
def style() -> torch.Tensor:
    return sl.data.example("swirls", size=48)
