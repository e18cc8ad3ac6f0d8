"""The registry: every exercise has a reference solution that passes its checker; check() and solution() by name."""

from __future__ import annotations

import pytest

from stylelab import exercises

from .helpers import SOLUTIONS, load_solution


def test_every_exercise_has_a_solution_file_that_passes_its_checker(capsys):
    files = {exercise.solution_file for exercise in exercises.EXERCISES.values()}
    assert files == {path.name for path in SOLUTIONS.glob("*.py")}
    for name, exercise in exercises.EXERCISES.items():
        answer = load_solution(exercise.solution_file)[name]
        result = exercises.check(name, answer)
        assert result.passed, f"{name}: {result.message}"
        printed = capsys.readouterr().out
        assert printed.startswith("\u2705") and name in printed and "correct!" in printed


def test_solution_prints_the_reference_and_explains_unknown_names(capsys):
    code = exercises.solution("gram_matrix")
    assert "def gram_matrix(features):" in code and code in capsys.readouterr().out
    assert exercises.solution("large_structure_layers", show=False) == (SOLUTIONS / "style_layers.py").read_text()
    with pytest.raises(ValueError, match="no exercise called 'gram'.*gram_matrix"):
        exercises.solution("gram")


def test_solution_reports_a_missing_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLELAB_SOLUTIONS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="STYLELAB_SOLUTIONS"):
        exercises.solution("tv_loss")


def test_unknown_exercise_is_a_verdict_not_an_exception():
    result = exercises.check("content_los", lambda g, t: 0, quiet=True)
    assert result.status == "checker error" and "content_loss" in result.message
