"""The registry: every exercise has a reference solution that passes its checker; check() and solution() by name."""

from __future__ import annotations

import pytest

from stylelab import exercises

from .helpers import SOLUTIONS, load_solution


def test_every_exercise_has_a_solution_file_that_passes_its_checker(capsys):
    files = {exercise.solution_file for exercise in exercises.EXERCISES.values()}
    assert files == {path.name for path in SOLUTIONS.glob("*.py")}
    notebook: dict = {}  # one namespace, in lesson order, as the lessons build on each other
    for name, exercise in exercises.EXERCISES.items():
        load_solution(exercise.solution_file, notebook)
        result = exercises.check(name, notebook[name])
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


def test_fill_unfinished_keeps_passing_answers_and_runs_the_references_for_the_rest(capsys):
    def content_loss(generated, target):
        return ((generated - target) ** 2).mean()

    def gram_matrix(features):
        raise NotImplementedError  # replace this line with your code

    notebook = {"content_loss": content_loss, "gram_matrix": gram_matrix, "style_loss": lambda f, t: 0.0}
    used = exercises.fill_unfinished(notebook, ["content_loss", "gram_matrix", "style_loss", "tv_loss", "make_closure"])
    assert used == {"content_loss": "yours", "gram_matrix": "reference", "style_loss": "reference",
                    "tv_loss": "reference", "make_closure": "reference"}
    assert notebook["content_loss"] is content_loss and notebook["gram_matrix"] is not gram_matrix
    printed = capsys.readouterr().out
    assert "content_loss: yours" in printed and "gram_matrix: the reference solution, because yours is not attempted" in printed
    assert "style_loss: the reference solution, because yours is failed (not_a_tensor)" in printed
    # the reference make_closure runs with the functions now in the namespace
    assert exercises.check("make_closure", notebook["make_closure"], quiet=True).passed


def test_fill_unfinished_without_the_solutions_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLELAB_SOLUTIONS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="finish your tv_loss, run its cell, then run this cell again"):
        exercises.fill_unfinished({}, ["tv_loss"], quiet=True)
