"""``python -m stylelab.course.exercises``: list the exercises, or print a reference solution."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from ...errors import SolutionsUnavailableError
from .registry import EXERCISES, solution

__all__ = ["GRADING_MOVED", "main"]

#: What ``python -m stylelab.course.exercises grade`` says now that nbgrader grades a class.
GRADING_MOVED = (
    "Class grading moved to nbgrader: build the course with python -m stylelab.course.classroom build-course "
    "course/, then run nbgrader generate_assignment, autograde and generate_feedback in it "
    "(notebooks/INSTRUCTORS.md, \"A class on JupyterHub with nbgrader\")."
)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m stylelab.course.exercises``: list the exercises, or show a reference solution."""
    parser = argparse.ArgumentParser(prog="python -m stylelab.course.exercises", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the exercises")
    show = commands.add_parser("solution", help="print the reference solution of an exercise")
    show.add_argument("name", choices=list(EXERCISES))
    grading = commands.add_parser("grade", help="replaced by nbgrader: see python -m stylelab.course.classroom")
    grading.add_argument("ignored", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "list":
        for exercise in EXERCISES.values():
            print(f"{exercise.lesson}  {exercise.name:<24} {exercise.summary}")
        return 0
    if args.command == "solution":
        try:
            solution(args.name)
        except SolutionsUnavailableError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    print(GRADING_MOVED, file=sys.stderr)
    return 2
