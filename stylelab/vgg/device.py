"""Choose the torch device: CUDA, then Apple MPS, then the CPU; check one that is asked for; and the CPU threads.

Every device a user names (``device=``, ``--device``, ``STYLELAB_DEVICE``) is checked
here, the same way whatever its kind: the name must be one torch knows, the kind must be
available on this machine (its PyTorch build supports it and a device of that kind is
present), and an index must be one of its devices. ``meta`` holds no data, so no image
can be computed on it. Any failure is one :class:`~stylelab.ParameterError` sentence, given
before the network is built.
"""

from __future__ import annotations

import os
from typing import List, Mapping, Optional

import torch

from ..errors import ParameterError

__all__ = ["pick_device", "check_device", "device_count", "available_devices", "cpu_threads", "use_cpu_threads",
           "THREADS_VARIABLE"]

#: The environment variable that sets the CPU threads of PyTorch (0: PyTorch's default).
THREADS_VARIABLE = "STYLELAB_THREADS"

_TITLES = {"cuda": "CUDA", "mps": "Apple MPS", "xpu": "Intel XPU", "hpu": "Intel Gaudi (HPU)", "mtia": "MTIA"}


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    ``device`` wins when given; otherwise the ``STYLELAB_DEVICE`` environment variable;
    otherwise the first available of CUDA, Apple MPS and the CPU. A device that is asked
    for is checked by :func:`check_device`.
    """
    choice = device if device is not None else os.environ.get("STYLELAB_DEVICE") or None
    if choice is not None:
        return check_device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_device(choice: str | torch.device) -> torch.device:
    """``choice`` as a ``torch.device`` if this machine can compute on it, else one sentence.

    Raises:
        ParameterError: an unknown name, ``meta``, a kind this machine does not have
            (``cuda`` without a GPU, ``mps`` off a Mac, ``xpu``, ...), or an index beyond
            its devices.
    """
    try:
        chosen = torch.device(choice)
    except (RuntimeError, TypeError, ValueError):
        raise ParameterError(f"Unknown device {choice!r}; use {_listed()}.") from None
    if chosen.type == "cpu":
        return chosen
    if chosen.type == "meta":
        raise ParameterError(f"Device {choice!r} holds no data (it only tracks shapes), so no image can be "
                             f"computed on it; use {_listed()}.")
    count = device_count(chosen.type)
    kind = _TITLES.get(chosen.type, chosen.type)
    if count == 0:
        raise ParameterError(f"Device {choice!r} was requested but {kind} is not available here; "
                             f"use {_listed()}, or leave device unset to pick automatically.")
    if chosen.index is not None and chosen.index >= count:
        raise ParameterError(f"Device {choice!r} was requested but this machine has {count} {kind} "
                             f"device{'s' if count != 1 else ''} (numbered from 0); use {_listed()}.")
    return chosen


def device_count(kind: str) -> int:
    """How many devices of ``kind`` (``"cuda"``, ``"mps"``, ``"xpu"``, ...) this machine can compute on.

    Asks torch's module of that name (``torch.cuda``, ``torch.xpu``, ``torch.mps``, ...)
    whether it is available and how many devices it has; 0 when torch has no such module,
    was built without it, or it fails to answer.
    """
    if kind == "cpu":
        return 1
    module = getattr(torch, kind, None)
    try:
        if kind == "mps":
            backend = getattr(torch.backends, "mps", None)
            return 1 if backend is not None and backend.is_available() else 0
        if module is None or not callable(getattr(module, "is_available", None)) or not module.is_available():
            return 0
        counter = getattr(module, "device_count", None)
        return int(counter()) if callable(counter) else 1
    except Exception:  # noqa: BLE001 - a backend that cannot even answer is not available
        return 0


def available_devices() -> List[str]:
    """The device names this machine can compute on, e.g. ``["cpu", "cuda", "cuda:0"]``."""
    names = ["cpu"]
    for kind in ("cuda", "mps", "xpu"):
        count = device_count(kind)
        if count:
            names.append(kind)
            names += [f"{kind}:{index}" for index in range(count)] if count > 1 else []
    return names


def _listed() -> str:
    names = [repr(name) for name in available_devices()]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


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
