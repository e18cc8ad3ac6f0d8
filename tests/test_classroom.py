"""The nbgrader course: building it (fast, no nbgrader needed) and grading with nbgrader (slow).

The slow test runs nbgrader itself, as an instructor would: ``generate_assignment``,
``autograde`` of four submissions (the reference answers, one named mistake per exercise,
the untouched student version, and a broken one: an answer that loops forever and one
with a syntax error) and ``generate_feedback``. Without nbgrader it is skipped, except
under ``CI=true``, where it fails (``pip install -e ".[test]"`` installs it).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from stylelab import classroom, exercises

ASSIGNMENT = "03_gram_matrices"


def _cells(path: Path) -> list:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _by_id(path: Path) -> dict:
    return {cell["metadata"]["nbgrader"]["grade_id"]: cell for cell in _cells(path)}


# --------------------------------------------------------------------------- building (fast)


def test_build_course_writes_the_config_and_one_assignment_per_lesson(tmp_path):
    written = classroom.build_course(tmp_path, course_id="nst-2026", points=2, timeout=45)
    assert written[0] == tmp_path / "nbgrader_config.py"
    config = written[0].read_text()
    assert "c.CourseDirectory.course_id = 'nst-2026'" in config and "c.Execute.timeout = 45" in config
    names = [path.parent.name for path in written[1:]]
    assert names == ["01_cnn_features", "02_content_loss", "03_gram_matrices", "04_layer_ablations",
                     "05_full_optimization", "06_perceptual_control", "07_why_results_differ"]
    checked = []
    for path in written[1:]:
        assert path == tmp_path / "source" / path.parent.name / f"{path.parent.name}.ipynb"
        nbformat.validate(nbformat.read(str(path), as_version=4))
        for cell in _cells(path):
            meta = cell["metadata"]["nbgrader"]
            if meta["solution"]:  # the students' cell: unlocked, the answer between nbgrader's markers
                assert not meta["locked"] and not meta["grade"]
                assert "### BEGIN SOLUTION" in cell["source"] and "### END SOLUTION" in cell["source"]
            elif meta["grade"]:  # the autograder: locked, worth the points, calls the checker
                assert meta["locked"] and meta["points"] == 2
                name = meta["grade_id"].removeprefix("check_")
                assert f'sl.exercises.check("{name}", globals().get("{name}"), quiet=True)' in cell["source"]
                checked.append(name)
            else:
                assert meta["locked"]
    assert sorted(checked) == sorted(exercises.EXERCISES)


def test_answer_cells_keep_the_lessons_stub_around_the_reference_solution(tmp_path):
    (path,) = classroom.build_course(tmp_path / "a", ["05"])[1:]
    cells = _by_id(path)
    answer = cells["answer_tv_loss"]["source"]
    assert answer.startswith('def tv_loss(image):\n    """Squared total variation')
    assert "    ### BEGIN SOLUTION\n    dx = image[..., :, 1:] - image[..., :, :-1]\n" in answer
    assert answer.endswith("    ### END SOLUTION") and "NotImplementedError" not in answer
    assert "Checked exercise 1: the total-variation loss" in cells["task_tv_loss"]["source"]
    (path,) = classroom.build_course(tmp_path / "b", ["04"])[1:]
    cells = _by_id(path)
    answer = cells["answer_fine_texture_layers"]["source"]
    # placeholders stay for the students; the reference choice follows between the markers
    assert answer.startswith("fine_texture_layers = ...")
    assert '### BEGIN SOLUTION\nfine_texture_layers = ["relu1_1"' in answer
    assert "check_fine_texture_layers" in cells and "check_large_structure_layers" in cells
    assert "playground" not in cells["task_fine_texture_layers"]["source"].lower()


def _run(source: str, namespace: dict) -> None:
    exec(compile(source, "<cell>", "exec"), namespace)  # noqa: S102 - our own generated cells


@pytest.mark.parametrize("lesson", classroom.lesson_ids())
def test_reference_answers_pass_every_check_and_missing_answers_fail_it(tmp_path, lesson, capsys):
    (path,) = classroom.build_course(tmp_path, [lesson])[1:]
    cells = [cell for cell in _cells(path) if cell["cell_type"] == "code"]
    solved: dict = {}
    for cell in cells:  # the instructor's version, as `nbgrader validate source/...` runs it
        _run(cell["source"], solved)
    assert capsys.readouterr().out.count("correct!") == len([c for c in cells if c["metadata"]["nbgrader"]["grade"]])
    for cell in cells:  # answers never run: every check fails with the checker's verdict
        meta = cell["metadata"]["nbgrader"]
        if meta["grade"]:
            with pytest.raises(AssertionError, match="not attempted: Write your answer"):
                _run(cell["source"], {"sl": solved["sl"]})


def test_build_course_adds_lessons_but_never_writes_over_without_force(tmp_path):
    classroom.build_course(tmp_path, ["02"])
    config = tmp_path / "nbgrader_config.py"
    config.write_text("# the instructor's own settings\n")
    answer = tmp_path / "source" / "02_content_loss" / "02_content_loss.ipynb"
    answer.write_text("{}")
    with pytest.raises(FileExistsError, match="02_content_loss already exists; pass force=True"):
        classroom.build_course(tmp_path, ["03", "02"])
    assert not (tmp_path / "source" / "03_gram_matrices").exists()  # nothing written at all
    assert classroom.build_course(tmp_path, ["03"]) == [tmp_path / "source" / "03_gram_matrices" / "03_gram_matrices.ipynb"]
    assert config.read_text() == "# the instructor's own settings\n" and answer.read_text() == "{}"
    classroom.build_course(tmp_path, ["02"], force=True)
    assert "course_id" in config.read_text() and "answer_content_loss" in answer.read_text()


