"""Run analysis: numbers read off a finished :func:`~stylelab.stylize` run.

Pure functions over what a :class:`~stylelab.StyleTransferResult` records, nothing drawn
and nothing computed with a network:

* ``result.history`` - ``{term: [value per evaluation]}`` with the loss terms
  (``"total"``, ``"content"``, ``"style"``, ``"tv"``), ``"time"`` (seconds since the
  start at each evaluation) and, for a coarse-to-fine run, ``"scale"`` (the longest side
  of the image at each evaluation);
* ``result.config["stages"]`` - one ``{"size": (h, w), "evaluations": n, ...}`` per scale.

The figures that use these numbers (e.g. :func:`stylelab.plotting.convergence`) live in
:mod:`stylelab.plotting`; these functions work without matplotlib.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Tuple

__all__ = ["first_reach", "final_scale_losses", "pixel_cost"]

History = Mapping[str, Sequence[float]]


def first_reach(history: History, level: float, term: str = "total") -> Optional[Tuple[int, float]]:
    """When a run first gets its ``term`` loss down to ``level``.

    Args:
        history: a result's history; it needs ``history[term]`` and ``history["time"]``.
        level: the loss to reach (reached when a value is ``<= level``).
        term: which loss term to watch (default the total).

    Returns:
        ``(evaluations, seconds)``: ``evaluations`` counts from 1 (the first forward +
        backward pass) and ``seconds`` is ``history["time"]`` at that evaluation; ``None``
        if the level is never reached.
    """
    for index, value in enumerate(history[term]):
        if value <= level:
            return index + 1, float(history["time"][index])
    return None


def final_scale_losses(history: History, key: str = "total") -> List[float]:
    """The ``key`` losses of a history evaluated at the last (largest) scale.

    Args:
        history: a result's history; ``history["scale"]``, when present and not empty,
            names the longest side of each evaluation's image.
        key: the loss term to return.

    Returns:
        A new list of the ``key`` values at the largest scale. A coarse-to-fine history
        runs on across the scales, and losses at different sizes are not comparable, so
        compare runs by these. Without scales: the whole ``history[key]``.
    """
    scales = history.get("scale")
    if not scales:
        return list(history[key])
    final = max(scales)
    return [value for value, scale in zip(history[key], scales) if scale == final]


def pixel_cost(result: Any) -> int:
    """Compute spent by a run, in evaluations x pixels.

    Args:
        result: a :class:`~stylelab.StyleTransferResult` (anything with
            ``config["stages"]``, each stage with ``"evaluations"`` and ``"size"``
            ``(h, w)``).

    Returns:
        ``sum(evaluations * height * width)`` over the stages. VGG-19 is convolutional, so
        one evaluation (forward + backward) costs time in proportion to the image's
        pixels; this cost does not depend on the machine or on what else it is doing.
        Divide by the final size's pixels to count it in full-size evaluations.
    """
    return sum(int(stage["evaluations"]) * int(stage["size"][0]) * int(stage["size"][1]) for stage in result.config["stages"])
