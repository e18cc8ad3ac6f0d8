"""The grading process: runs a student's answer cells and the checkers, outside the student's kernel.

:mod:`.grader` starts ``python -m stylelab.course.exercises.sandbox --result-fd N`` in an empty folder,
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
from dataclasses import dataclass, field
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
        self.package = str(Path(checking.__file__).resolve().parents[2]) + os.sep
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
        try:  # (set inside the try: a TimeUp arriving here must not leave the hook switched off)
            self._inside = True  # a hook that calls sys._getframe would otherwise call itself
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
        if not code.co_filename.startswith(self.package) or code in checking.FIXTURES or code.co_filename in _MACHINERY:
            return
        caller = frame.f_back
        while caller is not None and not caller.f_code.co_filename.startswith((STUDENT, self.package)):
            caller = caller.f_back  # through torch, numpy, the standard library
        if caller is not None and caller.f_code.co_filename.startswith(STUDENT):
            module = frame.f_globals.get("__name__", "stylelab")
            self.note(f"the answer called stylelab's {module}.{code.co_name}")


#: The grading machinery's own files: its audit hook and time limit's alarm handler run on top of the answer's
#: frames (called by Python, not by the answer).
_MACHINERY = frozenset({__file__, limits.__file__, str(Path(__file__).resolve()), str(Path(limits.__file__).resolve())})


def _short(args: tuple) -> str:
    text = repr(args)
    return text if len(text) < 120 else text[:117] + "..."


# --------------------------------------------------------------------------- what must not change


class Space:
    """One namespace the checkers rely on: a module (new names are fine: libraries load lazily) or a class
    (strict: a new name there can hide an inherited method, e.g. ``torch.Tensor.double``)."""

    def __init__(self, label: str, owner: Any, strict: bool) -> None:
        self.label, self.owner, self.strict = label, owner, strict
        self.before = dict(self.now())

    def now(self) -> Any:
        return self.owner if isinstance(self.owner, dict) else vars(self.owner)

    def put(self, key: str, value: Any) -> None:
        if isinstance(self.owner, (dict, types.ModuleType)):
            self.now()[key] = value
        else:
            setattr(self.owner, key, value)

    def drop(self, key: str) -> None:
        if isinstance(self.owner, (dict, types.ModuleType)):
            self.now().pop(key, None)
        else:
            delattr(self.owner, key)

    def changes(self, restore: bool) -> List[str]:
        """What was replaced, removed or (in a class) added; with ``restore``, put back as it was."""
        now, found = dict(self.now()), []
        for key, value in self.before.items():
            if key in ("_", "__builtins__") or now.get(key, _GONE) is value:
                continue
            found.append(f"{self.label}.{key} was {'removed' if key not in now else 'replaced'}")
            if restore:
                self.put(key, value)
        for key in (now.keys() - self.before.keys()) if self.strict else ():
            found.append(f"{self.label}.{key} was added")
            if restore:
                self.drop(key)
        return found


def snapshot() -> List[Space]:
    """The namespaces the checkers rely on, as they are now: builtins, torch, numpy, math, every stylelab module
    and class, and the classes the checkers hand to answers."""
    spaces = [Space("builtins", builtins, False), Space("torch", torch, False), Space("numpy", numpy, False),
              Space("math", math, False), Space("torch.nn.functional", torch.nn.functional, False),
              Space("torch.autograd", torch.autograd, False)]
    for label, cls in (("torch.Tensor", torch.Tensor), ("torch._C.TensorBase", torch._C.TensorBase),
                       ("torch.nn.Module", torch.nn.Module), ("torch.optim.Optimizer", torch.optim.Optimizer),
                       ("torch.optim.SGD", torch.optim.SGD), ("torch.optim.LBFGS", torch.optim.LBFGS)):
        spaces.append(Space(label, cls, True))
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "stylelab" and module is not None:
            spaces.append(Space(name, module, False))
            for value in list(vars(module).values()):
                if isinstance(value, type) and value.__module__ == name:
                    spaces.append(Space(f"{name}.{value.__name__}", value, True))
    modules = {k: v for k, v in sys.modules.items() if k.split(".")[0] in ("stylelab", "torch", "numpy")}
    spaces.append(_Modules(modules))
    return spaces


class _Modules(Space):
    """``sys.modules``' entries for stylelab, torch and numpy (replacing one swaps a whole module)."""

    def __init__(self, entries: Dict[str, Any]) -> None:
        self.label, self.owner, self.strict, self.before = "sys.modules", sys.modules, False, entries


def changes(spaces: List[Space], restore: bool = True) -> List[str]:
    """Everything replaced or removed in ``spaces`` since :func:`snapshot` (put back, with ``restore``)."""
    found = []
    for space in spaces:
        try:
            found += space.changes(restore)
        except Exception as exc:  # noqa: BLE001 - a class that refuses to be put back: say so
            found.append(f"{space.label} could not be put back ({type(exc).__name__})")
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


def findings(guard: Guard, spaces: List[Space]) -> List[str]:
    """What the guards saw since the last call (then forgotten); the namespaces and the profile hook are put back."""
    found = list(guard.found) + changes(spaces, restore=True)
    guard.found.clear()
    if sys.getprofile() != guard.profile:
        # Python drops a profile hook that raises, and a time limit's TimeUp can arrive inside it; an answer
        # itself cannot remove it (the audit hook refuses sys.setprofile from the answer's code).
        sys.setprofile(guard.profile)
    return found


