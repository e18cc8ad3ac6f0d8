"""Lesson 07's checkers: the prediction and the conversion, judged by effective balances.

Most tests give the checkers a made-up ``balance`` (the effective balance is proportional to
the style weight, as the real one is), so every mistake can be named without a network; the
slow ones measure on the seeded random VGG-19, as the nbgrader course does.
"""

from __future__ import annotations

import pytest

from stylelab.course import exercises
from stylelab.engine import presets
from stylelab.course.exercises import lesson07

from .helpers import SOLUTIONS, load_solution, verdict

#: r of each preset at its own style weight, made up; the "copied" Gram convention is 1e4 times stronger.
FACTORS = {"pytorch-tutorial": 31.0, "tensorflow-tutorial": 6e-7, "d2l": 2.3, "neural-style": 3e-3, "gatys": 19.0,
           "stylelab": 150.0}


def made_up(name, **settings):
    """A balance proportional to the style weight, like presets.effective_balance."""
    weight = settings.get("style_weight", presets.settings(name).style_weight)
    copied = 1e4 if settings.get("layer_weighting") == "paper" else 1.0
    return FACTORS[name] * copied * weight / presets.settings(name).style_weight


def check_stronger(answer):
    return exercises.check_stronger_preset(answer, balance=made_up, quiet=True)


def check_matching(answer):
    return exercises.check_matching_style_weight(answer, balance=made_up, quiet=True)


def test_the_prediction_is_judged_by_the_measured_balances():
    assert check_stronger("copied").passed and check_stronger(" Copied ").passed
    result = check_stronger("copied")
    assert "r = 31" in result.message and "r = 3.1e+05" in result.message


@pytest.mark.parametrize("answer, mistake, phrase", [
    ("same", "same_number_same_strength", "N_l^2"),
    ("tutorial", "backwards", "other way round"),
    ("stronger", "not_a_choice", "'tutorial', 'copied', 'same'"),
    (3, "not_a_choice", "you gave 3"),
])
def test_prediction_mistakes(answer, mistake, phrase):
    verdict(lambda a, quiet: check_stronger(a), answer, mistake, phrase)


def test_a_prediction_follows_the_network_it_is_told_about():
    # Were the tutorial the stronger one on some network, "tutorial" would be the right answer there.
    def reversed_balance(name, **settings):
        return 1.0 / made_up(name, **settings)

    assert exercises.check_stronger_preset("tutorial", balance=reversed_balance, quiet=True).passed
    assert not exercises.check_stronger_preset("copied", balance=reversed_balance, quiet=True).passed


def test_the_reference_conversion_passes_and_reports_the_measured_weight():
    answer = load_solution("matching_style_weight.py")["matching_style_weight"]
    result = check_matching(answer)
    assert result.passed, result.message
    expected = 1e6 * FACTORS["gatys"] / FACTORS["pytorch-tutorial"]
    assert f"style weight {expected:.3g} instead of 1e+06 has r = {FACTORS['gatys']:.3g}" in result.message


@pytest.mark.parametrize("answer, mistake", [
    (lambda w, rs, rt: w * rs / rt, "inverted_ratio"),
    (lambda w, rs, rt: rt / rs, "forgot_the_weight"),
    (lambda w, rs, rt: w * rt, "not_divided"),
    (lambda w, rs, rt: rt, "not_divided+forgot_the_weight"),
    (lambda w, rs, rt: rs / rt, "inverted_ratio+forgot_the_weight"),
    (lambda w, rs, rt: 2 * w * rt / rs, "wrong_value"),
    (lambda w, rs, rt: float("nan"), "wrong_value"),
    (lambda w, rs, rt: "1e5", "not_a_number"),
    (lambda w, rs, rt: [w, rt], "not_a_number"),
    (lambda w, rs, rt: True, "not_a_number"),
    (lambda w, rs, rt: None, "returned_nothing"),
])
def test_conversion_mistakes(answer, mistake):
    verdict(lambda a, quiet: check_matching(a), answer, mistake)


def test_a_tensor_or_numpy_number_is_a_number():
    import numpy as np
    import torch

    assert check_matching(lambda w, rs, rt: torch.tensor(w * rt / rs)).passed
    assert check_matching(lambda w, rs, rt: np.float32(w) * np.float32(rt / rs)).passed


def test_a_conversion_right_only_for_the_lessons_pair_is_caught():
    def only_first_pair(style_weight, r_source, r_target):
        return style_weight * r_target / r_source if style_weight == 1e6 else style_weight

    result = verdict(lambda a, quiet: check_matching(a), only_first_pair, "wrong_value", "neural-style")
    assert "tensorflow-tutorial" in result.message


def test_the_stubs_are_not_attempted():
    def matching_style_weight(style_weight, r_source, r_target):
        raise NotImplementedError  # replace this line with your code

    assert check_matching(matching_style_weight).status == "not attempted"
    assert check_stronger(...).status == "not attempted"


def test_a_balance_that_cannot_be_measured_is_the_checkers_error_not_the_learners():
    def broken(name, **settings):
        raise RuntimeError("no network")

    result = exercises.check_stronger_preset("copied", balance=broken, quiet=True)
    assert result.status == "checker error" and "no network" in result.message


@pytest.mark.slow  # builds the seeded random VGG-19 and measures effective balances on it
def test_on_the_default_network_the_copy_is_stronger_by_at_least_the_smallest_n_squared():
    assert exercises.check("stronger_preset", "copied", quiet=True).passed
    measure = lesson07._default_balance()
    tutorial, copied = measure("pytorch-tutorial"), measure("pytorch-tutorial", **lesson07.COPIED)
    assert copied / tutorial >= 64 ** 2  # every style layer of the tutorial has 64 to 256 channels
    answer = load_solution("matching_style_weight.py")["matching_style_weight"]
    result = exercises.check("matching_style_weight", answer, quiet=True)
    assert result.passed, result.message
    # the converted weight, measured, gives the target's balance: r is proportional to the style weight
    source, target = lesson07.PAIRS[0]
    wanted = answer(presets.settings(source).style_weight, measure(source), measure(target))
    assert measure(source, style_weight=wanted) == pytest.approx(measure(target), rel=1e-5)
    assert not exercises.check("matching_style_weight", lambda w, rs, rt: w, quiet=True).passed


@pytest.mark.slow  # a grading process imports torch and builds the random VGG-19
def test_the_reference_answers_pass_in_the_grading_process_and_stylelab_is_refused():
    from stylelab.course.exercises.grader import Cell, grade

    setup = Cell("import math\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\n"
                 "import stylelab as sl", "setup", "setup")
    solution = (SOLUTIONS / "matching_style_weight.py").read_text()
    verdicts = grade([setup, Cell('stronger_preset = "copied"', "answer", "answer_stronger_preset"),
                      Cell(solution, "answer", "answer_matching_style_weight")],
                     ["stronger_preset", "matching_style_weight"])
    assert verdicts["stronger_preset"].result.passed, verdicts["stronger_preset"].result.message
    assert verdicts["matching_style_weight"].result.passed, verdicts["matching_style_weight"].result.message
    cheat = Cell("def matching_style_weight(style_weight, r_source, r_target):\n"
                 "    return sl.presets.settings('gatys').style_weight", "answer", "answer_matching_style_weight")
    refused = grade([setup, cheat], ["matching_style_weight"])["matching_style_weight"]
    assert not refused.result.passed and refused.result.mistake == "not_allowed", refused.result.message
