"""Lesson 03: check_gram_matrix and check_style_loss name each common mistake."""

from __future__ import annotations

import math

import pytest
import torch

from stylelab.course import exercises

from .helpers import verdict


def gram_batch_dropped(features):
    b, c, h, w = features.shape
    flat = features.view(c, h * w)
    return flat @ flat.T / (h * w)


def gram_transposed(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat.transpose(1, 2) @ flat / (h * w)


def gram_not_normalised(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2)


def gram_chw(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def gram_channels_last(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, h * w, c)
    return flat.transpose(1, 2) @ flat / (h * w)


def gram_first_image_only(features):
    b, c, h, w = features.shape
    flat = features[0].reshape(c, h * w)
    return (flat @ flat.T / (h * w)).unsqueeze(0)


def gram_in_place(features):
    b, c, h, w = features.shape
    features /= math.sqrt(h * w)
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2)


def gram_numpy(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w).numpy()
    return torch.from_numpy(flat @ flat.transpose(0, 2, 1) / (h * w))


def gram_wrong_shape(features):
    b, c, h, w = features.shape
    return features.reshape(b, c, h * w) / (h * w)


@pytest.mark.parametrize("answer, mistake, phrase", [
    (gram_batch_dropped, "batch_dropped", "batch dimension was dropped"),
    (gram_transposed, "transposed_product", "F^T F"),
    (gram_not_normalised, "not_normalised", "not divided by H*W (here 15)"),
    (gram_chw, "normalised_by_chw", "divided by C*H*W"),
    (gram_channels_last, "channels_last_reshape", "as if channels were last"),
    (gram_first_image_only, "batch_of_one_only", "batch of two"),
    (gram_in_place, "modifies_input", "in-place"),
    (gram_numpy, "no_gradient", "no gradient can flow"),
    (gram_wrong_shape, "wrong_shape", "should have shape (1, 4, 4)"),
])
def test_gram_matrix_mistakes(answer, mistake, phrase):
    verdict(exercises.check_gram_matrix, answer, mistake, phrase)


# --------------------------------------------------------------------------- 03 style_loss


def _gram(features):
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def style_raw_gram(generated_features, target_gram):
    b, c, h, w = generated_features.shape
    flat = generated_features.reshape(b, c, h * w)
    return ((flat @ flat.transpose(1, 2) - target_gram) ** 2).mean()


def style_in_place(generated_features, target_gram):
    target_gram -= _gram(generated_features)
    return (target_gram ** 2).mean()


def style_calls_stub(generated_features, target_gram):
    return ((gram_matrix(generated_features) - target_gram) ** 2).mean()


def gram_matrix(features):  # the learner's unfinished stub, called by style_calls_stub
    raise NotImplementedError


@pytest.mark.parametrize("answer, mistake, phrase", [
    (lambda f, a: ((_gram(f) - a) ** 2).sum(), "sum_instead_of_mean", "4x4 Gram entries"),
    (lambda f, a: ((_gram(f) - a) ** 2).mean() / 4, "paper_quarter", "factor 1/4"),
    (lambda f, a: (_gram(f) - a).mean(), "not_squared", "Square them first"),
    (lambda f, a: (_gram(f) - a).abs().mean(), "absolute_error", "absolute differences"),
    (lambda f, a: ((_gram(f) - a) ** 2).mean().sqrt(), "square_root", "square root"),
    (style_raw_gram, "gram_not_normalised", "check_gram_matrix"),
    (lambda f, a: (_gram(f) - a) ** 2, "not_reduced", "shape (1, 4, 4)"),
    (style_in_place, "modifies_input", "in-place"),
    (style_calls_stub, "unfinished_dependency", "calls gram_matrix"),
    (lambda f, a: float(((_gram(f) - a) ** 2).mean()), "not_a_tensor", "float"),
])
def test_style_loss_mistakes(answer, mistake, phrase):
    verdict(exercises.check_style_loss, answer, mistake, phrase)
