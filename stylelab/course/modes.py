"""Run modes of the lessons (fast, laptop, full) and how long a lesson takes in each.

Three modes trade picture quality for time:

* ``fast``: tiny images, a few steps; how CI executes every lesson in minutes.
* ``laptop``: small images and moderate step counts, so that the whole course runs in
  at most 30 minutes on a 2-core CPU and the figures still make their point.
* ``full``: the paper's settings (512 px, hundreds of steps): a GPU setting; hours on a CPU.

``STYLELAB_MODE=fast|laptop|full`` chooses one; ``STYLELAB_FAST=1`` still means ``fast``.
When neither is set the mode follows the device: ``full`` on a GPU (CUDA or Apple MPS),
``laptop`` on a CPU, because the full settings take hours there and a learner who did not
ask for them is better served by a course that finishes.

A lesson that gives no ``laptop=`` value gets one from its ``full`` and ``fast`` values:
1.25 times the fast image size (:func:`laptop_size`) and 1.5 times the fast step count
(:func:`laptop_steps`), never more than the full value.

The expected time of a lesson on another machine is the time measured here (the reference
machine, :data:`REFERENCE_MACHINE`) scaled by how long one evaluation (forward and backward
pass of the network, :func:`time_one_evaluation`) takes there compared with here.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

import torch

__all__ = [
    "MODES",
    "REFERENCE",
    "REFERENCE_MACHINE",
    "REFERENCE_SECONDS_PER_EVALUATION",
    "WARN_AFTER_SECONDS",
    "Reference",
    "current_mode",
    "default_mode",
    "laptop_size",
    "laptop_steps",
    "expected_seconds",
    "expected_times",
    "full_mode_warning",
    "describe_times",
    "time_one_evaluation",
]

MODES = ("fast", "laptop", "full")
MODE_VARIABLE = "STYLELAB_MODE"
FAST_VARIABLE = "STYLELAB_FAST"
_TRUE = ("1", "true", "yes", "on")

#: Full mode on a CPU warns when a lesson is expected to take longer than this.
WARN_AFTER_SECONDS = 5 * 60

#: The side, in pixels, of the square image :func:`time_one_evaluation` times.
EVALUATION_SIZE = 128


def default_mode(device_type: str) -> str:
    """The mode when none is set: ``full`` on a GPU (``cuda``, ``mps``), ``laptop`` on a CPU."""
    return "full" if device_type in ("cuda", "mps") else "laptop"


def current_mode(environ: Optional[Mapping[str, str]] = None, device_type: Optional[str] = None) -> str:
    """The mode the environment asks for: ``"fast"``, ``"laptop"`` or ``"full"``.

    ``STYLELAB_MODE`` wins when set; otherwise ``STYLELAB_FAST=1`` means ``fast``; otherwise
    :func:`default_mode` of ``device_type`` (by default the device stylelab would pick).
    Raises ``ValueError`` for a ``STYLELAB_MODE`` that is not one of :data:`MODES`.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(MODE_VARIABLE, "").strip().lower()
    if raw:
        if raw not in MODES:
            raise ValueError(f"{MODE_VARIABLE} must be fast, laptop or full, not {raw!r}.")
        return raw
    if environ.get(FAST_VARIABLE, "").strip().lower() in _TRUE:
        return "fast"
    if device_type is None:
        from ..vgg.device import pick_device

        device_type = pick_device(environ.get("STYLELAB_DEVICE") or None).type
    return default_mode(device_type)


def laptop_size(full: int, fast: int) -> int:
    """The laptop image size a lesson did not give: 1.25 times ``fast`` (a multiple of 16), at most ``full``."""
    return min(full, max(16, round(1.25 * fast / 16) * 16))


