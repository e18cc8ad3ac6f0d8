"""The grading process outside the kernel (issue 19): its guards, its protocol, and a whole run.

The guards are tested by calling them directly (installing an audit hook in the test process
would last for the rest of the run); the protocol with stand-in interpreters that misbehave;
the whole run, with real answers and cheats that get past the rules read from the source, in
one grading process (slow: it imports torch)."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import stylelab as sl
from stylelab.errors import GradingError
from stylelab.course.exercises import checking, grader, limits, sandbox
from stylelab.course.exercises.grader import Cell, grade

from .helpers import SOLUTIONS

SETUP = Cell("import math\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\nimport stylelab as sl",
             "setup", "setup")


def _student(source: str, namespace: dict) -> None:
    """Run ``source`` as code of an answer cell (its frames carry the answer cells' file name)."""
    exec(compile(textwrap.dedent(source), f"{sandbox.STUDENT} test>", "exec"), namespace)  # noqa: S102


# --------------------------------------------------------------------------- the guards


@pytest.fixture
def guard(tmp_path):
    guard = sandbox.Guard([str(tmp_path / "course")], scratch=str(tmp_path / "scratch"))
    guard.armed = True
    return guard


@pytest.mark.parametrize("event, args", [
    ("open", ("/tmp/course/gradebook.db", "wb", 0)),
    ("open", ("/anywhere/file.txt", "a", 0)),
    ("open", ("/anywhere/file.txt", None, os.O_WRONLY | os.O_CREAT)),
    ("open", (0, "r", 0)),  # stdin by number: where the grader's keys arrive
    ("open", ("/proc/self/mem", "rb", 0)),
    ("subprocess.Popen", ("sh", ["sh"], None, None)),
    ("os.system", (b"true",)),
    ("os.remove", ("/x", -1)),
    ("socket.connect", (None, ("127.0.0.1", 80))),
    ("ctypes.dlopen", ("libc.so.6",)),
    ("builtins.input", ("prompt",)),
])
def test_the_audit_hook_refuses_writing_reading_protected_files_processes_and_more(guard, event, args):
    with pytest.raises(PermissionError, match="not allowed while an answer is graded"):
        guard.audit(event, args)
    assert guard.found


def test_the_audit_hook_refuses_the_course_folder_but_not_the_scratch_folder_or_reading_libraries(guard, tmp_path):
    with pytest.raises(PermissionError):
        guard.audit("open", (str(tmp_path / "course" / "source" / "x.ipynb"), "r", 0))
    guard.audit("open", (str(tmp_path / "scratch" / "cache"), "w", 0))
    guard.audit("open", (torch.__file__, "r", 0))
    guard.audit("open", (sl.__file__, "r", 0))
    guard.found.clear()
    guard.armed = False
    guard.audit("open", ("/anywhere", "w", 0))  # before the answers run, nothing is refused


def test_frame_access_is_refused_from_the_answers_code_only(guard):
    guard.audit("sys._getframe", (None,))  # from here (not an answer): libraries do this
    namespace = {"guard": guard}
    with pytest.raises(PermissionError, match="sys._getframe .from the answer's own code"):
        _student("guard.audit('sys._getframe', (None,))", namespace)


def test_the_profile_hook_notes_stylelab_called_from_the_answer_but_not_the_checkers_fixtures(guard):
    features = torch.rand(1, 2, 3, 3)
    namespace = {"sl": sl, "features": features, "fixture": sl.exercises.lesson05._TinyNetwork()}
    previous = sys.getprofile()
    sys.setprofile(guard.profile)
    try:
        _student("fixture(features.expand(1, 3, 3, 3), 'relu1_1')", {**namespace, "features": torch.rand(1, 1, 3, 3)})
        quiet = list(guard.found)
        _student("value = sl.gram_matrix(features)", namespace)
    finally:
        sys.setprofile(previous)
    assert quiet == []
    assert guard.found == ["the answer called stylelab's stylelab.engine.losses.gram_matrix"]


def test_the_time_limits_alarm_is_not_the_answer_calling_stylelab(guard):
    previous = sys.getprofile()
    sys.setprofile(guard.profile)
    try:
        with pytest.raises(limits.TimeUp):
            with limits.time_limit(0.05):
                _student("while True:\n    pass", {})
    finally:
        sys.setprofile(previous)
    assert guard.found == []


def test_replacing_what_the_checkers_use_is_seen_and_put_back(monkeypatch):
    spaces = sandbox.snapshot()
    assert sandbox.changes(spaces) == []
    allclose, gram_matrix, result = torch.allclose, sl.losses.gram_matrix, checking.CheckResult
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(sl.losses, "gram_matrix", lambda f: f)
    monkeypatch.delattr(checking, "CheckResult")
    torch.Tensor.double = lambda self: self  # hides the inherited method
    try:
        found = sandbox.changes(spaces, restore=True)
    finally:
        if "double" in vars(torch.Tensor):
            del torch.Tensor.double
    assert {"torch.allclose was replaced", "torch.Tensor.double was added", "stylelab.engine.losses.gram_matrix was replaced",
            "stylelab.course.exercises.checking.CheckResult was removed"} <= set(found)
    assert torch.allclose is allclose and sl.losses.gram_matrix is gram_matrix and checking.CheckResult is result
    assert "double" not in vars(torch.Tensor) and sandbox.changes(spaces) == []


def test_an_answer_must_be_defined_in_an_answer_cell():
    namespace: dict = {"torch": torch}
    _student("def gram_matrix(f):\n    return f\ncontent_loss = lambda g, t: g\nimport torch.nn.functional as F\n"
             "tv_loss = F.mse_loss", namespace)
    assert sandbox.own_answer("gram_matrix", namespace["gram_matrix"]) == ""
    assert sandbox.own_answer("content_loss", namespace["content_loss"]) == ""
    assert "not a function defined in your answer cell" in sandbox.own_answer("tv_loss", namespace["tv_loss"])
    assert "not a function defined" in sandbox.own_answer("gram_matrix", sl.gram_matrix)
    assert sandbox.own_answer("fine_texture_layers", ["relu1_1"]) == ""


# --------------------------------------------------------------------------- the protocol, with stand-ins


def _stand_in(tmp_path: Path, body: str) -> str:
    """An executable that the grader starts instead of Python: ``body`` runs with ``fd`` (the result pipe)."""
    script = tmp_path / "python"
    script.write_text(f"#!{sys.executable}\nimport os, sys, time\nfd = int(sys.argv[sys.argv.index('--result-fd') + 1])\n"
                      "def send(line):\n    os.write(fd, (line + '\\n').encode())\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return str(script)


ANSWER = Cell("def content_loss(g, t):\n    return ((g - t) ** 2).mean()", "answer", "answer_content_loss")


def test_the_grading_process_imports_the_same_stylelab_as_the_grader(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)  # e.g. a clone put on sys.path by a script, not installed
    python = _stand_in(tmp_path, "import stylelab\nprint(stylelab.__file__, file=sys.stderr)\nsys.exit(3)")
    with pytest.raises(GradingError) as caught:
        grade([ANSWER], ["content_loss"], python=python)
    assert str(Path(sl.__file__).resolve()) in str(caught.value)


def test_a_grader_that_cannot_start_is_an_error_not_a_zero(tmp_path):
    with pytest.raises(GradingError, match="could not start .*boom"):
        grade([ANSWER], ["content_loss"], python=_stand_in(tmp_path, "print('boom', file=sys.stderr)\nsys.exit(3)"))


def test_a_forged_verdict_counts_as_tampering(tmp_path):
    python = _stand_in(tmp_path, """
        send('STARTED'); send('DEFINED'); send('READY 0')
        sys.stdin.readline()
        send('VERDICT {"exercise": "content_loss", "status": "passed", "message": "ok", "flags": []} 00ff')
    """)
    verdict = grade([ANSWER], ["content_loss"], python=python)["content_loss"]
    assert verdict.result.mistake == "tampering" and not verdict.result.passed and verdict.flags


def test_a_process_that_ends_during_a_check_fails_that_exercise_only_and_is_flagged(tmp_path):
    marker = tmp_path / "started-once"
    python = _stand_in(tmp_path, f"""
        import hmac, json
        job = json.loads(sys.stdin.readline())
        send('STARTED'); send('DEFINED')
        if job['exercises'][0] == 'content_loss' and not os.path.exists({str(marker)!r}):
            open({str(marker)!r}, 'w').close()
            os._exit(0)  # as an answer that ended the process would
        for index, name in enumerate(job['exercises']):
            send(f'READY {{index}}')
            key = sys.stdin.readline().strip().encode()
            payload = json.dumps({{"exercise": name, "status": "passed", "message": "ok", "flags": []}})
            send('VERDICT ' + payload + ' ' + hmac.new(key, payload.encode(), 'sha256').hexdigest())
    """)
    verdicts = grade([ANSWER], ["content_loss", "tv_loss"], python=python)
    assert verdicts["content_loss"].result.mistake == "grader_stopped" and verdicts["content_loss"].flags
    assert verdicts["tv_loss"].result.passed and verdicts["tv_loss"].flags == ()


def test_a_process_that_hangs_is_killed_at_the_deadline(tmp_path, monkeypatch):
    monkeypatch.setattr(grader, "deadlines", lambda seconds, cells: grader.Deadlines(start=30, cells=30, check=0.5))
    python = _stand_in(tmp_path, "sys.stdin.readline()\nsend('STARTED'); send('DEFINED')\ntime.sleep(600)")
    verdict = grade([ANSWER], ["content_loss"], python=python)["content_loss"]
    assert verdict.result.mistake == "too_slow" and "the grader stopped it" in verdict.result.message


def test_a_cell_that_breaks_a_rule_is_not_run_and_its_exercise_fails_flagged(tmp_path):
    python = _stand_in(tmp_path, "raise SystemExit('never started: no cell may run')")
    cheat = Cell("def gram_matrix(f):\n    return sl.gram_matrix(f)", "answer", "answer_gram_matrix")
    verdict = grade([SETUP, cheat], ["gram_matrix"], python=python)["gram_matrix"]
    assert verdict.result.mistake == "not_allowed" and "line 2: sl" in verdict.result.message and verdict.flags


# --------------------------------------------------------------------------- a whole run


def _solution(name: str) -> str:
    return (SOLUTIONS / name).read_text()


@pytest.mark.slow  # a grading process imports torch
def test_a_whole_run_passes_right_answers_and_catches_what_the_rules_cannot_see():
    cells = [
        SETUP,
        # right answers, with output to stderr and a PyTorch warning (float() of a tensor that requires grad)
        Cell(_solution("gram_matrix.py") + "\nimport sys\nprint('debug', file=sys.stderr)", "answer", "answer_gram_matrix"),
        Cell("import warnings\ndef optimization_step(image, optimizer, loss_fn):\n    optimizer.zero_grad()\n"
             "    loss = loss_fn(image)\n    loss.backward()\n    optimizer.step()\n    with torch.no_grad():\n"
             "        image.clamp_(0, 1)\n    warnings.warn('a warning on stderr')\n    return float(loss)",
             "answer", "answer_optimization_step"),
        # a wrong answer: its named mistakes are the feedback
        Cell("def style_loss(generated_features, target_gram):\n    b, c, h, w = generated_features.shape\n"
             "    flat = generated_features.reshape(b, c, h * w)\n"
             "    return ((flat @ flat.transpose(1, 2) - target_gram) ** 2).sum()", "answer", "answer_style_loss"),
        # a cheat that no rule of the source catches: patching torch through a function's return value
        Cell("def module():\n    return torch\nmodule().allclose = lambda *args, **kwargs: True\n"
             "def content_loss(generated, target):\n    return (generated - target).sum()", "answer", "answer_content_loss"),
    ]
    verdicts = grade(cells, ["gram_matrix", "optimization_step", "style_loss", "content_loss"])
    assert verdicts["gram_matrix"].result.passed and verdicts["gram_matrix"].flags == ()
    assert verdicts["optimization_step"].result.passed and verdicts["optimization_step"].flags == ()
    assert verdicts["style_loss"].result.mistakes == ("gram_not_normalised", "sum_instead_of_mean")
    assert verdicts["style_loss"].flags == ()
    tampered = verdicts["content_loss"]  # seen, put back, and counted against the cell's own exercise only
    assert tampered.result.mistake == "tampering" and "torch.allclose was replaced" in " ".join(tampered.flags)


# One call into C that never returns to the interpreter: neither the alarm's handler nor the
# watchdog's injected exception can run until it does, so only the grader's kill stops it. (Nested
# retry loops are not used here: an injected exception sometimes lands outside both tries, and
# then the in-process limit wins, which made this test depend on the machine's load.)
ENDLESS_C_CALL = """
def tv_loss(image):
    return sum(range(10 ** 18))
"""


@pytest.mark.slow  # a grading process imports torch, and waits for a deadline
def test_an_answer_no_limit_inside_python_stops_is_killed_and_costs_only_its_own_exercise(monkeypatch):
    monkeypatch.setattr(grader, "deadlines", lambda seconds, cells: grader.Deadlines(start=300, cells=60, check=4))
    cells = [SETUP, Cell(ENDLESS_C_CALL, "answer", "answer_tv_loss"),
             Cell(_solution("luminance.py"), "answer", "answer_luminance")]
    verdicts = grade(cells, ["tv_loss", "luminance"], time_limit=0.3)
    assert verdicts["tv_loss"].result.mistake == "too_slow", verdicts["tv_loss"]
    assert "the grader stopped it" in verdicts["tv_loss"].result.message
    assert verdicts["luminance"].result.passed
