"""The machinery every checker shares: verdicts, the time limit, and safe calls of the learner's code.

A checker is a function decorated with :func:`checker`: its body runs the learner's answer
on small known cases and either returns a sentence saying what is right, or raises
:class:`Fail` with the name of the recognised mistake and a sentence naming the fix. The
decorator turns that into a :class:`CheckResult`, prints it, and makes sure nothing the
learner's code does (an error, ``sys.exit``, an endless loop) ever reaches the notebook.

The helpers below are for checker bodies: :func:`call` runs the learner's function under
:data:`TIME_LIMIT` (:mod:`.limits`) and turns anything it raises into a verdict;
:func:`call_on_copies` also checks that the inputs were left alone; :func:`require_tensor`,
:func:`scalar` and :func:`gradient_matches` name the usual mistakes of a tensor answer;
:mod:`.mistakes` names the known mistakes of a wrong value, also several that come together.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple

import torch

from ...vgg.layers import Architecture, NetworkLike, architecture
from . import limits
from .limits import TimeUp

__all__ = [
    "PASSED", "FAILED", "NOT_ATTEMPTED", "CHECKER_ERROR", "TIME_LIMIT",
    "CheckResult", "Fail", "FIXTURES", "architecture_of", "NotAttempted", "TimeUp", "checker", "describe", "fixture",
    "graded", "is_graded", "warm_up_optimizers", "call", "call_on_copies", "callable_answer", "close", "fmt",
    "gradient_matches", "real_values", "require_tensor", "scalar", "seeded", "sentence", "show", "text_of", "unchanged",
]

PASSED, FAILED, NOT_ATTEMPTED, CHECKER_ERROR = "passed", "failed", "not attempted", "checker error"
_ICONS = {PASSED: "\u2705", FAILED: "\u274c", NOT_ATTEMPTED: "\u270f\ufe0f", CHECKER_ERROR: "\u26a0\ufe0f"}


_CODE_START = re.compile(r"[a-z]+[ ,;:]")


@dataclass
class CheckResult:
    """The verdict of a checker.

    Attributes:
        exercise: the exercise's name, e.g. ``"content_loss"``.
        status: ``"passed"``, ``"failed"``, ``"not attempted"`` or ``"checker error"``
            (a bug in the checker itself, never the learner's fault).
        message: what is right or wrong, in one or more sentences.
        mistake: the recognised mistake's name (e.g. ``"not_normalised"``), several joined by
            ``+`` when they come together (``"not_normalised+sum_instead_of_mean"``), or
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

    @property
    def mistakes(self) -> Tuple[str, ...]:
        """Each recognised mistake's name: ``("not_normalised", "sum_instead_of_mean")``; ``()`` if passed."""
        return tuple(self.mistake.split("+")) if self.mistake else ()

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        headline = {
            PASSED: "correct!",
            FAILED: "not yet.",
            NOT_ATTEMPTED: "not attempted yet.",
            CHECKER_ERROR: "the checker could not finish.",
        }[self.status]
        return f"{_ICONS[self.status]} {self.exercise}: {headline} {sentence(self.message)}"

    def __repr__(self) -> str:
        return f"CheckResult(exercise={self.exercise!r}, status={self.status!r}, mistake={self.mistake!r})"


def sentence(message: str) -> str:
    """``message`` as the start of a sentence: a first plain word is capitalised, code never
    (``image.grad holds ...`` stays as it is, where "Image.grad" would name nothing)."""
    return message[:1].upper() + message[1:] if _CODE_START.match(message) else message


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
#: (the whole check may take three times as long). Change it with
#: ``sl.exercises.TIME_LIMIT = 60`` for a slow machine, which refuses anything but a number of
#: seconds above 0; a value set here directly that is not one means the default, 10 s.
TIME_LIMIT = limits.DEFAULT


def _seconds() -> float:
    return limits.limit(TIME_LIMIT)


_GRADED: contextvars.ContextVar = contextvars.ContextVar("stylelab_graded", default=False)


def is_graded() -> bool:
    """True while an answer is checked for a grade (:func:`graded`): hints then never point to stylelab's own functions."""
    return _GRADED.get()


@contextlib.contextmanager
def graded() -> Iterator[None]:
    """Check answers for a grade inside the block (the grading process stays in this mode for good)."""
    token = _GRADED.set(True)
    try:
        yield
    finally:
        _GRADED.reset(token)


#: Code of the checker's own objects that an answer is handed and may call (the tiny network's
#: forward pass, a loss function): everything else of stylelab's is off limits in a graded answer.
FIXTURES: set = set()


def fixture(function: Callable) -> Callable:
    """Mark ``function`` (a method, a property's getter, a nested function) as handed to the answer."""
    FIXTURES.add(getattr(function, "__code__", None) or function.fget.__code__)
    return function


def text_of(exc: BaseException) -> str:
    """The first line of an exception's message, however odd the exception (its ``__str__`` may fail)."""
    try:
        text = str(exc).strip()
    except TimeUp:
        raise
    except BaseException:  # noqa: BLE001 - an answer's exception may have any __str__
        return ""
    return text.splitlines()[0] if text else ""


def describe(value: Any, width: int = 80) -> str:
    """``repr(value)``, shortened, for a message; never fails, whatever the answer returned."""
    try:
        text = repr(value)
    except TimeUp:
        raise
    except BaseException:  # noqa: BLE001 - an answer's value may have any __repr__
        text = f"a {type(value).__name__}"
    return text if len(text) <= width else text[: width - 3] + "..."


def call(function: Callable, *args: Any, what: str, inputs: str, hints: Sequence[tuple] = ()) -> Any:
    """Call the learner's function (with the time limit :data:`TIME_LIMIT`); turn whatever it
    raises (any ``BaseException``: ``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit``) into a verdict.

    ``hints``: ``(phrase, mistake, message)`` triples for errors specific to one exercise,
    tried first: an error whose first line holds ``phrase`` is reported as ``mistake``
    with ``message`` (where ``{text}`` stands for PyTorch's words).
    """
    seconds = _seconds()
    try:
        with limits.time_limit(seconds):
            return function(*args)
    except TimeUp:
        raise Fail(
            "too_slow",
            f"your {what} did not return within {seconds:g} s on {inputs} (a tiny case): look for a loop "
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
            instead = "" if is_graded() else f" (or call stylelab's sl.{raiser} instead)"
            raise Fail(
                "unfinished_dependency",
                f"your {what} calls {raiser}, which still raises NotImplementedError; finish {raiser} first{instead}.",
            ) from None
        raise NotAttempted(
            f"your {what} still raises NotImplementedError: replace that line with your code, run "
            "its cell again, then run this check."
        ) from None
    except KeyboardInterrupt:
        raise Fail("interrupted", _INTERRUPTED) from None
    except BaseException as exc:  # noqa: BLE001 - any learner error becomes a verdict
        text = text_of(exc)
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


_INTERRUPTED = ("the check was interrupted before it finished (Kernel -> Interrupt, or your code raised "
                "KeyboardInterrupt), so your answer is not verified yet: run the check again.")


def real_values(value: Any) -> Optional[torch.Tensor]:
    """``value`` as a float64 CPU tensor of real numbers, or None if it is not one (complex, meta, sparse, odd)."""
    try:
        if isinstance(value, torch.Tensor):
            if value.is_complex() or value.device.type == "meta" or value.layout != torch.strided:
                return None
            tensor = value.detach()
        else:
            tensor = torch.as_tensor(value)
            if tensor.is_complex():
                return None
        return tensor.to(device="cpu", dtype=torch.float64)
    except TimeUp:
        raise
    except BaseException:  # noqa: BLE001 - whatever the answer returned, it is "not close"
        return None


def close(value: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-7) -> bool:
    """True when ``value`` converts to a real tensor of ``expected``'s shape and values (in float64).

    Complex numbers are never close to real ones (casting them would drop the imaginary part).
    """
    got, want = real_values(value), real_values(expected)
    return (got is not None and want is not None and got.shape == want.shape
            and bool(torch.allclose(got, want, rtol=rtol, atol=atol)))


def fmt(value: Any) -> str:
    """A value as a learner reads it: a number, or the shape of a larger tensor."""
    if isinstance(value, torch.Tensor):
        real = real_values(value)
        if real is None:
            return f"a {value.dtype} tensor on {value.device.type}"
        if real.numel() == 1:
            return f"{float(real):.6g}"
        return f"a tensor of shape {tuple(real.shape)}"
    return describe(value)


def unchanged(before: Sequence[torch.Tensor], after: Sequence[torch.Tensor], what: str) -> None:
    """Fail with ``modifies_input`` if the learner's function changed a tensor it was given."""
    for old, new in zip(before, after):
        if not close(new, old, rtol=0, atol=0):
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
    """``value`` if it is a plain tensor of real floating-point numbers; else fail naming what it is.

    Mistakes: ``returned_nothing``, ``not_a_tensor``, ``tensor_subclass``, ``complex_values``,
    ``meta_tensor``, ``not_dense``, ``not_floating``.
    """
    if value is None:
        raise Fail("returned_nothing", f"your {what} returned None: did you forget the return statement?")
    if not isinstance(value, torch.Tensor):
        raise Fail(
            "not_a_tensor",
            f"your {what} returned a {type(value).__name__}, not a torch tensor (did you call .item(), "
            ".tolist() or use numpy?). The optimiser needs a tensor so that gradients can flow back to the image.",
        )
    if type(value) not in (torch.Tensor, torch.nn.Parameter):
        raise Fail("tensor_subclass", f"your {what} returned a {type(value).__name__}, a subclass of torch.Tensor "
                   "with its own behaviour; return a plain tensor computed with torch operations.")
    if value.device.type == "meta":
        raise Fail("meta_tensor", f"your {what} returned a tensor on the 'meta' device, which has a shape but no "
                   "values; compute on the input's own device (leave device= out).")
    if value.layout != torch.strided:
        raise Fail("not_dense", f"your {what} returned a {value.layout} tensor; return an ordinary (dense) tensor, "
                   "e.g. with .to_dense().")
    if value.is_complex():
        raise Fail("complex_values", f"your {what} returned complex numbers ({value.dtype}); a loss, a Gram matrix and "
                   "an image are real. Look for a square root of a negative number, torch.fft or a complex dtype.")
    if not value.is_floating_point():
        raise Fail("not_floating", f"your {what} returned {value.dtype} values; keep the input's floating-point type "
                   "(no .long(), .int() or .bool(), which also cut off the gradient).")
    return value


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


def gradient_matches(function: Callable, args: Sequence[torch.Tensor], reference: Callable[..., torch.Tensor], *,
                     what: str, inputs: str) -> None:
    """Fail unless the answer's gradient with respect to ``args[0]`` is the reference's.

    Both outputs are multiplied by the same random direction ``v`` and summed; the gradients
    of ``sum(v * output)`` must agree. So the gradient has to reach the input through the
    learner's own operations: an output rebuilt as a new leaf (``.detach().requires_grad_()``,
    ``torch.tensor(loss.item(), requires_grad=True)``, a numpy round trip wrapped in
    ``torch.tensor(..., requires_grad=True)``) has no gradient at the input (``no_gradient``),
    and one that mixes a detached value with the input has the wrong one (``wrong_gradient``).
    """
    first = args[0].detach().clone().requires_grad_(True)
    rest = [a.detach().clone() for a in args[1:]]
    out = require_tensor(call(function, first, *rest, what=what, inputs=inputs), what)
    direction = torch.randn(tuple(out.shape), generator=seeded(99), dtype=torch.float64)
    grad = None
    if out.requires_grad:
        def backward() -> Any:
            return torch.autograd.grad((out.double() * direction).sum(), first, allow_unused=True)[0]

        grad = call(backward, what=f"{what}'s gradient", inputs=inputs)
    if grad is None:
        raise Fail(
            "no_gradient",
            f"your {what} gives the right number, but it is cut off from its input: no gradient can flow back "
            "(did you use .detach(), .data, .item(), numpy, torch.tensor(...) or torch.no_grad()?). Keep every "
            "step a torch operation on the input.",
        )
    leaf = args[0].detach().clone().requires_grad_(True)
    right = torch.autograd.grad((reference(leaf, *rest).double() * direction).sum(), leaf)[0]
    if not close(grad, right, rtol=1e-3, atol=1e-6):
        raise Fail(
            "wrong_gradient",
            f"your {what} gives the right number, but its gradient is not the gradient of that number: part of "
            "the computation is cut off from the input (.detach(), .data, .item() or a value copied with "
            "torch.tensor), so the optimiser would be steered wrongly. Keep every step a torch operation on the input.",
        )


def _learners_code(exc: BaseException) -> bool:
    """True if the traceback of ``exc`` runs through code that is neither stylelab's nor an installed library's."""
    ours = str(Path(__file__).resolve().parents[2])
    installed = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not (name.startswith(ours) or name.startswith(installed) or name.startswith("<frozen")
                or "site-packages" in name or "dist-packages" in name):
            return True
        tb = tb.tb_next
    return False


def _verdict(exercise: str, body: Callable[..., str], answer: Any, args: tuple, kwargs: dict) -> CheckResult:
    if answer is None or answer is Ellipsis:
        return CheckResult(exercise, NOT_ATTEMPTED, "write your answer in the cell above and run it first.")
    seconds = 3 * _seconds()
    try:
        with limits.time_limit(seconds), torch.enable_grad():
            return CheckResult(exercise, PASSED, body(answer, *args, **kwargs))
    except TimeUp:
        return CheckResult(
            exercise, FAILED,
            f"checking your answer did not finish within {seconds:g} s: what your function returned never ends "
            "when it is read (an endless generator or loop?); return a tensor or a tuple of numbers.",
            "too_slow",
        )
    except NotAttempted as exc:
        return CheckResult(exercise, NOT_ATTEMPTED, exc.message)
    except Fail as exc:
        return CheckResult(exercise, FAILED, exc.message, exc.mistake)
    except KeyboardInterrupt:
        return CheckResult(exercise, FAILED, _INTERRUPTED, "interrupted")
    except BaseException as exc:  # noqa: BLE001 - a checker must never crash a notebook
        if _learners_code(exc):
            return CheckResult(exercise, FAILED, f"reading what your answer returned raised {type(exc).__name__}: "
                               f"{text_of(exc) or '(no message)'}", "raised_error")
        return CheckResult(
            exercise, CHECKER_ERROR,
            f"the checker itself failed ({type(exc).__name__}: {text_of(exc)}); this is a bug in stylelab, "
            "not in your answer - please tell your instructor.",
            "checker_error",
        )


@functools.lru_cache(maxsize=None)
def warm_up_optimizers() -> None:
    """Do once, outside any time limit, what torch does the first time an optimiser steps: it imports
    ``torch._dynamo`` then (seconds on a loaded machine). A time limit that ran out in the middle of
    that import would leave torch half imported for the rest of the session."""
    x = torch.ones(2, requires_grad=True)
    for optimizer in (torch.optim.SGD([x], lr=0.1), torch.optim.LBFGS([x], max_iter=1)):
        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = (x ** 2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
    torch.autograd.grad((x * 2).sum(), x)


def checker(exercise: str, prepare: Optional[Callable[[], None]] = None) -> Callable:
    """Turn a checker body (which raises Fail or returns a success message) into a safe checker.

    The checker runs ``prepare()`` (once per session, e.g. :func:`warm_up_optimizers`), then the
    body under three times :data:`TIME_LIMIT`, with gradients enabled, and returns (and unless
    ``quiet=True`` prints) a :class:`CheckResult`; nothing the answer does, raises or returns
    reaches the notebook as an exception.
    """

    def decorate(body: Callable[..., str]) -> Callable[..., CheckResult]:
        @functools.wraps(body)
        def check(answer: Any, *args: Any, quiet: bool = False, **kwargs: Any) -> CheckResult:
            try:
                if prepare is not None:
                    prepare()
                result = _verdict(exercise, body, answer, args, kwargs)
            except BaseException:  # noqa: BLE001 - e.g. a second interrupt while the verdict was being made
                result = CheckResult(exercise, FAILED, _INTERRUPTED, "interrupted")
            if not quiet:
                show(result)
            return result

        return check

    return decorate


def show(result: CheckResult) -> None:
    """Print a verdict; never fails (an answer may have replaced ``sys.stdout``)."""
    try:
        print(result)
    except Exception:  # noqa: BLE001 - the verdict is still returned
        pass


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
        raise Fail("unknown_network", f"network must be the lesson's model, 'vgg16' or 'vgg19', not {describe(network)}; "
                   "pass network=model (or leave it out for VGG-19).") from None
