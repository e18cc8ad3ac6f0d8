"""Validation of every setting a user can give, in one place.

:func:`~stylelab.stylize`, the command line, the widgets and the result cache all check
their inputs here, before any long work: types (each message names the parameter),
ranges, the memory a run would need, and the output path. Every check raises one of
stylelab's documented exceptions with one sentence that names the problem and the fix:

* :class:`~stylelab.ParameterError` (a ``ValueError`` and a ``TypeError``) for a wrong
  type or value;
* :class:`~stylelab.MemoryLimitError` (a ``MemoryError``) when the images are too large
  for the memory limit (see :func:`memory_limit`);
* :class:`~stylelab.OutputPathError` (a ``ValueError``) for an output that cannot be
  written, or that would overwrite an input.

Numpy integers are accepted wherever a Python ``int`` is. Every number must be finite and
within its range, so that no setting reaches the arithmetic as an overflow: loss and
blend weights at most the largest float32 (:data:`FLOAT32_MAX`), ``lr`` at most
:data:`MAX_LR`, ``style_scale`` at most :data:`MAX_STYLE_SCALE`.

**Memory limit.** A run needs about :data:`BYTES_PER_PIXEL` bytes per output pixel (the
network's activations and their gradients, float32, VGG-19 up to ``relu5_1``; measured
3.1-3.5 KB at 512-1024 px, see README "Performance") plus :data:`STYLE_BYTES_PER_PIXEL`
per style-image pixel (the targets). :func:`check_memory` refuses a run whose estimate is
above the limit: ``STYLELAB_MEMORY_LIMIT`` (e.g. ``8GiB``, ``512MiB``, a number of MiB,
or ``off``) or, by default, the machine's physical memory (the GPU's memory for a CUDA
device).
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .errors import MemoryLimitError, OutputPathError, ParameterError
from .files import path_too_long

__all__ = [
    "whole_number",
    "non_negative",
    "positive",
    "FLOAT32_MAX",
    "MAX_LR",
    "MAX_STYLE_SCALE",
    "seed",
    "blend_weights",
    "scales",
    "memory_estimate",
    "memory_limit",
    "check_memory",
    "output_path",
    "BYTES_PER_PIXEL",
    "STYLE_BYTES_PER_PIXEL",
    "MEMORY_LIMIT_VARIABLE",
]

#: Bytes a run needs per pixel of the generated image (activations + gradients, float32).
BYTES_PER_PIXEL = 3600
#: Bytes a run needs per pixel of each style image (forward passes for the targets).
STYLE_BYTES_PER_PIXEL = 1200
#: Environment variable that sets the memory limit.
MEMORY_LIMIT_VARIABLE = "STYLELAB_MEMORY_LIMIT"
_UNITS = {"": 2**20, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
          "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}
_SAVE_SUFFIXES = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
#: The largest finite float32 (3.4e38): the objective is computed in float32, where a weight above it is infinite.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Largest learning rate: pixels live in [0, 1], so any larger step only throws them to 0 or 1.
MAX_LR = 1e3
#: Largest ``style_scale``: style images 100 times the output's size (the memory check refuses far less).
MAX_STYLE_SCALE = 100.0
_WHY_AT_MOST = {
    None: "above that, float32 arithmetic gives infinity",
    "lr": "pixels live in [0, 1], so a larger step only throws them to 0 or 1",
    "style_scale": "the style images would be that many times larger than the output",
}


# --------------------------------------------------------------------------- choices


def choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """``value`` if it is one of ``allowed`` (compared with ``==``), else one sentence naming both."""
    if not any(value is option or (type(value) is type(option) and value == option) for option in allowed):
        names = [repr(option) for option in allowed]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        raise ParameterError(f"{name} must be {listed}; got {value!r}.")
    return value


# --------------------------------------------------------------------------- numbers


def whole_number(name: str, value: Any, minimum: int = 1, maximum: Optional[int] = None) -> int:
    """``value`` as an ``int`` from ``minimum`` to ``maximum``: a Python or numpy integer, or a float with no fraction."""
    kind = "a positive whole number" if minimum == 1 else f"a whole number (at least {minimum})"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, float, np.floating)):
        raise ParameterError(f"{name} must be {kind}; got {value!r}.")
    if isinstance(value, (float, np.floating)) and not (math.isfinite(value) and float(value).is_integer()):
        raise ParameterError(f"{name} must be {kind}; got {value!r}.")
    number = int(value)
    if number < minimum:
        reason = " (nothing would be optimised)" if name == "steps" else ""
        raise ParameterError(f"{name} must be at least {minimum}; got {number}{reason}.")
    if maximum is not None and number > maximum:
        raise ParameterError(f"{name} must be at most {maximum}; got {number}.")
    return number


def _finite(name: str, value: Any, kind: str) -> float:
    """``value`` as a finite ``float``: a Python or numpy number, not a bool or a string (``kind``: what
    the message asks for, e.g. ``"a finite number >= 0"``)."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ParameterError(f"{name} must be a number; got {value!r}.")
    try:
        number = float(value)
    except (OverflowError, ValueError):  # an int too large for a float
        number = math.inf
    if not math.isfinite(number):
        raise ParameterError(f"{name} must be {kind}; got {_short(value)}.")
    return number


