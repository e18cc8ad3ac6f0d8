"""Naming the mistakes in a wrong answer, also when several come together.

A checker describes the known mistakes of an exercise as *aspects* of the computation, each
with its right choice and the wrong ones learners make. For the style loss, e.g.:

* the Gram matrix: divided by H*W (right), not divided, divided by C*H*W;
* what is averaged: squared differences (right), plain ones, absolute ones;
* the reduction: the mean (right), the sum, the mean over 4.

:func:`diagnose` computes the answer of every combination of choices, the simplest first (one
wrong choice, then two, ...), and fails naming each wrong choice of the first combination the
learner's value matches: a Gram matrix not divided by H*W *and* a sum in the style loss is
``gram_not_normalised+sum_instead_of_mean``, with both fixes in the message, where matching
one mistake at a time finds neither.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch

from .checking import Fail, TimeUp, close

__all__ = ["Choice", "right", "wrong", "squaring", "diagnose"]

#: The most wrong choices one combination may make (more would explain almost any value).
MOST = 3
_COUNTS = {2: "two", 3: "three"}


@dataclass(frozen=True)
class Choice:
    """One way of doing one aspect of the computation.

    Attributes:
        value: what the checker's ``compute`` function receives for this choice.
        mistake: the mistake's name, or None for the right choice.
        message: what is wrong and how to fix it (a sentence starting in lower case).
    """

    value: Any
    mistake: Optional[str] = None
    message: str = ""


def right(value: Any) -> Choice:
    """The right choice of an aspect."""
    return Choice(value)


def wrong(value: Any, mistake: str, message: str) -> Choice:
    """A known wrong choice of an aspect."""
    return Choice(value, mistake, message)


def squaring(of: str, formula: str) -> List[Choice]:
    """The elementwise step of a mean squared loss: square the differences (right), or the two known mistakes.

    ``of``: whose differences, for the messages (e.g. ``" of the Gram matrices"``); ``formula``: the right
    code, e.g. ``"((G - A) ** 2).mean()"``.
    """
    return [
        right(torch.square),
        wrong(lambda d: d, "not_squared", f"you averaged the plain differences{of}, so positive and negative ones "
              f"cancel out (and the loss can go below zero). Square them first: {formula}."),
        wrong(torch.abs, "absolute_error", f"you averaged the absolute differences{of} (an L1 loss); the loss squares "
              f"them: {formula}."),
    ]


def _combinations(aspects: Sequence[Sequence[Choice]]) -> List[Tuple[Choice, ...]]:
    """Every combination with at least one and at most :data:`MOST` wrong choices, fewest first (stable)."""
    found = [combo for combo in itertools.product(*aspects)
             if 0 < sum(choice.mistake is not None for choice in combo) <= MOST]
    return sorted(found, key=lambda combo: sum(choice.mistake is not None for choice in combo))


def message_for(choices: Sequence[Choice]) -> str:
    """One mistake's message, or each of several, numbered."""
    if len(choices) == 1:
        return choices[0].message
    parts = " ".join(f"({i}) {choice.message}" for i, choice in enumerate(choices, start=1))
    return f"{_COUNTS.get(len(choices), len(choices))} mistakes together: {parts}"


def diagnose(value: Any, aspects: Sequence[Sequence[Choice]], compute: Callable[..., Any],
             same: Callable[[Any, Any], bool] = close) -> None:
    """Fail naming each wrong choice of the simplest combination whose result ``value`` equals.

    Args:
        value: the learner's result.
        aspects: for each aspect, its choices (the right one among them).
        compute: ``compute(*values)`` -> the result of one combination, given each chosen
            :attr:`Choice.value` in the order of ``aspects``. A combination it cannot compute
            (it raises) is skipped.
        same: when a result counts as equal (default :func:`~.checking.close`).

    Returns normally when no combination matches (the checker then says what differs).
    """
    for combo in _combinations(aspects):
        try:
            expected = compute(*(choice.value for choice in combo))
        except TimeUp:
            raise
        except Exception:  # noqa: BLE001 - a combination that makes no sense for these inputs
            continue
        if same(value, expected):
            mistakes = [choice for choice in combo if choice.mistake is not None]
            raise Fail("+".join(choice.mistake for choice in mistakes), message_for(mistakes))
