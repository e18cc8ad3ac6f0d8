r"""Lesson 07's checkers: what a preset's weights mean on a network (its effective balance).

Both exercises are judged by the effective balance :math:`r` of
:func:`stylelab.engine.presets.effective_balance` (the preset's style term at the photo over its
content term at the painting, on the network in use), measured by the checker through a
function ``balance(name, **settings) -> r`` for a preset with some of its settings changed.
The lesson passes its own (``balance=balance``: its network and images); without one, as in
the nbgrader course, the checkers measure on the seeded random VGG-19 with the example photo
and painting at :data:`DEFAULT_SIZE` px, which every machine builds without a download.
Everything is measured before the learner's answer is read, outside its time limit; a
graded answer is plain arithmetic and calls nothing of stylelab's.

* ``stronger_preset``: a prediction. The PyTorch tutorial as published, against its weights
  copied into code whose Gram matrix is divided by :math:`H W` only (:data:`COPIED`): which
  paints more strongly? Dividing the Gram matrix by :math:`C` more divides layer :math:`l`'s
  style loss by :math:`N_l^2`, so the copy leans :math:`N_l^2 \ge 4096` times further
  towards the style on any VGG; the checker compares the answer with the two balances.
* ``matching_style_weight``: a conversion, ``matching_style_weight(style_weight, r_source,
  r_target)``: the style weight that gives a preset whose weight ``style_weight`` has the
  balance ``r_source`` the balance ``r_target`` instead, :math:`\beta\, r_t / r_s`, because
  :math:`r` is proportional to the style weight. Checked on each of :data:`PAIRS` with their
  measured balances; the first pair's converted weight is measured too.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Dict, Optional, Tuple

from .checking import CheckResult, Fail, call, callable_answer, checker, close, describe, real_values, text_of
from .mistakes import diagnose, right, wrong

__all__ = ["CHOICES", "COPIED", "DEFAULT_SIZE", "PAIRS", "check_stronger_preset", "check_matching_style_weight"]

Balance = Callable[..., float]

#: The preset of the prediction, and the change that makes its "copied" version: the Gram
#: matrix divided by H W only (stylelab's ``layer_weighting="paper"``, here with the
#: tutorial's equal layer weights).
PRESET = "pytorch-tutorial"
COPIED: Dict[str, Any] = {"layer_weighting": "paper"}
#: The answers of the prediction exercise.
CHOICES = ("tutorial", "copied", "same")
#: ``(source, target)`` pairs the conversion is checked on, the lesson's own first.
PAIRS: Tuple[Tuple[str, str], ...] = (("pytorch-tutorial", "gatys"), ("neural-style", "tensorflow-tutorial"),
                                      ("d2l", "stylelab"))
#: The longest side of the photo and painting of the default measurement.
DEFAULT_SIZE = 64


@functools.lru_cache(maxsize=1)
def _default_balance() -> Balance:
    """``balance(name, **settings)`` on the seeded random VGG-19 and the example images (built once)."""
    from ...engine import presets
    from ...imaging import data
    from ...vgg.features import VGGFeatures

    model = VGGFeatures(weights="random", device="cpu")
    photo, painting = data.example("chelsea", DEFAULT_SIZE), data.example("swirls", DEFAULT_SIZE)

    def balance(name: str, **settings: Any) -> float:
        keywords = {**settings, **presets.on_network(name, model, **settings)}
        return presets.effective_balance(name, content=photo, style=painting, **keywords)

    return balance


def _measure(balance: Optional[Balance], requests: Callable[[Balance], Any]) -> Tuple[Any, Optional[BaseException]]:
    """``(requests(balance), None)``, or ``(None, the error)``: a failure to measure becomes the
    checker's own error inside its body, never an exception into the notebook."""
    try:
        return requests(balance if balance is not None else _default_balance()), None
    except Exception as exc:  # noqa: BLE001 - reported as the checker's error
        return None, exc


def _raise_measuring(error: BaseException) -> None:
    """The checker's own error (a new exception, raised here: not the learner's, whoever's balance failed)."""
    raise RuntimeError(f"the effective balances could not be measured ({type(error).__name__}: {text_of(error)})")


def _r(value: float) -> str:
    return f"{value:.3g}"


# --------------------------------------------------------------------------- the prediction


def check_stronger_preset(stronger: Any, balance: Optional[Balance] = None, *, quiet: bool = False) -> CheckResult:
    """Check a prediction: which paints more strongly, ``"tutorial"``, ``"copied"`` or ``"same"`` (lesson 07)?

    Args:
        stronger: the learner's answer, one of :data:`CHOICES`.
        balance: ``balance(name, **settings) -> r`` on the learner's network (see the module);
            default: the seeded random VGG-19.
        quiet: do not print the verdict.

    Known mistakes: ``not_a_choice``, ``same_number_same_strength``, ``backwards``.
    """
    valid = isinstance(stronger, str) and str.lower(str.strip(stronger)) in CHOICES
    measured = _measure(balance, lambda b: (float(b(PRESET)), float(b(PRESET, **COPIED)))) if valid else (None, None)
    return _check_stronger_preset(stronger, measured, quiet=quiet)


