"""The nbgrader course: building it (fast, no nbgrader needed) and grading with nbgrader (slow).

The slow test runs nbgrader itself, as an instructor would: ``generate_assignment``,
``autograde`` of one batch of submissions (right answers that print to stderr and warn,
named and combined mistakes, an untouched and a broken notebook, and a cheat in each answer
cell of eight more: issue 19's list and others) and ``generate_feedback``, then reads the
gradebook through nbgrader's API: no cheat scores, every cheat is flagged. Without nbgrader
it is skipped, except under ``CI=true``, where it fails (``pip install -e ".[test]"``
installs it).
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

from stylelab.course import classroom, exercises

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
    assert "c.Exchange.root = '/srv/nbgrader/exchange'" in config
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
                assert (f'sl.exercises.check("{name}", globals().get("{name}"), quiet=True, for_grade=True)'
                        in cell["source"])
                checked.append(name)
            else:
                assert meta["locked"]
    assert sorted(checked) == sorted(exercises.EXERCISES)


def _load_config(path: Path, cwd: Path, monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.chdir(cwd)
    return PyFileConfigLoader(path.name, str(path.parent)).load_config()


def test_config_names_the_course_folder_and_the_exchange_wherever_it_is_loaded_from(tmp_path, monkeypatch):
    course = tmp_path / "courses" / "nst"
    classroom.build_course(course, ["02"], course_id="nst", exchange="/srv/class/exchange")
    config = _load_config(course / "nbgrader_config.py", tmp_path, monkeypatch)
    assert config.CourseDirectory.root == str(course) and config.CourseDirectory.course_id == "nst"
    assert config.Exchange.root == "/srv/class/exchange"
    # the formgrader reads ~/.jupyter/nbgrader_config.py, which loads the course's file
    moved = tmp_path / "moved"
    (course.parent).rename(moved)
    user = tmp_path / "home" / ".jupyter"
    user.mkdir(parents=True)
    (user / "nbgrader_config.py").write_text(f"load_subconfig({str(moved / 'nst' / 'nbgrader_config.py')!r})\n")
    config = _load_config(user / "nbgrader_config.py", user.parent, monkeypatch)
    assert config.CourseDirectory.root == str(moved / "nst") and config.Exchange.root == "/srv/class/exchange"
    with pytest.raises(ValueError, match="exchange must be an absolute path"):
        classroom.build_course(tmp_path / "other", ["02"], exchange="exchange")


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
            with pytest.raises(AssertionError, match="not attempted: write your answer"):
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
    with pytest.raises(ValueError, match="points must be greater than 0"):
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
    assert f"load_subconfig({str(course.resolve() / 'nbgrader_config.py')!r})" in out
    assert sorted(p.name for p in (course / "source").iterdir()) == ["02_content_loss", "06_perceptual_control"]
    assert classroom.main(["build-course", str(course), "--lessons", "03"]) == 0
    assert "kept " in capsys.readouterr().out
    assert classroom.main(["build-course", str(course), "--points", "2"]) == 2  # would change 02, 03 and 06
    assert "error: The assignment" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        classroom.main(["build-course", str(course), "--lessons", "99"])


# --------------------------------------------------------------------------- grading with nbgrader (slow)

STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
GRAM = ("    b, c, h, w = features.shape\n"
        "    flat = features.reshape(b, c, h * w)\n"
        "    return flat @ flat.transpose(1, 2) / (h * w)")
GRAM_NOT_NORMALISED = GRAM.replace(" / (h * w)", "")
STYLE = "    return ((gram_matrix(generated_features) - target_gram) ** 2).mean()"
WRONG_GRAM, WRONG_STYLE = "    return features", "    return generated_features.sum()"
FAKE_PASS = "sl.exercises.CheckResult(name, 'passed', 'ok')"

#: student -> {answer cell: its code in place of nbgrader's stub, "extra": a cell the student added first}
SUBMISSIONS = {
    # right answers that write to stderr: a debugging print and a warning (PyTorch's warnings go there too)
    "correct": {"answer_gram_matrix": "    import sys\n    print('shape', features.shape, file=sys.stderr)\n" + GRAM,
                "answer_style_loss": "    import warnings\n    warnings.warn('checking my loss')\n" + STYLE},
    "wrong": {"answer_gram_matrix": GRAM_NOT_NORMALISED, "answer_style_loss": STYLE},
    "combined": {"answer_gram_matrix": GRAM,  # the two mistakes in one style loss
                 "answer_style_loss": "    b, c, h, w = generated_features.shape\n"
                                      "    flat = generated_features.reshape(b, c, h * w)\n"
                                      "    return ((flat @ flat.transpose(1, 2) - target_gram) ** 2).sum()"},
    "empty": {},
    "broken": {"answer_gram_matrix": "    while True:\n        pass", "answer_style_loss": "    return (("},
    # cheats, one in each answer cell (the wrong answer stays wrong)
    "cheat_check_and_sl": {
        "answer_gram_matrix": f"{WRONG_GRAM}\nsl.exercises.check = lambda name, answer, **options: {FAKE_PASS}",
        "answer_style_loss": f"{WRONG_STYLE}\npassing = sl.exercises.CheckResult\nclass Fake:\n    pass\n"
                             "fake = Fake()\nfake.exercises = Fake()\nfake.exercises.check = lambda name, answer, "
                             "**options: passing(name, 'passed', 'ok')\nsl = fake"},
    "cheat_result_and_asserts": {
        "answer_gram_matrix": f"{WRONG_GRAM}\nsl.exercises.CheckResult.passed = property(lambda self: True)",
        "answer_style_loss": f"{WRONG_STYLE}\nimport ast\nclass NoAsserts(ast.NodeTransformer):\n"
                             "    def visit_Assert(self, node):\n        return ast.Pass()\n"
                             "get_ipython().ast_transformers.append(NoAsserts())"},
    "cheat_builtins_and_allclose": {
        "answer_gram_matrix": f"{WRONG_GRAM}\nimport builtins\n"
                              "builtins.globals = lambda: {'gram_matrix': sl.gram_matrix, 'style_loss': sl.style_loss}",
        "answer_style_loss": f"{WRONG_STYLE}\ntorch.allclose = lambda *args, **kwargs: True"},
    "cheat_reference_and_call": {
        "answer_gram_matrix": f"{GRAM_NOT_NORMALISED}\nsl.losses.gram_matrix = gram_matrix",
        "answer_style_loss": "    return ((sl.gram_matrix(generated_features) - target_gram) ** 2).mean()"},
    "cheat_hand_in_and_solution": {
        "answer_gram_matrix": f"{WRONG_GRAM}\ngram_matrix = sl.gram_matrix",
        "answer_style_loss": f"{WRONG_STYLE}\nexec(sl.exercises.solution('style_loss', show=False))"},
    "cheat_fill_and_delete": {
        "answer_gram_matrix": f"{STUB.split(chr(10))[1]}\nsl.exercises.fill_unfinished(globals(), ['gram_matrix'])",
        "answer_style_loss": f"{WRONG_STYLE}\ndel sl"},
    "cheat_gradebook_and_course": {
        "answer_gram_matrix": f"{WRONG_GRAM}\nimport sqlite3\nconnection = sqlite3.connect('../../../gradebook.db')\n"
                              "connection.execute('UPDATE grade SET manual_score = 1')\nconnection.commit()",
        "answer_style_loss": f"{WRONG_STYLE}\nwith open('../../../nbgrader_config.py', 'a') as config:\n"
                             "    config.write('\\nc.Autograde.autograde_preprocessors = []\\n')"},
    "cheat_exit_and_hidden_patch": {
        "answer_gram_matrix": f"{WRONG_GRAM}\nprint('\u2705 gram_matrix: correct!')\nimport os\nos._exit(0)",
        # no rule of the source sees this one: torch reached through a function's return value
        "answer_style_loss": f"{WRONG_STYLE}\ndef module():\n    return torch\n"
                             "module().allclose = lambda *args, **kwargs: True"},
    # an honest mistake: a helper in a cell the student added, which the grader does not run
    "helper_outside_answers": {
        "extra": "def flatten(features):\n    b, c, h, w = features.shape\n    return features.reshape(b, c, h * w)",
        "answer_gram_matrix": "    flat = flatten(features)\n"
                              "    return flat @ flat.transpose(1, 2) / (features.shape[2] * features.shape[3])",
        "answer_style_loss": STYLE},
}
#: the cheats that fool nbgrader alone (its check in the student's kernel raises nothing), by cell
FOOLS_THE_KERNEL = {
    "cheat_check_and_sl": ("gram_matrix", "style_loss"), "cheat_result_and_asserts": ("gram_matrix", "style_loss"),
    "cheat_builtins_and_allclose": ("gram_matrix", "style_loss"), "cheat_reference_and_call": ("gram_matrix",),
    "cheat_hand_in_and_solution": ("gram_matrix", "style_loss"), "cheat_fill_and_delete": ("gram_matrix",),
    "helper_outside_answers": ("gram_matrix", "style_loss"),
}


def _nbgrader_or_skip() -> None:
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        reason = 'nbgrader is not installed: pip install -e ".[classroom]" (the [test] extra includes it)'
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
        pytest.skip(reason)


def _nbgrader(course: Path, *args: str) -> str:
    # No personal nbgrader config; the kernel is this environment's python3, not a user-wide one.
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(course / ".jupyter"), "JUPYTER_PREFER_ENV_PATH": "1"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    assert "Exception while loading config file" not in done.stderr, done.stderr
    return done.stderr


def _submit(course: Path, student: str, answers: dict) -> None:
    notebook = json.loads((course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    for cell in notebook["cells"]:
        grade_id = cell["metadata"]["nbgrader"]["grade_id"]
        if grade_id in answers:
            source = "".join(cell["source"])
            assert STUB in source, "nbgrader's student version changed its stub"
            cell["source"] = source.replace(STUB, answers[grade_id])
    if "extra" in answers:
        at = next(i for i, c in enumerate(notebook["cells"]) if c["metadata"]["nbgrader"]["grade_id"] == "answer_gram_matrix")
        notebook["cells"].insert(at, {"cell_type": "code", "execution_count": None, "id": "extra", "metadata": {},
                                      "outputs": [], "source": answers["extra"]})
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(notebook))


def _feedback(course: Path, student: str) -> str:
    page = (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _gradebook(course: Path) -> dict:
    """``{student: (score, flagged, {cell: (score, needs manual grade, manual score)}, [comments])}``."""
    from nbgrader.api import Gradebook

    found = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in SUBMISSIONS:
            (notebook,) = gradebook.find_submission(ASSIGNMENT, student).notebooks
            cells = {g.name.removeprefix("check_"): (g.score, g.needs_manual_grade, g.manual_score) for g in notebook.grades}
            comments = [c.auto_comment for c in notebook.comments if c.auto_comment]
            found[student] = (notebook.score, notebook.flagged, cells, comments)
    return found


@pytest.mark.slow
@pytest.mark.classroom
def test_nbgrader_scores_from_outside_the_kernel_names_the_mistakes_and_flags_every_cheat(tmp_path):
    _nbgrader_or_skip()
    course = tmp_path / "course"
    classroom.build_course(course, ["03"])
    config = (course / "nbgrader_config.py").read_text()
    _nbgrader(course, "generate_assignment", ASSIGNMENT)
    released = _by_id(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    assert "### BEGIN SOLUTION" not in json.dumps(released) and "flat @ flat" not in json.dumps(released)
    for student, answers in SUBMISSIONS.items():
        _submit(course, student, answers)
    log = _nbgrader(course, "autograde", ASSIGNMENT)
    _nbgrader(course, "generate_feedback", ASSIGNMENT)
    book = _gradebook(course)
    print("gradebook (score, flagged, cells):")
    for student, (score, flagged, cells, _) in book.items():
        print(f"  {student:<28} {score:g}/2  {'FLAGGED' if flagged else '-':<8} "
              + "  ".join(f"{name} {s:g}{' review' if review else ''}" for name, (s, review, _) in cells.items()))

    assert "stylelab graded correct/03_gram_matrices" in log  # the config's preprocessors ran
    assert book["correct"][:3] == (2, False, {"gram_matrix": (1, False, None), "style_loss": (1, False, None)})
    assert book["combined"][:3] == (1, False, {"gram_matrix": (1, False, None), "style_loss": (0, False, None)})
    for student in ("wrong", "empty", "broken"):
        assert book[student][:3] == (0, False, {"gram_matrix": (0, False, None), "style_loss": (0, False, None)}), student
    for student in [s for s in SUBMISSIONS if s.startswith("cheat_") or s == "helper_outside_answers"]:
        score, flagged, cells, comments = book[student]
        assert score == 0 and flagged, (student, book[student])
        assert all(s == 0 and review and manual is None for s, review, manual in cells.values()), (student, cells)
        assert len(comments) == 2 and all(c.startswith("Flagged for review by the grader: ") for c in comments)
        for name in FOOLS_THE_KERNEL.get(student, ()):  # the cheat worked inside the kernel; the score ignores it
            assert any(f"nbgrader alone would have given {name} full points" in c for c in comments), (student, name)
    gradebook_and_course = " ".join(book["cheat_gradebook_and_course"][3])
    assert "gradebook.db" in log and "nbgrader_config.py" in log  # both put back, and said so
    assert (course / "nbgrader_config.py").read_text() == config
    assert "sqlite3" in gradebook_and_course and "open" in gradebook_and_course
    assert "torch.allclose was replaced" in " ".join(book["cheat_exit_and_hidden_patch"][3])
    assert "kernel of cheat_exit_and_hidden_patch died" in log

    wrong_gram = exercises.check("gram_matrix", lambda f: f.reshape(1, 4, 15) @ f.reshape(1, 4, 15).transpose(1, 2),
                                 quiet=True)
    expected = {
        "correct": ["✅ gram_matrix: correct!", "✅ style_loss: correct!"],
        "wrong": [str(wrong_gram), f"AssertionError: not_normalised: {wrong_gram.message}",
                  "AssertionError: gram_not_normalised: the Gram matrix of the generated features is not divided"],
        "combined": ["AssertionError: gram_not_normalised+sum_instead_of_mean: two mistakes together: (1) the Gram "
                     "matrix of the generated features is not divided by H*W", "(2) you summed the squared differences"],
        "empty": ["✏️ gram_matrix: not attempted yet. Your gram_matrix still raises NotImplementedError",
                  "AssertionError: not attempted: your style_loss still raises NotImplementedError"],
        "broken": ["too_slow: your gram_matrix did not return within", "SyntaxError"],
        "cheat_check_and_sl": ["AssertionError: not_allowed: your answer cell breaks the rules of graded answers: "
                               "line 4: sl.exercises.check"],
        "helper_outside_answers": ["raised NameError: name 'flatten' is not defined"],
    }
    for student, texts in expected.items():
        feedback = _feedback(course, student)
        for text in texts:
            assert text in feedback, f"{student}'s feedback lacks {text!r}"


# --------------------------------------------------------------------------- odd arguments and full disks (issue 20)


@pytest.mark.parametrize("course_id", ["..", ".", "../outside", "a/b", "-rf", ".hidden", "", " x", "x" * 65, "kurs\n1"])
def test_a_course_id_outside_the_exchange_is_refused(tmp_path, course_id):
    # Before issue 20, course id ".." made nbgrader release outside the exchange folder.
    with pytest.raises(ValueError, match="must start with a letter or a digit") as info:
        classroom.build_course(tmp_path / "course", ["02"], course_id=course_id)
    assert "\n" not in str(info.value) and not (tmp_path / "course").exists()


@pytest.mark.parametrize("points, message", [("inf", "points must be a finite number"),
                                             ("nan", "points must be a finite number"),
                                             ("-1", "points must be greater than 0"),
                                             ("1e6", "points must be at most 1000")])
def test_points_that_are_not_a_sane_number_are_refused(tmp_path, capsys, points, message):
    # Before issue 20, --points inf wrote "points": Infinity, which is not JSON.
    assert classroom.main(["build-course", str(tmp_path / "course"), "--lessons", "02", "--points", points]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and not (tmp_path / "course").exists()


def test_a_full_disk_leaves_no_truncated_notebook_and_the_rebuild_finishes(tmp_path, capsys, monkeypatch):
    # Before issue 20 a full disk left a truncated notebook, and the rebuild then refused to write over it.
    import errno

    from stylelab import files

    real = files._write_some
    writes = {"count": 0}

    def fill_up(handle, data):
        writes["count"] += 1
        if writes["count"] == 3:  # the config and the first notebook fit, the second does not
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(handle, data)

    monkeypatch.setattr(files, "_write_some", fill_up)
    course = tmp_path / "course"
    assert classroom.main(["build-course", str(course), "--lessons", "02", "03"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "There is no space left on the disk for the assignment 03_gram_matrices" in err[0]
    leftovers = sorted(str(p.relative_to(course)) for p in course.rglob("*") if p.is_file())
    assert leftovers == ["nbgrader_config.py", "source/02_content_loss/02_content_loss.ipynb"]
    json.loads((course / "source" / "02_content_loss" / "02_content_loss.ipynb").read_text())  # whole
    monkeypatch.setattr(files, "_write_some", real)  # space freed: the same command finishes the course
    assert classroom.main(["build-course", str(course), "--lessons", "02", "03"]) == 0
    for name in ("02_content_loss", "03_gram_matrices"):
        nbformat.validate(nbformat.read(str(course / "source" / name / f"{name}.ipynb"), as_version=4))
