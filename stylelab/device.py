"""Choose the torch device (CUDA, then Apple MPS, then the CPU) and the CPU threads."""

from __future__ import annotations

import os
from typing import Mapping, Optional

import torch

from .errors import ParameterError

__all__ = ["pick_device", "cpu_threads", "use_cpu_threads", "THREADS_VARIABLE"]

#: The environment variable that sets the CPU threads of PyTorch (0: PyTorch's default).
THREADS_VARIABLE = "STYLELAB_THREADS"


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    ``device`` wins when given; otherwise the ``STYLELAB_DEVICE`` environment variable;
    otherwise the first available of CUDA, Apple MPS and the CPU.
    """
    choice = device if device is not None else os.environ.get("STYLELAB_DEVICE") or None
    if choice is not None:
        try:
            chosen = torch.device(choice)
        except (RuntimeError, TypeError):
            raise ParameterError(
                f"Unknown device {choice!r}; use 'cpu', 'cuda', 'cuda:0' or 'mps'."
            ) from None
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise ParameterError(
                f"Device {choice!r} was requested but CUDA is not available here; "
                "use device='cpu' or leave device unset to pick automatically."
            )
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_threads(environ: Optional[Mapping[str, str]] = None) -> Optional[int]:
    """How many CPU threads PyTorch should use here, or None for PyTorch's default.

    ``$STYLELAB_THREADS`` when set (``0``: PyTorch's default, one per core); otherwise 1
    on a JupyterHub (``$JUPYTERHUB_USER`` is set in every user's server and kernel), where
    each student's kernel would else take every core of the shared server and the
    threads of thirty kernels would fight over them; otherwise PyTorch's default.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(THREADS_VARIABLE, "").strip()
    if raw:
        try:
            threads = int(raw)
        except ValueError:
            threads = -1
        if threads < 0:
            raise ParameterError(
                f"{THREADS_VARIABLE} must be a whole number of CPU threads (0: one per core), not {raw!r}; "
                f"unset it or set e.g. {THREADS_VARIABLE}=2."
            )
        return threads or None
    return 1 if environ.get("JUPYTERHUB_USER") else None


def use_cpu_threads(environ: Optional[Mapping[str, str]] = None) -> int:
    """Apply :func:`cpu_threads` to PyTorch (``torch.set_num_threads``); return the threads in use."""
    threads = cpu_threads(environ)
    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return torch.get_num_threads()
