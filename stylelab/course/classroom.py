"""The lessons' checked exercises as an nbgrader course, for classes on a JupyterHub.

``python -m stylelab.course.classroom build-course course/`` writes an `nbgrader
<https://nbgrader.readthedocs.io>`_ course folder::

    course/
      nbgrader_config.py                      course id, cell time limit
      source/01_cnn_features/01_cnn_features.ipynb
      source/02_content_loss/02_content_loss.ipynb
      ...                                     one assignment per lesson

Each assignment notebook is small: a title, a locked setup cell with the imports, and
for each checked exercise of the lesson its task (the lesson's own text), an answer cell
whose reference solution sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``,
and a locked autograder cell worth ``points`` that runs stylelab's checker, prints its
verdict (the feedback the student sees) and fails with the checker's named mistake::

    verdict = sl.exercises.check("content_loss", globals().get("content_loss"), quiet=True)
    print(verdict)
    assert verdict.passed, f"{verdict.mistake or verdict.status}: {verdict.message}"

so nbgrader gives the points when the check passes and 0 otherwise, and its feedback shows
e.g. ``AssertionError: sum_instead_of_mean: you took the sum of the squared differences...``.

A lesson that builds on an earlier lesson's exercise (lesson 05's capstone re-uses the
learner's ``content_loss``, ``gram_matrix`` and ``style_loss``) has an answer cell for it
too, without points: that exercise is graded in its own lesson.

The tasks come from the lessons (``notebooks/0*.ipynb``: the cell tagged ``exercise``
and the text before it), the answers from ``notebooks/solutions/`` and the checkers from
:data:`stylelab.course.exercises.EXERCISES`, so nothing is written twice. nbgrader itself is
needed only to release and grade (``pip install -e ".[classroom]"``), not to build.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

from .. import validate
from ..files import write_atomic
from .exercises import EXERCISES, solutions_dir
from .hub import DEFAULT_HUB_CONFIG, DEFAULT_JUPYTER_ETC, check_course_id, setup_hub

__all__ = ["lessons_dir", "lesson_ids", "assignment_notebook", "config_text", "build_course",
           "check_points", "main"]

#: Seconds one cell may run when nbgrader validates or autogrades; a cell that runs longer
#: (a looping answer) is interrupted, scores 0, and the rest of the notebook still runs.
DEFAULT_TIMEOUT = 30
#: Where nbgrader's exchange is on the hub (nbgrader's own default is /usr/local/share/nbgrader/exchange).
DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"
#: nbgrader's cell-metadata schema that the generated notebooks follow.
SCHEMA_VERSION = 3
#: The most points one exercise may be worth, and the longest time limit of a cell (a day).
MAX_POINTS = 1000.0
MAX_TIMEOUT = 24 * 3600
_SETUP = ("import math", "import numpy as np", "import torch", "import torch.nn.functional as F",
          "import stylelab as sl")
_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def lessons_dir() -> Path:
    """The folder of the lesson notebooks: this repository's ``notebooks/``."""
    return Path(__file__).resolve().parents[2] / "notebooks"


def lesson_ids() -> List[str]:
    """The lessons that have checked exercises, in order: ``["01", "02", ...]``."""
    return sorted({exercise.lesson for exercise in EXERCISES.values()})


# --------------------------------------------------------------------------- reading the sources


def _lesson_path(lesson: str, folder: Path) -> Path:
    found = sorted(folder.glob(f"{lesson}_*.ipynb"))
    if not found:
        raise FileNotFoundError(
            f"No lesson notebook {lesson}_*.ipynb in {folder}; build the course from a clone of the "
            "stylelab repository (or pass lessons= the folder that holds the lessons)."
        )
    return found[0]


def _defined(source: str) -> List[str]:
    """Exercise names that a cell defines (functions or assignments), in order."""
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return [name for name in names if name in EXERCISES]


