r"""Lesson 07's checkers: what a preset's weights mean on a network (its effective balance).

Both exercises are judged by the effective balance :math:`r` of :func:`stylelab.presets.effective_balance`
(the preset's style term at the photo over its content term at the painting, on the network in use),
through a function ``balance(name, **settings) -> r`` for a preset with some of its settings
changed. The lesson passes its own (``balance=balance``: its network and images); without one,
as in the nbgrader course, the checkers measure on the seeded random VGG-19 with the example
photo and painting at :data:`DEFAULT_SIZE` px, which every machine can build without a download.

* ``stronger_preset``: a prediction. The PyTorch tutorial as published, against its weights
  copied into code whose Gram matrix is divided by :math:`H W` only (:data:`COPIED`): which paints
  more strongly? Dividing the Gram matrix by :math:`C` more divides layer :math:`l`'s style
  loss by :math:`N_l^2`, so the copy leans :math:`N_l^2 \ge 4096` times further towards the
  style on any VGG; the checker compares the answer with the two balances it measures.
* ``matching_style_weight``: a conversion. The style weight that gives preset ``source`` the
  balance of preset ``target`` on the network: :math:`\beta_s\, r_t / r_s`, because :math:`r` is
  proportional to the style weight. The checker verifies the numbers, and that ``source``
  with the learner's weight has ``target``'s balance when measured.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Optional, Tuple

from .checking import CheckResult, Fail, call, callable_answer, checker, close, match_mistakes

__all__ = ["CHOICES", "COPIED", "DEFAULT_SIZE", "PAIRS", "check_stronger_preset", "check_matching_style_weight"]

Balance = Callable[..., float]

#: The two settings the prediction compares: the PyTorch tutorial as published (``"tutorial"``)
#: and the same weights with the Gram matrix divided by H W only (``"copied"``: stylelab's
#: ``layer_weighting="paper"`` with the tutorial's equal layer weights).
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
    from .. import data, presets
    from ..vgg import VGGFeatures

    model = VGGFeatures(weights="random", device="cpu")
    photo, painting = data.example("chelsea", DEFAULT_SIZE), data.example("swirls", DEFAULT_SIZE)

    def balance(name: str, **settings: Any) -> float:
        return presets.effective_balance(name, content=photo, style=painting,
                                         **{**presets.on_network(name, model), **settings})

    return balance


class _Measured:
    """Effective balances measured before the learner's code runs (outside every time limit), then looked up.

    ``_Measured(balance, requests)`` measures each ``(name, settings)`` of ``requests`` with
    ``balance`` (or the default one); calling it looks a value up, and measures one it has
    not seen (the learner may ask for other settings). A failure to measure is kept and
    raised inside the checker's body, where it becomes a "checker error" verdict.
    """

    def __init__(self, balance: Optional[Balance], requests: Tuple[Tuple[str, Dict[str, Any]], ...]) -> None:
        self._balance, self._seen, self.error = balance, {}, None
        try:
            for name, settings in requests:
                self(name, **settings)
        except Exception as exc:  # noqa: BLE001 - reported as the checker's own error, never raised here
            self.error = exc

    def __call__(self, name: str, **settings: Any) -> float:
        key = (name, repr(sorted(settings.items())))
        if key not in self._seen:
            measure = self._balance if self._balance is not None else _default_balance()
            self._seen[key] = float(measure(name, **settings))
        return self._seen[key]


def _r(value: float) -> str:
    return f"{value:.3g}"


def check_stronger_preset(stronger: Any, balance: Optional[Balance] = None, *, quiet: bool = False) -> CheckResult:
    """Check a prediction: which paints more strongly, ``"tutorial"``, ``"copied"`` or ``"same"`` (lesson 07)?

    Args:
        stronger: the learner's answer, one of :data:`CHOICES`.
        balance: ``balance(name, **settings) -> r`` on the learner's network (see the module);
            default: the seeded random VGG-19.
        quiet: do not print the verdict.

    Known mistakes: ``not_a_choice``, ``same_number_same_strength``, ``backwards``.
    """
    valid = isinstance(stronger, str) and stronger.strip().lower() in CHOICES
    measured = _Measured(balance, ((PRESET, {}), (PRESET, COPIED)) if valid else ())
    return _check_stronger_preset(stronger, measured, quiet=quiet)


@checker("stronger_preset")
def _check_stronger_preset(stronger: Any, measured: _Measured) -> str:
    if not isinstance(stronger, str) or stronger.strip().lower() not in CHOICES:
        raise Fail("not_a_choice", f"answer with one of the words {', '.join(map(repr, CHOICES))}, as a string; "
                   f"you gave {stronger!r}.")
    if measured.error is not None:
        raise measured.error
    answer = stronger.strip().lower()
    tutorial, copied = measured(PRESET), measured(PRESET, **COPIED)
    right = "copied" if copied > tutorial else "tutorial"
    facts = (f"measured on this network, the tutorial's effective balance is r = {_r(tutorial)} and the copy's "
             f"r = {_r(copied)}, {max(tutorial, copied) / min(tutorial, copied):.3g} times as much")
    if answer == right:
        return (f"{facts}. Dividing the Gram matrix by C H W instead of H W divides each layer's style loss by N_l^2, "
                "so the same style weight means N_l^2 times more style without that division.")
    if answer == "same":
        raise Fail("same_number_same_strength", f"the weights are the same numbers, but not in the same units: {facts}. "
                   "The Gram matrix divided by H W only is C times larger than the tutorial's, and the style loss "
                   "squares it: every layer's style term grows by N_l^2 (64^2 at relu1_1, 256^2 at relu3_1).")
    raise Fail("backwards", f"{facts}: the other way round. Which Gram matrix is larger, F F^T / (C H W) or "
               "F F^T / (H W)? The style loss squares the difference of Gram matrices.")


def check_matching_style_weight(matching_style_weight: Callable[..., Any], balance: Optional[Balance] = None, *,
                                quiet: bool = False) -> CheckResult:
    """Check ``matching_style_weight(source, target, balance) -> style weight`` (lesson 07).

    The answer is the style weight that gives preset ``source`` the effective balance preset
    ``target`` has on the network ``balance`` measures: ``settings(source).style_weight *
    balance(target) / balance(source)``. Checked on each of :data:`PAIRS`, and once more by
    measuring ``balance(source, style_weight=answer)``, which must equal ``balance(target)``.

    Args:
        matching_style_weight: the learner's function.
        balance: ``balance(name, **settings) -> r`` on the learner's network; default: the
            seeded random VGG-19 (see the module).
        quiet: do not print the verdict.

    Known mistakes: ``inverted_ratio``, ``forgot_the_weight``, ``copied_the_number``,
    ``not_divided``, ``other_way_round``, ``returned_the_balance``, ``not_a_number``,
    ``returned_nothing``.
    """
    names = tuple(dict.fromkeys(name for pair in PAIRS for name in pair))
    measured = _Measured(balance, tuple((name, {}) for name in names) if callable(matching_style_weight) else ())
    return _check_matching_style_weight(matching_style_weight, measured, quiet=quiet)


@checker("matching_style_weight")
def _check_matching_style_weight(matching_style_weight: Callable[..., Any], measured: _Measured) -> str:
    from .. import presets

    function = callable_answer(matching_style_weight, "matching_style_weight")
    if measured.error is not None:
        raise measured.error
    for source, target in PAIRS:
        inputs = f"source={source!r}, target={target!r}"
        out = call(function, source, target, measured, what="matching_style_weight", inputs=inputs)
        if out is None:
            raise Fail("returned_nothing", "your matching_style_weight returned None: did you forget the return statement?")
        try:
            weight = float(out)
        except (TypeError, ValueError):
            raise Fail("not_a_number", f"for {inputs} your matching_style_weight returned {out!r}; return the style "
                       "weight, one number.") from None
        beta_s, beta_t = presets.settings(source).style_weight, presets.settings(target).style_weight
        r_s, r_t = measured(source), measured(target)
        expected = beta_s * r_t / r_s
        if close(weight, expected, rtol=1e-3, atol=0.0):
            continue
        fix = (f"The effective balance is proportional to the style weight: {source} has r = {_r(r_s)} with its "
               f"style weight {_r(beta_s)}, so r = {_r(r_t)} needs {_r(beta_s)} x {_r(r_t)} / {_r(r_s)} = {_r(expected)}.")
        match_mistakes(weight, [
            ("returned_the_balance", r_t, f"for {inputs} you returned {target}'s effective balance r = {_r(r_t)}, "
             f"not a style weight. {fix}"),
            ("copied_the_number", beta_t, f"for {inputs} you returned {target}'s own style weight, {_r(beta_t)}; on "
             f"{source}'s conventions the same number weighs differently. {fix}"),
            ("inverted_ratio", beta_s * r_s / r_t, f"for {inputs} you multiplied by r_source / r_target; it is the other "
             f"way round. {fix}"),
            ("forgot_the_weight", r_t / r_s, f"for {inputs} you returned the ratio of the balances, {_r(r_t / r_s)}, "
             f"without {source}'s own style weight. {fix}"),
            ("not_divided", beta_s * r_t, f"for {inputs} you multiplied {source}'s weight by the target's balance but "
             f"did not divide by {source}'s own. {fix}"),
            ("other_way_round", beta_t * r_s / r_t, f"for {inputs} you gave {target} the balance of {source}; the task "
             f"is the reverse. {fix}"),
        ])
        raise Fail("wrong_value", f"for {inputs} your matching_style_weight returned {_r(weight)}. {fix}")
    source, target = PAIRS[0]
    weight = float(call(function, source, target, measured, what="matching_style_weight", inputs="the first pair"))
    achieved, wanted = measured(source, style_weight=weight), measured(target)
    if not close(achieved, wanted, rtol=1e-3, atol=0.0):
        raise Fail("wrong_value", f"with your style weight {_r(weight)}, {source} measures r = {_r(achieved)}, not "
                   f"{target}'s {_r(wanted)}.")
    return (f"on this network {source} with style weight {_r(weight)} (instead of "
            f"{_r(presets.settings(source).style_weight)}) has {target}'s effective balance, r = {_r(wanted)}, "
            "measured; the same held for the other pairs.")
