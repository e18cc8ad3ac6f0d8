"""python -m stylelab.course.exercises: list, solution, and grade (which points to nbgrader)."""

from __future__ import annotations

import pytest

import subprocess
import sys

from stylelab.course import exercises


def test_grade_command_points_to_nbgrader(capsys):
    # Class grading is nbgrader's job (stylelab.course.classroom, tests/course/test_classroom.py); the old
    # command, with its old options, says where it went instead of grading anything.
    assert exercises.main(["grade", "alice.ipynb", "--csv", "class.csv", "--messages"]) == 2
    err = capsys.readouterr().err
    assert "python -m stylelab.course.classroom build-course" in err and "nbgrader" in err
    assert not hasattr(exercises, "grade_notebook")


def test_list_and_solution_commands(capsys):
    assert exercises.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in exercises.EXERCISES)
    assert exercises.main(["solution", "tv_loss"]) == 0
    assert "def tv_loss(image):" in capsys.readouterr().out


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_python_dash_m_runs_the_command_line(tmp_path):
    # the package's __main__ (python -m stylelab.course.exercises), as an instructor types it
    listing = subprocess.run([sys.executable, "-m", "stylelab.course.exercises", "list"], capture_output=True, text=True,
                             timeout=120, check=True).stdout
    assert all(name in listing for name in exercises.EXERCISES)