def _task_text(markdown: str) -> str:
    """The part of the lesson's text before an exercise cell that states the task.

    The text from the last heading (or bold "**Exercise" paragraph) on; sentences about
    the lesson's widgets (the playground), which the assignment does not have, are left out.
    """
    lines = markdown.strip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("#") or line.startswith("**Exercise")]
    text = "\n".join(lines[starts[-1]:] if starts else lines)
    paragraphs = []
    for paragraph in text.split("\n\n"):
        sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`])", paragraph.strip())
        kept = [s for s in sentences if "playground" not in s.lower()]
        if kept:
            paragraphs.append(" ".join(kept) if len(kept) < len(sentences) else paragraph.strip())
    return "\n\n".join(paragraphs)


def _read_lesson(path: Path) -> Tuple[str, List[Tuple[str, str, List[str]]]]:
    """The lesson's title and its exercises as ``(task text, stub code, names)``."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    title = path.stem
    tasks = []
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and title == path.stem and source.startswith("# "):
            title = source.splitlines()[0][2:].strip()
        if cell["cell_type"] != "code" or "exercise" not in cell.get("metadata", {}).get("tags", []):
            continue
        names = _defined(source)
        if not names:
            continue
        before = "".join(cells[index - 1]["source"]) if index and cells[index - 1]["cell_type"] == "markdown" else ""
        tasks.append((_task_text(before), source.rstrip(), names))
    return title, tasks


def _solution_code(names: Sequence[str], folder: Path) -> Tuple[str, List[str]]:
    """The reference code for ``names`` from the solution files, and the imports it needs.

    For a function: its body without the docstring. For variables: their assignments.
    """
    files = {EXERCISES[name].solution_file for name in names}
    if len(files) != 1:
        raise ValueError(f"The exercises {', '.join(names)} share one lesson cell but not one solution file.")
    path = folder / files.pop()
    if not path.is_file():
        raise FileNotFoundError(
            f"The solution file {path} is missing; it ships with the repository (notebooks/solutions/), "
            "or set STYLELAB_SOLUTIONS to the folder that holds the solutions."
        )
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    imports = [ast.get_source_segment(source, node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    pieces = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]  # the docstring: the stub has its own
            pieces.append(textwrap.dedent("\n".join(lines[body[0].lineno - 1:node.end_lineno])))
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in names for t in node.targets):
            pieces.append("\n".join(lines[node.lineno - 1:node.end_lineno]))
    if not pieces:
        raise ValueError(f"{path} defines none of {', '.join(names)}.")
    return "\n".join(pieces), [i for i in imports if i]


def _answer_source(stub: str, solution: str) -> str:
    """The lesson's stub with the solution between nbgrader's markers.

    A stub that raises ``NotImplementedError`` gets the solution in place of that line,
    at its indentation; a stub of placeholders (``name = ...``) keeps them and gets the
    solution after them. nbgrader replaces the marked region with its own stub
    (``# YOUR CODE HERE`` / ``raise NotImplementedError()``) for the students.
    """
    lines = stub.splitlines()
    at = next((i for i, line in enumerate(lines) if "raise NotImplementedError" in line), None)
    if at is None:
        indent, before, after = "", lines, []
    else:
        indent = re.match(r"\s*", lines[at]).group(0)
        before, after = lines[:at], lines[at + 1:]
    region = ["### BEGIN SOLUTION", *solution.splitlines(), "### END SOLUTION"]
    return "\n".join(before + [indent + line if line else line for line in region] + after)


# --------------------------------------------------------------------------- writing a notebook


def _cell(kind: str, source: str, grade_id: str, *, solution: bool = False, grade: bool = False,
          locked: bool = False, points: Optional[float] = None) -> dict:
    metadata = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
                "solution": solution, "task": False}
    if grade:
        metadata["points"] = points
    cell = {"cell_type": kind, "metadata": {"nbgrader": metadata}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _check_source(name: str, points: float) -> str:
    return (
        f"# Autograder ({points:g} point{'s' if points != 1 else ''}): stylelab's checker for {name}. Your score comes\n"
        "# from the same check, run again outside this notebook on your answer cells' code.\n"
        f'verdict = sl.exercises.check("{name}", globals().get("{name}"), quiet=True, for_grade=True)\n'
        "print(verdict)\n"
        "assert verdict.passed, f\"{verdict.mistake or verdict.status}: {verdict.message}\""
    )


def assignment_notebook(lesson: str, *, points: float = 1, lessons: Optional[Path] = None,
                        solutions: Optional[Path] = None) -> Tuple[str, dict]:
    """The nbgrader source notebook of one lesson's checked exercises.

    Args:
        lesson: ``"01"`` to ``"06"`` (see :func:`lesson_ids`).
        points: the points of each exercise.
        lessons, solutions: the folders of the lesson notebooks and of the reference
            solutions (default: the repository's, see :func:`lessons_dir` and
            :func:`stylelab.course.exercises.solutions_dir`).

    Returns:
        ``(assignment name, notebook as a dict in nbformat 4)``; the name is the lesson's
        file name without ``.ipynb``, e.g. ``"02_content_loss"``.
    """
    if lesson not in lesson_ids():
        raise ValueError(f"There is no lesson {lesson!r} with checked exercises; choose from {', '.join(lesson_ids())}.")
    points = check_points(points)
    path = _lesson_path(lesson, Path(lessons) if lessons else lessons_dir())
    title, tasks = _read_lesson(path)
    wanted = [name for name, exercise in EXERCISES.items() if exercise.lesson == lesson]
    found = [name for _, _, names in tasks for name in names if EXERCISES[name].lesson == lesson]
    if sorted(found) != sorted(wanted):
        raise ValueError(f"{path.name} has exercise cells for {found or 'no exercise'}, but stylelab checks {wanted}; "
                         "tag each exercise's cell 'exercise' in the lesson.")
    setup = list(_SETUP)
    body = []
    for text, stub, names in tasks:
        solution, imports = _solution_code(names, Path(solutions) if solutions else solutions_dir())
        setup += [line for line in imports if line not in setup]
        body.append(_cell("markdown", text, f"task_{names[0]}", locked=True))
        body.append(_cell("code", _answer_source(stub, solution), f"answer_{names[0]}", solution=True))
        # an earlier lesson's exercise that this lesson builds on is answered again here, and graded there
        body += [_cell("code", _check_source(name, points), f"check_{name}", grade=True, locked=True, points=points)
                 for name in names if EXERCISES[name].lesson == lesson]
    total = points * len(wanted)
    intro = (
        f"# {title} — graded exercises\n\n"
        f"The checked exercises of lesson {lesson} (`{path.name}`); read the lesson first. Write your code where "
        "it says `# YOUR CODE HERE` (delete the `raise NotImplementedError()` line), run the cell, then run "
        f"the check below it. Each exercise is worth {points:g} point{'s' if points != 1 else ''} "
        f"({total:g} in all). The autograder runs the same checks as the lesson: it gives the points for a right "
        "answer, and otherwise its message, naming the mistake it recognised, is your feedback. It runs your "
        "answer cells only (put helper functions and imports there), outside this notebook, and a graded answer "
        "is your own computation: it may not use `sl` (stylelab's own functions).\n\n"
        "Before you submit: Kernel → Restart Kernel and Run All Cells, and check that each check says "
        "what you expect."
    )
    cells = [
        _cell("markdown", intro, "intro", locked=True),
        _cell("code", "\n".join(setup), "setup", locked=True),
        *body,
    ]
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": dict(_KERNELSPEC), "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for cell in cells:
        cell["id"] = cell["metadata"]["nbgrader"]["grade_id"]
    return path.stem, notebook


