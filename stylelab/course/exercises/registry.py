"""The exercises by name: which lesson each belongs to, its checker, and its reference solution.

:data:`EXERCISES` is the one list of exercises that the lessons, ``python -m stylelab.course.exercises``
and the nbgrader course (:mod:`stylelab.course.classroom`) all read. :func:`check` runs an
exercise's checker by name; :func:`solution` shows its reference answer.

The reference solutions stay with the instructor: they live in the repository's
``notebooks/solutions/`` (a clone has them, the installed package does not), or in the folder
``STYLELAB_SOLUTIONS`` names (a private one, for a class). Where they are not, or while an
answer is checked for a grade, :func:`solution` and :func:`fill_unfinished` raise
:class:`~stylelab.errors.SolutionsUnavailableError`, one sentence that says so.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, MutableMapping, Sequence

from ...errors import SolutionsUnavailableError
from .checking import CHECKER_ERROR, CheckResult, graded, is_graded, show
from .lesson01 import check_output_shape
from .lesson02 import check_content_loss
from .lesson03 import check_gram_matrix, check_style_loss
from .lesson04 import check_style_layers
from .lesson05 import check_make_closure, check_optimization_step, check_tv_loss
from .lesson06 import check_guided_gram, check_luminance
from .lesson07 import check_matching_style_weight, check_stronger_preset

__all__ = ["Exercise", "EXERCISES", "check", "fill_unfinished", "solution", "solutions_dir"]

@dataclass(frozen=True)
class Exercise:
    """One exercise: where it is, what the learner defines, how it is checked."""

    name: str
    lesson: str
    summary: str
    checker: Callable[..., CheckResult]
    solution_file: str
    #: True if the answer is a value (a list of layers, a word), not a function the learner defines.
    value: bool = False


EXERCISES: Dict[str, Exercise] = {
    e.name: e
    for e in (
        Exercise("output_shape", "01", "channels, height and width of a VGG-19 layer's output",
                 check_output_shape, "output_shape.py"),
        Exercise("content_loss", "02", "mean squared difference of two feature maps",
                 check_content_loss, "content_loss.py"),
        Exercise("gram_matrix", "03", "Gram matrix F F^T / (H W), shape (B, C, C)",
                 check_gram_matrix, "gram_matrix.py"),
        Exercise("style_loss", "03", "mean squared difference of Gram matrices",
                 check_style_loss, "style_loss.py"),
        Exercise("fine_texture_layers", "04", "style layers for fine texture only",
                 functools.partial(check_style_layers, look="fine texture"), "style_layers.py", value=True),
        Exercise("large_structure_layers", "04", "style layers for large structures",
                 functools.partial(check_style_layers, look="large structures"), "style_layers.py", value=True),
        Exercise("tv_loss", "05", "total-variation loss", check_tv_loss, "tv_loss.py"),
        Exercise("optimization_step", "05", "one optimisation step on the pixels",
                 check_optimization_step, "optimization_step.py"),
        Exercise("make_closure", "05", "the L-BFGS closure of a whole transfer, from your own losses (capstone)",
                 check_make_closure, "make_closure.py"),
        Exercise("luminance", "06", "luminance Y = 0.299 R + 0.587 G + 0.114 B of an RGB image",
                 check_luminance, "luminance.py"),
        Exercise("guided_gram", "06", "Gram matrix of a masked region, (F*T)(F*T)^T / sum(T^2)",
                 check_guided_gram, "guided_gram.py"),
        Exercise("stronger_preset", "07", "predict which paints more strongly: a tutorial's weights in another Gram "
                 "convention", check_stronger_preset, "stronger_preset.py", value=True),
        Exercise("matching_style_weight", "07", "the style weight that moves a preset from one effective balance to "
                 "another", check_matching_style_weight, "matching_style_weight.py"),
    )
}


def check(name: str, answer: Any, *, quiet: bool = False, for_grade: bool = False) -> CheckResult:
    """Run the checker of exercise ``name`` (a key of :data:`EXERCISES`) on ``answer``.

    ``for_grade=True`` (the autograder cells of a class): check as the grader will, which
    never suggests stylelab's own functions, and refuses an answer that uses them
    (:mod:`.policy`); what the answer prints to stderr while it is checked goes to stdout,
    so that nbgrader's validation does not count a warning as a failure.
    """
    if not isinstance(name, str) or name not in EXERCISES:
        result = CheckResult(str(name), CHECKER_ERROR,
                             f"there is no exercise called {name!r}; choose from {', '.join(EXERCISES)}.",
                             "unknown_exercise")
        if not quiet:
            show(result)
        return result
    if not for_grade:
        return EXERCISES[name].checker(answer, quiet=quiet)
    from .policy import check_for_grade  # the static rules of graded answers

    with graded(), contextlib.redirect_stderr(sys.stdout):
        refused = check_for_grade(name, answer)
        result = refused if refused is not None else EXERCISES[name].checker(answer, quiet=True)
    if not quiet:
        show(result)
    return result


def solutions_dir() -> Path:
    """The folder of reference solutions: ``$STYLELAB_SOLUTIONS``, else the repository's ``notebooks/solutions``
    (which only a clone has: the installed package carries no solutions)."""
    override = os.environ.get("STYLELAB_SOLUTIONS")
    return Path(override).expanduser() if override else Path(__file__).resolve().parents[3] / "notebooks" / "solutions"


def solution(name: str, *, show: bool = True) -> str:
    """The reference solution of exercise ``name`` as source code (printed unless ``show=False``).

    For instructors: reveal an answer in class with ``sl.exercises.solution("gram_matrix")``,
    or put it into a cell with ``%load solutions/gram_matrix.py`` (from ``notebooks/``).

    Raises:
        ValueError: no exercise has that name.
        SolutionsUnavailableError: the solutions are not here, or an answer is being graded.
    """
    if not isinstance(name, str) or name not in EXERCISES:
        raise ValueError(f"There is no exercise called {name!r}; choose from {', '.join(EXERCISES)}.")
    if is_graded():
        raise SolutionsUnavailableError("The reference solutions cannot be read while an answer is graded.")
    path = solutions_dir() / EXERCISES[name].solution_file
    try:
        code = path.read_text(encoding="utf-8")
    except OSError:
        raise SolutionsUnavailableError(
            f"The reference solution of {name} is not in {path.parent}: the solutions stay with the instructor "
            "(a clone of the repository has them in notebooks/solutions/, or set STYLELAB_SOLUTIONS to their folder)."
        ) from None
    if show:
        print(code)
    return code


def fill_unfinished(namespace: MutableMapping[str, Any], names: Sequence[str], *, quiet: bool = False) -> Dict[str, str]:
    """Keep the learner's answers that pass their checks; run the reference solution for the others.

    A lesson that builds on earlier exercises (the capstone of lesson 05 uses the learner's
    content_loss, gram_matrix, style_loss, tv_loss and make_closure) calls it with the
    notebook's ``globals()``, so that it runs top to bottom however far the learner got:

        sl.exercises.fill_unfinished(globals(), ["content_loss", "gram_matrix", "make_closure"])

    The names are checked in order, so a later answer (make_closure) is checked with the
    earlier ones already in place. Prints one line per name (unless ``quiet``).

    Returns:
        ``{name: "yours" or "reference"}``.

    Raises:
        SolutionsUnavailableError: an answer is unfinished and its reference solution is not
            there (or an answer is being graded).
    """
    if is_graded():
        raise SolutionsUnavailableError("fill_unfinished cannot fill in reference solutions while an answer is graded.")
    used = {}
    for name in names:
        verdict = check(name, namespace.get(name), quiet=True)
        if verdict.passed:
            used[name] = "yours"
            if not quiet:
                print(f"\u2705 {name}: yours")
            continue
        try:
            code = solution(name, show=False)
        except SolutionsUnavailableError:
            raise SolutionsUnavailableError(
                f"Your {name} is not finished ({verdict.status}) and its reference solution is not in "
                f"{solutions_dir()}: finish your {name}, run its cell, then run this cell again."
            ) from None
        exec(compile(code, EXERCISES[name].solution_file, "exec"), namespace)  # noqa: S102 - our own solution file
        used[name] = "reference"
        if not quiet:
            print(f"\u21aa\ufe0f {name}: the reference solution, because yours is {verdict.status}"
                  f"{' (' + verdict.mistake + ')' if verdict.mistake else ''}.")
    return used
