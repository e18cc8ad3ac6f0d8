"""Honest time and peak-memory numbers for one :func:`~stylelab.stylize` run.

Peak memory of a PyTorch CPU run is hard to read from inside a long-lived process such as
a Jupyter kernel: ``tracemalloc`` does not see PyTorch's tensor allocations, and the
peak resident set size (``resource.getrusage(...).ru_maxrss``) only ever grows, so it
remembers whatever the kernel did before. :func:`measure_stylize` therefore runs the
call in a **fresh Python process** (``multiprocessing`` with the ``spawn`` start method)
and reads that process's own numbers:

* ``peak_rss_mib`` - the highest resident memory of the whole process during the run.
  On Linux the kernel's high-water mark (``VmHWM``) is reset just before ``stylize``
  starts (by writing ``5`` to ``/proc/self/clear_refs``), so it covers the run only;
  elsewhere it is ``ru_maxrss``, the peak since the process started (then it includes
  importing torch and building the network). ``peak_method`` says which one was used.
* ``start_rss_mib`` - resident memory just before the run (Python, torch, the network
  and the loaded images), so ``peak_rss_mib - start_rss_mib`` is what the run added.
* ``cuda_peak_mib`` - ``torch.cuda.max_memory_allocated`` when the run used a GPU.
* ``seconds`` - wall time of the ``stylize`` call (loading images and computing the
  targets included, starting the process and importing torch not).

Each measurement costs a process start (a few seconds to import torch).
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import torch

from ..engine.transfer import settings_from

__all__ = ["Measurement", "measure_stylize", "current_rss_mib", "reset_peak_rss", "peak_rss_mib"]


@dataclass
class Measurement:
    """What :func:`measure_stylize` returns (memory in MiB = 2**20 bytes).

    ``seconds``, ``peak_rss_mib``, ``start_rss_mib``, ``peak_method`` and
    ``cuda_peak_mib`` are described in the module docstring. ``image`` is the result
    ``(1, 3, H, W)``; ``final_loss`` the total loss of the last evaluation and
    ``best_loss`` the lowest total loss evaluated at the output size (with ``scales``,
    the coarse scales' losses are left out); ``status``, ``message`` and ``config``
    are those of the :class:`~stylelab.StyleTransferResult`.
    """

    seconds: float
    peak_rss_mib: float
    start_rss_mib: float
    peak_method: str
    cuda_peak_mib: Optional[float]
    image: torch.Tensor
    evaluations: int
    final_loss: float
    best_loss: float
    status: str
    message: str
    config: Dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        cuda = f", GPU peak {self.cuda_peak_mib:.0f} MiB" if self.cuda_peak_mib is not None else ""
        return (
            f"{self.seconds:.1f} s, peak memory {self.peak_rss_mib:.0f} MiB "
            f"({self.peak_rss_mib - self.start_rss_mib:+.0f} MiB over the {self.start_rss_mib:.0f} MiB "
            f"before the run){cuda}, {self.evaluations} evaluations, best loss at the final size {self.best_loss:.4g}"
        )


_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


def _proc_status(key: str, status: str = _STATUS) -> Optional[float]:
    """A ``kB`` field of ``/proc/self/status`` (or the file ``status``) in MiB, or ``None`` off Linux."""
    try:
        with open(status) as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def current_rss_mib() -> Optional[float]:
    """Resident memory of this process now (Linux only; ``None`` elsewhere)."""
    return _proc_status("VmRSS")


def _maxrss_mib() -> float:
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / 2**20 if sys.platform == "darwin" else value / 1024.0  # bytes on macOS, KiB on Linux


def reset_peak_rss(clear_refs: str = _CLEAR_REFS, status: str = _STATUS) -> bool:
    """Reset this process's peak resident memory (Linux's ``VmHWM``) to its current size.

    Returns ``False`` where that is impossible (not Linux): :func:`peak_rss_mib` then
    reports the peak since the process started. ``clear_refs`` and ``status`` are the
    ``/proc`` files used (other paths only for tests).
    """
    try:
        with open(clear_refs, "w") as handle:
            handle.write("5")  # "5" resets the VmHWM high-water mark
        return _proc_status("VmHWM", status) is not None
    except OSError:
        return False


def peak_rss_mib(status: str = _STATUS) -> float:
    """Peak resident memory of this process in MiB, since :func:`reset_peak_rss` on Linux."""
    peak = _proc_status("VmHWM", status)
    return peak if peak is not None else _maxrss_mib()


def _child(queue, content, style, settings, inputs) -> None:  # runs in the fresh process
    try:
        from ..engine.transfer import run
        from ..vgg.network import build_model
        from .analysis import final_scale_losses

        model = build_model(settings.network)
        if model.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(model.device)
        start_rss = current_rss_mib() or _maxrss_mib()
        exact = reset_peak_rss()
        began = time.perf_counter()
        result = run(content, style, settings, model=model, progress=False, **inputs)
        seconds = time.perf_counter() - began
        peak = peak_rss_mib()
        cuda = torch.cuda.max_memory_allocated(model.device) / 2**20 if model.device.type == "cuda" else None
        final = result.history.get("total", [float("nan")])
        at_final_size = final_scale_losses(result.history) if "total" in result.history else final
        queue.put(
            {
                "seconds": seconds,
                "peak_rss_mib": peak,
                "start_rss_mib": start_rss,
                "peak_method": "VmHWM reset before the run" if exact else "ru_maxrss since process start",
                "cuda_peak_mib": cuda,
                "image": result.image.numpy(),
                "evaluations": result.evaluations,
                "final_loss": float(final[-1]),
                "best_loss": float(min(at_final_size)),
                "status": result.status,
                "message": result.message,
                "config": result.config,
            }
        )
    except BaseException as exc:  # report any failure to the parent instead of hanging it
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def measure_stylize(content: Any, style: Any = None, *, timeout: Optional[float] = None, init: Any = None,
                    masks: Any = None, **settings: Any) -> Measurement:
    """Run ``stylize(content, style, init=init, masks=masks, **settings)`` in a fresh process;
    time it and its peak memory.

    ``settings`` are :func:`~stylelab.stylize`'s setting keywords, checked here before the
    process starts (the network is built inside the new process from ``weights``,
    ``pooling``, ``device``, ...); ``model`` and ``callback`` cannot cross the process
    boundary. Images may be paths or tensors. ``timeout`` (seconds) gives up waiting with
    a ``TimeoutError``. Raises ``RuntimeError`` with the child's error message if the run
    failed there.
    """
    for name in ("model", "callback"):
        if name in settings:
            raise ValueError(f"measure_stylize runs in a new process and cannot take {name}=; leave it out.")
    checked, init_image = settings_from(init, settings)
    inputs = {"init_image": init_image, "masks": masks}
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, content, style, checked, inputs), daemon=True)
    process.start()
    try:
        report = queue.get(timeout=timeout)
    except Exception:
        process.kill()
        process.join()
        raise TimeoutError(f"measure_stylize: no result within {timeout} s; the run was stopped.") from None
    process.join()
    if "error" in report:
        raise RuntimeError(f"The measured stylize run failed: {report['error']}")
    report["image"] = torch.from_numpy(report["image"])
    return Measurement(**report)