def config_text(course_id: str = "stylelab", timeout: int = DEFAULT_TIMEOUT, exchange: str = DEFAULT_EXCHANGE) -> str:
    """The course's ``nbgrader_config.py``.

    It names the course, its folder (``CourseDirectory.root``: the folder the file is in,
    wherever the course is moved) and the exchange (``Exchange.root``), so that nbgrader's
    commands run in the course folder and the formgrader (which loads it with
    ``load_subconfig`` from the instructor's ``~/.jupyter/nbgrader_config.py``) agree.
    """
    return textwrap.dedent(f"""\
        # nbgrader configuration of the stylelab course, written by
        #   python -m stylelab.course.classroom build-course
        # See notebooks/INSTRUCTORS.md ("A class on JupyterHub with nbgrader") for the workflow.
        # For the formgrader on a JupyterHub, load this file from ~/.jupyter/nbgrader_config.py:
        #   load_subconfig("/path/to/this/course/nbgrader_config.py")
        import os

        c = get_config()  # noqa: F821 - nbgrader provides get_config

        c.CourseDirectory.course_id = {course_id!r}
        # The course folder is the folder of this file (source/, release/, submitted/, gradebook.db).
        c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))  # noqa: F821 - set by traitlets

        # Where nbgrader releases assignments and students submit: a folder on the hub that every
        # user can write to, with the sticky bit so that no one can rename or delete another
        # user's files in it (an administrator creates it once: install -d -m 1777 {exchange}).
        # Students' servers need the same setting (and the course id), e.g. in
        # /etc/jupyter/nbgrader_config.py (python -m stylelab.course.classroom hub-setup writes both).
        c.Exchange.root = {exchange!r}

        # Seconds each cell may run when nbgrader validates or autogrades a notebook. A cell
        # that runs longer (an answer that loops forever) is interrupted and scores 0; the
        # rest of the notebook, and the rest of the class, are still graded. The checks take
        # well under a second; the setup cell imports PyTorch, which can take a few seconds.
        c.Execute.timeout = {int(timeout)}

        # Scores come from stylelab's grader, not from the students' kernels (which a student's
        # code can patch): autograde re-checks each submitted answer cell in a fresh process,
        # sets the autograder cells' outputs (and so the scores) from that, puts back files a
        # kernel changed, and flags suspicious submissions (notebooks/INSTRUCTORS.md, "How
        # grading works").
        from stylelab.course.exercises.autograde import autograde_preprocessors
        c.Autograde.autograde_preprocessors = autograde_preprocessors()
        """)


