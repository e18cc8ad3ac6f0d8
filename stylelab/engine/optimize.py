"""The optimisation loop: change an image's pixels to lower an objective.

:func:`optimize` runs one optimiser (L-BFGS or Adam) on one image at one size within a
budget of loss evaluations, and returns a :class:`~stylelab.StyleTransferResult`. Every
evaluation projects the pixels onto [0, 1], computes the loss and its gradient, records
the history, keeps the best image and calls the callback; :class:`Evaluator` does that
work, :func:`optimize` drives it and turns the way the run ended into a status.

Two conventions of other implementations are options here: the optimiser may work on the
image in other *units* than its [0, 1] pixels (``units``: Gatys et al.'s code, neural-style
and d2l.ai optimise the network's preprocessed input), and the pixels may be left
unprojected (``clamp=False``: they only clip the picture they save).

Nothing is lost: Ctrl-C, a callback that returns ``True``, raises or returns something
without a truth value (an array), and a NaN loss all end the run with the best image found
so far; an error of the callback is said once, in a ``RuntimeWarning``.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch

from .result import StyleTransferResult

__all__ = ["optimize", "Evaluator", "Callback", "Objective", "Units"]

#: ``callback(evaluation, image, losses)``; returning ``True`` stops the run.
Callback = Callable[[int, torch.Tensor, Dict[str, float]], Optional[bool]]
#: ``objective(image) -> {"total": loss, "content": ..., ...}`` (scalar tensors).
Objective = Callable[[torch.Tensor], Dict[str, torch.Tensor]]
#: ``(encode, decode)``: the optimiser changes ``encode(pixels)`` (the objective is a function of
#: that), and ``decode`` turns it back into pixels for the callback and the result.
Units = Tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]
Bound = Union[float, torch.Tensor]


class Diverged(Exception):
    """A loss term became NaN or infinite (args: the loss record, the evaluation number)."""


class Stopped(Exception):
    """The callback asked to stop (args: a sentence about why, or nothing)."""


class BudgetSpent(Exception):
    """The evaluation budget is used up (L-BFGS may ask for more inside a line search)."""


class Evaluator:
    """The closure of a run: one loss evaluation per call, with all its bookkeeping.

    Args:
        objective: the loss of ``image``.
        image: the leaf tensor being optimised (``requires_grad``), changed in place: the
            pixels ``(1, 3, H, W)``, or what ``decode`` turns into pixels.
        optimizer: the torch optimiser over ``image`` (for ``zero_grad``).
        steps: the evaluation budget; with ``stop_at_budget`` the call after the last one raises.
        project_gradient: zero the gradient of pixels held at a bound (see :func:`zero_blocked_gradient`).
        callback, progress: as in :func:`optimize`.
        decode: ``decode(image)`` gives the pixels (``None``: ``image`` holds them).
        bounds: ``(low, high)`` that ``image`` is projected onto before every evaluation
            (floats or ``(1, 3, 1, 1)`` tensors), or ``None`` for no projection.
    """

    def __init__(self, objective: Objective, image: torch.Tensor, optimizer: torch.optim.Optimizer, steps: int, *,
                 project_gradient: bool, stop_at_budget: bool, callback: Optional[Callback], progress: bool,
                 decode: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                 bounds: Optional[Tuple[Bound, Bound]] = (0.0, 1.0)) -> None:
        from tqdm.auto import tqdm

        self.objective, self.image, self.optimizer, self.steps = objective, image, optimizer, steps
        self.project_gradient, self.stop_at_budget, self.callback = project_gradient, stop_at_budget, callback
        self.decode, self.bounds = decode, bounds
        self.history: Dict[str, List[float]] = {}
        self.best_loss, self.best_image, self.best_step = math.inf, self.pixels().detach().clone(), 0
        self.evaluations = 0
        self.bar = tqdm(total=steps, desc="stylize", unit="eval", disable=not progress, leave=True)
        self.progress = progress
        self.began = time.perf_counter()

    def pixels(self) -> torch.Tensor:
        """:attr:`image` as pixels: itself, or decoded from its units."""
        return self.image if self.decode is None else self.decode(self.image)

    def project_(self) -> None:
        """Project :attr:`image` onto its bounds, in place (nothing without bounds)."""
        if self.bounds is not None:
            with torch.no_grad():
                # Every recorded loss belongs to a displayable image (the PyTorch tutorial clamps too).
                self.image.clamp_(*self.bounds)

    def __call__(self) -> torch.Tensor:
        """Project, evaluate, differentiate, record; returns the total loss (a tensor, for L-BFGS)."""
        self.project_()
        self.optimizer.zero_grad(set_to_none=True)
        terms = self.objective(self.image)
        values = torch.stack([t.detach().float() for t in terms.values()]).tolist()  # one device sync
        record = dict(zip(terms.keys(), values))
        if not math.isfinite(record["total"]):
            raise Diverged(record, self.evaluations + 1)
        terms["total"].backward()
        if self.project_gradient:
            zero_blocked_gradient(self.image, *self.bounds)
        self.evaluations += 1
        self._record(record)
        self._report(record)
        if self.stop_at_budget and self.evaluations >= self.steps:
            raise BudgetSpent
        return terms["total"]

    def _record(self, record: Dict[str, float]) -> None:
        record["time"] = time.perf_counter() - self.began
        for key, value in record.items():
            self.history.setdefault(key, []).append(value)
        if record["total"] < self.best_loss:
            self.keep(record["total"], self.evaluations)

    def keep(self, loss: float, step: int) -> None:
        """Remember the current image as the best, with its loss and evaluation number."""
        with torch.no_grad():
            self.best_loss, self.best_image, self.best_step = loss, self.pixels().detach().clone(), step

    def _report(self, record: Dict[str, float]) -> None:
        self.bar.update(1)
        if self.progress:
            self.bar.set_postfix(loss=f"{record['total']:.4g}", refresh=False)
        if self.callback is None:
            return
        try:
            wish = self.callback(self.evaluations, self.pixels().detach().clamp(0.0, 1.0), record)
        except Exception as exc:  # noqa: BLE001 - the user's code must not lose the run's work
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise Stopped(f"raised {type(exc).__name__}: {text}" if text else f"raised {type(exc).__name__}") from exc
        try:
            stop = bool(wish)  # an array or a tensor of several values has no truth value
        except Exception as exc:  # noqa: BLE001 - nor does anything whose __bool__ raises
            raise Stopped(f"returned a {type(wish).__name__}, which is neither True (stop) nor None (go on)") from exc
        if stop:
            raise Stopped


def optimize(
    objective: Objective,
    start: torch.Tensor,
    *,
    optimizer: str = "lbfgs",
    steps: int = 300,
    lr: float = 1.0,
    line_search: bool = True,
    callback: Optional[Callback] = None,
    progress: bool = True,
    weights: Optional[Dict[str, float]] = None,
    clamp: bool = True,
    units: Optional[Units] = None,
    adam_betas: Tuple[float, float] = (0.9, 0.999),
    adam_eps: float = 1e-8,
    adam_eps_hat: bool = False,
) -> StyleTransferResult:
    """Minimise ``objective`` from ``start`` ``(1, 3, H, W)`` within ``steps`` loss evaluations.

    ``optimizer`` is ``"lbfgs"`` (one ``step()`` call, so that its line search never
    evaluates a point twice; the budget is enforced by the closure) or ``"adam"`` (one
    update per evaluation). With ``line_search`` L-BFGS uses a strong-Wolfe line search on
    the projected gradient. ``weights`` (``{"content": ..., "style": ..., "tv": ...}``)
    only improve the message when the loss diverges. The result's ``config`` is empty:
    the caller records the settings.

    ``clamp``: project the pixels onto [0, 1] before every evaluation (and after every
    Adam update); without it they may leave that range, and only the returned image is
    clipped. ``units``: optimise ``encode(start)`` instead of the pixels; ``objective`` is
    then a function of that (L-BFGS's first step and Adam's ``lr`` are in those units; see
    :data:`Units`). ``adam_betas``,
    ``adam_eps``: Adam's beta1, beta2 and epsilon; with ``adam_eps_hat`` epsilon is added
    to sqrt(v) before the bias correction, as Keras/TensorFlow do (Kingma & Ba's "epsilon
    hat"), not after it as PyTorch does.
    """
    encode, decode = units if units is not None else (None, None)
    image = (start if encode is None else encode(start)).detach().clone().requires_grad_(True)
    opt = _make_optimizer(image, optimizer, steps, lr, line_search, adam_betas, adam_eps)
    bounds = _bounds(start, encode) if clamp else None
    run = Evaluator(objective, image, opt, steps, project_gradient=optimizer == "lbfgs" and line_search and clamp,
                    stop_at_budget=optimizer == "lbfgs", callback=callback, progress=progress, decode=decode,
                    bounds=bounds)
    status, message = "completed", ""
    try:
        if optimizer == "lbfgs":
            opt.step(run)
        else:
            _adam_steps(run, opt, steps, adam_eps if adam_eps_hat else None)
    except BudgetSpent:
        pass
    except Stopped as exc:
        status, message = "stopped", _stop_message(exc, run)
    except KeyboardInterrupt:
        status = "interrupted"
        message = (f"Interrupted after {run.evaluations} of {steps} evaluations; returning the best image so far "
                   f"(evaluation {run.best_step}).")
    except Diverged as exc:
        status, message = "diverged", divergence_message(exc.args[0], exc.args[1], optimizer, lr, weights or {})
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    finally:
        run.bar.close()
    seconds = time.perf_counter() - run.began
    if status == "completed":
        status, message = _completed(run, optimizer)
    return StyleTransferResult(
        image=run.best_image.clamp(0.0, 1.0).float().cpu(), history=run.history,
        best_step=run.best_step, steps=_updates(opt, image, run, optimizer, status), evaluations=run.evaluations,
        seconds=seconds, status=status, message=message,
    )


def _bounds(start: torch.Tensor, encode: Optional[Callable[[torch.Tensor], torch.Tensor]]) -> Tuple[Bound, Bound]:
    """What [0, 1] pixels are in the optimiser's units: ``(0.0, 1.0)``, or per channel ``(1, 3, 1, 1)``."""
    if encode is None:
        return 0.0, 1.0
    with torch.no_grad():
        black, white = (encode(start.new_full((1, 3, 1, 1), value)) for value in (0.0, 1.0))
    return torch.minimum(black, white), torch.maximum(black, white)


def _make_optimizer(image: torch.Tensor, name: str, steps: int, lr: float, line_search: bool,
                    betas: Tuple[float, float], eps: float) -> torch.optim.Optimizer:
    if name == "lbfgs":
        # Negative tolerances: never stop early, spend the whole budget.
        return torch.optim.LBFGS(
            [image], lr=lr, max_iter=steps, max_eval=steps + 25, history_size=100,
            tolerance_grad=-1, tolerance_change=-1, line_search_fn="strong_wolfe" if line_search else None,
        )
    return torch.optim.Adam([image], lr=lr, betas=betas, eps=eps)


def _adam_steps(run: Evaluator, opt: torch.optim.Optimizer, steps: int, eps_hat: Optional[float]) -> None:
    """One Adam update per evaluation. ``eps_hat``: Keras's epsilon, which PyTorch's Adam
    applies exactly as ``eps = eps_hat / sqrt(1 - beta2 ** t)`` at update ``t``."""
    for step in range(1, steps + 1):
        run()
        if eps_hat is not None:
            for group in opt.param_groups:
                group["eps"] = eps_hat / math.sqrt(1.0 - group["betas"][1] ** step)
        opt.step()
        run.project_()


def _stop_message(exc: Stopped, run: Evaluator) -> str:
    if not exc.args:
        return f"Stopped by the callback after evaluation {run.evaluations} of {run.steps}; the best image so far is kept."
    message = (f"The callback {exc.args[0]} at evaluation {run.evaluations} of {run.steps}, so the run was "
               "stopped; the best image so far is kept. Fix the callback and run again.")
    warnings.warn(message, RuntimeWarning, stacklevel=4)
    return message


def _completed(run: Evaluator, optimizer: str) -> tuple:
    """Status and message of a run that spent its budget."""
    if optimizer == "adam":
        # Adam's last update was never evaluated: keep it if it is the best image.
        run.project_()
        with torch.no_grad():
            final = run.objective(run.image)["total"].item()
        if math.isfinite(final) and final < run.best_loss:
            run.keep(final, run.evaluations + 1)
    if run.evaluations >= 2 and run.best_step <= 1:
        return "no_progress", (
            f"None of the {run.evaluations} evaluations improved on the start image (loss {run.best_loss:.4g}), "
            "so the start image is returned: lower lr, or use optimizer='lbfgs' with line_search=True."
        )
    return "completed", f"Completed {run.evaluations} evaluations; the best loss was {run.best_loss:.4g}."


def _updates(opt: torch.optim.Optimizer, image: torch.Tensor, run: Evaluator, optimizer: str, status: str) -> int:
    if optimizer == "lbfgs":
        return int(opt.state[image].get("n_iter", 0)) if image in opt.state else 0
    return run.evaluations if status in ("completed", "no_progress") else max(run.evaluations - 1, 0)


def zero_blocked_gradient(image: torch.Tensor, low: Bound = 0.0, high: Bound = 1.0) -> None:
    """Zero the gradient of pixels that sit on a bound and would be pushed beyond it.

    Every evaluation projects the pixels onto [0, 1], so a pixel at 0 whose gradient is
    positive (descent wants it below 0), or at 1 with a negative gradient, cannot move:
    along such a direction the evaluated loss is flat. Its raw gradient would tell the
    line search otherwise, the Wolfe conditions then fail again and again, and L-BFGS
    stalls on one loss for dozens of evaluations. With these components zeroed (the
    projected gradient of bound-constrained optimisation) the slope the line search
    sees matches the function it evaluates. ``image``: the leaf ``(1, 3, H, W)`` whose
    ``.grad`` was just computed; changed in place. ``low``, ``high``: the bounds (floats,
    or ``(1, 3, 1, 1)`` tensors for an image in other units than pixels).
    """
    with torch.no_grad():
        grad = image.grad
        blocked = ((image <= low) & (grad > 0)) | ((image >= high) & (grad < 0))
        grad.masked_fill_(blocked, 0.0)


def divergence_message(record: Dict[str, float], evaluation: int, optimizer: str, lr: float,
                       weights: Dict[str, float]) -> str:
    """One sentence naming the term that became NaN or infinite and the likely fix."""
    bad = next((term for term in ("content", "style", "tv") if not math.isfinite(record.get(term, 0.0))), "total")
    value = record.get(bad, record["total"])
    kind = "NaN" if math.isnan(value) else "infinite"
    if bad == "total":
        cause = "check that the input images hold no NaN values"
    elif optimizer == "adam" and lr > 0.1:
        cause = f"the learning rate lr={lr:g} is too large for Adam on [0, 1] pixels; try lr=0.02"
    elif weights.get(bad, 0.0) > 1e12:
        cause = f"{bad}_weight={weights[bad]:g} is too large for float32 arithmetic; lower it"
    elif optimizer == "lbfgs":
        cause = f"L-BFGS took too large a step (lr={lr:g}); lower lr, lower the weights, or use optimizer='adam'"
    else:
        cause = "lower the weights or the learning rate"
    return (
        f"The {bad} loss became {kind} at evaluation {evaluation}: {cause}. "
        "The run was stopped and the best image before that is returned."
    )
