"""The time limit on the learner's code: what it is, and how a check stops an answer that runs too long.

A check runs the learner's function inside :func:`time_limit`. Two mechanisms stop it:

1. In the main thread (where Jupyter kernels run cells), a ``SIGALRM`` timer raises
   :class:`TimeUp` between two bytecodes, even in ``while True: pass``.
2. A watchdog thread, started with every limit, injects :class:`TimeUp` into the checked
   thread (``PyThreadState_SetAsyncExc``) shortly after the deadline, and again every
   few milliseconds until the block is left. It needs no signal, so it also works in other
   threads, and it stops answers that switch the alarm off, replace its handler, or catch
   ``TimeUp`` in a retry loop (``while True: try: ... except: pass``): the injected
   exception also arrives between the loop's iterations, outside its ``try``.

What no in-process limit can stop, and what the lessons therefore cannot promise: one long
call into C code (a huge tensor operation) is only interrupted when it returns; and an answer
written to defeat Python itself (one that catches the exception and calls itself again, or
replaces ``sys.excepthook``-level machinery) can keep a kernel busy until the learner
interrupts it (Kernel -> Interrupt): measured, a single retry loop is stopped within a few
seconds, but nested retry loops (the injected exception then nearly always lands inside an
outer ``try``) practically never. The graded check (:mod:`.grader`) therefore runs the
answers in a separate process that it kills at a hard deadline.
"""

from __future__ import annotations

import contextlib
import ctypes
import numbers
import signal
import sys
import threading
import time
from typing import Any, Iterator

from ...errors import ParameterError

__all__ = ["DEFAULT", "TimeUp", "limit", "validated", "time_limit"]

#: Seconds one call of the learner's function may take by default (the checks' cases are tiny).
DEFAULT = 10.0
#: The largest limit accepted: one day (a timer cannot be set much further anyway).
_LONGEST = 86400.0
#: After the deadline, the watchdog waits this long for the alarm to work, then injects.
_GRACE = 0.2
#: How often the watchdog injects again while the block has not been left: often at first,
#: then (after ``_PATIENCE`` seconds) rarely, so that a kernel stuck for good costs little CPU.
_REPEAT, _PATIENCE, _RARELY, _SWITCH = 0.0002, 30.0, 0.5, 0.0001


class TimeUp(BaseException):
    """The time limit ran out (a BaseException, so that ``except Exception`` in an answer cannot swallow it)."""


def validated(seconds: Any) -> float:
    """``seconds`` as a float if it is a usable time limit; else :class:`~stylelab.errors.ParameterError`."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or not 0 < float(seconds) <= _LONGEST:
        raise ParameterError(
            f"TIME_LIMIT must be a number of seconds above 0 and at most one day (e.g. sl.exercises.TIME_LIMIT = 30), "
            f"not {seconds!r}."
        )
    return float(seconds)


def limit(seconds: Any) -> float:
    """The limit to use for ``seconds``: itself if valid, else :data:`DEFAULT` (a check never fails on its setting)."""
    try:
        return validated(seconds)
    except ParameterError:
        return DEFAULT


def _async_exc() -> Any:
    """CPython's ``PyThreadState_SetAsyncExc(thread id, exception)``, or None where ctypes cannot reach it.

    A private prototype, so that no other library's ``argtypes`` on ``ctypes.pythonapi`` matter.
    (It is never called with NULL to clear a pending exception: in CPython 3.11 that leaves the
    interpreter's "pending" flag set, which hangs the next ``signal.signal`` under a profiler.)
    """
    try:
        return ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
            ("PyThreadState_SetAsyncExc", ctypes.pythonapi))
    except (AttributeError, OSError):  # another Python implementation
        return None


_INJECT = _async_exc()


class _Watchdog:
    """Injects :class:`TimeUp` into one thread from ``deadline`` on, until :meth:`stop` is called."""

    def __init__(self, target: int, deadline: float) -> None:
        self.target, self.deadline = target, deadline
        self.lock, self.done = threading.Lock(), threading.Event()
        self.active, self.injected = True, False
        self.thread = threading.Thread(target=self._run, name="stylelab-time-limit", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if self.done.wait(max(0.0, self.deadline - time.monotonic()) + _GRACE):
            return
        patience = time.monotonic() + _PATIENCE
        # A thread only gets the GIL back every "switch interval" (5 ms by default); a shorter one
        # while injecting gives many more chances to land outside the answer's try.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, _SWITCH))
        try:
            while True:
                with self.lock:
                    if not self.active:
                        return
                    _INJECT(self.target, TimeUp)
                    self.injected = True
                if self.done.wait(_REPEAT if time.monotonic() < patience else _RARELY):
                    return
        finally:
            sys.setswitchinterval(interval)

    def stop(self) -> None:
        """No injection after this returns (one may still be pending: see :func:`_settle`)."""
        with self.lock:
            self.active = False
        self.done.set()


def _settle() -> None:
    """Give a TimeUp still pending for this thread the chance to be raised here (at a backward jump)."""
    for _ in range(8):
        pass


@contextlib.contextmanager
def time_limit(seconds: Any) -> Iterator[None]:
    """Raise :class:`TimeUp` in the block's code once ``seconds`` have passed (see the module's docstring).

    An outer ``SIGALRM`` timer (another check, pytest-timeout) is restored afterwards with
    its remaining time. An invalid ``seconds`` means :data:`DEFAULT`.
    """
    seconds = limit(seconds)
    began = time.monotonic()
    watchdog = _Watchdog(threading.get_ident(), began + seconds) if _INJECT is not None else None
    alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if alarm:
        def on_alarm(signum, frame):  # noqa: ARG001 - the signal handler's signature
            raise TimeUp

        outer, _ = signal.getitimer(signal.ITIMER_REAL)
        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, min(seconds, outer) if outer else seconds)
    try:
        yield
    finally:
        # Leave nothing behind, even if a late TimeUp arrives while cleaning up: the steps are
        # idempotent and retried until a round passes without one.
        for _ in range(5):
            try:
                if watchdog is not None:
                    watchdog.stop()
                if alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    signal.signal(signal.SIGALRM, previous)
                    if outer:
                        left = outer - (time.monotonic() - began)
                        signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))
                if watchdog is not None and watchdog.injected:
                    _settle()
                break
            except TimeUp:
                continue