def _short(value: Any) -> str:
    """``repr(value)``, cut in the middle when it is very long (a 400-digit int)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]}"


def _at_most(name: str, number: float, value: Any, maximum: float) -> float:
    if number > maximum:
        why = _WHY_AT_MOST.get(name, _WHY_AT_MOST[None])
        raise ParameterError(f"{name} must be at most {maximum:g}; got {_short(value)} ({why}).")
    return number


def non_negative(name: str, value: Any, maximum: float = FLOAT32_MAX) -> float:
    """``value`` as a finite ``float`` from 0 to ``maximum`` (a loss weight, a blend weight).

    The default maximum is the largest float32, :data:`FLOAT32_MAX`: the objective is
    computed in float32, where a larger weight is infinite.
    """
    number = _finite(name, value, "a finite number >= 0")
    if number < 0:
        raise ParameterError(
            f"{name} must be a finite number >= 0; got {value!r} (a negative weight would reward "
            "moving away from the target; use 0 to switch the term off)."
        )
    return _at_most(name, number, value, maximum)


def positive(name: str, value: Any, maximum: float = FLOAT32_MAX) -> float:
    """``value`` as a finite ``float`` above 0 and at most ``maximum`` (a learning rate, a scale factor).

    Settings with a natural scale have their own maximum: :data:`MAX_LR`, :data:`MAX_STYLE_SCALE`.
    """
    number = _finite(name, value, "a finite number > 0")
    if number <= 0:
        raise ParameterError(f"{name} must be greater than 0; got {value!r}.")
    return _at_most(name, number, value, maximum)


def seed(value: Any) -> int:
    """A random seed: a whole number from 0 to 2**63 - 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or not 0 <= int(value) < 2**63:
        raise ParameterError(f"seed must be a whole number from 0 to 2**63 - 1, e.g. seed=0; got {value!r}.")
    return int(value)


# --------------------------------------------------------------------------- lists


def blend_weights(blend: Any, count: int) -> List[float]:
    """One weight per style image, normalised to sum to 1 (equal weights for ``None``)."""
    if count == 0:
        if blend is not None:
            raise ParameterError("style_blend was given but there is no style image.")
        return []
    if blend is None:
        return [1.0 / count] * count
    if isinstance(blend, (str, bytes, Mapping)) or not isinstance(blend, Iterable):
        raise ParameterError(
            f"style_blend must be a list with one weight per style image, e.g. [0.7, 0.3]; got {blend!r}."
        )
    values = [non_negative("every style_blend weight", b) for b in blend]
    if len(values) != count:
        raise ParameterError(
            f"style_blend has {len(values)} weights for {count} style images; give one weight per style image."
        )
    total = sum(values)
    if total <= 0:
        raise ParameterError("style_blend weights are all 0; give at least one style a positive weight.")
    return [v / total for v in values]


def scales(value: Any) -> List[int]:
    """Coarse-to-fine sizes: positive whole numbers of pixels, strictly increasing."""
    if isinstance(value, (numbers.Integral, float, np.floating)) and not isinstance(value, (bool, np.bool_)):
        value = [value]
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ParameterError(f"scales must be a list of image sizes such as (256, 512, 1024); got {value!r}.")
    values = list(value)
    if not values:
        raise ParameterError("scales is empty; give at least one image size, e.g. scales=(256, 512).")
    out = []
    for item in values:
        try:
            out.append(whole_number("every scale", item))
        except ParameterError:
            raise ParameterError(
                f"every scale must be a positive whole number of pixels; got {item!r} in {values}."
            ) from None
    for small, large in zip(out, out[1:]):
        if large <= small:
            raise ParameterError(
                f"scales must increase from coarse to fine, e.g. (256, 512, 1024); got {out} "
                f"({large} comes after {small})."
            )
    return out


# --------------------------------------------------------------------------- memory


def memory_estimate(shape: Tuple[int, int], style_shapes: Sequence[Tuple[int, int]] = ()) -> int:
    """Bytes a run at ``shape`` ``(h, w)`` with style images of ``style_shapes`` needs (estimate)."""
    pixels = int(shape[0]) * int(shape[1])
    style_pixels = max((int(h) * int(w) for h, w in style_shapes), default=0)
    return pixels * BYTES_PER_PIXEL + style_pixels * STYLE_BYTES_PER_PIXEL


def _parse_bytes(text: str) -> Optional[int]:
    """``"8GiB"``, ``"512 MB"``, ``"4000"`` (MiB) -> bytes; ``"off"`` -> ``None``."""
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned in ("off", "none", "0", "no"):
        return None
    number = cleaned.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = cleaned[len(number):]
    try:
        value = float(number)
    except ValueError:
        value = float("nan")
    if unit not in _UNITS or not math.isfinite(value) or value <= 0:
        raise ParameterError(
            f"{MEMORY_LIMIT_VARIABLE}={text!r} is not a memory size; use e.g. 8GiB, 512MiB, 4000 (MiB) or off."
        )
    return int(value * _UNITS[unit])


