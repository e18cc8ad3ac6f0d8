"""What grading outside the student's kernel costs per submitted notebook, lesson by lesson.

    python benchmarks/grading.py                 # every lesson with checked exercises
    python benchmarks/grading.py --lessons 03 05

For each lesson, the reference answers (as an assignment's answer cells) are graded the way
``nbgrader autograde`` grades a submission with stylelab's preprocessors
(``stylelab.course.exercises.grader.grade``: a fresh process that imports torch and stylelab, runs the
answer cells and the checkers), and checked in this process as the lessons do
(``sl.exercises.check``), for comparison. Seconds depend on the machine and its load; the
first number is mostly the new process's start (importing torch). Not run in CI.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

from stylelab.course import classroom  # noqa: E402
from stylelab.course.exercises import EXERCISES, check  # noqa: E402
from stylelab.course.exercises.grader import Cell, grade  # noqa: E402


def lesson_cells(lesson: str) -> list:
    """The setup cell and the answer cells (reference solutions in place) of one lesson's assignment."""
    _, notebook = classroom.assignment_notebook(lesson)
    cells = []
    for cell in notebook["cells"]:
        meta = cell["metadata"]["nbgrader"]
        if cell["cell_type"] != "code" or meta["grade"]:
            continue
        source = re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", "", cell["source"], flags=re.MULTILINE)
        cells.append(Cell(source, "answer" if meta["solution"] else "setup", meta["grade_id"]))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", nargs="+", default=classroom.lesson_ids())
    args = parser.parse_args()
    print(f"{'lesson':<8}{'exercises':>10}{'outside (s)':>13}{'in-process (s)':>16}  verdicts")
    for lesson in args.lessons:
        names = [name for name, e in EXERCISES.items() if e.lesson == lesson]
        cells = lesson_cells(lesson)
        began = time.perf_counter()
        verdicts = grade(cells, names)
        outside = time.perf_counter() - began
        namespace: dict = {}
        for cell in cells:
            exec(compile(cell.source, cell.name, "exec"), namespace)  # noqa: S102 - our own reference answers
        began = time.perf_counter()
        for name in names:
            check(name, namespace.get(name), quiet=True)
        inside = time.perf_counter() - began
        passed = sum(v.result.passed for v in verdicts.values())
        print(f"{lesson:<8}{len(names):>10}{outside:>13.1f}{inside:>16.2f}  {passed}/{len(names)} passed")


if __name__ == "__main__":
    main()