# --------------------------------------------------------------------------- the course


def build_course(folder: str | Path, lessons: Optional[Iterable[str]] = None, *, course_id: str = "stylelab",
                 points: float = 1, timeout: int = DEFAULT_TIMEOUT, exchange: str = DEFAULT_EXCHANGE,
                 force: bool = False, lessons_folder: Optional[Path] = None, solutions_folder: Optional[Path] = None) -> List[Path]:
    """Write an nbgrader course: ``nbgrader_config.py`` and one assignment per lesson in ``source/``.

    Args:
        folder: the course folder (created if needed); run nbgrader's commands in it.
        lessons: lesson numbers such as ``["02", "03"]``; default every lesson with
            checked exercises.
        course_id: nbgrader's ``CourseDirectory.course_id`` (the course's name on the hub).
        points: the points of each exercise.
        timeout: seconds each cell may run when nbgrader autogrades (``Execute.timeout``).
        exchange: the absolute path of nbgrader's exchange folder on the hub (``Exchange.root``).
        force: replace existing assignments of the same name and an existing
            ``nbgrader_config.py``. Without it, an existing assignment with other contents
            is an error (and nothing is written; one with the same contents, from a build
            that stopped half-way, is no conflict), and an existing config is kept as it
            is, so lessons can be added to a course later.
        lessons_folder, solutions_folder: where the lessons and solutions are (default:
            the repository's).

    Returns:
        The paths written: the config (unless it was kept), then each assignment's notebook,
        each by :func:`stylelab.files.write_atomic` (never a truncated notebook).

    Raises:
        ValueError: a wrong lesson, course id (:func:`check_course_id`), points or timeout,
            before anything is read or written; FileExistsError: see ``force``;
            :class:`~stylelab.FileWriteError` (an ``OSError``): a full disk, no permission, ...
    """
    folder = Path(folder)
    chosen = list(lesson_ids() if lessons is None else lessons)
    if not chosen:
        raise ValueError(f"No lesson chosen; choose from {', '.join(lesson_ids())}.")
    course_id = check_course_id(course_id)
    points = check_points(points)
    timeout = validate.whole_number("timeout", timeout, maximum=MAX_TIMEOUT)
    if not (isinstance(exchange, str) and Path(exchange).is_absolute()):
        raise ValueError(f"exchange must be an absolute path such as {DEFAULT_EXCHANGE!r}, not {exchange!r}.")
    notebooks = [(name, _notebook_text(notebook))
                 for name, notebook in (assignment_notebook(lesson, points=points, lessons=lessons_folder,
                                                            solutions=solutions_folder) for lesson in chosen)]
    # everything is read and checked before anything is written; an assignment written before with
    # the same contents (a build that a full disk stopped half-way) is no conflict, it is written again
    existing = [folder / "source" / name for name, text in notebooks if _differs(_notebook_path(folder, name), text)]
    if existing and not force:
        raise FileExistsError(
            f"The assignment {existing[0]} already exists; pass force=True (--force) to replace it, "
            "or leave that lesson out."
        )
    written = []
    config = folder / "nbgrader_config.py"
    if force or not config.exists():
        written.append(write_atomic(config, config_text(course_id, timeout, exchange), what="the nbgrader configuration"))
    for name, text in notebooks:
        written.append(write_atomic(_notebook_path(folder, name), text, what=f"the assignment {name}"))
    return written


def check_points(points: object) -> float:
    """The points of one exercise: a finite number above 0, at most :data:`MAX_POINTS` (a whole
    number comes back as an ``int``, so the notebook's metadata reads ``"points": 2``)."""
    number = validate.positive("points", points, maximum=MAX_POINTS)
    return int(number) if number.is_integer() else number


def _notebook_path(folder: Path, name: str) -> Path:
    return folder / "source" / name / f"{name}.ipynb"