def _physical_memory(device: Any = None) -> Optional[int]:
    """Total memory of ``device`` in bytes (the GPU's for CUDA, the machine's otherwise), if known."""
    kind = getattr(device, "type", str(device) if device is not None else "cpu")
    if str(kind).startswith("cuda"):
        try:
            import torch

            return int(torch.cuda.get_device_properties(device).total_memory)
        except Exception:  # noqa: BLE001 - an unknown GPU size means no default limit
            return None
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def memory_limit(device: Any = None, environ: Optional[Mapping[str, str]] = None) -> Optional[int]:
    """The memory limit in bytes: ``$STYLELAB_MEMORY_LIMIT``, else the device's total memory.

    ``None`` means no limit (``STYLELAB_MEMORY_LIMIT=off``, or the size is unknown).
    """
    environ = os.environ if environ is None else environ
    text = environ.get(MEMORY_LIMIT_VARIABLE, "").strip()
    if text:
        return _parse_bytes(text)
    return _physical_memory(device)


def check_memory(
    shape: Tuple[int, int], style_shapes: Sequence[Tuple[int, int]] = (), device: Any = None,
    limit: Optional[int] = -1, *, need: Optional[int] = None,
) -> int:
    """Refuse a run whose estimated memory is above the limit; returns the estimate in bytes.

    ``limit``: bytes, ``None`` for no limit, or ``-1`` (default) for :func:`memory_limit`.
    ``need``: the estimate when it is already made (a run's ``Plan.memory``); by default
    :func:`memory_estimate` of ``shape`` and ``style_shapes``.
    Raises :class:`~stylelab.MemoryLimitError` before anything is allocated.
    """
    need = memory_estimate(shape, style_shapes) if need is None else need
    limit = memory_limit(device) if limit == -1 else limit
    if limit is not None and need > limit:
        largest = max([tuple(shape), *[tuple(s) for s in style_shapes]], key=lambda s: s[0] * s[1])
        raise MemoryLimitError(
            f"A {shape[0]}x{shape[1]} run (largest image {largest[0]}x{largest[1]}) needs about "
            f"{_mib(need)} of memory, above the limit of {_mib(limit)}; use a smaller size= or style_scale=, "
            f"or raise the limit with {MEMORY_LIMIT_VARIABLE} or --max-memory (e.g. 64GiB) if the machine has the memory."
        )
    return need


def _mib(count: int) -> str:
    if count >= 2**30:
        return f"{count / 2**30:.1f} GiB"
    return f"{count / 2**20:.0f} MiB" if count >= 2**20 else f"{count / 2**10:.0f} KiB"


# --------------------------------------------------------------------------- output paths


def output_path(path: Any, inputs: Iterable[Any] = ()) -> Path:
    """Check, before any work, that an image can be written at ``path``; returns it as a ``Path``.

    Refuses an unknown extension, an existing folder, a path under an existing file, a
    folder without write permission, and any of ``inputs`` (paths of the images read; other
    sources are ignored), so that no input is ever written over.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise OutputPathError(f"The output must be a file path such as 'out.png'; got {path!r}.")
    target = Path(path).expanduser()
    too_long = path_too_long(target)
    if too_long:
        raise OutputPathError(too_long)
    if target.suffix.lower() not in _SAVE_SUFFIXES:
        raise OutputPathError(
            f"Cannot tell which format to save {target.name!r} in; end the file name with one of "
            f"{', '.join(_SAVE_SUFFIXES)}."
        )
    if os.path.isdir(target):  # os.path's tests never raise (a path too long for the system is "not there")
        raise OutputPathError(f"The output {str(target)!r} is a folder; give a file name inside it, e.g. {str(target / 'out.png')!r}.")
    for source in inputs:
        if isinstance(source, (str, os.PathLike)) and _same_file(Path(source).expanduser(), target):
            raise OutputPathError(
                f"The output {str(target)!r} is one of the input images; choose another output name so the input is kept."
            )
    folder = _existing_ancestor(target.parent)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputPathError(
            f"Cannot create {str(target)!r}: {str(folder)!r} is a file, not a folder; choose another output folder."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"Cannot write in the folder {str(folder)!r} (no permission); choose another output folder.")
    if os.path.exists(target) and not os.access(target, os.W_OK) and not os.access(target.parent, os.W_OK):
        raise OutputPathError(f"Cannot replace {str(target)!r} (no permission); choose another output name.")
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _existing_ancestor(folder: Path) -> Path:
    """The nearest folder (or file) at or above ``folder`` that exists."""
    current = folder if str(folder) else Path(".")
    while not os.path.exists(current) and current != current.parent:
        current = current.parent
    return current
