"""What a style transfer returns: :class:`StyleTransferResult`.

A result is a value: the best image, the loss history, the counters of the run, how it
ended, and the :class:`~stylelab.engine.settings.TransferSettings` that made it. Run analysis
(how fast a loss fell, losses at the final scale, compute spent) reads these fields; see
:mod:`stylelab.course.analysis`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import torch

from ..imaging.images import save_image, to_pil

if TYPE_CHECKING:  # annotations only: settings imports nothing from here
    from .settings import TransferSettings

__all__ = ["StyleTransferResult", "STATUSES"]

#: How a run can end; only ``"completed"`` is a success.
STATUSES = ("completed", "interrupted", "stopped", "diverged", "no_progress")


@dataclass
class StyleTransferResult:
    """What :func:`~stylelab.stylize` returns.

    Attributes:
        image: the best image found, ``(1, 3, H, W)`` float32 in [0, 1], on the CPU.
        history: ``{term: [value per evaluation]}`` with ``"total"``, the weighted
            ``"content"``, ``"style"``, ``"tv"``, each layer's unweighted loss
            (``"style:relu1_1"``, ...) and ``"time"`` (seconds since the start); with
            several scales also ``"scale"`` (the longest side of each evaluation).
        facts: what the run found that its settings do not say, JSON-friendly: the output's
            ``"size"`` ``[H, W]``, the ``"style_sizes"``, the ``"style_blend"`` as used
            (summing to 1), the number of ``"masks"``, the ``"init"`` rule used, the network
            (``"weights"``, ``"network"``, ``"normalized"``, ``"pooling"``, ``"device"``) and
            each scale's counters under ``"stages"``.
        best_step: the evaluation (1-based) that produced :attr:`image`; 0 is the start.
        steps: optimiser updates made (Adam steps or L-BFGS iterations).
        evaluations: loss evaluations (forward + backward passes); at most the
            ``steps`` budget.
        seconds: wall time of the optimisation, excluding target computation.
        status: ``"completed"``, ``"interrupted"`` (Ctrl-C, a kernel interrupt, SIGTERM in
            the command line), ``"stopped"`` (by the callback), ``"diverged"`` (a NaN or
            infinite loss) or ``"no_progress"`` (every evaluation was worse than the start
            image, which is returned). Only ``"completed"`` is a success.
        message: a sentence about how the run ended.
        settings: the :class:`~stylelab.engine.settings.TransferSettings` of the run
            (``None`` for a result built by hand).
    """

    image: torch.Tensor
    history: Dict[str, List[float]]
    facts: Dict[str, Any] = field(default_factory=dict)
    best_step: int = 0
    steps: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    status: str = "completed"
    message: str = ""
    settings: Optional["TransferSettings"] = None

    @property
    def config(self) -> Dict[str, Any]:
        """The settings as used and the facts of the run in one JSON-friendly dict (a new
        dict at each call; change :attr:`settings` or :attr:`facts`, not this): the
        settings' :meth:`~stylelab.engine.settings.TransferSettings.record` without the network,
        ``"lr"`` the step size used, then :attr:`facts`."""
        if self.settings is None:
            return dict(self.facts)
        record = {name: value for name, value in self.settings.record().items() if name != "network"}
        return {**record, "lr": self.settings.learning_rate, **self.facts}

    @property
    def interrupted(self) -> bool:
        """True when the run ended before its last step, for any reason."""
        return self.status in ("interrupted", "stopped", "diverged")

    @property
    def succeeded(self) -> bool:
        """True when the run completed and improved on its start image."""
        return self.status == "completed"

    def to_pil(self):
        """The image as a PIL RGB image."""
        return to_pil(self.image)

    def save(self, path: str | Path) -> Path:
        """Save the image (format from the extension); returns the path."""
        return save_image(self.image, path)

    def _repr_png_(self) -> bytes:  # shown by Jupyter when the result is a cell's value
        buffer = io.BytesIO()
        self.to_pil().save(buffer, format="PNG")
        return buffer.getvalue()

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.image.shape[-2:])
        total = self.history.get("total") or [float("nan")]
        return (
            f"StyleTransferResult({shape} px, {self.status}, {self.steps} updates, "
            f"{self.evaluations} evaluations in {self.seconds:.1f} s, "
            f"loss {total[0]:.4g} -> {min(total):.4g})"
        )
