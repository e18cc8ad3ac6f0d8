"""Lesson 02: check_content_loss names each common mistake of the content loss."""

from __future__ import annotations

import pytest
import torch

import stylelab as sl
from stylelab.course import exercises

from .helpers import verdict


@pytest.mark.parametrize("answer, mistake, phrase", [
    (lambda g, t: ((g - t) ** 2).sum(), "sum_instead_of_mean", "60 times too big"),
    (lambda g, t: 0.5 * ((g - t) ** 2).sum(), "half_sum", "paper's 1/2"),
    (lambda g, t: (g - t).mean(), "not_squared", "cancel out"),
    (lambda g, t: (g - t).abs().mean(), "absolute_error", "L1"),
    (lambda g, t: ((g - t) ** 2).mean().sqrt(), "square_root", "RMSE"),
    (lambda g, t: (g - t).mean() ** 2, "squared_the_mean", "square first, then take the mean"),
    (lambda g, t: (g - t) ** 2, "not_reduced", "shape (1, 3, 4, 5)"),
    (lambda g, t: ((g - t) ** 2).mean(dim=(2, 3)), "not_reduced", "shape (1, 3)"),
    (lambda g, t: ((g - t) ** 2).mean().item(), "not_a_tensor", ".item()"),
    (lambda g, t: torch.tensor(((g - t) ** 2).mean().item()), "no_gradient", "no gradient can flow"),
])
def test_content_loss_mistakes(answer, mistake, phrase):
    verdict(exercises.check_content_loss, answer, mistake, phrase)


def test_content_loss_in_place_modification_is_named():
    def content_loss(generated, target):
        generated -= target  # changes the caller's tensor
        return (generated ** 2).mean()

    verdict(exercises.check_content_loss, content_loss, "modifies_input", "in-place")


def test_content_loss_forgotten_return():
    def content_loss(generated, target):
        ((generated - target) ** 2).mean()

    verdict(exercises.check_content_loss, content_loss, "returned_nothing", "return statement")


def test_content_loss_wrong_value_shows_the_expected_number():
    given = []

    def content_loss(generated, target):
        given.append((generated.detach().clone(), target.detach().clone()))
        return ((generated - target) ** 2).mean() + 1

    result = verdict(exercises.check_content_loss, content_loss, "wrong_value")
    generated, target = given[0]
    assert f"{float(sl.content_loss(generated, target)):.6g}" in result.message