def laptop_steps(full: int, fast: int) -> int:
    """The laptop step count a lesson did not give: 1.5 times ``fast`` (rounded up), at most ``full``.

    With :func:`laptop_size` an optimisation costs about 2.3 times the fast mode's compute
    (1.56 times the pixels, 1.5 times the steps), chosen to keep the course within
    30 minutes on a 2-core CPU.
    """
    return min(full, -(-3 * fast // 2))


@dataclass(frozen=True)
class Reference:
    """A lesson's run time on the reference machine in one mode.

    Attributes:
        seconds: wall-clock seconds to execute the lesson top to bottom under nbval.
        measured: ``True`` if timed; ``False`` if estimated (evaluations x pixels).
    """

    seconds: float
    measured: bool


#: Where and how the reference times were taken.
REFERENCE_MACHINE = "2-core CPU, no GPU, random VGG-19 weights, nbval (notebooks/INSTRUCTORS.md)"

#: Seconds :func:`time_one_evaluation` took for the random VGG-19 on the reference machine
#: when the run times below were taken (the median of ten timings; 0.091 s for the trained VGG-16).
REFERENCE_SECONDS_PER_EVALUATION = 0.103

#: Run time per lesson and mode on the reference machine, random VGG-19, an empty result cache
#: (notebooks/README.md gives the command; the lesson at normal priority, other jobs at nice 19).
#: Fast and laptop: measured. Full: lesson 01 measured; the others estimated from an earlier laptop
#: time, scaled by the ratio of the two modes' pixels x evaluations.
REFERENCE: Dict[str, Dict[str, Reference]] = {
    "01": {"fast": Reference(10.8, True), "laptop": Reference(11.6, True), "full": Reference(19.3, True)},
    "02": {"fast": Reference(12.7, True), "laptop": Reference(49.4, True), "full": Reference(1500, False)},
    "03": {"fast": Reference(16.1, True), "laptop": Reference(42.3, True), "full": Reference(2500, False)},
    "04": {"fast": Reference(48.4, True), "laptop": Reference(159.4, True), "full": Reference(18000, False)},
    "05": {"fast": Reference(42.3, True), "laptop": Reference(118.8, True), "full": Reference(5200, False)},
    "06": {"fast": Reference(23.0, True), "laptop": Reference(131.8, True), "full": Reference(7600, False)},
    "07": {"fast": Reference(27.0, True), "laptop": Reference(70.7, True), "full": Reference(15000, False)},
}


def _lesson_times(lesson: str) -> Dict[str, Reference]:
    try:
        return REFERENCE[lesson]
    except KeyError:
        raise ValueError(f"No reference times for lesson {lesson!r}; known lessons: {', '.join(REFERENCE)}.") from None


def expected_seconds(lesson: str, mode: str, seconds_per_evaluation: float) -> float:
    """Expected run time of ``lesson`` in ``mode`` on a device that needs ``seconds_per_evaluation``.

    The reference time scaled by this device's speed relative to the reference machine.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be fast, laptop or full, not {mode!r}.")
    reference = _lesson_times(lesson)[mode]
    return reference.seconds * seconds_per_evaluation / REFERENCE_SECONDS_PER_EVALUATION


def expected_times(lesson: str, seconds_per_evaluation: float) -> Dict[str, float]:
    """:func:`expected_seconds` for every mode, keyed by mode name."""
    return {mode: expected_seconds(lesson, mode, seconds_per_evaluation) for mode in MODES}


def _duration(seconds: float) -> str:
    """``seconds`` in words a reader takes in at a glance: ``"40 s"``, ``"12 min"``, ``"2.5 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe_times(lesson: str, mode: str, seconds_per_evaluation: float) -> str:
    """One line: the expected time of ``lesson`` in each mode, the current one marked.

    Times whose reference is an estimate rather than a measurement are marked ``(rough)``.
    The line says what the numbers are: the reference machine's times scaled by this
    machine's speed at the moment it was measured.
    """
    parts = []
    for name, seconds in expected_times(lesson, seconds_per_evaluation).items():
        estimated = "" if _lesson_times(lesson)[name].measured else " (rough)"
        marker = " <- this run" if name == mode else ""
        parts.append(f"{name} ~{_duration(seconds)}{estimated}{marker}")
    return (f"lesson {lesson} expected: " + ", ".join(parts)
            + " (estimated from this machine's speed right now; other programs running slow it down)")


def full_mode_warning(lesson: str, mode: str, device_type: str, seconds_per_evaluation: float) -> Optional[str]:
    """A warning sentence when full mode on a CPU would take over :data:`WARN_AFTER_SECONDS`, else ``None``."""
    if mode != "full" or device_type != "cpu":
        return None
    seconds = expected_seconds(lesson, "full", seconds_per_evaluation)
    if seconds <= WARN_AFTER_SECONDS:
        return None
    return (
        f"Full mode on a CPU: this lesson is expected to take about {_duration(seconds)}. "
        f"Set STYLELAB_MODE=laptop (about {_duration(expected_seconds(lesson, 'laptop', seconds_per_evaluation))}) "
        "and restart the kernel for a run that finishes in minutes."
    )


def time_one_evaluation(model: torch.nn.Module, size: int = EVALUATION_SIZE, repeats: int = 5) -> float:
    """Seconds ``model`` takes for one forward and backward pass on a ``size`` px image.

    One untimed pass first (memory allocation, kernel selection), then the median of
    ``repeats`` timed passes, so that one pass slowed by another program does not decide
    the estimate. It measures the machine as it is now: under load, every pass is slower,
    and so will the lesson be.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}.")
    device = getattr(model, "device", torch.device("cpu"))
    image = torch.rand((1, 3, size, size), generator=torch.Generator().manual_seed(0)).to(device)
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
    timings = []
    for _ in range(1 + repeats):
        pixels = image.clone().requires_grad_(True)
        start = time.perf_counter()
        features = model(pixels, layers)
        sum(f.square().mean() for f in features.values()).backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings[1:])
