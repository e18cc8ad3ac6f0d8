"""Lesson 06: check_luminance and check_guided_gram name each common mistake."""

from __future__ import annotations

import pytest
import torch

import stylelab as sl
from stylelab.course import exercises

from .helpers import verdict


LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def luminance_first_image_only(image):
    red, green, blue = image[0, 0], image[0, 1], image[0, 2]  # image[0] loses every other image of a batch
    return (0.299 * red + 0.587 * green + 0.114 * blue)[None, None]


def luminance_in_place(image):
    image *= LUMA  # changes the caller's image
    return image.sum(dim=1, keepdim=True)


@pytest.mark.parametrize("answer, mistake, phrase", [
    (lambda im: im.mean(dim=1, keepdim=True), "plain_average", "plain average of R, G and B"),
    (lambda im: (im * LUMA.flip(1)).sum(dim=1, keepdim=True), "weights_reversed", "not BGR"),
    (lambda im: (im * LUMA).sum(dim=1), "channel_dropped", "keepdim=True"),
    (lambda im: (im * LUMA).sum(dim=1)[0], "channel_dropped", "(1, 1, 5, 7)"),
    (lambda im: (im * LUMA).sum(dim=1, keepdim=True).expand(-1, 3, -1, -1), "grey_rgb", "gray_to_rgb"),
    (lambda im: im * LUMA, "three_channels", "you returned three channels"),
    (lambda im: (im * LUMA).sum(dim=(1, 2), keepdim=True), "wrong_shape", "should have shape (1, 1, 5, 7)"),
    (luminance_first_image_only, "batch_of_one_only", "batch of two"),
    (luminance_in_place, "modifies_input", "in-place"),
    (lambda im: (im * LUMA).sum(dim=1, keepdim=True).numpy(), "not_a_tensor", "not a torch tensor"),
])
def test_luminance_mistakes(answer, mistake, phrase):
    verdict(exercises.check_luminance, answer, mistake, phrase)


def test_luminance_wrong_value_names_the_formula():
    verdict(exercises.check_luminance, lambda im: 0.5 * sl.color.luminance(im), "wrong_value", "0.299 R + 0.587 G")


def test_luminance_accepts_stylelabs_own_function():
    assert exercises.check_luminance(sl.color.luminance, quiet=True).passed


# --------------------------------------------------------------------------- 06 guided_gram


def _masked(features, mask):
    b, c = features.shape[:2]
    return (features * mask).reshape(b, c, -1)


def guided_transposed(features, mask):
    flat = _masked(features, mask)
    return flat.transpose(1, 2) @ flat / (mask ** 2).sum()


def guided_in_place(features, mask):
    features *= mask  # changes the caller's features
    flat = features.flatten(2)
    return flat @ flat.transpose(1, 2) / (mask ** 2).sum()


def guided_detached(features, mask):
    flat = _masked(features.detach(), mask)
    return flat @ flat.transpose(1, 2) / (mask ** 2).sum()


@pytest.mark.parametrize("answer, mistake, phrase", [
    (lambda f, t: _masked(f, t) @ _masked(f, t).transpose(1, 2) / (f.shape[2] * f.shape[3]),
     "normalised_by_positions", "divided by h*w (here 30)"),
    (lambda f, t: _masked(f, t) @ _masked(f, t).transpose(1, 2) / t.sum(), "normalised_by_mask_sum", "squared mask"),
    (lambda f, t: _masked(f, t) @ _masked(f, t).transpose(1, 2), "not_normalised", "not normalised"),
    (lambda f, t: _masked(f, t) @ f.flatten(2).transpose(1, 2) / (t ** 2).sum(), "mask_on_one_factor", "masks both"),
    # two mistakes together: each is named, with its fix
    (lambda f, t: _masked(f, t) @ f.flatten(2).transpose(1, 2) / t.sum(), "mask_on_one_factor+normalised_by_mask_sum",
     "(1) you multiplied only one factor by the mask"),
    (lambda f, t: sl.gram_matrix(f), "mask_ignored+normalised_by_positions", "(2) you divided by h*w"),
    (lambda f, t: sl.masks.guided_gram_matrix(f, t)[0], "batch_dropped", "batch dimension was dropped"),
    (guided_transposed, "transposed_product", "(F*T)^T (F*T)"),
    (lambda f, t: _masked(f, t) / (t ** 2).sum(), "wrong_shape", "should have shape (1, 4, 4)"),
    (guided_in_place, "modifies_input", "in-place"),
    (guided_detached, "no_gradient", "no gradient can flow"),
    (lambda f, t: sl.masks.guided_gram_matrix(f, t).tolist(), "not_a_tensor", ".tolist()"),
])
def test_guided_gram_mistakes(answer, mistake, phrase):
    verdict(exercises.check_guided_gram, answer, mistake, phrase)


def test_guided_gram_wrong_value_names_the_equation():
    verdict(exercises.check_guided_gram, lambda f, t: 2 * sl.masks.guided_gram_matrix(f, t), "wrong_value",
            "(F*T)(F*T)^T / sum(T^2)")


def test_guided_gram_accepts_stylelabs_own_function():
    assert exercises.check_guided_gram(sl.masks.guided_gram_matrix, quiet=True).passed
