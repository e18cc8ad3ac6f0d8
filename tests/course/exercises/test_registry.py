"""The registry: every exercise has a reference solution that passes its checker; check() and solution() by name."""

from __future__ import annotations

import pytest

from stylelab.course import exercises

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


def test_without_the_solutions_each_way_in_says_so_in_one_sentence(monkeypatch, tmp_path, capsys):
    from stylelab.errors import SolutionsUnavailableError

    monkeypatch.setenv("STYLELAB_SOLUTIONS", str(tmp_path / "private"))
    with pytest.raises(SolutionsUnavailableError) as caught:
        exercises.solution("tv_loss")
    message = str(caught.value)
    assert "\n" not in message and "STYLELAB_SOLUTIONS" in message and str(tmp_path / "private") in message
    assert caught.value._render_traceback_() == [f"SolutionsUnavailableError: {message}"]  # what a notebook shows
    assert exercises.main(["solution", "tv_loss"]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == f"error: {message}\n"  # no traceback


def test_a_private_solutions_folder_is_used(monkeypatch, tmp_path):
    (tmp_path / "tv_loss.py").write_text("def tv_loss(image):\n    return image.diff(dim=-1).pow(2).mean() + "
                                         "image.diff(dim=-2).pow(2).mean()\n")
    monkeypatch.setenv("STYLELAB_SOLUTIONS", str(tmp_path))
    assert exercises.solution("tv_loss", show=False).startswith("def tv_loss(image):")
    assert exercises.fill_unfinished({}, ["tv_loss"], quiet=True) == {"tv_loss": "reference"}


def test_while_an_answer_is_graded_neither_solutions_nor_fill_unfinished_are_reachable():
    from stylelab.errors import SolutionsUnavailableError
    from stylelab.course.exercises import checking

    with checking.graded():
        with pytest.raises(SolutionsUnavailableError, match="cannot be read while an answer is graded"):
            exercises.solution("gram_matrix")
        with pytest.raises(SolutionsUnavailableError, match="while an answer is graded"):
            exercises.fill_unfinished({}, ["gram_matrix"], quiet=True)
    assert exercises.solution("gram_matrix", show=False)  # the lessons, from a clone, still have them


@pytest.mark.slow  # builds the package
def test_the_installed_package_carries_no_solutions(tmp_path):
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(exercises.__file__).resolve().parents[3]
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    shutil.copytree(root / "stylelab", source / "stylelab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "notebooks", source / "notebooks")  # present in the tree, as in a clone
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=600)
    (wheel,) = (tmp_path / "dist").glob("stylelab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "stylelab/course/exercises/registry.py" in names
    assert not [n for n in names if "solution" in n.lower() or n.startswith("notebooks/")]