@dataclass
class Defined:
    """The answer cells, run: their namespace, each cell's error, and what each exercise's cell did (under
    ``"*"``: cells that define no exercise, which count against every exercise)."""

    namespace: dict
    problems: List[str] = field(default_factory=list)
    flags: Dict[str, List[str]] = field(default_factory=dict)


def run_cells(cells: Sequence[dict], exercises: Sequence[str], guard: Guard, spaces: List[Space],
              seconds: float) -> Defined:
    """Run the setup cell, then (guarded, each under ``seconds``) the answer cells, in one namespace."""
    from .policy import defined_names

    done = Defined({"__name__": "__main__", "__builtins__": builtins})
    for cell, code, error in _compiled(cells):
        if cell["kind"] == "setup":
            exec(code, done.namespace)  # noqa: S102 - the instructor's locked setup cell, from the gradebook
            for name, value in list(done.namespace.items()):  # the answers get no stylelab
                if isinstance(value, types.ModuleType) and value.__name__.split(".")[0] == "stylelab":
                    del done.namespace[name]
            continue
        guard.armed = True
        label = cell.get("name", "an answer cell")
        if code is None:
            done.problems.append(f"{label}: {error}")
            continue
        try:
            with limits.time_limit(seconds):
                exec(code, done.namespace)  # noqa: S102 - the student's answer, in this separate, guarded process
        except BaseException as exc:  # noqa: BLE001 - a cell that fails is reported, the others still run
            done.problems.append(f"{label} raised {type(exc).__name__}: {checking.text_of(exc)}")
        found = findings(guard, spaces)
        for name in [n for n in defined_names(cell["source"]) if n in exercises] or ["*"]:
            done.flags.setdefault(name, []).extend(found)
    guard.armed = True
    return done


def own_answer(name: str, value: Any) -> str:
    """Why ``value`` is not an answer defined in an answer cell ("" if it is, or if it is data, or missing)."""
    exercise = EXERCISES.get(name)
    if (exercise is not None and exercise.value) or value is None or value is Ellipsis:
        return ""
    if isinstance(value, types.FunctionType) and value.__code__.co_filename.startswith(STUDENT):
        return ""
    return (f"{name} is not a function defined in your answer cell (it is {checking.describe(value)}): define it with "
            f"def {name}(...) there; a function from a library can be called inside it.")


def check_one(name: str, defined: Defined, guard: Guard, spaces: List[Space]) -> dict:
    """The verdict of one exercise, with every reason to doubt it in ``flags``."""
    answer = defined.namespace.get(name)
    refusal = own_answer(name, answer)
    if refusal:
        result = checking.CheckResult(name, checking.FAILED, refusal, "not_own_function")
    else:
        result = EXERCISES[name].checker(answer, quiet=True)
    flags = defined.flags.get(name, []) + defined.flags.get("*", []) + findings(guard, spaces)
    if refusal:
        flags.append(refusal)
    if flags and not refusal:
        result = checking.CheckResult(name, checking.FAILED, "your answer did something a graded answer may not do: "
                                      + "; ".join(flags[:3]) + ".", "tampering")
    if result.status == checking.NOT_ATTEMPTED and defined.problems:
        result = checking.CheckResult(name, result.status, f"{result.message} ({'; '.join(defined.problems[:2])})",
                                      result.mistake)
    return {"exercise": name, "status": result.status, "message": result.message, "mistake": result.mistake,
            "flags": flags[:10]}


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


def serve(job: dict, result_fd: int) -> None:
    """Run one job: the cells, then each exercise, sending each verdict once the grader sends its key."""
    checking._GRADED.set(True)  # for good, in this process
    checking.TIME_LIMIT = limits.limit(job.get("time_limit", limits.DEFAULT))
    torch.set_num_threads(1)
    checking.warm_up_optimizers()  # before the audit hook: torch's lazy imports write a cache folder
    guard = Guard(job.get("protected", ()), tempfile.gettempdir())
    sys.stdin = open(os.devnull, encoding="utf-8")  # the grader's keys come on fd 0: the answers read nothing there
    spaces = snapshot()
    sys.addaudithook(guard.audit)
    _send(result_fd, "STARTED")
    sys.setprofile(guard.profile)
    defined = run_cells(job["cells"], job["exercises"], guard, spaces, checking.TIME_LIMIT)
    _send(result_fd, "DEFINED")
    for index, name in enumerate(job["exercises"]):
        payload = json.dumps(check_one(name, defined, guard, spaces), sort_keys=True)
        _send(result_fd, f"READY {index}")
        key = _read_line(0)
        _send(result_fd, f"VERDICT {payload} {hmac.new(key, payload.encode('utf-8'), 'sha256').hexdigest()}")


def main(argv: Sequence[str] = None) -> None:
    """``python -m stylelab.course.exercises.sandbox --result-fd N`` (started by :mod:`.grader`, not by hand)."""
    parser = argparse.ArgumentParser(prog="python -m stylelab.course.exercises.sandbox", description=main.__doc__)
    parser.add_argument("--result-fd", type=int, required=True)
    args = parser.parse_args(argv)
    job = json.loads(_read_line(0).decode("utf-8"))
    try:
        serve(job, args.result_fd)
    finally:
        os._exit(0)  # nothing the answers left behind (atexit, finalizers, threads) runs after the verdicts


if __name__ == "__main__":  # pragma: no cover - run by the grader
    main()
