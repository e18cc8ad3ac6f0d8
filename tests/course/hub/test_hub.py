"""A term of the stylelab class on a real JupyterHub, as its instructor and students live it.

On 127.0.0.1: JupyterHub with configurable-http-proxy and the LocalProcessSpawner, so every
user's server and kernels run as a Linux user that the test creates with ``useradd`` (an
instructor and two students, homes ``0700`` in the test's temporary folder), in a
world-readable replica of this environment (``environment.py`` says why and how).

The set-up is the guide's (notebooks/INSTRUCTORS.md, "One shared environment"): as root,
``python -m stylelab.course.classroom hub-setup`` creates the sticky exchange, the system-wide
``nbgrader_config.py``, the students' read-only Jupyter configuration and the hub snippet,
which the hub loads as The Littlest JupyterHub loads ``jupyterhub_config.d``. The test's
``etc/jupyter`` stands in for ``/etc/jupyter`` (``JUPYTER_CONFIG_PATH`` in every server),
since a test may not write ``/etc``. The instructor builds the course from a private
clone with ``build-course``.

Then the term runs through the hub, with tokens the hub issues (what a browser holds
after logging in): the instructor generates and releases lesson 03's assignment in the
formgrader's API; each student fetches it in the Assignments API, saves answers through
the Contents API (as JupyterLab saves a notebook) and submits; the instructor collects,
autogrades each submission, generates and releases feedback; the students fetch it. Why
the servers' own handlers rather than nbgrader's commands run as each user: they are what
the instructor's and students' buttons call, so the hub's routing, the users' servers, the
per-user configuration and the exchange's permissions are all on the path.

Without root, ``jupyterhub`` or ``configurable-http-proxy`` the test is skipped, except
under ``CI=true``, where it fails (``.ci/run`` installs them). It stops everything it
started by PID, deletes its users, and leaves nothing outside its temporary folder.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from . import accounts, environment
from .server import Hub

pytestmark = [pytest.mark.slow, pytest.mark.classroom]

REPO = Path(__file__).resolve().parents[3]
COURSE = "nst-hub"
ASSIGNMENT = "03_gram_matrices"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
CORRECT_GRAM = ("    b, c, h, w = features.shape\n"
                "    flat = features.reshape(b, c, h * w)\n"
                "    return flat @ flat.transpose(1, 2) / (h * w)")
WRONG_STYLE = ("    b, c, h, w = generated_features.shape\n"  # the sum of the squares, where the mean was asked for
               "    flat = generated_features.reshape(b, c, h * w)\n"
               "    return ((flat @ flat.transpose(1, 2) / (h * w) - target_gram) ** 2).sum()")
# The one-line cheat: no answer, and the checker replaced by one that always passes.
CHEAT_STYLE = (
    "    return torch.zeros(())\n"
    "class _Pass:\n"
    "    passed, status, mistake, message = True, 'correct', None, ''\n"
    "    def __str__(self):\n"
    "        return '✅ style_loss: correct!'\n"
    "sl.exercises.check = lambda *args, **kwargs: _Pass()"
)
ANSWERS = {  # student role -> the answer cells they write (untouched cells keep the stub)
    "amy": {"answer_gram_matrix": CORRECT_GRAM, "answer_style_loss": WRONG_STYLE},
    "bob": {"answer_style_loss": CHEAT_STYLE},
}


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


def _requirements() -> str:
    """The proxy's path, or skip (fail under CI) naming what is missing."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        _missing("the hub test creates Linux users: run it as root on Linux (CI does)")
    try:
        import jupyterhub  # noqa: F401
        import nbgrader  # noqa: F401
    except ImportError as exc:
        _missing(f"{exc.name} is not installed: pip install jupyterhub nbgrader (.ci/run installs them)")
    proxy = shutil.which("configurable-http-proxy")
    if proxy is None:
        _missing("configurable-http-proxy is not on PATH: npm install -g configurable-http-proxy (.ci/run does)")
    if sys.prefix == sys.base_prefix:
        _missing("the hub test runs from a virtual environment (python -m venv; .ci/run makes one)")
    for tool in ("useradd", "userdel", "runuser"):
        if shutil.which(tool) is None:
            _missing(f"{tool} is missing (Debian's passwd and util-linux packages)")
    return proxy