def _notebook_text(notebook: dict) -> str:
    """The notebook as nbformat writes it; always valid JSON (no NaN or infinity can slip in)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def _differs(path: Path, text: str) -> bool:
    """Whether ``path`` exists with other contents than ``text``."""
    try:
        if not path.exists():
            return False
        return not path.is_file() or path.read_bytes() != text.encode("utf-8")
    except OSError:
        return True


def _parser() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(prog="python -m stylelab.course.classroom", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build-course", help="write an nbgrader course folder (config + source/)")
    build.add_argument("folder", help="the course folder, e.g. course/")
    build.add_argument("--lessons", nargs="+", choices=lesson_ids(), metavar="NN",
                       help=f"lessons to include (default all: {' '.join(lesson_ids())})")
    build.add_argument("--course-id", default="stylelab", help="nbgrader course id (default: stylelab)")
    build.add_argument("--points", type=float, default=1, help="points per exercise (default: 1)")
    build.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                       help=f"seconds a cell may run when autograding (default: {DEFAULT_TIMEOUT})")
    build.add_argument("--exchange", default=DEFAULT_EXCHANGE,
                       help=f"nbgrader's exchange folder on the hub (default: {DEFAULT_EXCHANGE})")
    build.add_argument("--force", action="store_true", help="replace an existing config and assignments")
    setup = commands.add_parser("hub-setup", help="as root: the exchange and the hub's files (see stylelab.course.hub)")
    setup.add_argument("--course-id", required=True, help="nbgrader course id, as in build-course")
    setup.add_argument("--instructors", nargs="+", required=True, metavar="NAME",
                       help="hub user names that keep nbgrader's instructor tools")
    setup.add_argument("--exchange", default=DEFAULT_EXCHANGE, help=f"the exchange folder (default: {DEFAULT_EXCHANGE})")
    setup.add_argument("--jupyter-etc", default=DEFAULT_JUPYTER_ETC,
                       help=f"system-wide Jupyter configuration folder (default: {DEFAULT_JUPYTER_ETC})")
    setup.add_argument("--hub-config", default=DEFAULT_HUB_CONFIG,
                       help=f"the JupyterHub configuration snippet to write (default: {DEFAULT_HUB_CONFIG})")
    setup.add_argument("--force", action="store_true", help="replace files that exist")
    measure = commands.add_parser("capacity", help="measure each lesson's memory and CPU; the server a class needs")
    measure.add_argument("--lessons", nargs="+", metavar="NN", help="lessons to run (default: all)")
    measure.add_argument("--mode", default="laptop", help="STYLELAB_MODE of the kernels (default: laptop)")
    measure.add_argument("--students", type=int, default=30, help="students working at once (default: 30)")
    measure.add_argument("--threads", type=int, default=None,
                         help="PyTorch threads per kernel (default: as on a hub, 1; 0: one per core)")
    measure.add_argument("--weights", default=None, help="STYLELAB_WEIGHTS of the kernels (default: as set here)")
    measure.add_argument("--cells", action="store_true", help="also list the cells after which a lesson keeps memory")
    return parser


def _build_course(args: argparse.Namespace) -> None:
    written = build_course(args.folder, args.lessons, course_id=args.course_id, points=args.points,
                           timeout=args.timeout, exchange=args.exchange, force=args.force)
    config = Path(args.folder) / "nbgrader_config.py"
    if config not in written:
        print(f"kept {config} as it is (--force replaces it)")
    for path in written:
        print(f"wrote {path}")
    notebooks = [path for path in written if path.suffix == ".ipynb"]
    print(f"next: cd {args.folder} && nbgrader generate_assignment {notebooks[0].parent.name}  "
          "(see notebooks/INSTRUCTORS.md)")
    print(f"formgrader on a JupyterHub: add  load_subconfig({str(config.resolve())!r})  "
          "to ~/.jupyter/nbgrader_config.py")


def _hub_setup(args: argparse.Namespace) -> None:

    for path in setup_hub(args.course_id, args.instructors, exchange=args.exchange, jupyter_etc=args.jupyter_etc,
                          hub_config=args.hub_config, force=args.force):
        print(f"wrote {path}")
    print("next: restart the hub (on The Littlest JupyterHub: sudo tljh-config reload hub); "
          "see notebooks/INSTRUCTORS.md")


def _capacity(args: argparse.Namespace) -> None:
    from .capacity import report

    print(report(args.lessons, mode=args.mode, students=args.students, threads=args.threads, weights=args.weights,
                 folder=lessons_dir(), cells=args.cells, progress=lambda line: print(line, file=sys.stderr, flush=True)))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m stylelab.course.classroom``: the lessons' exercises as an nbgrader course, its hub, its capacity."""
    args = _parser().parse_args(argv)
    command = {"build-course": _build_course, "hub-setup": _hub_setup, "capacity": _capacity}[args.command]
    try:
        command(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
