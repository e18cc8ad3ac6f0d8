"""Choose the torch device: CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import os

import torch

from .errors import ParameterError

__all__ = ["pick_device"]


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
