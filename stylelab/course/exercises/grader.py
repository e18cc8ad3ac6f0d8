"""Grading a student's answers outside the student's kernel: the verdicts a score may rest on.

:func:`grade` takes the answer cells' source (as submitted) and the exercises to check, and
returns one :class:`Verdict` per exercise. It trusts nothing the student's kernel did:

1. Each answer cell is read against the rules of graded answers (:mod:`.policy`); a cell
   that breaks one is not run, and the exercises it defines fail as ``not_allowed``.
2. The other cells run in a fresh Python process (:mod:`.sandbox`: no IPython, so no input
   transformers; the checkers imported from the installed package before any answer runs;
   audit and profile hooks; namespaces compared before and after), started in an empty
   folder with the solutions out of reach.
3. The process sends each verdict with an HMAC whose key this side sends only after that
   check is over; a verdict without the right HMAC counts as tampering.
4. This side kills the process at a hard deadline (:func:`deadlines`) and starts a new one
   for the exercises left, so that an answer that hangs or ends the process costs only its
   own exercise.

A verdict's ``flags`` say why an instructor should look at the submission (a broken rule,
tampering, a process that ended); an empty tuple means nothing was suspicious.
"""

from __future__ import annotations

import collections
import hmac
import json
import os
import secrets
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ...errors import GradingError
from . import checking, limits
from .checking import FAILED, CheckResult
from .policy import SETUP_MODULES, defined_names, describe_violations, violations
from .registry import solutions_dir

__all__ = ["Cell", "Verdict", "deadlines", "grade"]

_PACKAGE_PARENT = str(Path(checking.__file__).resolve().parents[3])


@dataclass(frozen=True)
class Cell:
    """A code cell the grader runs: ``kind`` is ``"setup"`` (the locked setup cell) or ``"answer"``."""

    source: str
    kind: str = "answer"
    name: str = "answer"


@dataclass(frozen=True)
class Verdict:
    """The grader's verdict on one exercise, and the reasons (if any) to look at the submission."""

    result: CheckResult
    flags: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Deadlines:
    """Seconds the grading process may take to start, to run the answer cells, and per check."""

    start: float
    cells: float
    check: float


def deadlines(time_limit: float, answer_cells: int) -> Deadlines:
    """The hard deadlines for ``time_limit`` (seconds per call of an answer; a check takes up to three calls'
    worth) and ``answer_cells`` cells; each has room for a loaded machine beyond the in-process limits."""
    return Deadlines(start=180.0, cells=answer_cells * time_limit + 60.0, check=3 * time_limit + 60.0)


def grade(cells: Sequence[Cell], exercises: Sequence[str], *, time_limit: Optional[float] = None,
          protected: Iterable[str] = (), python: Optional[str] = None) -> Dict[str, Verdict]:
    """Check ``exercises`` on the answers in ``cells`` outside this process; see the module's docstring.

    Args:
        cells: the setup cell and the answer cells, in notebook order.
        exercises: names from :data:`~stylelab.course.exercises.EXERCISES`.
        time_limit: seconds per call of an answer (default :data:`~stylelab.course.exercises.TIME_LIMIT`).
        protected: folders the answers may not read (the course folder); the solutions are always.
        python: the interpreter to run (default this one).

    Raises:
        GradingError: the grading process could not start (before any answer ran).
    """
    seconds = limits.limit(checking.TIME_LIMIT if time_limit is None else time_limit)
    verdicts: Dict[str, Verdict] = {}
    runnable = []
    modules = set(SETUP_MODULES)
    for cell in cells:
        found = violations(cell.source, modules) if cell.kind == "answer" else []
        if not found:
            runnable.append(cell)
            continue
        for name in defined_names(cell.source):
            if name in exercises:
                message = describe_violations(found)
                verdicts[name] = Verdict(CheckResult(name, FAILED, message, "not_allowed"), (message,))
    remaining = [name for name in exercises if name not in verdicts]
    hard = deadlines(seconds, sum(cell.kind == "answer" for cell in runnable))
    job = {"cells": [{"source": c.source, "kind": c.kind, "name": c.name} for c in runnable], "time_limit": seconds,
           "protected": sorted({str(solutions_dir()), *map(str, protected)})}
    while remaining:
        done = _run(job, remaining, hard, python or sys.executable)
        verdicts.update(done)
        remaining = [name for name in remaining if name not in verdicts]
    return {name: verdicts[name] for name in exercises}


def _stopped(name: str, seconds: float, timed_out: bool, stage: str) -> Verdict:
    if timed_out:
        message = (f"{stage} did not finish within {seconds:g} s, so the grader stopped it: look for a loop that "
                   "never ends.")
        return Verdict(CheckResult(name, FAILED, message, "too_slow"))
    message = (f"the grading process ended while {stage.lower()} was running (your code ended it, or made Python "
               "crash), so your answer could not be checked.")
    return Verdict(CheckResult(name, FAILED, message, "grader_stopped"), (message,))