def test_build_course_rejects_bad_arguments_before_writing(tmp_path):
    with pytest.raises(ValueError, match="no lesson '99'"):
        classroom.build_course(tmp_path, ["99"])
    with pytest.raises(ValueError, match="course id"):
        classroom.build_course(tmp_path, course_id="my course")
    with pytest.raises(ValueError, match="points must be a positive number"):
        classroom.build_course(tmp_path, points=0)
    with pytest.raises(ValueError, match="timeout"):
        classroom.build_course(tmp_path, timeout=0)
    with pytest.raises(FileNotFoundError, match="No lesson notebook 02_"):
        classroom.build_course(tmp_path, ["02"], lessons_folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_command_line_builds_the_chosen_lessons(tmp_path, capsys):
    course = tmp_path / "course"
    assert classroom.main(["build-course", str(course), "--lessons", "02", "06", "--course-id", "nst"]) == 0
    out = capsys.readouterr().out
    assert "nbgrader generate_assignment 02_content_loss" in out
    assert sorted(p.name for p in (course / "source").iterdir()) == ["02_content_loss", "06_perceptual_control"]
    assert classroom.main(["build-course", str(course), "--lessons", "03"]) == 0
    assert "kept " in capsys.readouterr().out
    assert classroom.main(["build-course", str(course)]) == 2
    assert "error: The assignment" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        classroom.main(["build-course", str(course), "--lessons", "99"])


# --------------------------------------------------------------------------- grading with nbgrader (slow)

STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
SUBMISSIONS = {
    "correct": {
        "answer_gram_matrix": "    b, c, h, w = features.shape\n"
                              "    flat = features.reshape(b, c, h * w)\n"
                              "    return flat @ flat.transpose(1, 2) / (h * w)",
        "answer_style_loss": "    return ((sl.gram_matrix(generated_features) - target_gram) ** 2).mean()",
    },
    "wrong": {  # one named mistake per exercise
        "answer_gram_matrix": "    b, c, h, w = features.shape\n"
                              "    flat = features.reshape(b, c, h * w)\n"
                              "    return flat @ flat.transpose(1, 2)",
        "answer_style_loss": "    return ((sl.gram_matrix(generated_features) - target_gram) ** 2).sum()",
    },
    "empty": {},
    "broken": {  # an answer that never returns, and one that does not even compile
        "answer_gram_matrix": "    while True:\n        pass",
        "answer_style_loss": "    return ((",
    },
}


def _nbgrader_or_skip() -> None:
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        reason = 'nbgrader is not installed: pip install -e ".[classroom]" (the [test] extra includes it)'
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
        pytest.skip(reason)


def _nbgrader(course: Path, *args: str) -> None:
    # No personal nbgrader config; the kernel is this environment's python3, not a user-wide one.
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(course / ".jupyter"), "JUPYTER_PREFER_ENV_PATH": "1"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def _submit(course: Path, student: str, answers: dict) -> None:
    notebook = json.loads((course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    for cell in notebook["cells"]:
        grade_id = cell["metadata"]["nbgrader"]["grade_id"]
        if grade_id in answers:
            source = "".join(cell["source"])
            assert STUB in source, "nbgrader's student version changed its stub"
            cell["source"] = source.replace(STUB, answers[grade_id])
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(notebook))


def _feedback(course: Path, student: str) -> str:
    page = (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.slow
@pytest.mark.classroom
def test_nbgrader_releases_autogrades_and_explains_the_mistakes(tmp_path):
    _nbgrader_or_skip()
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    classroom.build_course(course, ["03"])
    _nbgrader(course, "generate_assignment", ASSIGNMENT)
    released = _by_id(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    assert "### BEGIN SOLUTION" not in json.dumps(released) and "flat @ flat" not in json.dumps(released)
    assert STUB in "".join(released["answer_gram_matrix"]["source"])
    for student, answers in SUBMISSIONS.items():
        _submit(course, student, answers)
    _nbgrader(course, "autograde", ASSIGNMENT)
    _nbgrader(course, "generate_feedback", ASSIGNMENT)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {}
        for student in SUBMISSIONS:
            submission = gradebook.find_submission(ASSIGNMENT, student)
            cells = {grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades}
            scores[student] = (submission.score, submission.max_score, cells)
    print("autograde scores:", scores)
    assert scores["correct"] == (2, 2, {"check_gram_matrix": 1, "check_style_loss": 1})
    for student in ("wrong", "empty", "broken"):
        assert scores[student] == (0, 2, {"check_gram_matrix": 0, "check_style_loss": 0}), student

    wrong_gram = exercises.check("gram_matrix", lambda f: f.reshape(1, 4, 15) @ f.reshape(1, 4, 15).transpose(1, 2),
                                 quiet=True)
    assert wrong_gram.mistake == "not_normalised"
    expected = {
        "correct": ["✅ gram_matrix: correct!", "✅ style_loss: correct!"],
        "wrong": [str(wrong_gram), f"AssertionError: not_normalised: {wrong_gram.message}",
                  "AssertionError: sum_instead_of_mean: you summed the squared differences over the 4x4 Gram entries"],
        "empty": ["✏️ gram_matrix: not attempted yet. Your gram_matrix still raises NotImplementedError",
                  "AssertionError: not attempted: your style_loss still raises NotImplementedError"],
        "broken": ["too_slow: your gram_matrix did not return within", "SyntaxError",
                   "✏️ style_loss: not attempted yet. Write your answer in the cell above and run it first."],
    }
    for student, texts in expected.items():
        feedback = _feedback(course, student)
        for text in texts:
            assert text in feedback, f"{student}'s feedback lacks {text!r}"
        print(f"{student} feedback:", next(line for line in feedback.splitlines() if texts[-1][:30] in line))