@checker("stronger_preset")
def _check_stronger_preset(stronger: Any, measured: Tuple[Any, Optional[BaseException]]) -> str:
    # str's own methods: a str subclass cannot change what the answer says
    if not isinstance(stronger, str) or str.lower(str.strip(stronger)) not in CHOICES:
        raise Fail("not_a_choice", f"answer with one of the words {', '.join(map(repr, CHOICES))}, as a string; "
                   f"you gave {describe(stronger)}.")
    values, error = measured
    if error is not None:
        _raise_measuring(error)
    tutorial, copied = values
    answer = str.lower(str.strip(stronger))
    right_answer = "copied" if copied > tutorial else "tutorial"
    facts = (f"measured on this network, the tutorial's effective balance is r = {_r(tutorial)} and the copy's "
             f"r = {_r(copied)}, {max(tutorial, copied) / min(tutorial, copied):.3g} times as much")
    if answer == right_answer:
        return (f"{facts}. Dividing the Gram matrix by C H W instead of H W divides each layer's style loss by N_l^2, "
                "so the same style weight means N_l^2 times more style without that division.")
    if answer == "same":
        raise Fail("same_number_same_strength", f"the weights are the same numbers, but not in the same units: {facts}. "
                   "The Gram matrix divided by H W only is C times larger than the tutorial's, and the style loss "
                   "squares it: every layer's style term grows by N_l^2 (64^2 at relu1_1, 256^2 at relu3_1).")
    raise Fail("backwards", f"{facts}: the other way round. Which Gram matrix is larger, F F^T / (C H W) or "
               "F F^T / (H W)? The style loss squares the difference of Gram matrices.")


# --------------------------------------------------------------------------- the conversion


def _pair_facts(balance: Balance) -> Dict[str, Any]:
    """Each pair's ``(style weight, r_source, r_target)``, and the first pair's source measured at its converted weight."""
    from ...engine import presets

    facts = [(presets.settings(s).style_weight, float(balance(s)), float(balance(t))) for s, t in PAIRS]
    weight, r_source, r_target = facts[0]
    converted = weight * r_target / r_source
    return {"pairs": facts, "converted": converted, "achieved": float(balance(PAIRS[0][0], style_weight=converted))}


def check_matching_style_weight(matching_style_weight: Callable[..., Any], balance: Optional[Balance] = None, *,
                                quiet: bool = False) -> CheckResult:
    """Check ``matching_style_weight(style_weight, r_source, r_target) -> style weight`` (lesson 07).

    The answer is the style weight that gives a preset whose ``style_weight`` has the
    effective balance ``r_source`` the balance ``r_target``: ``style_weight * r_target /
    r_source``. Called with each of :data:`PAIRS`' weights and balances measured by
    ``balance``; the message reports the first pair's converted weight measured.

    Args:
        matching_style_weight: the learner's function.
        balance: ``balance(name, **settings) -> r`` on the learner's network; default: the
            seeded random VGG-19 (see the module).
        quiet: do not print the verdict.

    Known mistakes: ``inverted_ratio``, ``forgot_the_weight``, ``not_divided`` (and their
    combinations, e.g. ``not_divided+forgot_the_weight`` for ``r_target`` itself),
    ``not_a_number``, ``returned_nothing``, ``wrong_value``.
    """
    measured = _measure(balance, _pair_facts) if callable(matching_style_weight) else (None, None)
    return _check_matching_style_weight(matching_style_weight, measured, quiet=quiet)


def _number(out: Any, inputs: str) -> float:
    """The learner's style weight as a float; fail if it is not one real number."""
    if out is None:
        raise Fail("returned_nothing", "your matching_style_weight returned None: did you forget the return statement?")
    value = None if isinstance(out, (bool, str)) else real_values(out)
    if value is None or value.numel() != 1:
        raise Fail("not_a_number", f"for {inputs} your matching_style_weight returned {describe(out)}; return the "
                   "style weight, one number.")
    return float(value.reshape(()))


@checker("matching_style_weight")
def _check_matching_style_weight(matching_style_weight: Callable[..., Any],
                                 measured: Tuple[Any, Optional[BaseException]]) -> str:
    function = callable_answer(matching_style_weight, "matching_style_weight")
    facts, error = measured
    if error is not None:
        _raise_measuring(error)
    for (source, target), (weight, r_source, r_target) in zip(PAIRS, facts["pairs"]):
        inputs = f"style_weight={weight:g}, r_source={_r(r_source)}, r_target={_r(r_target)} ({source} -> {target})"
        answer = _number(call(function, weight, r_source, r_target, what="matching_style_weight", inputs=inputs), inputs)
        expected = weight * r_target / r_source
        if close(answer, expected, rtol=1e-3, atol=0.0):
            continue
        fix = (f"r is proportional to the style weight, so r = {_r(r_target)} needs {weight:g} x {_r(r_target)} / "
               f"{_r(r_source)} = {_r(expected)}.")
        if math.isfinite(answer):
            diagnose(answer, [
                [right(r_target / r_source),
                 wrong(r_source / r_target, "inverted_ratio", f"for {inputs} you multiplied by r_source / r_target; "
                       f"it is the other way round. {fix}"),
                 wrong(r_target, "not_divided", f"for {inputs} you multiplied by r_target but did not divide by "
                       f"r_source, the balance the weight gives now. {fix}")],
                [right(weight),
                 wrong(1.0, "forgot_the_weight", f"for {inputs} you left out the style weight you convert: the ratio "
                       f"of the balances says how many times larger the new weight is. {fix}")],
            ], lambda ratio, start: start * ratio, same=lambda a, b: close(a, b, rtol=1e-3, atol=0.0))
        raise Fail("wrong_value", f"for {inputs} your matching_style_weight returned {_r(answer)}. {fix}")
    source, target = PAIRS[0]
    weight, _, r_target = facts["pairs"][0]
    return (f"measured: {source} with style weight {_r(facts['converted'])} instead of {weight:g} has r = "
            f"{_r(facts['achieved'])}, {target}'s balance (r = {_r(r_target)}); the other pairs converted as well.")
