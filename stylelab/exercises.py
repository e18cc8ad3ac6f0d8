r"""Checkers for the lessons' exercises: run the learner's code and say precisely what is wrong.

In a lesson the learner edits a stub, then runs a checker on it::

    def content_loss(generated, target):
        raise NotImplementedError  # replace this line with your code

    sl.exercises.check_content_loss(content_loss)

A checker runs the function on small known cases, compares it with the right answer
and with the mistakes learners often make, and prints one verdict:

* ``passed`` - the function gives the right values (and gradients, where it matters);
* ``failed`` - with the name of the mistake it recognised (``CheckResult.mistake``, e.g.
  ``"sum_instead_of_mean"``) and a sentence on how to fix it, or else the first case
  where the answer differs;
* ``not attempted`` - the stub still raises ``NotImplementedError``.

Each call of the learner's function has a time limit (:data:`TIME_LIMIT`, 10 s; the cases
are tiny): an answer that loops forever gets the verdict ``too_slow`` instead of hanging
the kernel. A checker never raises into the notebook, whatever the learner's code does, so an
unsolved notebook still runs top to bottom; the lessons go on with stylelab's own
functions. The verdict is also returned as a :class:`CheckResult` (``.passed``,
``.status``, ``.mistake``, ``.message``).

The exercises, by lesson (``sl.exercises.EXERCISES``):

======  ============================  =================================================
01      ``output_shape``              channels, height and width of a VGG-19 layer
02      ``content_loss``              mean squared difference of two feature maps
03      ``gram_matrix``               :math:`G = F F^\top / (H W)`, shape ``(B, C, C)``
03      ``style_loss``                mean squared difference of Gram matrices
04      ``fine_texture_layers``       style layers that only see small patches
04      ``large_structure_layers``    style layers that include large patches
05      ``tv_loss``                   total variation, ``mean(dx^2) + mean(dy^2)``
05      ``optimization_step``         one gradient step on the pixels
06      ``luminance``                 :math:`Y = 0.299 R + 0.587 G + 0.114 B`
06      ``guided_gram``               Gram matrix of the region a mask selects
======  ============================  =================================================

Instructors: :func:`solution` prints the reference answer (the files in
``notebooks/solutions/``, loadable with ``%load``). For a class, the same exercises become
nbgrader assignments whose autograder cells call :func:`check`: see
:mod:`stylelab.classroom` (``python -m stylelab.classroom build-course course/``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import torch

from .errors import LayerNameError
from . import losses, masks
from .layers import check_layer_names, layer_table, spec

__all__ = [
    "CheckResult",
    "Exercise",
    "EXERCISES",
    "LOOKS",
    "check",
    "check_output_shape",
    "check_content_loss",
    "check_gram_matrix",
    "check_style_loss",
    "check_style_layers",
    "check_tv_loss",
    "check_optimization_step",
    "check_luminance",
    "check_guided_gram",
    "solution",
    "solutions_dir",
    "main",
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


class _Fail(Exception):
    """Raised inside a checker body: the learner's answer is wrong in a known way."""

    def __init__(self, mistake: str, message: str) -> None:
        super().__init__(message)
        self.mistake, self.message = mistake, message