def _run_root(command, variables, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, env={**variables, "HOME": "/nonexistent", "LANG": "C.UTF-8"},
                          capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _as(term, role: str, *command: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` as one of the term's users, with the environment their terminal has."""
    account = term.accounts[role]
    variables = dict(term.variables)
    if role != "teach":
        variables["JUPYTER_CONFIG_DIR"] = str(term.student_config)  # set by the hub for students
    return accounts.run_as(account, command, variables, cwd=cwd)


def _private_clone(account: accounts.Account) -> Path:
    """The instructor's clone of the repository (the package and the lessons with their
    solutions), in their private home."""
    clone = account.home / "stylelab"
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", ".stylelab_cache", "outputs")
    for part in ("stylelab", "notebooks"):
        shutil.copytree(REPO / part, clone / part, ignore=ignore)
    uid, gid = account.uid, os.stat(account.home).st_gid
    for folder, _, files in os.walk(clone):
        os.chown(folder, uid, gid)
        for name in files:
            os.chown(os.path.join(folder, name), uid, gid)
    return clone


def _answer(notebook: dict, answers: dict) -> dict:
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            assert STUB in cell["source"], "nbgrader's student version changed its stub"
            cell["source"] = cell["source"].replace(STUB, answers[grade_id])
    return notebook


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _prepare(term, proxy: str) -> None:
    root = term.root
    term.env = environment.build(root / "env")
    names = {role: accounts.unique_name(role) for role in ("teach", "amy", "bob")}
    snippet = root / "tljh" / "jupyterhub_config.d" / "stylelab.py"
    _run_root([str(term.env.python), "-m", "stylelab.course.classroom", "hub-setup", "--course-id", COURSE,
               "--instructors", names["teach"], "--exchange", str(term.exchange), "--jupyter-etc", str(root / "etc"),
               "--hub-config", str(snippet)], term.env.variables(), cwd=root)
    term.student_config = root / "etc" / "student"
    (root / "homes").mkdir(mode=0o755)
    for role, name in names.items():
        term.accounts[role] = accounts.create(name, root / "homes")
    term.variables = {**term.env.variables(), "JUPYTER_CONFIG_PATH": str(root / "etc"), "TMPDIR": str(root / "tmp")}
    teach = term.accounts["teach"]
    clone = _private_clone(teach)
    term.course = teach.home / "stylelab-course"
    built = _as(term, "teach", "python", "-m", "stylelab.course.classroom", "build-course", str(term.course),
                "--lessons", "03", "--course-id", COURSE, "--exchange", str(term.exchange), cwd=clone)
    assert built.returncode == 0, built.stderr
    load = re.search(r"load_subconfig\(.*\)", built.stdout).group(0)  # the line build-course prints
    script = f"mkdir -p ~/.jupyter && chmod 700 {term.course} && echo {json.dumps(load)} > ~/.jupyter/nbgrader_config.py"
    assert _as(term, "teach", "bash", "-c", script).returncode == 0
    # The guide's first step: the reference solutions pass their own checks (this also runs the
    # instructor's first kernel, which creates ~/.ipython, as any Jupyter use before the term does).
    source = f"source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    validated = _as(term, "teach", "python", "-m", "nbgrader", "validate", source, cwd=term.course)
    assert "Success!" in validated.stdout, f"nbgrader validate:\n{validated.stdout}\n{validated.stderr}"
    term.hub = Hub(root / "hub", term.env, proxy, snippet, term.variables)
    term.hub.start()
    for role, account in term.accounts.items():
        term.tokens[role] = term.hub.add_user(account.name)
        term.hub.start_server(account.name)
        term.sessions[role] = term.hub.user(account.name, term.tokens[role])


def _run_term(term) -> None:
    teach = term.sessions["teach"]
    api = f"formgrader/api/assignment/{ASSIGNMENT}"
    for step in ("assign", "release"):
        result = teach.json("POST", f"{api}/{step}")
        assert result["success"], f"{step}: {result}"
    course = {"course_id": COURSE, "assignment_id": ASSIGNMENT}
    for role, answers in ANSWERS.items():
        student = term.sessions[role]
        student.json("POST", "assignments/fetch", data=course)
        model = student.json("GET", f"api/contents/{NOTEBOOK}")
        notebook = _answer(model["content"], answers)
        student.json("PUT", f"api/contents/{NOTEBOOK}", json={"type": "notebook", "content": notebook})
        student.json("POST", "assignments/submit", data=course)
    result = teach.json("POST", f"{api}/collect")
    assert result["success"], f"collect: {result}"
    for role in ANSWERS:
        result = teach.json("POST", f"formgrader/api/submission/{ASSIGNMENT}/{term.accounts[role].name}/autograde")
        assert result["success"], f"autograde {role}: {result['error'] if 'error' in result else result}"
        term.autograde_log[role] = result.get("log", "")
    for step in ("generate_feedback", "release_feedback"):
        result = teach.json("POST", f"{api}/{step}")
        assert result["success"], f"{step}: {result}"
    for role in ANSWERS:
        student = term.sessions[role]
        student.json("POST", "assignments/fetch_feedback", data=course)
        runs = student.json("GET", f"api/contents/{ASSIGNMENT}/feedback")["content"]
        page = student.json("GET", f"api/contents/{runs[0]['path']}/{ASSIGNMENT}.html")
        term.feedback[role] = _text(page["content"])


@pytest.fixture(scope="module")
def term():
    """The whole term, run once; the tests below check what it left."""
    proxy = _requirements()
    root = Path(tempfile.mkdtemp(prefix="stylelab-hub-"))
    root.chmod(0o755)
    (root / "tmp").mkdir()
    (root / "tmp").chmod(0o1777)
    term = SimpleNamespace(root=root, exchange=root / "srv" / "exchange", accounts={}, tokens={}, sessions={},
                           feedback={}, autograde_log={}, hub=None)
    try:
        _prepare(term, proxy)
        _run_term(term)
        yield term
    finally:
        if term.hub is not None:
            term.hub.stop()
        left = {role: accounts.remove(account) for role, account in term.accounts.items()}
        shutil.rmtree(root, ignore_errors=True)
        assert not any(left.values()), f"processes left running after the hub stopped: {left}"


def _scores(term) -> dict:
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{term.course / 'gradebook.db'}", COURSE) as gradebook:
        for role in ANSWERS:
            submission = gradebook.find_submission(ASSIGNMENT, term.accounts[role].name)
            (notebook,) = submission.notebooks
            scores[role] = SimpleNamespace(
                total=submission.score, out_of=submission.max_score, flagged=notebook.flagged,
                needs_manual_grade=notebook.needs_manual_grade,
                cells={grade.name: grade.score for grade in notebook.grades})
    return scores


def test_the_gradebook_scores_right_wrong_and_empty_answers_and_flags_the_cheat(term):
    scores = _scores(term)
    print("gradebook:", {role: vars(score) for role, score in scores.items()})
    amy, bob = scores["amy"], scores["bob"]
    assert amy.cells == {"check_gram_matrix": 1, "check_style_loss": 0} and (amy.total, amy.out_of) == (1, 2)
    assert not amy.flagged, f"an honest submission was flagged:\n{term.autograde_log['amy']}"
    assert bob.cells["check_gram_matrix"] == 0  # untouched: not attempted
    assert bob.cells["check_style_loss"] == 0, "a replaced sl.exercises.check must not score"
    assert bob.flagged, "the cheat must be flagged for the instructor"


def test_students_get_their_feedback_through_the_exchange(term):
    assert "gram_matrix: correct!" in term.feedback["amy"]
    assert "sum_instead_of_mean" in term.feedback["amy"]
    assert "not attempted" in term.feedback["bob"]


def test_students_cannot_read_the_solutions_or_the_course_source(term):
    source = term.course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    for role in ANSWERS:
        shown = _as(term, role, "python", "-m", "stylelab.course.exercises", "solution", "gram_matrix")
        assert shown.returncode != 0 and "flat @ flat" not in shown.stdout, f"{role} read the solution"
        message = shown.stderr.strip()
        assert "Traceback" not in message and len(message.splitlines()) == 1, f"not one clear sentence: {message}"
        read = _as(term, role, "cat", str(source))
        assert read.returncode != 0 and "Permission denied" in read.stderr and "BEGIN SOLUTION" not in read.stdout
    assert "BEGIN SOLUTION" in _as(term, "teach", "cat", str(source)).stdout  # the instructor can


def test_no_student_can_rename_the_instructors_course_in_the_exchange(term):
    released = term.exchange / COURSE
    assert released.is_dir() and oct(term.exchange.stat().st_mode & 0o7777) == "0o1777"
    moved = _as(term, "bob", "mv", str(released), str(term.exchange / "stolen"))
    assert moved.returncode != 0 and released.is_dir() and not (term.exchange / "stolen").exists()


def test_the_instructor_has_the_formgrader_and_students_cannot_turn_it_on(term):
    assert term.sessions["teach"].request("GET", "formgrader").status_code == 200
    lab = term.sessions["teach"].request("GET", "lab").text
    assert "@jupyter/nbgrader:formgrader" not in re.search(r'"disabledExtensions": \[[^]]*\]', lab).group(0)
    # A student tries every way: the documented commands, and the configuration written by hand.
    tries = [("jupyter", "server", "extension", "enable", "--user", "nbgrader.server_extensions.formgrader"),
             ("jupyter", "labextension", "enable", "--level=user", "@jupyter/nbgrader:formgrader")]
    for command in tries:
        _as(term, "amy", *command)
    # (~/.ipython, as after a student's first kernel, makes Jupyter try to migrate it into the config folder)
    by_hand = ("mkdir -p ~/.jupyter/labconfig ~/.ipython/profile_default && "
               "echo '{\"ServerApp\": {\"jpserver_extensions\": {\"nbgrader.server_extensions.formgrader\": true}}}' "
               "> ~/.jupyter/jupyter_server_config.json && "
               "echo '{\"disabledExtensions\": {\"@jupyter/nbgrader:formgrader\": false}}' "
               "> ~/.jupyter/labconfig/page_config.json")
    assert _as(term, "amy", "bash", "-c", by_hand).returncode == 0
    amy = term.accounts["amy"].name
    term.hub.stop_server(amy)
    term.hub.start_server(amy)
    student = term.sessions["amy"]
    assert student.request("GET", "formgrader").status_code == 404
    disabled = re.search(r'"disabledExtensions": \[[^]]*\]', student.request("GET", "lab").text).group(0)
    for plugin in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"):
        assert plugin in disabled
    assert student.request("GET", f"assignments?course_id={COURSE}").status_code == 200  # the Assignments tab works
