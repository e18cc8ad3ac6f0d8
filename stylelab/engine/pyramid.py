"""Coarse-to-fine optimisation (Gatys et al. 2017, §6): a pyramid around a single-scale run.

A VGG unit sees a patch of fixed size in pixels, so at 1024 px the style layers capture
only small strokes relative to the picture, and an evaluation costs four times as much
as at 512 px. A pyramid therefore optimises at the smallest size first, upsamples that
result as the start of the next size, and so on: the layout settles cheaply, and the
expensive large runs only refine. :func:`run_pyramid` knows nothing of losses or
networks: it calls a single-scale run (any function of a size, a budget, a start image
and a callback) once per level and joins the results, as pystiche's pyramid wraps its
image optimisation from outside.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

import torch

from ..imaging.images import resize, target_size
from .result import StyleTransferResult

__all__ = ["run_pyramid", "stage_sizes", "stage_records"]

Shape = Tuple[int, int]
#: ``run_level(shape, steps, start, callback) -> StyleTransferResult``: one scale's run.
LevelRun = Callable[[Shape, int, torch.Tensor, Optional[Callable]], StyleTransferResult]
#: ``next_start(image, shape) -> start``: the next level's start from a result's image.
NextStart = Callable[[torch.Tensor, Shape], torch.Tensor]


def stage_sizes(final: Shape, scales: Sequence[int]) -> List[Shape]:
    """``(h, w)`` of each stage: the final size's aspect ratio at each longest side; the last is ``final``."""
    sizes = [target_size(final, int(s)) for s in scales[:-1]]
    return sizes + [(int(final[0]), int(final[1]))]


def run_pyramid(levels: Sequence[Tuple[Shape, int]], start: torch.Tensor, run_level: LevelRun,
                next_start: NextStart, callback: Optional[Callable] = None) -> StyleTransferResult:
    """Run ``run_level`` at each ``(shape, steps)`` of ``levels``, smallest first.

    Each level starts from ``next_start`` of the previous level's image; the callback's
    evaluation numbers count on across the levels. A level that ends early (interrupted,
    stopped, diverged) ends the pyramid. Returns one result: the histories joined (with
    ``history["scale"]``, the longest side of each evaluation), the last level's image at
    the final size, and ``facts["stages"]`` from :func:`stage_records`.
    """
    results: List[StyleTransferResult] = []
    done = 0
    for index, (shape, steps) in enumerate(levels):
        level_callback = callback
        if callback is not None and done:
            level_callback = lambda step, image, losses, _done=done: callback(_done + step, image, losses)  # noqa: E731
        result = run_level(shape, steps, start, level_callback)
        results.append(result)
        done += result.evaluations
        if result.status not in ("completed", "no_progress"):
            break
        if index + 1 < len(levels):
            start = next_start(result.image, levels[index + 1][0])
    return results[0] if len(levels) == 1 else _merge(results, [shape for shape, _ in levels])


def stage_records(results: Sequence[StyleTransferResult]) -> List[dict]:
    """Each level's size, updates, evaluations, seconds and status (``facts["stages"]``)."""
    return [
        {"size": list(r.image.shape[-2:]), "steps": r.steps, "evaluations": r.evaluations,
         "seconds": r.seconds, "status": r.status}
        for r in results
    ]


def _merge(results: List[StyleTransferResult], sizes: List[Shape]) -> StyleTransferResult:
    """One result for a pyramid: histories joined, the last level's image at the final size."""
    history: dict = {}
    elapsed, evaluations = 0.0, 0
    for result, shape in zip(results, sizes):
        for key, values in result.history.items():
            history.setdefault(key, []).extend([v + elapsed for v in values] if key == "time" else values)
        history.setdefault("scale", []).extend([float(max(shape))] * len(result.history.get("total", [])))
        elapsed += result.seconds
        evaluations += result.evaluations
    last, final = results[-1], tuple(sizes[-1])
    image = last.image if tuple(last.image.shape[-2:]) == final else resize(last.image, final)
    status, message = _merged_status(results, sizes)
    return StyleTransferResult(
        image=image, history=history, facts={"stages": stage_records(results)},
        best_step=evaluations - last.evaluations + last.best_step, steps=sum(r.steps for r in results),
        evaluations=evaluations, seconds=elapsed, status=status, message=message,
    )


def _merged_status(results: List[StyleTransferResult], sizes: List[Shape]) -> Tuple[str, str]:
    last, final = results[-1], sizes[-1]
    scales = "/".join(str(max(s)) for s in sizes[: len(results)])
    status, message = last.status, f"Coarse-to-fine at {scales} px: {last.message}"
    if status == "no_progress" and any(r.status == "completed" for r in results):
        # The run as a whole improved on its start; only the last scale kept its upsampled start.
        status = "completed"
        message = (
            f"Coarse-to-fine at {scales} px: completed; the last scale's {last.evaluations} evaluations did not "
            "improve on the upsampled image, which is returned."
        )
    if len(results) < len(sizes):
        message += f" The image was upsampled to {final[0]}x{final[1]} from the {max(sizes[len(results) - 1])} px scale."
    return status, message
