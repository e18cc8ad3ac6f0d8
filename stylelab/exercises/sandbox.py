"""The grading process: runs a student's answer cells and the checkers, outside the student's kernel.

:mod:`.grader` starts ``python -m stylelab.exercises.sandbox --result-fd N`` in an empty folder,
sends it one job (the setup cell, the answer cells, the exercises to check) on stdin, and
reads the verdicts from the pipe ``N``. Nothing of the student's kernel is here: no IPython,
no input transformers, no patched ``sl``; the checkers are imported from the installed
package before any student code runs. While the answers run:

* answers are checked in graded mode (:func:`.checking.graded`): no solutions, no
  ``fill_unfinished``, no hint that points to stylelab's functions;
* an audit hook (:func:`sys.addaudithook`, which cannot be removed) refuses writing files,
  reading the solutions, the course folder or ``/proc``, opening file descriptors by number,
  starting processes, sockets and ``ctypes``; from the answer's own code also frame access
  (``sys._getframe``), ``gc``'s object lists and tracing;
* a profile hook notes every stylelab function that the answer calls (other than what the
  checker handed it, :data:`.checking.FIXTURES`);
* after each exercise the namespaces the checkers rely on (``builtins``, ``torch``,
  ``torch.Tensor``, ``torch.nn.functional``, numpy, math, every stylelab module) are compared,
  object by object, with their state before any answer ran.

Anything found makes the verdict a failure with mistake ``tampering`` and the reasons in
``flags``. Each verdict travels with an HMAC whose key the grader sends only after the
checker has finished (so no student code runs while the key is in this process); the
grader also kills this process at a hard deadline.
"""

from __future__ import annotations

import argparse
import builtins
import hmac
import json
import math
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy
import torch
import torch.nn.functional

from . import checking, limits
from .registry import EXERCISES

__all__ = ["main"]

#: The file name the answer cells' code carries: how frames of the student's code are told apart.
STUDENT = "<answer"
_HARD_EVENTS = ("subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "os.kill",
                "os.killpg", "pty.", "socket.", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.string_at",
                "ctypes.wstring_at", "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
                "os.symlink", "os.truncate", "os.utime", "os.chdir", "os.chflags", "os.setxattr", "os.removexattr",
                "os.putenv", "os.unsetenv", "shutil.", "sqlite3.", "webbrowser.", "msvcrt.", "winreg.", "_winapi.",
                "builtins.input")
_SOFT_EVENTS = ("sys._getframe", "sys.settrace", "sys.setprofile", "gc.get_objects", "gc.get_referrers",
                "gc.get_referents", "function.__new__", "code.__new__", "object.__setattr__", "object.__delattr__",
                "sys._current_frames", "sys.addaudithook", "marshal.loads", "pickle.find_class")
_WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Guard:
    """The audit and profile hooks of one grading process, and what they found.

    ``scratch``: the one folder where writing is allowed (the process's own temporary folder,
    which libraries such as torch use for caches; the grader deletes it afterwards).
    """

    def __init__(self, protected: Sequence[str], scratch: str = "") -> None:
        self.package = str(Path(checking.__file__).resolve().parents[1]) + os.sep
        self.scratch = str(Path(scratch).resolve()) + os.sep if scratch else None
        self.protected = tuple(str(Path(p).resolve()) + os.sep for p in protected) + ("/proc/",)
        self.armed = False
        self.found: List[str] = []
        self._inside = False

    def note(self, what: str) -> None:
        if len(self.found) < 20 and what not in self.found:
            self.found.append(what)

    # the audit hook: events of the whole process
    def audit(self, event: str, args: tuple) -> None:
        if not self.armed or self._inside:
            return
        self._inside = True  # a hook that calls sys._getframe would otherwise call itself
        try:
            reason = self._refusal(event, args)
        finally:
            self._inside = False
        if reason:
            self.note(reason)
            raise PermissionError(f"not allowed while an answer is graded: {reason}")

    def _refusal(self, event: str, args: tuple) -> str:
        if event == "open":
            return self._open(args)
        if event.startswith(_HARD_EVENTS):
            return f"{event} {_short(args)}"
        if event.startswith(_SOFT_EVENTS) and self._from_student():
            return f"{event} (from the answer's own code)"
        return ""

    def _open(self, args: tuple) -> str:
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        if isinstance(path, int):
            return f"opening file descriptor {path}"
        try:
            resolved = os.path.realpath(os.fsdecode(path)) + os.sep
        except (TypeError, ValueError):
            return f"opening {path!r}"
        writes = (isinstance(mode, str) and any(m in mode for m in "wax+")) or (isinstance(flags, int) and flags & _WRITES)
        if writes and not (self.scratch and resolved.startswith(self.scratch)):
            return f"writing {os.fsdecode(path)}"
        if resolved.startswith(self.protected) and not resolved.startswith(self.package):
            return f"reading {os.fsdecode(path)}"
        return ""

    def _from_student(self) -> bool:
        frame = sys._getframe(3)  # above this method, _refusal and audit: the code that caused the event
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(STUDENT):
                return True
            if name.startswith(self.package):
                return False
            frame = frame.f_back
        return False

    # the profile hook: every Python call of the main thread
    def profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        if not code.co_filename.startswith(self.package) or code in checking.FIXTURES:
            return
        caller = frame.f_back
        while caller is not None and not caller.f_code.co_filename.startswith((STUDENT, self.package)):
            caller = caller.f_back  # through torch, numpy, the standard library
        if caller is not None and caller.f_code.co_filename.startswith(STUDENT):
            module = frame.f_globals.get("__name__", "stylelab")
            self.note(f"the answer called stylelab's {module}.{code.co_name}")


