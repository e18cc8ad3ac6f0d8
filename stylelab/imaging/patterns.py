r"""Synthetic test images: edges, stripes, checkerboards, colour blobs, noise.

Simple images with one known property each, to probe what a layer of the network
responds to (lesson 01). Every function returns a ``(1, 3, H, W)`` float32 tensor with
values in [0, 1], like :func:`stylelab.load_image`, and is deterministic (``blobs`` and
``noise`` take a ``seed``).

>>> from stylelab.imaging.patterns import pattern
>>> stripes = pattern("stripes", 128, period=8)       # doctest: +SKIP
>>> edge = pattern("edge", (64, 96))                  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Sequence, Tuple, Union

import torch

__all__ = ["KINDS", "BLOB_COLOURS", "pattern", "edge", "stripes", "checkerboard", "blobs", "blob_centres", "noise", "flat"]

Size = Union[int, Tuple[int, int]]

#: The colours of :func:`blobs`, in order, as RGB in [0, 1].
BLOB_COLOURS = {
    "red": (0.9, 0.1, 0.1),
    "green": (0.1, 0.8, 0.2),
    "blue": (0.1, 0.2, 0.9),
    "yellow": (0.95, 0.85, 0.1),
}


def _hw(size: Size) -> Tuple[int, int]:
    if isinstance(size, bool):
        raise ValueError(f"size must be an int or (height, width), not {size!r}.")
    if isinstance(size, int):
        height, width = size, size
    elif isinstance(size, Sequence) and len(size) == 2 and all(isinstance(s, int) for s in size):
        height, width = int(size[0]), int(size[1])
    else:
        raise ValueError(f"size must be an int or a (height, width) pair of ints, not {size!r}.")
    if height < 2 or width < 2:
        raise ValueError(f"A pattern needs at least 2x2 pixels; got {height}x{width}.")
    return height, width


def _grid(height: int, width: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates ``(y, x)``, each ``(H, W)``, origin at the image centre."""
    ys = torch.arange(height, dtype=torch.float32) - (height - 1) / 2
    xs = torch.arange(width, dtype=torch.float32) - (width - 1) / 2
    return torch.meshgrid(ys, xs, indexing="ij")


def _grey(values: torch.Tensor) -> torch.Tensor:
    """``(H, W)`` in [0, 1] -> ``(1, 3, H, W)`` with three equal channels."""
    return values.clamp(0, 1).expand(1, 3, *values.shape).contiguous()


def _along(height: int, width: int, angle: float) -> torch.Tensor:
    """Signed distance (pixels) along the direction ``angle`` degrees (0 = to the right)."""
    y, x = _grid(height, width)
    theta = math.radians(angle)
    return x * math.cos(theta) + y * math.sin(theta)


