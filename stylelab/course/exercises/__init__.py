r"""Checkers for the lessons' exercises: run the learner's code and say precisely what is wrong.

In a lesson the learner edits a stub, then runs a checker on it::

    def content_loss(generated, target):
        raise NotImplementedError  # replace this line with your code

    sl.exercises.check_content_loss(content_loss)

A checker runs the function on small known cases, compares it with the right answer
and with the mistakes learners often make, and prints one verdict:

* ``passed`` - the function gives the right values (and gradients, where it matters);
* ``failed`` - with the name of the mistake it recognised (``CheckResult.mistake``, e.g.
  ``"sum_instead_of_mean"``; several that come together are each named,
  ``"gram_not_normalised+sum_instead_of_mean"``) and a sentence on how to fix each, or else
  the first case where the answer differs;
* ``not attempted`` - the stub still raises ``NotImplementedError``.

Each call of the learner's function has a time limit (:data:`TIME_LIMIT`, 10 s; the cases
are tiny): an answer that loops forever gets the verdict ``too_slow`` instead of hanging
the kernel (:mod:`.limits` says what an in-kernel limit can and cannot stop). A checker
never raises into the notebook, whatever the learner's code does or raises (any
``BaseException``) or returns, so an unsolved notebook still runs top to bottom; the
lessons go on with stylelab's own functions. The verdict is also returned as a
:class:`CheckResult` (``.passed``, ``.status``, ``.mistake``, ``.mistakes``, ``.message``).

The exercises, by lesson (``sl.exercises.EXERCISES``):

======  ============================  =================================================
01      ``output_shape``              channels, height and width of a VGG-19 layer
02      ``content_loss``              mean squared difference of two feature maps
03      ``gram_matrix``               :math:`G = F F^\top / (H W)`, shape ``(B, C, C)``
03      ``style_loss``                mean squared difference of Gram matrices
04      ``fine_texture_layers``       style layers that only see small patches
04      ``large_structure_layers``    style layers that include large patches
05      ``tv_loss``                   total variation, ``mean(dx^2) + mean(dy^2)``
05      ``optimization_step``         one gradient step on the pixels
05      ``make_closure``              the L-BFGS closure of a whole transfer (capstone)
06      ``luminance``                 :math:`Y = 0.299 R + 0.587 G + 0.114 B`
06      ``guided_gram``               Gram matrix of the region a mask selects
07      ``stronger_preset``           which paints more strongly: a prediction
07      ``matching_style_weight``     a style weight converted between presets
======  ============================  =================================================

The package, one module per job: :mod:`.checking` (verdicts, safe calls, the gradient
check), :mod:`.limits` (the time limit), :mod:`.mistakes` (naming combined mistakes),
``lesson01`` to ``lesson07`` (each lesson's checkers), :mod:`.registry` (the exercises by
name, :func:`check`, :func:`solution`), :mod:`.cli` (``python -m stylelab.course.exercises``), and
for graded classes :mod:`.policy` (the rules of graded answers), :mod:`.sandbox` and
:mod:`.grader` (the check outside the student's kernel), :mod:`.integrity` and
:mod:`.autograde` (nbgrader's autograder scoring from it).

Instructors: :func:`solution` prints the reference answer (the files in
``notebooks/solutions/`` of a clone, or the folder ``STYLELAB_SOLUTIONS`` names; the
installed package carries none). For a class, the same exercises become nbgrader
assignments whose score is decided outside the students' kernels: see
:mod:`stylelab.course.classroom` (``python -m stylelab.course.classroom build-course course/``) and
notebooks/INSTRUCTORS.md, "How grading works".
"""


from __future__ import annotations

import sys
import types
from typing import Any

from . import checking, limits
from .checking import CheckResult
from .cli import main
from .lesson01 import check_output_shape
from .lesson02 import check_content_loss
from .lesson03 import check_gram_matrix, check_style_loss
from .lesson04 import LOOKS, check_style_layers
from .lesson05 import check_make_closure, check_optimization_step, check_tv_loss
from .lesson06 import check_guided_gram, check_luminance
from .lesson07 import check_matching_style_weight, check_stronger_preset
from .registry import EXERCISES, Exercise, check, fill_unfinished, solution, solutions_dir

__all__ = [
    "CheckResult",
    "Exercise",
    "EXERCISES",
    "LOOKS",
    "TIME_LIMIT",
    "check",
    "check_output_shape",
    "check_content_loss",
    "check_gram_matrix",
    "check_style_loss",
    "check_style_layers",
    "check_tv_loss",
    "check_optimization_step",
    "check_make_closure",
    "check_luminance",
    "check_guided_gram",
    "check_stronger_preset",
    "check_matching_style_weight",
    "fill_unfinished",
    "solution",
    "solutions_dir",
    "main",
]


class _Package(types.ModuleType):
    """``sl.exercises.TIME_LIMIT`` reads and sets the limit the checkers use (:data:`.checking.TIME_LIMIT`);
    setting anything but a number of seconds above 0 raises :class:`~stylelab.errors.ParameterError`."""

    @property
    def TIME_LIMIT(self) -> float:  # noqa: N802 - the documented name of a setting
        return checking.TIME_LIMIT

    @TIME_LIMIT.setter
    def TIME_LIMIT(self, seconds: Any) -> None:  # noqa: N802
        checking.TIME_LIMIT = limits.validated(seconds)


sys.modules[__name__].__class__ = _Package
