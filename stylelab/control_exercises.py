r"""Checkers for the exercises of lesson 06 (perceptual control).

The learner writes a function in a cell, then calls a checker on it::

    def luminance(image):
        raise NotImplementedError  # your code

    sl.control_exercises.check_luminance(luminance)

A checker runs the function on fixed random inputs, compares it with stylelab's answer
and with the mistakes learners often make, prints one sentence and returns it. It never
raises into the notebook, so an unsolved notebook still runs top to bottom.

Exercises:

* ``luminance(image)``: ``(1, 3, H, W)`` RGB -> ``(1, 1, H, W)``,
  :math:`Y = 0.299R + 0.587G + 0.114B` (:func:`stylelab.color.luminance`);
* ``guided_gram(features, mask)``: :math:`(F \circ T)(F \circ T)^\top / \sum_k T_k^2`
  (:func:`stylelab.masks.guided_gram_matrix`).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import torch

from .color import luminance as _luminance
from .losses import gram_matrix
from .masks import guided_gram_matrix

__all__ = ["check_luminance", "check_guided_gram", "PASSED", "NOT_ATTEMPTED"]

PASSED = "Correct - well done!"
NOT_ATTEMPTED = "Not attempted yet: replace the `raise NotImplementedError` line with your code and run the check again."


def _verdict(message: str) -> str:
    print(message)
    return message


def _call(fn: Callable, *args: torch.Tensor):
    """The learner's output, or a verdict string if calling it went wrong."""
    try:
        out = fn(*(a.clone() for a in args))
    except NotImplementedError:
        return NOT_ATTEMPTED
    except Exception as exc:  # the learner's code may fail in any way
        return f"Your function raised {type(exc).__name__}: {exc}. Check the shapes of the tensors you combine."
    if not isinstance(out, torch.Tensor):
        return f"Your function returned a {type(out).__name__}; it should return a torch tensor."
    return out


def _match(out: torch.Tensor, candidates: List[Tuple[str, torch.Tensor]]) -> str:
    for message, expected in candidates:
        if out.shape == expected.shape and torch.allclose(out.float(), expected, rtol=1e-4, atol=1e-5):
            return message
    return ""


def check_luminance(fn: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """Check ``fn(image (1, 3, H, W)) -> (1, 1, H, W)`` luminance; prints and returns the verdict."""
    image = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(6))
    out = _call(fn, image)
    if isinstance(out, str):
        return _verdict(out)
    right = _luminance(image)
    if out.shape != right.shape:
        if out.shape == (1, 5, 7) or out.shape == (5, 7):
            return _verdict(f"Shape {tuple(out.shape)}: keep the channel dimension, e.g. with keepdim=True; "
                            "the answer is (1, 1, H, W).")
        if out.shape == image.shape:
            return _verdict("You returned three channels; luminance is one channel, shape (1, 1, H, W).")
        return _verdict(f"Shape {tuple(out.shape)} should be {tuple(right.shape)}.")
    weights_bgr = torch.tensor([0.114, 0.587, 0.299]).view(1, 3, 1, 1)
    mistake = _match(out, [
        (PASSED, right),
        ("That is the plain average of R, G and B; luminance weights them 0.299, 0.587 and 0.114 "
         "(the eye is most sensitive to green).", image.mean(dim=1, keepdim=True)),
        ("The weights are in the wrong order (0.114 goes with blue, channel 2, not with red).",
         (image * weights_bgr).sum(dim=1, keepdim=True)),
    ])
    if mistake:
        return _verdict(mistake)
    return _verdict("The values differ from Y = 0.299 R + 0.587 G + 0.114 B; check the weights and the channel order.")


def check_guided_gram(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """Check ``fn(features (1, C, h, w), mask (1, 1, h, w)) -> (1, C, C)``; prints and returns the verdict."""
    generator = torch.Generator().manual_seed(7)
    features = torch.rand(1, 4, 5, 6, generator=generator)
    mask = torch.rand(1, 1, 5, 6, generator=generator)  # soft, so every mistake gives another answer
    out = _call(fn, features, mask)
    if isinstance(out, str):
        return _verdict(out)
    right = guided_gram_matrix(features, mask)
    if out.shape != right.shape:
        if out.shape == right.shape[1:]:
            return _verdict("Keep the batch dimension: the answer is (1, C, C); use torch.bmm or @ on (1, C, h*w).")
        return _verdict(f"Shape {tuple(out.shape)} should be {tuple(right.shape)} (one C x C matrix per image).")
    weighted = (features * mask).reshape(1, 4, -1)
    raw = weighted @ weighted.transpose(1, 2)
    once = (features * mask).reshape(1, 4, -1) @ features.reshape(1, 4, -1).transpose(1, 2)
    candidates: Dict[str, torch.Tensor] = {
        PASSED: right,
        "You divided by h*w, the size of the whole layer; divide by the sum of the squared mask, "
        "so that the result is the Gram matrix of the region alone.": raw / (5 * 6),
        "You divided by the sum of the mask; every position enters the product twice (once per "
        "factor), so divide by the sum of the *squared* mask.": raw / mask.sum(),
        "Not normalised: divide by the sum of the squared mask.": raw,
        "Multiply both factors by the mask, (F*T)(F*T)^T, not just one of them.": once / mask.pow(2).sum(),
        "That is the plain Gram matrix: multiply the features by the mask before the product.": gram_matrix(features),
    }
    mistake = _match(out, list(candidates.items()))
    if mistake:
        return _verdict(mistake)
    return _verdict("The values differ from (F*T)(F*T)^T / sum(T^2); compare your steps with the equation above.")