class _NotAttempted(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


#: Seconds one call of the learner's function may take before the checker gives up on it
#: (the whole check may take three times as long). Change it here, e.g.
#: ``sl.exercises.TIME_LIMIT = 60`` for a slow machine.
TIME_LIMIT = 10.0


class _TimeUp(BaseException):
    """The time limit ran out (a BaseException, so that ``except Exception`` in an answer cannot swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_TimeUp` in the block's code once ``seconds`` have passed.

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
            raise _TimeUp

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
            raise _TimeUp
        return tracer

    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous_trace)


def _call(function: Callable, *args: Any, what: str, inputs: str, hints: Sequence[tuple] = ()) -> Any:
    """Call the learner's function (with the time limit :data:`TIME_LIMIT`); turn its
    exceptions into verdicts.

    ``hints``: ``(phrase, mistake, message)`` triples for errors specific to one exercise,
    tried first: an error whose first line holds ``phrase`` is reported as ``mistake``
    with ``message`` (where ``{text}`` stands for PyTorch's words).
    """
    try:
        with _time_limit(TIME_LIMIT):
            return function(*args)
    except _TimeUp:
        raise _Fail(
            "too_slow",
            f"your {what} did not return within {TIME_LIMIT:g} s on {inputs} (a tiny case): look for a loop "
            "that never ends, e.g. a while loop whose condition never becomes false.",
        ) from None
    except RecursionError:
        raise _Fail(
            "endless_recursion",
            f"your {what} calls itself again and again (Python stopped it at its recursion limit): "
            "make sure the function does not call itself, or that the recursion ends.",
        ) from None
    except NotImplementedError:
        frames = traceback.extract_tb(sys.exc_info()[2])
        raiser = frames[-1].name if frames else what
        if raiser not in (what, getattr(function, "__name__", what)):
            raise _Fail(
                "unfinished_dependency",
                f"your {what} calls {raiser}, which still raises NotImplementedError; "
                f"finish {raiser} first (or call stylelab's sl.{raiser} instead).",
            ) from None
        raise _NotAttempted(
            f"your {what} still raises NotImplementedError: replace that line with your code, run "
            "its cell again, then run this check."
        ) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any learner error becomes a verdict
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        for phrase, mistake, message in hints:
            if phrase in text:
                raise _Fail(mistake, message.replace("{text}", text)) from None
        if "in-place operation" in text or "modified by an inplace operation" in text:
            raise _Fail(
                "modifies_input",
                f"your {what} changes a tensor in place (PyTorch said: {text}). Compute new "
                "tensors instead (x = x - y rather than x -= y or x.sub_(y)).",
            ) from None
        if "numpy() on Tensor that requires grad" in text:
            raise _Fail(
                "no_gradient",
                f"your {what} goes through numpy, which cuts the result off from its input: no gradient can "
                "flow back to the image. Keep every step a torch operation (reshape, @, transpose, mean).",
            ) from None
        raise _Fail(
            "raised_error",
            f"calling your {what} on {inputs} raised {type(exc).__name__}: {text or '(no message)'}",
        ) from None


def _shape(value: Any) -> str:
    return str(tuple(value.shape)) if hasattr(value, "shape") else type(value).__name__


def _close(value: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-7) -> bool:
    try:
        got = torch.as_tensor(value).detach().double().cpu()
    except (TypeError, ValueError, RuntimeError):
        return False
    want = torch.as_tensor(expected).detach().double().cpu()
    return got.shape == want.shape and bool(torch.allclose(got, want, rtol=rtol, atol=atol))


def _fmt(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            return f"{float(value):.6g}"
        return f"a tensor of shape {tuple(value.shape)}"
    return repr(value)


def _unchanged(before: Sequence[torch.Tensor], after: Sequence[torch.Tensor], what: str) -> None:
    for old, new in zip(before, after):
        if not torch.equal(old, new.detach()):
            raise _Fail(
                "modifies_input",
                f"your {what} changed the tensor it was given (in-place modification of the input, "
                "e.g. x -= y, x.pow_(2) or x[...] = ...); the caller still needs it. Work on new tensors.",
            )


def _call_on_copies(function: Callable, tensors: Sequence[torch.Tensor], *, what: str, inputs: str) -> Any:
    """Call the learner's function on copies of ``tensors``; fail if it changed them."""
    given = tuple(t.clone() for t in tensors)
    out = _call(function, *given, what=what, inputs=inputs)
    _unchanged(tensors, given, what)
    return out


def _require_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if value is None:
        raise _Fail("returned_nothing", f"your {what} returned None: did you forget the return statement?")
    raise _Fail(
        "not_a_tensor",
        f"your {what} returned a {type(value).__name__}, not a torch tensor (did you call .item(), "
        ".tolist() or use numpy?). The optimiser needs a tensor so that gradients can flow back to the image.",
    )


def _scalar(value: Any, what: str, elementwise: str) -> torch.Tensor:
    tensor = _require_tensor(value, what)
    if tensor.numel() != 1:
        raise _Fail(
            "not_reduced",
            f"your {what} returned a tensor of shape {tuple(tensor.shape)}, but a loss is one number: "
            f"{elementwise}, then take the mean over every element (.mean() with no dim argument).",
        )
    return tensor.reshape(())


def _match(value: Any, variants: Sequence[Tuple[str, Any, str]]) -> None:
    for mistake, expected, message in variants:
        if _close(value, expected):
            raise _Fail(mistake, message)


def _gradient_flows(function: Callable, args: Sequence[torch.Tensor], what: str, inputs: str) -> None:
    leaf = args[0].detach().clone().requires_grad_(True)
    out = _call(function, leaf, *[a.detach().clone() for a in args[1:]], what=what, inputs=inputs)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise _Fail(
            "no_gradient",
            f"your {what} gives the right number, but it is cut off from its input: no gradient can "
            "flow back (did you use .detach(), .data, .item(), numpy or torch.no_grad()?). Keep every "
            "step a torch operation on the input.",
        )


def _checker(exercise: str) -> Callable:
    """Turn a checker body (which raises _Fail or returns a success message) into a safe checker."""

    def decorate(body: Callable[..., str]) -> Callable[..., CheckResult]:
        @functools.wraps(body)
        def check(answer: Any, *args: Any, quiet: bool = False, **kwargs: Any) -> CheckResult:
            if answer is None or answer is Ellipsis:
                result = CheckResult(exercise, NOT_ATTEMPTED, "Write your answer in the cell above and run it first.")
            else:
                try:
                    with _time_limit(3 * TIME_LIMIT):
                        result = CheckResult(exercise, PASSED, body(answer, *args, **kwargs))
                except _TimeUp:
                    result = CheckResult(
                        exercise, FAILED,
                        f"checking your answer did not finish within {3 * TIME_LIMIT:g} s: what your function "
                        "returned never ends when it is read (an endless generator or loop?); return a tensor "
                        "or a tuple of numbers.",
                        "too_slow",
                    )
                except _NotAttempted as exc:
                    result = CheckResult(exercise, NOT_ATTEMPTED, exc.message)
                except _Fail as exc:
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


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _callable(answer: Any, what: str) -> Callable:
    if not callable(answer):
        raise _Fail("not_a_function", f"pass your function itself, e.g. check_{what}({what}), not a {type(answer).__name__}.")
    return answer


# --------------------------------------------------------------------------- 01 output shape

_SHAPE_CASES = (("conv1_1", 224, 224), ("pool1", 224, 224), ("relu3_2", 100, 75), ("conv4_1", 100, 75),
                ("pool4", 100, 75), ("relu5_1", 90, 130), ("relu2_1", 37, 53))


def _shape_reference(layer: str, height: int, width: int) -> Tuple[int, int, int]:
    row = next(r for r in layer_table(height, width) if r["name"] == layer)
    return row["channels"], row["height"], row["width"]


def _shape_variants(layer: str, height: int, width: int) -> Dict[str, Tuple[int, int, int]]:
    info = spec(layer)
    channels, h, w = _shape_reference(layer, height, width)
    pools = info.pools_before
    own_block = info.block if info.kind != "pool" else info.pools_before
    ceil_h, ceil_w = height, width
    for _ in range(pools):
        ceil_h, ceil_w = -(-ceil_h // 2), -(-ceil_w // 2)
    return {
        "no_pooling": (channels, height, width),
        "counted_own_block": (channels, height // 2 ** own_block, width // 2 ** own_block),
        "channels_last": (h, w, channels),
        "rounded_up": (channels, ceil_h, ceil_w),
        "input_channels": (info.in_channels, h, w),
        "height_width_swapped": (channels, w, h),
    }


_SHAPE_MESSAGES = {
    "no_pooling": "your sizes never shrink. Each pooling layer (2x2, stride 2) halves the height and the "
                  "width; a layer in block b comes after b - 1 pooling layers (and poolb after b).",
    "counted_own_block": "you halved the size once too often: a convolution in block b comes after b - 1 "
                         "pooling layers, not b (the pooling layer closes its block).",
    "channels_last": "you returned (height, width, channels); PyTorch puts channels first: return "
                     "(channels, height, width).",
    "rounded_up": "for odd sizes you rounded up; VGG's pooling drops the last odd row or column, so each "
                  "pool gives floor(size / 2) (size // 2 in Python).",
    "input_channels": "you gave the channels that enter the layer; a convolution's output has as many "
                      "channels as it has filters (64, 128, 256, 512, 512 in blocks 1-5).",
    "height_width_swapped": "height and width are swapped: the answer is (channels, height, width) and "
                            "height is the first size you are given.",
}


@_checker("output_shape")
def check_output_shape(output_shape: Callable[[str, int, int], Sequence[int]]) -> str:
    """Check ``output_shape(layer, height, width) -> (channels, h, w)`` (lesson 01).

    Known mistakes: ``no_pooling``, ``counted_own_block``, ``channels_last``,
    ``rounded_up``, ``input_channels``, ``height_width_swapped``, ``not_three_numbers``.
    """
    function = _callable(output_shape, "output_shape")
    answers = []
    for layer, height, width in _SHAPE_CASES:
        got = _call(function, layer, height, width, what="output_shape", inputs=f"({layer!r}, {height}, {width})")
        try:
            values = tuple(int(v) for v in got)
        except OverflowError:  # int(inf): the learner's value, not a checker bug
            raise _Fail(
                "not_finite",
                f"for {layer!r} on a {height}x{width} image your output_shape returned {got!r}, which holds an "
                "infinite or NaN value; return three whole numbers: (channels, height, width).",
            ) from None
        except (TypeError, ValueError):
            values = ()
        if len(values) != 3:
            raise _Fail(
                "not_three_numbers",
                f"for {layer!r} on a {height}x{width} image your output_shape returned {got!r}; return three "
                "whole numbers: (channels, height, width).",
            )
        answers.append(values)
    expected = [_shape_reference(*case) for case in _SHAPE_CASES]
    if answers == expected:
        return ("every layer has the right (channels, height, width): channels come from the block, and each "
                "pooling layer before it halves the size, rounding down.")
    variants = [_shape_variants(*case) for case in _SHAPE_CASES]
    for mistake, message in _SHAPE_MESSAGES.items():
        if answers == [v[mistake] for v in variants]:
            raise _Fail(mistake, message)
    index = next(i for i, (a, e) in enumerate(zip(answers, expected)) if a != e)
    layer, height, width = _SHAPE_CASES[index]
    raise _Fail(
        "wrong_value",
        f"for {layer!r} on a {height}x{width} image you said {answers[index]}, but it is {expected[index]}. "
        "Look at sl.layer_table(height, width) for that layer.",
    )


# --------------------------------------------------------------------------- 02 content loss


def _content_case() -> Tuple[torch.Tensor, torch.Tensor]:
    g = _generator(2)
    return torch.randn(1, 3, 4, 5, generator=g), torch.randn(1, 3, 4, 5, generator=g)


@_checker("content_loss")
def check_content_loss(content_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """Check ``content_loss(generated, target) -> mean((generated - target) ** 2)`` (lesson 02).

    Known mistakes: ``sum_instead_of_mean``, ``half_sum`` (the paper's 1/2 sum),
    ``not_squared``, ``absolute_error``, ``square_root``, ``squared_the_mean``,
    ``not_reduced``, ``modifies_input``, ``not_a_tensor``, ``no_gradient``.
    """
    function = _callable(content_loss, "content_loss")
    generated, target = _content_case()
    inputs = "features of shape (1, 3, 4, 5)"
    out = _call_on_copies(function, (generated, target), what="content_loss", inputs=inputs)
    value = _scalar(out, "content_loss", "square the differences")
    diff = generated - target
    n = diff.numel()
    expected = diff.pow(2).mean()
    if not _close(value, expected):
        _match(value, [
            ("sum_instead_of_mean", diff.pow(2).sum(),
             f"you took the sum of the squared differences, so the loss grows with the size of the layer "
             f"(here {n} elements, {n} times too big). Use .mean() instead of .sum()."),
            ("half_sum", 0.5 * diff.pow(2).sum(),
             "that is the paper's 1/2 * sum of squares (Gatys et al., eq. 1). stylelab uses the mean instead, "
             "which does not depend on the layer's size: replace 0.5 * (...).sum() with (...).mean()."),
            ("not_squared", diff.mean(),
             "you averaged the plain differences, so positive and negative ones cancel out (and the loss can go "
             "below zero). Square them first: ((generated - target) ** 2).mean()."),
            ("absolute_error", diff.abs().mean(),
             "you averaged the absolute differences (an L1 loss). The content loss squares them: "
             "((generated - target) ** 2).mean()."),
            ("square_root", diff.pow(2).mean().sqrt(),
             "you took the square root of the mean squared error (RMSE). Leave the root out: the loss is the "
             "mean of the squares."),
            ("squared_the_mean", diff.mean().pow(2),
             "you squared the mean difference instead of averaging the squared differences: square first, "
             "then take the mean."),
        ])
        raise _Fail("wrong_value", f"for {inputs} your loss is {_fmt(value)} but it should be {float(expected):.6g}.")
    same = _call(function, generated.clone(), generated.clone(), what="content_loss", inputs="two identical feature maps")
    if not _close(_scalar(same, "content_loss", "square the differences"), 0.0, atol=1e-6):
        raise _Fail("wrong_value", f"two identical feature maps should give a loss of 0, yours gives {_fmt(same)}.")
    _gradient_flows(function, (generated, target), "content_loss", inputs)
    return "your content loss is the mean squared difference of the two feature maps, and gradients flow through it."


# --------------------------------------------------------------------------- 03 Gram matrix and style loss


def _gram_case() -> torch.Tensor:
    return torch.rand(1, 4, 3, 5, generator=_generator(3))


def _gram(features: torch.Tensor) -> torch.Tensor:
    return losses.gram_matrix(features)  # the reference answer is stylelab's own


def _gram_channels_last(features: torch.Tensor) -> torch.Tensor:
    # reshape(B, H*W, C) reads the channels-first memory as if channels were last
    b, c, h, w = features.shape
    flat = features.reshape(b, h * w, c)
    return flat.transpose(1, 2) @ flat / (h * w)


@_checker("gram_matrix")
def check_gram_matrix(gram_matrix: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """Check ``gram_matrix(features)``: ``(B, C, H, W) -> (B, C, C)``, ``F F^T / (H W)`` (lesson 03).

    Known mistakes: ``batch_dropped``, ``transposed_product``, ``wrong_shape``,
    ``not_normalised``, ``normalised_by_chw``, ``channels_last_reshape``,
    ``batch_of_one_only``, ``modifies_input``, ``not_a_tensor``, ``no_gradient``.
    """
    function = _callable(gram_matrix, "gram_matrix")
    features = _gram_case()
    b, c, h, w = features.shape
    inputs = f"features of shape {tuple(features.shape)} (B={b}, C={c}, H={h}, W={w})"
    out = _require_tensor(_call_on_copies(function, (features,), what="gram_matrix", inputs=inputs), "gram_matrix")
    shape = tuple(out.shape)
    if shape != (b, c, c):
        if shape == (c, c):
            raise _Fail("batch_dropped", f"your Gram matrix has shape {shape}: the batch dimension was dropped. "
                        f"Keep it: for {inputs} the result is ({b}, {c}, {c}), one C x C matrix per image.")
        if shape in ((b, h * w, h * w), (h * w, h * w)):
            raise _Fail("transposed_product", f"your result has shape {shape}, H*W x H*W: you multiplied "
                        "F^T F (positions with positions). The Gram matrix compares channels: F F^T, with F of "
                        "shape (B, C, H*W), gives (B, C, C).")
        raise _Fail("wrong_shape", f"for {inputs} the Gram matrix should have shape ({b}, {c}, {c}); yours has {shape}.")
    expected = _gram(features)
    if not _close(out, expected):
        _match(out, [
            ("not_normalised", expected * (h * w),
             f"your Gram matrix is not divided by H*W (here {h * w}): without it the values grow with the image "
             "size. Divide F F^T by the number of positions, height * width."),
            ("normalised_by_chw", expected / c,
             "you divided by C*H*W (as the PyTorch tutorial does); stylelab's Gram matrix divides by H*W only, "
             "the number of positions, so each entry is an average over positions."),
            ("channels_last_reshape", _gram_channels_last(features),
             "the shape is right but the values are scrambled: reshape(B, H*W, C) reads the tensor as if "
             "channels were last, but they come first. Use F = features.reshape(B, C, H * W), then F @ F^T."),
        ])
        raise _Fail("wrong_value", f"for {inputs} your Gram matrix differs from F F^T / (H*W) (largest "
                    f"difference {float((out.detach().double() - expected.double()).abs().max()):.3g}).")
    batch = torch.rand(2, 3, 2, 4, generator=_generator(4))
    try:
        out2 = _call(function, batch.clone(), what="gram_matrix", inputs="a batch of two images, shape (2, 3, 2, 4)")
        right = isinstance(out2, torch.Tensor) and _close(out2, _gram(batch))
    except _Fail:
        right = False
    if not right:
        raise _Fail("batch_of_one_only", "your Gram matrix is right for one image but not for a batch of two "
                    "(2, 3, 2, 4). Keep the batch dimension through the reshape: features.reshape(B, C, H * W), "
                    "then multiply with its transpose over the last two dimensions (@ or torch.bmm).")
    _gradient_flows(function, (features,), "gram_matrix", inputs)
    return "shape (B, C, C), F F^T divided by H*W, and it works for batches too."


def _style_case() -> Tuple[torch.Tensor, torch.Tensor]:
    g = _generator(5)
    generated = torch.rand(1, 4, 3, 5, generator=g)
    style = torch.rand(1, 4, 6, 2, generator=g) * 2  # another image size: the Gram matrix is still 4 x 4
    return generated, _gram(style)


@_checker("style_loss")
def check_style_loss(style_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    """Check ``style_loss(generated_features, target_gram) -> mean((G - A) ** 2)`` (lesson 03).

    Known mistakes: ``sum_instead_of_mean``, ``paper_quarter``, ``not_squared``,
    ``absolute_error``, ``square_root``, ``gram_not_normalised``, ``not_reduced``,
    ``modifies_input``, ``not_a_tensor``, ``no_gradient``, ``unfinished_dependency``.
    """
    function = _callable(style_loss, "style_loss")
    features, target = _style_case()
    b, c, h, w = features.shape
    inputs = f"features of shape {tuple(features.shape)} and a target Gram matrix of shape {tuple(target.shape)}"
    out = _call_on_copies(function, (features, target), what="style_loss", inputs=inputs)
    value = _scalar(out, "style_loss", "square the differences of the two Gram matrices")
    diff = _gram(features) - target
    expected = diff.pow(2).mean()
    if not _close(value, expected):
        raw = features.reshape(b, c, h * w)
        _match(value, [
            ("sum_instead_of_mean", diff.pow(2).sum(),
             f"you summed the squared differences over the {c}x{c} Gram entries; stylelab takes their mean "
             "(.mean() instead of .sum()), so that layers with more channels do not dominate."),
            ("paper_quarter", diff.pow(2).mean() / 4,
             "you included the paper's factor 1/4 (E_l = 1/(4 N^2 M^2) sum (G - A)^2). With Gram matrices "
             "already divided by H*W, stylelab's style loss is the plain mean of (G - A)^2, which equals 4 E_l."),
            ("not_squared", diff.mean(),
             "you averaged the plain differences of the Gram matrices, which can cancel out. Square them first: "
             "((G - A) ** 2).mean()."),
            ("absolute_error", diff.abs().mean(),
             "you averaged the absolute differences; the style loss squares them: ((G - A) ** 2).mean()."),
            ("square_root", diff.pow(2).mean().sqrt(),
             "you took the square root of the mean squared difference; leave the root out."),
            ("gram_not_normalised", (raw @ raw.transpose(1, 2) - target).pow(2).mean(),
             "the Gram matrix of the generated features is not divided by H*W, so it cannot match the target, "
             "which is. If you call your own gram_matrix, run check_gram_matrix on it first."),
        ])
        raise _Fail("wrong_value", f"for {inputs} your loss is {_fmt(value)} but it should be {float(expected):.6g}.")
    _gradient_flows(function, (features, target), "style_loss", inputs)
    return ("your style loss is the mean squared difference between the Gram matrix of the generated features "
            "and the target, and gradients flow through it.")


# --------------------------------------------------------------------------- 04 choosing style layers

#: The looks of the layer-choice exercise, judged by the receptive fields (in input pixels)
#: of the chosen layers, from :func:`stylelab.layer_table`.
LOOKS: Dict[str, Dict[str, Any]] = {
    "fine texture": {
        "exercise": "fine_texture_layers",
        "max_field": 16,
        "goal": "fine texture only (grain and small brush strokes, no large shapes)",
        "rule": "every chosen layer must see patches of at most 16 px (blocks 1 and 2)",
    },
    "large structures": {
        "exercise": "large_structure_layers",
        "min_field": 64,
        "goal": "large structures (big shapes and long strokes)",
        "rule": "at least one chosen layer must see patches of 64 px or more (blocks 4 and 5)",
    },
}
_FIELDS = {row["name"]: row["receptive_field"] for row in layer_table(224)}


def _fields(names: Iterable[str]) -> str:
    return ", ".join(f"{name} ({_FIELDS[name]} px)" for name in names)


def check_style_layers(layers: Any, look: str = "fine texture", *, quiet: bool = False) -> CheckResult:
    """Check a choice of style layers for a target look (lesson 04).

    Args:
        layers: a list of layer names, or ``{layer: weight}`` (layers with weight 0 do not count).
        look: one of :data:`LOOKS`: ``"fine texture"`` or ``"large structures"``.

    Known mistakes: ``string_not_list``, ``empty_choice``, ``unknown_layer``,
    ``negative_weight``, ``too_coarse`` (a deep layer in a fine-texture choice),
    ``too_fine`` (only shallow layers for large structures).
    """
    name = LOOKS[look]["exercise"] if isinstance(look, str) and look in LOOKS else "style_layers"
    return _check_style_layers(name)(layers, look, quiet=quiet)


@functools.lru_cache(maxsize=None)
def _check_style_layers(name: str) -> Callable[..., CheckResult]:
    @_checker(name)
    def body(layers: Any, look: str) -> str:
        if look not in LOOKS:
            raise _Fail("unknown_look", f"look must be one of {', '.join(map(repr, LOOKS))}, not {look!r}.")
        if isinstance(layers, str):
            raise _Fail("string_not_list", f"you gave one string, {layers!r}; put the layer names in a list, e.g. "
                        f"[{layers!r}], so that several layers can be chosen.")
        if isinstance(layers, Mapping):
            negative = [n for n, w in layers.items() if not (isinstance(w, (int, float)) and w >= 0)]
            if negative:
                raise _Fail("negative_weight", f"the weight of {negative[0]!r} is {layers[negative[0]]!r}; "
                            "weights must be numbers >= 0 (0 switches a layer off).")
            chosen = [n for n, w in layers.items() if w > 0]
        else:
            try:
                chosen = list(layers)
            except TypeError:
                raise _Fail("string_not_list", f"give a list of layer names, not a {type(layers).__name__}.") from None
        if not chosen:
            raise _Fail("empty_choice", "you chose no layer; without a style layer there is no style term at all.")
        try:
            check_layer_names(chosen)
        except LayerNameError as exc:
            raise _Fail("unknown_layer", str(exc)) from None
        rule = LOOKS[look]
        largest = max(_FIELDS[n] for n in chosen)
        target = f"the target is {rule['goal']}, so {rule['rule']}"
        if "max_field" in rule:
            wide = [n for n in chosen if _FIELDS[n] > rule["max_field"]]
            if wide:
                raise _Fail("too_coarse", f"{target}; but {_fields(wide)} see larger patches and bring in large "
                            "shapes. Keep to layers such as relu1_1, relu1_2, relu2_1 and relu2_2.")
        if "min_field" in rule and largest < rule["min_field"]:
            raise _Fail("too_fine", f"{target}; your largest receptive field is {largest} px ({_fields(chosen)}). "
                        "Add a deeper layer such as relu4_1 (68 px) or relu5_1 (156 px).")
        return (f"you chose {_fields(chosen)}; the largest receptive field is {largest} px, which fits "
                f"{look}. See it in the StylePlayground: playground.set_style_layers(...), then Run.")

    return body


# --------------------------------------------------------------------------- 05 total variation


def _tv_case() -> torch.Tensor:
    return torch.rand(1, 3, 5, 6, generator=_generator(6))


@_checker("tv_loss")
def check_tv_loss(tv_loss: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """Check ``tv_loss(image) -> mean(dx ** 2) + mean(dy ** 2)`` (lesson 05).

    Known mistakes: ``sum_instead_of_mean``, ``one_direction``, ``absolute_differences``,
    ``averaged_directions``, ``wrong_dimension``, ``not_reduced``, ``modifies_input``,
    ``not_a_tensor``, ``no_gradient``.
    """
    function = _callable(tv_loss, "tv_loss")
    image = _tv_case()
    inputs = f"an image of shape {tuple(image.shape)}"
    out = _call_on_copies(function, (image,), what="tv_loss", inputs=inputs)
    value = _scalar(out, "tv_loss", "square the differences of neighbouring pixels")
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    expected = dx.pow(2).mean() + dy.pow(2).mean()
    if not _close(value, expected):
        channel = image[:, 1:] - image[:, :-1]
        _match(value, [
            ("sum_instead_of_mean", dx.pow(2).sum() + dy.pow(2).sum(),
             "you summed the squared differences, so the loss grows with the image size. Take the mean of each "
             "direction: (dx ** 2).mean() + (dy ** 2).mean()."),
            ("one_direction", dx.pow(2).mean(),
             "you only compared horizontal neighbours (along the width); add the vertical ones too: "
             "dy = image[..., 1:, :] - image[..., :-1, :]."),
            ("one_direction", dy.pow(2).mean(),
             "you only compared vertical neighbours (along the height); add the horizontal ones too: "
             "dx = image[..., :, 1:] - image[..., :, :-1]."),
            ("absolute_differences", dx.abs().mean() + dy.abs().mean(),
             "you used absolute differences (the L1 total variation); stylelab's tv_loss squares them."),
            ("averaged_directions", expected / 2,
             "you averaged the two directions (divided by 2); stylelab adds the two means: "
             "(dx ** 2).mean() + (dy ** 2).mean()."),
            ("averaged_directions", (dx.pow(2).sum() + dy.pow(2).sum()) / (dx.numel() + dy.numel()),
             "you took one mean over all differences of both directions together; stylelab adds the two means: "
             "(dx ** 2).mean() + (dy ** 2).mean()."),
            ("wrong_dimension", channel.pow(2).mean() + (image[:, :, 1:] - image[:, :, :-1]).pow(2).mean(),
             "one of your differences runs along the colour channels (dimension 1). For (B, C, H, W) images, "
             "neighbours are along dimension 2 (height) and 3 (width): image[..., 1:, :] and image[..., :, 1:]."),
            ("wrong_dimension", channel.pow(2).mean() + dx.pow(2).mean(),
             "one of your differences runs along the colour channels (dimension 1). For (B, C, H, W) images, "
             "neighbours are along dimension 2 (height) and 3 (width): image[..., 1:, :] and image[..., :, 1:]."),
        ])
        raise _Fail("wrong_value", f"for {inputs} your loss is {_fmt(value)} but it should be {float(expected):.6g}.")
    flat = _call(function, torch.full((1, 3, 4, 4), 0.3), what="tv_loss", inputs="a constant grey image")
    if not _close(_scalar(flat, "tv_loss", "square the differences"), 0.0, atol=1e-7):
        raise _Fail("wrong_value", f"a constant image has no variation, so its loss must be 0; yours is {_fmt(flat)}.")
    _gradient_flows(function, (image,), "tv_loss", inputs)
    return "mean squared difference of horizontal plus vertical neighbours; 0 for a flat image."


# --------------------------------------------------------------------------- 05 optimisation step

_STEP_LR = 0.4
_STALE = 3.0


def _step_case() -> Tuple[torch.Tensor, torch.Tensor]:
    g = _generator(7)
    start = torch.rand(1, 3, 4, 4, generator=g) * 0.6 + 0.2  # inside [0, 1]
    target = torch.rand(1, 3, 4, 4, generator=g) * 3.0 - 1.0  # partly outside: the step overshoots
    return start, target


@_checker("optimization_step")
def check_optimization_step(optimization_step: Callable[[torch.Tensor, torch.optim.Optimizer, Callable], float]) -> str:
    """Check ``optimization_step(image, optimizer, loss_fn) -> float`` (lesson 05).

    The step must clear old gradients, evaluate ``loss_fn(image)``, back-propagate, let
    the optimiser update ``image`` in place, clamp it to [0, 1] without recording the
    clamp, and return the loss (before the update) as a Python float.

    Known mistakes: ``forgot_zero_grad``, ``no_backward``, ``no_step``, ``no_clamp``,
    ``clamp_without_no_grad``, ``returned_tensor``, ``returned_nothing``, ``wrong_loss``.
    """
    function = _callable(optimization_step, "optimization_step")
    start, target = _step_case()

    def loss_fn(x: torch.Tensor) -> torch.Tensor:
        return ((x - target) ** 2).sum()

    image = start.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([image], lr=_STEP_LR)
    image.grad = torch.full_like(start, _STALE)  # a gradient left over from a previous step
    inputs = "an image of shape (1, 3, 4, 4), an SGD optimizer and a squared-error loss"
    returned = _call(function, image, optimizer, loss_fn, what="optimization_step", inputs=inputs, hints=(
        ("leaf Variable that requires grad", "clamp_without_no_grad", "PyTorch refused to change the image in place "
         "while recording gradients. Wrap the clamp in torch.no_grad(): with torch.no_grad(): image.clamp_(0, 1)."),
        ("does not require grad", "raised_error", "PyTorch said: {text}. The loss was computed without a graph: do "
         "not wrap loss_fn(image) in torch.no_grad() or detach the image."),
    ))
    true_grad = 2 * (start - target)
    after = image.detach()
    moved = not torch.allclose(after, start)
    if not moved:
        if image.grad is None or torch.allclose(image.grad, torch.full_like(start, _STALE)):
            raise _Fail("no_backward", "the image did not change and no new gradient was computed: call "
                        "loss.backward() after computing the loss, then optimizer.step().")
        raise _Fail("no_step", "the gradient was computed but the image did not move: call optimizer.step() after "
                    "loss.backward() (and let it change the image in place rather than making a new tensor).")
    right = (start - _STEP_LR * true_grad).clamp(0, 1)
    if not _close(after, right, rtol=1e-4, atol=1e-6):
        stale = start - _STEP_LR * (true_grad + _STALE)
        _match(after, [
            ("forgot_zero_grad", stale.clamp(0, 1), _ZERO_GRAD_MESSAGE),
            ("forgot_zero_grad", stale, _ZERO_GRAD_MESSAGE),
            ("no_backward", (start - _STEP_LR * _STALE).clamp(0, 1),
             "the image moved by an old gradient only: call loss.backward() before optimizer.step()."),
            ("no_clamp", start - _STEP_LR * true_grad,
             f"some pixels left [0, 1] (the largest is now {float(after.max()):.2f}); after the step, clamp them "
             "back with: with torch.no_grad(): image.clamp_(0, 1)."),
        ])
        raise _Fail("wrong_value", "after your step the image is not what one step of the optimiser gives "
                    f"(largest difference {float((after - right).abs().max()):.3g}). The order is: zero_grad, "
                    "loss, backward, step, clamp.")
    loss_before = float(loss_fn(start))
    if returned is None:
        raise _Fail("returned_nothing", "the step is right, but it returns None; return the loss as a float "
                    "(loss.item()) so that the caller can record it.")
    if isinstance(returned, torch.Tensor):
        raise _Fail("returned_tensor", "the step is right, but it returns a tensor; return loss.item(), a plain "
                    "float: a stored tensor keeps the whole computation graph (and its memory) alive.")
    if not isinstance(returned, (int, float)) or not math.isclose(float(returned), loss_before, rel_tol=1e-4):
        raise _Fail("wrong_loss", f"the step is right, but you returned {returned!r}; return the loss computed "
                    f"before the update ({loss_before:.6g}), as loss.item().")
    return ("the step clears the old gradients, back-propagates, updates the image by exactly one optimiser step, "
            "keeps it in [0, 1] and returns the loss.")


_ZERO_GRAD_MESSAGE = ("the update also used a gradient left over from an earlier step: gradients add up in "
                      ".grad until you clear them. Call optimizer.zero_grad() at the start of every step.")


# --------------------------------------------------------------------------- 06 luminance

#: Y of the YIQ colour space (Gatys et al. 2017, §5.1): the weights of R, G and B.
_LUMA = (0.299, 0.587, 0.114)


def _luminance_case() -> torch.Tensor:
    return torch.rand(1, 3, 5, 7, generator=_generator(8))


def _luma(image: torch.Tensor, weights: Sequence[float] = _LUMA) -> torch.Tensor:
    w = torch.tensor(weights, dtype=torch.float64).view(1, 3, 1, 1)
    return (image.double() * w).sum(dim=1, keepdim=True)


@_checker("luminance")
def check_luminance(luminance: Callable[[torch.Tensor], torch.Tensor]) -> str:
    """Check ``luminance(image) -> 0.299 R + 0.587 G + 0.114 B``, ``(B, 3, H, W) -> (B, 1, H, W)`` (lesson 06).

    Known mistakes: ``plain_average``, ``weights_reversed``, ``channel_dropped``,
    ``grey_rgb``, ``three_channels``, ``wrong_shape``, ``batch_of_one_only``,
    ``modifies_input``, ``not_a_tensor``.
    """
    function = _callable(luminance, "luminance")
    image = _luminance_case()
    b, _, h, w = image.shape
    inputs = f"an RGB image of shape {tuple(image.shape)}"
    out = _require_tensor(_call_on_copies(function, (image,), what="luminance", inputs=inputs), "luminance")
    expected = _luma(image)
    shape = tuple(out.shape)
    if shape != (b, 1, h, w):
        if shape in ((b, h, w), (h, w)):
            raise _Fail("channel_dropped", f"your luminance has shape {shape}: the channel dimension was summed "
                        f"away. Keep it, e.g. with .sum(dim=1, keepdim=True): the answer is ({b}, 1, {h}, {w}), "
                        "an image with one channel.")
        if shape == tuple(image.shape):
            if _close(out, expected.expand(-1, 3, -1, -1)):
                raise _Fail("grey_rgb", "you returned the grey picture, Y copied into all three channels. "
                            f"Return the one channel Y itself, shape ({b}, 1, {h}, {w}); "
                            "sl.color.gray_to_rgb makes the grey picture from it when VGG-19 needs one.")
            raise _Fail("three_channels", f"you returned three channels; luminance is one channel, shape "
                        f"({b}, 1, {h}, {w}): weight R, G and B and add them up over dimension 1.")
        raise _Fail("wrong_shape", f"for {inputs} the luminance should have shape ({b}, 1, {h}, {w}); yours has {shape}.")
    if not _close(out, expected):
        _match(out, [
            ("plain_average", image.mean(dim=1, keepdim=True),
             "that is the plain average of R, G and B; luminance weights them 0.299, 0.587 and 0.114, "
             "because the eye is most sensitive to green and least to blue."),
            ("weights_reversed", _luma(image, _LUMA[::-1]),
             "the weights are in the wrong order: 0.299 goes with red (channel 0) and 0.114 with blue (channel 2). "
             "Images are RGB here, not BGR as in OpenCV."),
        ])
        raise _Fail("wrong_value", f"for {inputs} your values differ from Y = 0.299 R + 0.587 G + 0.114 B (largest "
                    f"difference {float((out.detach().double() - expected).abs().max()):.3g}); check the weights "
                    "and which channel each one multiplies.")
    batch = torch.rand(2, 3, 3, 4, generator=_generator(9))
    try:
        out2 = _call(function, batch.clone(), what="luminance", inputs="a batch of two images, shape (2, 3, 3, 4)")
        right = isinstance(out2, torch.Tensor) and _close(out2, _luma(batch))
    except _Fail:
        right = False
    if not right:
        raise _Fail("batch_of_one_only", "your luminance is right for one image but not for a batch of two "
                    "(2, 3, 3, 4). Index the channels with image[:, 0:1] (or weight and sum over dim=1) rather "
                    "than image[0], so that every image of the batch keeps its place.")
    return "Y = 0.299 R + 0.587 G + 0.114 B, one channel per image, and the input is left as it was."


# --------------------------------------------------------------------------- 06 guided Gram matrix


def _guided_case() -> Tuple[torch.Tensor, torch.Tensor]:
    g = _generator(10)
    features = torch.rand(1, 4, 5, 6, generator=g)
    mask = torch.rand(1, 1, 5, 6, generator=g)  # soft, so that every mistake gives another answer
    return features, mask


def _guided(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return masks.guided_gram_matrix(features, mask)  # the reference answer is stylelab's own


@_checker("guided_gram")
def check_guided_gram(guided_gram: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    r"""Check ``guided_gram(features, mask) -> (F o T)(F o T)^T / sum(T^2)``, shape ``(1, C, C)`` (lesson 06).

    ``features`` is ``(1, C, h, w)`` and ``mask`` ``(1, 1, h, w)`` at the same resolution
    (Gatys et al. 2017, §4; :func:`stylelab.masks.guided_gram_matrix`).

    Known mistakes: ``normalised_by_positions``, ``normalised_by_mask_sum``,
    ``not_normalised``, ``mask_on_one_factor``, ``mask_ignored``, ``batch_dropped``,
    ``transposed_product``, ``wrong_shape``, ``modifies_input``, ``not_a_tensor``,
    ``no_gradient``.
    """
    function = _callable(guided_gram, "guided_gram")
    features, mask = _guided_case()
    b, c, h, w = features.shape
    inputs = f"features of shape {tuple(features.shape)} and a soft mask of shape {tuple(mask.shape)}"
    out = _require_tensor(_call_on_copies(function, (features, mask), what="guided_gram", inputs=inputs), "guided_gram")
    shape = tuple(out.shape)
    if shape != (b, c, c):
        if shape == (c, c):
            raise _Fail("batch_dropped", f"your guided Gram matrix has shape {shape}: the batch dimension was "
                        f"dropped. Keep it: the answer is ({b}, {c}, {c}); reshape to (1, C, h*w) and use @ "
                        "(or torch.bmm) with the transpose of the last two dimensions.")
        if shape in ((b, h * w, h * w), (h * w, h * w)):
            raise _Fail("transposed_product", f"your result has shape {shape}, positions by positions: you "
                        "multiplied (F*T)^T (F*T). The Gram matrix compares channels: (F*T)(F*T)^T, with F*T of "
                        "shape (1, C, h*w), gives (1, C, C).")
        raise _Fail("wrong_shape", f"for {inputs} the guided Gram matrix should have shape ({b}, {c}, {c}); "
                    f"yours has {shape}.")
    expected = _guided(features, mask)
    if not _close(out, expected):
        weighted = (features * mask).reshape(b, c, h * w)
        raw = weighted @ weighted.transpose(1, 2)
        once = weighted @ features.reshape(b, c, h * w).transpose(1, 2)
        _match(out, [
            ("normalised_by_positions", raw / (h * w),
             f"you divided by h*w (here {h * w}), the size of the whole layer; divide by the sum of the squared "
             "mask instead, so that the result is the Gram matrix of the region alone, however small it is."),
            ("normalised_by_mask_sum", raw / mask.sum(),
             "you divided by the sum of the mask; every position enters the product twice (once in each factor), "
             "so divide by the sum of the squared mask, (mask ** 2).sum()."),
            ("not_normalised", raw,
             "the product is right but not normalised: divide it by the sum of the squared mask, (mask ** 2).sum()."),
            ("mask_on_one_factor", once / mask.pow(2).sum(),
             "you multiplied only one factor by the mask; the equation masks both: (F*T)(F*T)^T."),
            ("mask_on_one_factor", once / mask.sum(),
             "you multiplied only one factor by the mask; the equation masks both: (F*T)(F*T)^T, divided by the "
             "sum of the squared mask."),
            ("mask_ignored", _gram(features),
             "that is the plain Gram matrix of the whole layer: multiply the features by the mask before the "
             "product, and divide by the sum of the squared mask instead of h*w."),
        ])
        raise _Fail("wrong_value", f"for {inputs} your values differ from (F*T)(F*T)^T / sum(T^2) (largest "
                    f"difference {float((out.detach().double() - expected.double()).abs().max()):.3g}); compare "
                    "your steps with the equation.")
    _gradient_flows(function, (features, mask), "guided_gram", inputs)
    return ("(F*T)(F*T)^T divided by the sum of the squared mask: the Gram matrix of the masked region, and "
            "gradients flow through it.")


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Exercise:
    """One exercise: where it is, what the learner defines, how it is checked."""

    name: str
    lesson: str
    summary: str
    checker: Callable[..., CheckResult]
    solution_file: str


EXERCISES: Dict[str, Exercise] = {
    e.name: e
    for e in (
        Exercise("output_shape", "01", "channels, height and width of a VGG-19 layer's output",
                 check_output_shape, "output_shape.py"),
        Exercise("content_loss", "02", "mean squared difference of two feature maps",
                 check_content_loss, "content_loss.py"),
        Exercise("gram_matrix", "03", "Gram matrix F F^T / (H W), shape (B, C, C)",
                 check_gram_matrix, "gram_matrix.py"),
        Exercise("style_loss", "03", "mean squared difference of Gram matrices",
                 check_style_loss, "style_loss.py"),
        Exercise("fine_texture_layers", "04", "style layers for fine texture only",
                 functools.partial(check_style_layers, look="fine texture"), "style_layers.py"),
        Exercise("large_structure_layers", "04", "style layers for large structures",
                 functools.partial(check_style_layers, look="large structures"), "style_layers.py"),
        Exercise("tv_loss", "05", "total-variation loss", check_tv_loss, "tv_loss.py"),
        Exercise("optimization_step", "05", "one optimisation step on the pixels",
                 check_optimization_step, "optimization_step.py"),
        Exercise("luminance", "06", "luminance Y = 0.299 R + 0.587 G + 0.114 B of an RGB image",
                 check_luminance, "luminance.py"),
        Exercise("guided_gram", "06", "Gram matrix of a masked region, (F*T)(F*T)^T / sum(T^2)",
                 check_guided_gram, "guided_gram.py"),
    )
}


def check(name: str, answer: Any, *, quiet: bool = False) -> CheckResult:
    """Run the checker of exercise ``name`` (a key of :data:`EXERCISES`) on ``answer``."""
    if name not in EXERCISES:
        result = CheckResult(str(name), CHECKER_ERROR,
                             f"there is no exercise called {name!r}; choose from {', '.join(EXERCISES)}.",
                             "unknown_exercise")
        if not quiet:
            print(result)
        return result
    return EXERCISES[name].checker(answer, quiet=quiet)


def solutions_dir() -> Path:
    """The folder of reference solutions: ``$STYLELAB_SOLUTIONS`` or the repository's ``notebooks/solutions``."""
    override = os.environ.get("STYLELAB_SOLUTIONS")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def solution(name: str, *, show: bool = True) -> str:
    """The reference solution of exercise ``name`` as source code (printed unless ``show=False``).

    For instructors: reveal an answer in class with ``sl.exercises.solution("gram_matrix")``,
    or put it into a cell with ``%load solutions/gram_matrix.py`` (from ``notebooks/``).
    """
    if name not in EXERCISES:
        raise ValueError(f"There is no exercise called {name!r}; choose from {', '.join(EXERCISES)}.")
    path = solutions_dir() / EXERCISES[name].solution_file
    if not path.is_file():
        raise FileNotFoundError(
            f"The solution file {path} is missing; it ships with the repository (notebooks/solutions/). "
            "Clone the repository or set STYLELAB_SOLUTIONS to the folder holding the solutions."
        )
    code = path.read_text(encoding="utf-8")
    if show:
        print(code)
    return code


#: What ``python -m stylelab.exercises grade`` says now that nbgrader grades a class.
GRADING_MOVED = (
    "Class grading moved to nbgrader: build the course with python -m stylelab.classroom build-course "
    "course/, then run nbgrader generate_assignment, autograde and generate_feedback in it "
    "(notebooks/INSTRUCTORS.md, \"A class on JupyterHub with nbgrader\")."
)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m stylelab.exercises``: list the exercises, or show a reference solution."""
    parser = argparse.ArgumentParser(prog="python -m stylelab.exercises", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the exercises")
    show = commands.add_parser("solution", help="print the reference solution of an exercise")
    show.add_argument("name", choices=list(EXERCISES))
    grading = commands.add_parser("grade", help="replaced by nbgrader: see python -m stylelab.classroom")
    grading.add_argument("ignored", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "list":
        for exercise in EXERCISES.values():
            print(f"{exercise.lesson}  {exercise.name:<24} {exercise.summary}")
        return 0
    if args.command == "solution":
        solution(args.name)
        return 0
    print(GRADING_MOVED, file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