def _short(args: tuple) -> str:
    text = repr(args)
    return text if len(text) < 120 else text[:117] + "..."


# --------------------------------------------------------------------------- what must not change


def _watched() -> Dict[str, dict]:
    """The namespaces the checkers rely on, by name, as dicts of their current objects."""
    spaces = {"builtins": vars(builtins), "torch": vars(torch), "torch.Tensor": dict(vars(torch.Tensor)),
              "torch.nn.functional": vars(torch.nn.functional), "torch.nn.Module": dict(vars(torch.nn.Module)),
              "torch.autograd": vars(torch.autograd), "numpy": vars(numpy), "math": vars(math)}
    for name, module in list(sys.modules.items()):
        if name.startswith("stylelab") and module is not None:
            spaces[name] = vars(module)
            for value in list(vars(module).values()):
                if isinstance(value, type) and value.__module__ == name:
                    spaces[f"{name}.{value.__name__}"] = dict(vars(value))
    spaces["sys.modules"] = {k: v for k, v in sys.modules.items() if k.startswith(("stylelab", "torch", "numpy"))}
    return spaces


def snapshot() -> Dict[str, Dict[str, Any]]:
    """A copy of :func:`_watched` (the objects themselves are compared by identity later)."""
    return {name: dict(space) for name, space in _watched().items()}


def changes(before: Dict[str, Dict[str, Any]]) -> List[str]:
    """What was replaced or removed since ``before`` (additions are allowed: torch loads parts lazily)."""
    now = _watched()
    found = []
    for name, old in before.items():
        new = now.get(name, {})
        for key, value in old.items():
            if key not in ("_", "__builtins__") and new.get(key, _GONE) is not value:
                found.append(f"{name}.{key} was {'removed' if key not in new else 'replaced'}")
    return found[:10]


_GONE = object()


# --------------------------------------------------------------------------- running one job


def _compiled(cells: Sequence[dict]) -> List[Tuple[dict, Any, str]]:
    """Each cell with its code object (or None) and its syntax error (or "")."""
    from .policy import _python  # IPython's standard rewriting, the same the policy reads

    result = []
    for index, cell in enumerate(cells):
        label = "<setup>" if cell["kind"] == "setup" else f"{STUDENT} {cell.get('name', index)}>"
        try:
            result.append((cell, compile(_python(cell["source"]), label, "exec"), ""))
        except (SyntaxError, ValueError) as exc:
            result.append((cell, None, f"{type(exc).__name__} on line {getattr(exc, 'lineno', '?')}: {exc.msg if hasattr(exc, 'msg') else exc}"))
    return result


def run_cells(cells: Sequence[dict], guard: Guard, seconds: float) -> Tuple[dict, List[str]]:
    """Run the setup cell, then (guarded) the answer cells, in one namespace; return it and each answer cell's error."""
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    problems = []
    for cell, code, error in _compiled(cells):
        if cell["kind"] == "setup":
            exec(code, namespace)  # noqa: S102 - the instructor's locked setup cell, from the gradebook
            for name, value in list(namespace.items()):  # the answers get no stylelab
                if isinstance(value, types.ModuleType) and value.__name__.split(".")[0] == "stylelab":
                    del namespace[name]
            continue
        guard.armed = True
        if code is None:
            problems.append(f"{cell.get('name', 'an answer cell')}: {error}")
            continue
        try:
            with limits.time_limit(seconds):
                exec(code, namespace)  # noqa: S102 - the student's answer, in this separate, guarded process
        except BaseException as exc:  # noqa: BLE001 - a cell that fails is reported, the others still run
            problems.append(f"{cell.get('name', 'an answer cell')} raised {type(exc).__name__}: {checking.text_of(exc)}")
    guard.armed = True
    return namespace, problems


