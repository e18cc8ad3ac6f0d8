"""Lesson 06's checkers pass the reference, name each listed mistake, and never raise."""

from __future__ import annotations

import pytest
import torch

import stylelab as sl
from stylelab import control_exercises as ex


def _stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize(
    "fn, expected",
    [
        (sl.color.luminance, ex.PASSED),
        (_stub, ex.NOT_ATTEMPTED),
        (lambda im: im.mean(dim=1, keepdim=True), "plain average of R, G and B"),
        (lambda im: (im * torch.tensor([0.114, 0.587, 0.299]).view(1, 3, 1, 1)).sum(1, keepdim=True), "wrong order"),
        (lambda im: sl.color.luminance(im)[:, 0], "keep the channel dimension"),
        (lambda im: im, "You returned three channels"),
        (lambda im: 0.5 * sl.color.luminance(im), "The values differ"),
        (lambda im: im.numpy(), "it should return a torch tensor"),
        (lambda im: im @ im, "Your function raised RuntimeError"),
    ],
)
def test_check_luminance(fn, expected, capsys):
    verdict = ex.check_luminance(fn)
    assert expected in verdict and verdict in capsys.readouterr().out


def _flat(f, t):
    return (f * t).flatten(2)


@pytest.mark.parametrize(
    "fn, expected",
    [
        (sl.masks.guided_gram_matrix, ex.PASSED),
        (_stub, ex.NOT_ATTEMPTED),
        (lambda f, t: _flat(f, t) @ _flat(f, t).transpose(1, 2) / (f.shape[2] * f.shape[3]), "You divided by h*w"),
        (lambda f, t: _flat(f, t) @ _flat(f, t).transpose(1, 2) / t.sum(), "sum of the *squared* mask"),
        (lambda f, t: _flat(f, t) @ _flat(f, t).transpose(1, 2), "Not normalised"),
        (lambda f, t: _flat(f, t) @ f.flatten(2).transpose(1, 2) / t.pow(2).sum(), "Multiply both factors"),
        (lambda f, t: sl.gram_matrix(f), "That is the plain Gram matrix"),
        (lambda f, t: sl.masks.guided_gram_matrix(f, t)[0], "Keep the batch dimension"),
        (lambda f, t: 2 * sl.masks.guided_gram_matrix(f, t), "The values differ"),
    ],
)
def test_check_guided_gram(fn, expected, capsys):
    verdict = ex.check_guided_gram(fn)
    assert expected in verdict and verdict in capsys.readouterr().out


def test_the_learners_inputs_are_copies():
    def in_place(image):
        image.zero_()
        return sl.color.luminance(image)

    assert "The values differ" in ex.check_luminance(in_place)