def edge(size: Size = 128, *, angle: float = 0.0, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """A sharp step edge through the centre: ``low`` on one side, ``high`` on the other.

    With ``angle=0`` the edge is vertical: columns ``< W // 2`` are ``low`` and the rest
    ``high``. Other angles rotate the step direction (degrees, counter-clockwise in
    image coordinates, so 90 gives a horizontal edge with ``high`` below).
    """
    height, width = _hw(size)
    _check_level("low", low)
    _check_level("high", high)
    values = torch.where(_along(height, width, angle) >= 0, float(high), float(low))
    return _grey(values)


def stripes(size: Size = 128, *, period: float = 16.0, angle: float = 0.0, square: bool = False) -> torch.Tensor:
    r"""Grey stripes with a given ``period`` in pixels.

    :math:`v = \tfrac12 + \tfrac12 \cos(2\pi d / \text{period})` with ``d`` the distance
    along ``angle`` (0 = vertical stripes, the intensity changes along x); ``square=True``
    gives hard black/white bars instead of a sinusoid. The spatial frequency is
    ``1 / period`` cycles per pixel; a period below 2 pixels cannot be represented.
    """
    height, width = _hw(size)
    if not (isinstance(period, (int, float)) and math.isfinite(period) and period >= 2):
        raise ValueError(f"period must be a number of pixels >= 2 (the finest representable stripes), not {period!r}.")
    phase = 2 * math.pi * _along(height, width, angle) / float(period)
    values = 0.5 + 0.5 * torch.cos(phase)
    if square:
        values = (values >= 0.5).float()
    return _grey(values)


def checkerboard(size: Size = 128, *, period: int = 16) -> torch.Tensor:
    """Black and white squares of ``period // 2`` pixels (one period = two squares)."""
    height, width = _hw(size)
    if not isinstance(period, int) or isinstance(period, bool) or period < 2:
        raise ValueError(f"period must be a whole number of pixels >= 2, not {period!r}.")
    half = max(period // 2, 1)
    ys = torch.arange(height).div(half, rounding_mode="floor")
    xs = torch.arange(width).div(half, rounding_mode="floor")
    values = ((ys[:, None] + xs[None, :]) % 2).float()
    return _grey(values)


def blobs(
    size: Size = 128,
    *,
    colours: Sequence[str] = ("red", "green", "blue", "yellow"),
    radius: float | None = None,
    background: float = 0.5,
) -> torch.Tensor:
    """Soft-edged coloured discs on a grey ``background``, one per colour, in a row-major grid.

    The discs sit at the centres of an equal grid (2 columns for up to 4 colours, 3 for
    more) so their positions are known: disc ``k`` is centred at ``blob_centres(...)[k]``.
    A colour may repeat (e.g. ``("red", "blue", "red", "blue")``): identical discs at
    different places, for testing translation equivariance. ``radius`` defaults to a
    sixth of the shorter side.
    """
    height, width = _hw(size)
    _check_level("background", background)
    unknown = [c for c in colours if c not in BLOB_COLOURS]
    if not colours or unknown:
        raise ValueError(
            f"blobs needs one or more colours from {', '.join(BLOB_COLOURS)}; got {list(colours)!r}."
        )
    radius = min(height, width) / 6 if radius is None else float(radius)
    if radius <= 0:
        raise ValueError(f"radius must be positive, not {radius!r}.")
    ys = torch.arange(height, dtype=torch.float32)[:, None]
    xs = torch.arange(width, dtype=torch.float32)[None, :]
    image = torch.full((3, height, width), float(background))
    for colour, (cy, cx) in zip(colours, blob_centres(size, len(colours))):
        distance = torch.sqrt((ys - cy) ** 2 + (xs - cx) ** 2)
        alpha = (radius - distance + 0.5).clamp(0, 1)  # 1 inside, a one-pixel soft rim
        rgb = torch.tensor(BLOB_COLOURS[colour]).view(3, 1, 1)
        image = image * (1 - alpha) + rgb * alpha
    return image.unsqueeze(0)


def blob_centres(size: Size, count: int) -> list:
    """Integer ``(row, column)`` centres of the ``count`` discs :func:`blobs` draws."""
    height, width = _hw(size)
    columns = 2 if count <= 4 else 3
    rows = math.ceil(count / columns)
    return [
        (int((r + 0.5) * height / rows), int((c + 0.5) * width / columns))
        for r in range(rows)
        for c in range(columns)
    ][:count]


def noise(size: Size = 128, *, seed: int = 0, colour: bool = True) -> torch.Tensor:
    """Uniform white noise in [0, 1]; ``colour=False`` gives grey noise. Same seed, same image."""
    height, width = _hw(size)
    generator = torch.Generator().manual_seed(int(seed))
    if colour:
        return torch.rand((1, 3, height, width), generator=generator)
    return _grey(torch.rand((height, width), generator=generator))


def flat(size: Size = 128, *, level: float = 0.5) -> torch.Tensor:
    """A constant grey image (every pixel ``level``)."""
    height, width = _hw(size)
    _check_level("level", level)
    return torch.full((1, 3, height, width), float(level))


_MAKERS = {
    "edge": edge,
    "stripes": stripes,
    "checkerboard": checkerboard,
    "blobs": blobs,
    "noise": noise,
    "flat": flat,
}
#: The pattern kinds :func:`pattern` knows.
KINDS: Tuple[str, ...] = tuple(_MAKERS)


def pattern(kind: str, size: Size = 128, **options) -> torch.Tensor:
    """A synthetic image by name: ``"edge"``, ``"stripes"``, ``"checkerboard"``, ``"blobs"``,
    ``"noise"`` or ``"flat"``; ``options`` go to the function of that name
    (e.g. ``pattern("stripes", 128, period=8, angle=45)``).

    Returns:
        ``(1, 3, H, W)`` float32 in [0, 1]; ``size`` is an int (square) or ``(H, W)``.
    """
    if kind not in _MAKERS:
        raise ValueError(f"Unknown pattern {kind!r}; choose one of {', '.join(KINDS)}.")
    return _MAKERS[kind](size, **options)


def _check_level(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= float(value) <= 1.0):
        raise ValueError(f"{name} must be a grey level between 0 and 1, not {value!r}.")
