"""The machinery every checker shares: verdicts, the time limit, and safe calls of the learner's code.

A checker is a function decorated with :func:`checker`: its body runs the learner's answer
on small known cases and either returns a sentence saying what is right, or raises
:class:`Fail` with the name of the recognised mistake and a sentence naming the fix. The
decorator turns that into a :class:`CheckResult`, prints it, and makes sure nothing the
learner's code does (an error, ``sys.exit``, an endless loop) ever reaches the notebook.

The helpers below are for checker bodies: :func:`call` runs the learner's function under
:data:`TIME_LIMIT` and turns its exceptions into verdicts; :func:`call_on_copies` also
checks that the inputs were left alone; :func:`require_tensor`, :func:`scalar`,
:func:`match_mistakes` and :func:`gradient_flows` name the usual mistakes of a tensor answer.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple

import torch

from ..layers import Architecture, NetworkLike, architecture

__all__ = [
    "PASSED", "FAILED", "NOT_ATTEMPTED", "CHECKER_ERROR", "TIME_LIMIT",
    "CheckResult", "Fail", "architecture_of", "NotAttempted", "TimeUp", "time_limit", "checker",
    "call", "call_on_copies", "callable_answer", "close", "fmt", "gradient_flows",
    "match_mistakes", "require_tensor", "scalar", "seeded", "unchanged",
]

PASSED, FAILED, NOT_ATTEMPTED, CHECKER_ERROR = "passed", "failed", "not attempted", "checker error"
_ICONS = {PASSED: "\u2705", FAILED: "\u274c", NOT_ATTEMPTED: "\u270f\ufe0f", CHECKER_ERROR: "\u26a0\ufe0f"}


@dataclass
class CheckResult:
    """The verdict of a checker.

    Attributes:
        exercise: the exercise's name, e.g. ``"content_loss"``.
        status: ``"passed"``, ``"failed"``, ``"not attempted"`` or ``"checker error"``
            (a bug in the checker itself, never the learner's fault).
        message: what is right or wrong, in one or two sentences.
        mistake: the recognised mistake's name (e.g. ``"not_normalised"``), or
            ``"wrong_value"`` / ``"raised_error"`` when none matched; ``None`` if passed.
    """

    exercise: str
    status: str
    message: str
    mistake: Optional[str] = None

    @property
    def passed(self) -> bool:
        """True when the answer is right."""
        return self.status == PASSED

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        headline = {
            PASSED: "correct!",
            FAILED: "not yet.",
            NOT_ATTEMPTED: "not attempted yet.",
            CHECKER_ERROR: "the checker could not finish.",
        }[self.status]
        message = self.message[:1].upper() + self.message[1:]
        return f"{_ICONS[self.status]} {self.exercise}: {headline} {message}"

    def __repr__(self) -> str:
        return f"CheckResult(exercise={self.exercise!r}, status={self.status!r}, mistake={self.mistake!r})"


# --------------------------------------------------------------------------- machinery


class Fail(Exception):
    """Raised inside a checker body: the learner's answer is wrong in a known way."""

    def __init__(self, mistake: str, message: str) -> None:
        super().__init__(message)
        self.mistake, self.message = mistake, message


class NotAttempted(Exception):
    """Raised inside a checker body: the answer is still the stub (it raises ``NotImplementedError``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


#: Seconds one call of the learner's function may take before the checker gives up on it
#: (the whole check may take three times as long). Change it here, e.g.
#: ``sl.exercises.TIME_LIMIT = 60`` for a slow machine.
TIME_LIMIT = 10.0


class TimeUp(BaseException):
    """The time limit ran out (a BaseException, so that ``except Exception`` in an answer cannot swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeUp` in the block's code once ``seconds`` have passed.

    In the main thread (where Jupyter kernels run cells) a ``SIGALRM`` timer interrupts
    even a ``while True: pass`` between two bytecodes; an outer timer (another check,
    pytest-timeout) is restored afterwards with its remaining time. In other threads,
    or where there is no ``SIGALRM`` (Windows), a trace function checks the clock on
    every line of Python code the block runs. Neither can stop a single long call into
    C code (one huge tensor operation): the verdict then comes when it returns.
    """
    if seconds is None or seconds <= 0:
        yield
        return
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        def on_alarm(signum, frame):  # noqa: ARG001 - the signal handler's signature
            raise TimeUp

        outer, _ = signal.getitimer(signal.ITIMER_REAL)
        began = time.monotonic()
        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, min(seconds, outer) if outer else seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if outer:
                signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - began), 1e-3))
        return
    deadline = time.monotonic() + seconds
    previous_trace = sys.gettrace()

    def tracer(frame, event, arg):  # noqa: ARG001 - the trace function's signature
        if time.monotonic() > deadline:
            raise TimeUp
        return tracer

    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous_trace)


def call(function: Callable, *args: Any, what: str, inputs: str, hints: Sequence[tuple] = ()) -> Any:
    """Call the learner's function (with the time limit :data:`TIME_LIMIT`); turn its
    exceptions into verdicts.

    ``hints``: ``(phrase, mistake, message)`` triples for errors specific to one exercise,
    tried first: an error whose first line holds ``phrase`` is reported as ``mistake``
    with ``message`` (where ``{text}`` stands for PyTorch's words).
    """
    try:
        with time_limit(TIME_LIMIT):
            return function(*args)
    except TimeUp:
        raise Fail(
            "too_slow",
            f"your {what} did not return within {TIME_LIMIT:g} s on {inputs} (a tiny case): look for a loop "
            "that never ends, e.g. a while loop whose condition never becomes false.",
        ) from None
    except RecursionError:
        raise Fail(
            "endless_recursion",
            f"your {what} calls itself again and again (Python stopped it at its recursion limit): "
            "make sure the function does not call itself, or that the recursion ends.",
        ) from None
    except NotImplementedError:
        frames = traceback.extract_tb(sys.exc_info()[2])
        raiser = frames[-1].name if frames else what
        if raiser not in (what, getattr(function, "__name__", what)):
            raise Fail(
                "unfinished_dependency",
                f"your {what} calls {raiser}, which still raises NotImplementedError; "
                f"finish {raiser} first (or call stylelab's sl.{raiser} instead).",
            ) from None
        raise NotAttempted(
            f"your {what} still raises NotImplementedError: replace that line with your code, run "
            "its cell again, then run this check."
        ) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any learner error becomes a verdict
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        for phrase, mistake, message in hints:
            if phrase in text:
                raise Fail(mistake, message.replace("{text}", text)) from None
        if "in-place operation" in text or "modified by an inplace operation" in text:
            raise Fail(
                "modifies_input",
                f"your {what} changes a tensor in place (PyTorch said: {text}). Compute new "
                "tensors instead (x = x - y rather than x -= y or x.sub_(y)).",
            ) from None
        if "numpy() on Tensor that requires grad" in text:
            raise Fail(
                "no_gradient",
                f"your {what} goes through numpy, which cuts the result off from its input: no gradient can "
                "flow back to the image. Keep every step a torch operation (reshape, @, transpose, mean).",
            ) from None
        raise Fail(
            "raised_error",
            f"calling your {what} on {inputs} raised {type(exc).__name__}: {text or '(no message)'}",
        ) from None


def close(value: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-7) -> bool:
    """True when ``value`` converts to a tensor of ``expected``'s shape and values (in float64)."""
    try:
        got = torch.as_tensor(value).detach().double().cpu()
    except (TypeError, ValueError, RuntimeError):
        return False
    want = torch.as_tensor(expected).detach().double().cpu()
    return got.shape == want.shape and bool(torch.allclose(got, want, rtol=rtol, atol=atol))


def fmt(value: Any) -> str:
    """A value as a learner reads it: a number, or the shape of a larger tensor."""
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            return f"{float(value):.6g}"
        return f"a tensor of shape {tuple(value.shape)}"
    return repr(value)


def unchanged(before: Sequence[torch.Tensor], after: Sequence[torch.Tensor], what: str) -> None:
    """Fail with ``modifies_input`` if the learner's function changed a tensor it was given."""
    for old, new in zip(before, after):
        if not torch.equal(old, new.detach()):
            raise Fail(
                "modifies_input",
                f"your {what} changed the tensor it was given (in-place modification of the input, "
                "e.g. x -= y, x.pow_(2) or x[...] = ...); the caller still needs it. Work on new tensors.",
            )


def call_on_copies(function: Callable, tensors: Sequence[torch.Tensor], *, what: str, inputs: str,
                   hints: Sequence[tuple] = ()) -> Any:
    """Call the learner's function on copies of ``tensors``; fail if it changed them."""
    given = tuple(t.clone() for t in tensors)
    out = call(function, *given, what=what, inputs=inputs, hints=hints)
    unchanged(tensors, given, what)
    return out


def require_tensor(value: Any, what: str) -> torch.Tensor:
    """``value`` if it is a tensor; else fail with ``returned_nothing`` or ``not_a_tensor``."""
    if isinstance(value, torch.Tensor):
        return value
    if value is None:
        raise Fail("returned_nothing", f"your {what} returned None: did you forget the return statement?")
    raise Fail(
        "not_a_tensor",
        f"your {what} returned a {type(value).__name__}, not a torch tensor (did you call .item(), "
        ".tolist() or use numpy?). The optimiser needs a tensor so that gradients can flow back to the image.",
    )


def scalar(value: Any, what: str, elementwise: str) -> torch.Tensor:
    """``value`` as a 0-d tensor; fail with ``not_reduced`` if it holds more than one number."""
    tensor = require_tensor(value, what)
    if tensor.numel() != 1:
        raise Fail(
            "not_reduced",
            f"your {what} returned a tensor of shape {tuple(tensor.shape)}, but a loss is one number: "
            f"{elementwise}, then take the mean over every element (.mean() with no dim argument).",
        )
    return tensor.reshape(())


def match_mistakes(value: Any, variants: Sequence[Tuple[str, Any, str]]) -> None:
    """Fail with the first ``(mistake, expected, message)`` whose expected value ``value`` equals."""
    for mistake, expected, message in variants:
        if close(value, expected):
            raise Fail(mistake, message)


def batch_works(function: Callable, batch: torch.Tensor, expected: torch.Tensor, *, what: str, fix: str) -> None:
    """Raise ``batch_of_one_only`` unless ``function(batch)`` equals ``expected`` for a batch
    ``(2, C, H, W)`` of two images; ``fix`` is the sentence that says how to keep the batch."""
    shape = tuple(batch.shape)
    try:
        out = call(function, batch.clone(), what=what, inputs=f"a batch of two images, shape {shape}")
        right = isinstance(out, torch.Tensor) and close(out, expected)
    except Fail:
        right = False
    if not right:
        raise Fail("batch_of_one_only", f"your {what.replace('_', ' ')} is right for one image but not for a batch "
                                        f"of two {shape}. {fix}")


def gradient_flows(function: Callable, args: Sequence[torch.Tensor], what: str, inputs: str) -> None:
    """Fail with ``no_gradient`` if the output is cut off from the first input in the autograd graph."""
    leaf = args[0].detach().clone().requires_grad_(True)
    out = call(function, leaf, *[a.detach().clone() for a in args[1:]], what=what, inputs=inputs)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise Fail(
            "no_gradient",
            f"your {what} gives the right number, but it is cut off from its input: no gradient can "
            "flow back (did you use .detach(), .data, .item(), numpy or torch.no_grad()?). Keep every "
            "step a torch operation on the input.",
        )


def checker(exercise: str) -> Callable:
    """Turn a checker body (which raises Fail or returns a success message) into a safe checker."""

    def decorate(body: Callable[..., str]) -> Callable[..., CheckResult]:
        @functools.wraps(body)
        def check(answer: Any, *args: Any, quiet: bool = False, **kwargs: Any) -> CheckResult:
            if answer is None or answer is Ellipsis:
                result = CheckResult(exercise, NOT_ATTEMPTED, "Write your answer in the cell above and run it first.")
            else:
                try:
                    with time_limit(3 * TIME_LIMIT):
                        result = CheckResult(exercise, PASSED, body(answer, *args, **kwargs))
                except TimeUp:
                    result = CheckResult(
                        exercise, FAILED,
                        f"checking your answer did not finish within {3 * TIME_LIMIT:g} s: what your function "
                        "returned never ends when it is read (an endless generator or loop?); return a tensor "
                        "or a tuple of numbers.",
                        "too_slow",
                    )
                except NotAttempted as exc:
                    result = CheckResult(exercise, NOT_ATTEMPTED, exc.message)
                except Fail as exc:
                    result = CheckResult(exercise, FAILED, exc.message, exc.mistake)
                except Exception as exc:  # noqa: BLE001 - a checker must never crash a notebook
                    result = CheckResult(
                        exercise, CHECKER_ERROR,
                        f"the checker itself failed ({type(exc).__name__}: {exc}); this is a bug in stylelab, "
                        "not in your answer - please tell your instructor.",
                        "checker_error",
                    )
            if not quiet:
                print(result)
            return result

        return check

    return decorate


def seeded(seed: int) -> torch.Generator:
    """A CPU random generator seeded with ``seed``: every checker's cases are the same on every run."""
    return torch.Generator().manual_seed(seed)


def callable_answer(answer: Any, what: str) -> Callable:
    """``answer`` if it can be called; else fail with ``not_a_function``."""
    if not callable(answer):
        raise Fail("not_a_function", f"pass your function itself, e.g. check_{what}({what}), not a {type(answer).__name__}.")
    return answer


def architecture_of(network: NetworkLike) -> Architecture:
    """The layer table of the network a checker is told about; fail with ``unknown_network`` if it names no VGG."""
    try:
        return architecture(network)
    except ValueError:
        raise Fail("unknown_network", f"network must be the lesson's model, 'vgg16' or 'vgg19', not {network!r}; "
                   "pass network=model (or leave it out for VGG-19).") from None