def own_answer(name: str, value: Any) -> str:
    """Why ``value`` is not an answer defined in an answer cell ("" if it is, or if it is data, or missing)."""
    if name.endswith("_layers") or value is None or value is Ellipsis:
        return ""
    if isinstance(value, types.FunctionType) and value.__code__.co_filename.startswith(STUDENT):
        return ""
    return (f"{name} is not a function defined in your answer cell (it is {checking.describe(value)}): define it with "
            f"def {name}(...) there; a function from a library can be called inside it.")


def check_one(name: str, namespace: dict, guard: Guard, before: dict, problems: List[str]) -> dict:
    """The verdict of one exercise, with every reason to doubt it in ``flags``."""
    answer = namespace.get(name)
    refusal = own_answer(name, answer)
    if refusal:
        result = checking.CheckResult(name, checking.FAILED, refusal, "not_own_function")
    else:
        result = EXERCISES[name].checker(answer, quiet=True)
    flags = list(guard.found) + changes(before)
    if sys.getprofile() != guard.profile:
        flags.append("the profile hook of the grading process was removed")
    if refusal:
        flags.append(refusal)
    if flags:
        result = checking.CheckResult(name, checking.FAILED, "your answer did something a graded answer may not do: "
                                      + "; ".join(flags[:3]) + ".", "tampering")
    if result.status == checking.NOT_ATTEMPTED and problems:
        result = checking.CheckResult(name, result.status, f"{result.message} ({'; '.join(problems[:2])})", result.mistake)
    return {"exercise": name, "status": result.status, "message": result.message, "mistake": result.mistake,
            "flags": flags, "problems": problems}


# --------------------------------------------------------------------------- the protocol


def _send(fd: int, line: str) -> None:
    data = (line + "\n").encode("utf-8")
    while data:
        data = data[os.write(fd, data):]


def _read_line(fd: int) -> bytes:
    """One line from ``fd`` (byte by byte: nothing after the newline is consumed)."""
    chunks = []
    while True:
        byte = os.read(fd, 1)
        if not byte or byte == b"\n":
            return b"".join(chunks)
        chunks.append(byte)


def warm_up() -> None:
    """Do once, before any answer runs, what torch does lazily the first time (imports, caches): an optimiser
    step of each kind the checkers hand out, and a gradient."""
    x = torch.ones(2, requires_grad=True)
    for optimizer in (torch.optim.SGD([x], lr=0.1), torch.optim.LBFGS([x], max_iter=1)):
        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = (x ** 2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
    torch.autograd.grad((x * 2).sum(), x)


def serve(job: dict, result_fd: int) -> None:
    """Run one job: the cells, then each exercise, sending each verdict once the grader sends its key."""
    checking._GRADED.set(True)  # for good, in this process
    checking.TIME_LIMIT = limits.limit(job.get("time_limit", limits.DEFAULT))
    torch.set_num_threads(1)
    warm_up()
    guard = Guard(job.get("protected", ()), tempfile.gettempdir())
    sys.stdin = open(os.devnull, encoding="utf-8")  # the grader's keys come on fd 0: the answers read nothing there
    before = snapshot()
    sys.addaudithook(guard.audit)
    _send(result_fd, "STARTED")
    sys.setprofile(guard.profile)
    namespace, problems = run_cells(job["cells"], guard, checking.TIME_LIMIT)
    _send(result_fd, "DEFINED")
    for index, name in enumerate(job["exercises"]):
        payload = json.dumps(check_one(name, namespace, guard, before, problems), sort_keys=True)
        _send(result_fd, f"READY {index}")
        key = _read_line(0)
        _send(result_fd, f"VERDICT {payload} {hmac.new(key, payload.encode('utf-8'), 'sha256').hexdigest()}")


def main(argv: Sequence[str] = None) -> None:
    """``python -m stylelab.exercises.sandbox --result-fd N`` (started by :mod:`.grader`, not by hand)."""
    parser = argparse.ArgumentParser(prog="python -m stylelab.exercises.sandbox", description=main.__doc__)
    parser.add_argument("--result-fd", type=int, required=True)
    args = parser.parse_args(argv)
    job = json.loads(_read_line(0).decode("utf-8"))
    try:
        serve(job, args.result_fd)
    finally:
        os._exit(0)  # nothing the answers left behind (atexit, finalizers, threads) runs after the verdicts


if __name__ == "__main__":  # pragma: no cover - run by the grader
    main()