def _run(job: dict, exercises: List[str], hard: Deadlines, python: str) -> Dict[str, Verdict]:
    """One grading process for ``exercises``; returns the verdicts it gave (an exercise it died on included)."""
    verdicts: Dict[str, Verdict] = {}
    with _Process({**job, "exercises": exercises}, python) as process:
        if process.expect("STARTED", hard.start) is None:
            raise GradingError(f"The grading process could not start ({process.problem()}); check that stylelab "
                               f"and torch import in {python}.")
        if process.expect("DEFINED", hard.cells) is None:
            for name in exercises:
                verdicts[name] = _stopped(name, hard.cells, process.timed_out, "Running your answer cells")
            return verdicts
        for index, name in enumerate(exercises):
            if process.expect(f"READY {index}", hard.check) is None:
                verdicts[name] = _stopped(name, hard.check, process.timed_out, f"Checking your {name}")
                return verdicts
            key = secrets.token_hex(32)
            process.send(key)
            line = process.expect("VERDICT ", hard.check)
            verdicts[name] = _authentic(name, line, key) if line else _stopped(name, hard.check, process.timed_out,
                                                                                f"Checking your {name}")
            if not line:
                return verdicts
    return verdicts


def _authentic(name: str, line: str, key: str) -> Verdict:
    """The verdict a ``VERDICT <json> <hmac>`` line carries, if its HMAC is right and it is about ``name``."""
    payload, _, mac = line[len("VERDICT "):].rpartition(" ")
    right = hmac.new(key.encode("ascii"), payload.encode("utf-8"), "sha256").hexdigest()
    try:
        data = json.loads(payload)
        ok = hmac.compare_digest(mac, right) and data.get("exercise") == name
    except (ValueError, TypeError, AttributeError):
        ok = False
    if not ok:
        message = "the grading process sent a verdict that was not its own, so your answer could not be checked."
        return Verdict(CheckResult(name, FAILED, message, "tampering"), (message,))
    result = CheckResult(name, data["status"], data["message"], data.get("mistake"))
    return Verdict(result, tuple(data.get("flags") or ()))


class _Process:
    """One running :mod:`.sandbox`: the job on its stdin, lines from its result pipe, its stderr's last lines."""

    def __init__(self, job: dict, python: str) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="stylelab-grading-")
        read, write = os.pipe()
        env = {key: value for key, value in os.environ.items() if key not in ("PYTHONSTARTUP", "PYTHONINSPECT")}
        # the same stylelab as this process's, wherever it came from (an install, a clone on sys.path)
        env["PYTHONPATH"] = os.pathsep.join([_PACKAGE_PARENT, *filter(None, [env.get("PYTHONPATH")])])
        scratch = os.path.join(self.folder.name, "tmp")
        os.mkdir(scratch)
        env.update(STYLELAB_SOLUTIONS=os.path.join(self.folder.name, "no-solutions"), TMPDIR=scratch,
                   OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        flags = ["-P"] if sys.version_info >= (3, 11) else []
        self.process = subprocess.Popen(
            [python, *flags, "-m", "stylelab.course.exercises.sandbox", "--result-fd", str(write)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(write,),
            cwd=self.folder.name, env=env, start_new_session=True)
        os.close(write)
        self.pipe, self.buffer, self.timed_out = read, b"", False
        self.stderr: collections.deque = collections.deque(maxlen=40)
        threading.Thread(target=self._drain, daemon=True).start()
        self.send(json.dumps(job))

    def _drain(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line.decode("utf-8", "replace").rstrip()[:300])

    def problem(self) -> str:
        return " / ".join(list(self.stderr)[-3:]) or f"exit status {self.process.poll()}"

    def send(self, line: str) -> None:
        try:
            self.process.stdin.write((line + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except OSError:  # it has ended: expect() will say so
            pass

    def expect(self, prefix: str, seconds: float) -> Optional[str]:
        """The next line from the result pipe if it starts with ``prefix`` within ``seconds``; else None
        (``timed_out`` says whether time ran out; a line out of order also gives None)."""
        end = time.monotonic() + seconds
        while b"\n" not in self.buffer:
            left = end - time.monotonic()
            if left <= 0:
                self.timed_out = True
                return None
            ready, _, _ = select.select([self.pipe], [], [], left)
            if ready:
                chunk = os.read(self.pipe, 65536)
                if not chunk:
                    return None
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        text = line.decode("utf-8", "replace")
        return text if text.startswith(prefix) else None

    def __enter__(self) -> "_Process":
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            os.killpg(self.process.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        try:
            self.process.stdin.close()
        except OSError:
            pass
        os.close(self.pipe)
        self.folder.cleanup()
