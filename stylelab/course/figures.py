"""Lesson-independent figures: images, feature maps, Gram heatmaps, loss curves, PNG bytes.

Every function returns the ``matplotlib.figure.Figure`` it drew (so a test can inspect
it and a notebook can save it) and never changes global matplotlib settings. Figures get
a title and labelled panels; pass ``title=`` to say what the reader should look at.
The lessons read them as ``sl.figures.*``.
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = [
    "finish",
    "to_numpy_image",
    "wrap_label",
    "amplified_difference",
    "show_images",
    "image_grid",
    "top_channels",
    "feature_maps",
    "gram_heatmap",
    "gram_comparison",
    "png_bytes",
    "loss_curves",
]


def finish(fig: Figure, title: Optional[str]) -> Figure:
    """Give ``fig`` its overall title (if any), wrapped to the figure's width, and a tight layout; return it."""
    if title:
        # about 0.6 em per character at the suptitle's 12 pt: a longer line would be cut off at the edges
        fig.suptitle("\n".join(wrap_label(line, max(20, int(fig.get_figwidth() * 72 / (12 * 0.6))))
                               for line in title.split("\n")))
    fig.tight_layout()
    return fig


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` or ``(3, H, W)`` tensor -> ``(H, W, 3)`` float array in [0, 1]."""
    tensor = image.detach().float().cpu()
    if tensor.dim() == 4:
        tensor = tensor[0]
    return tensor.clamp(0, 1).permute(1, 2, 0).numpy()


def wrap_label(text: str, width: int = 24) -> str:
    """``text`` broken into lines of at most ``width`` characters, for a panel title.

    Network labels such as ``"VGG-16 from vgg16-imagenet-caffe.pth, Caffe preprocessing"``
    are wider than a panel; wrapped, they stay over their own column instead of running
    into the next title. Words longer than ``width`` (file names) are split.
    """
    import textwrap

    return "\n".join(textwrap.wrap(text, width=width, break_on_hyphens=False)) or text


def amplified_difference(a: torch.Tensor, b: torch.Tensor, percentile: float = 99.0):
    """``|a - b|`` scaled so that its ``percentile``-th percentile is white: ``(image, gain)``.

    A fixed gain (say x5) saturates a large difference everywhere and hides a small one;
    scaling by a high percentile of the difference itself keeps the picture readable for
    both, and ``gain`` (the factor used) goes into the panel's title. ``a``, ``b``:
    ``(1, 3, H, W)`` in [0, 1]; ``image``: ``(1, 3, H, W)`` in [0, 1] (0 = identical).
    """
    difference = (a.detach().float().cpu() - b.detach().float().cpu()).abs()
    level = float(torch.quantile(difference.flatten(), percentile / 100.0))
    gain = 1.0 / level if level > 0 else 1.0
    return (difference * gain).clamp(0, 1), gain


def show_images(
    images: Sequence[torch.Tensor],
    titles: Optional[Sequence[str]] = None,
    *,
    ncols: Optional[int] = None,
    size: float = 3.0,
    title: Optional[str] = None,
) -> Figure:
    """Images side by side (or in rows of ``ncols``), each with its title."""
    images = list(images)
    if not images:
        raise ValueError("show_images needs at least one image.")
    titles = list(titles) if titles is not None else [""] * len(images)
    if len(titles) != len(images):
        raise ValueError(f"show_images got {len(images)} images but {len(titles)} titles.")
    ncols = ncols or len(images)
    nrows = math.ceil(len(images) / ncols)
    tallest = min(1.0, max(image.shape[-2] / image.shape[-1] for image in images))  # no empty band under wide images
    height = size * nrows * tallest + 0.3 * nrows + (0.5 if title else 0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, height), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, titles):
        ax.imshow(to_numpy_image(image))
        ax.set_title(label, fontsize=10)
    return finish(fig, title)


def image_grid(
    images: Sequence[Sequence[torch.Tensor]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    size: float = 2.6,
    title: Optional[str] = None,
) -> Figure:
    """A rows x columns grid of images with labelled rows and columns (ablation figures)."""
    nrows, ncols = len(images), max(len(row) for row in images)
    if len(row_labels) != nrows or len(col_labels) != ncols:
        raise ValueError(
            f"image_grid has {nrows}x{ncols} images but {len(row_labels)} row and {len(col_labels)} column labels."
        )
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 0.8, size * nrows + (0.6 if title else 0.2)), squeeze=False)
    for r, row in enumerate(images):
        for c in range(ncols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(row) and row[c] is not None:
                ax.imshow(to_numpy_image(row[c]))
            else:
                ax.axis("off")
            if r == 0:
                ax.set_title(col_labels[c], fontsize=10)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=10)
    return finish(fig, title)


def top_channels(features: torch.Tensor, k: int) -> list:
    """Indices of the ``k`` channels of ``(1, C, h, w)`` features with the largest mean activation."""
    means = features.detach().float()[0].mean(dim=(1, 2))
    return means.argsort(descending=True)[: min(k, means.numel())].tolist()


def feature_maps(
    features: torch.Tensor,
    channels: Optional[Sequence[int]] = None,
    *,
    k: int = 8,
    ncols: int = 8,
    size: float = 1.6,
    title: Optional[str] = None,
    cmap: str = "viridis",
) -> Figure:
    """Show single channels of ``(1, C, h, w)`` features as images.

    ``channels`` picks them; by default the ``k`` most active ones (largest mean). Each
    panel is labelled with its channel index and mean activation; each panel has its own
    colour scale, so compare patterns, not brightness, across panels.
    """
    if features.dim() != 4:
        raise ValueError(f"feature_maps expects (1, C, h, w) features; got {tuple(features.shape)}.")
    chosen = list(channels) if channels is not None else top_channels(features, k)
    maps = features.detach().float()[0].cpu()
    nrows = math.ceil(len(chosen) / ncols)
    ncols = min(ncols, len(chosen))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.5 if title else 0.1)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, channel in zip(axes.flat, chosen):
        ax.imshow(maps[channel].numpy(), cmap=cmap)
        ax.set_title(f"ch {channel}\nmean {maps[channel].mean():.2f}", fontsize=8)
    return finish(fig, title)


def gram_heatmap(
    gram: torch.Tensor,
    *,
    ax=None,
    title: Optional[str] = None,
    max_channels: Optional[int] = 64,
    cmap: str = "magma",
    vmax: Optional[float] = None,
    vmin: Optional[float] = None,
) -> Figure:
    """A Gram matrix ``(C, C)`` or ``(1, C, C)`` as a heatmap (first ``max_channels`` channels).

    ``vmin``/``vmax`` fix the colour scale (to compare several matrices); by default it
    runs from ``min(0, smallest entry)`` to the largest entry.
    """
    matrix = gram.detach().float().cpu()
    if matrix.dim() == 3:
        matrix = matrix[0]
    if max_channels is not None:
        matrix = matrix[:max_channels, :max_channels]
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.2, 3.6))
    else:
        fig = ax.figure
    low = min(0.0, float(matrix.min())) if vmin is None else vmin
    shown = ax.imshow(matrix.numpy(), cmap=cmap, vmin=low, vmax=vmax)
    ax.set_xlabel("channel j")
    ax.set_ylabel("channel i")
    ax.set_title(title or f"Gram matrix ({matrix.shape[0]} channels)", fontsize=10)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    return fig


def gram_comparison(
    gram_a: torch.Tensor,
    gram_b: torch.Tensor,
    labels: Sequence[str] = ("image A", "image B"),
    *,
    max_channels: Optional[int] = 32,
    title: Optional[str] = None,
) -> Figure:
    """Two Gram matrices ``(C, C)`` or ``(1, C, C)`` and their difference, side by side.

    Both matrices share one colour scale, so equal colours mean equal values; the third
    panel shows ``A - B`` on a blue-white-red scale centred on zero (white: the two
    images agree on how often those two channels fire together).
    """
    a = gram_a.detach().float().cpu().reshape(gram_a.shape[-2:])
    b = gram_b.detach().float().cpu().reshape(gram_b.shape[-2:])
    if a.shape != b.shape:
        raise ValueError(f"gram_comparison needs Gram matrices of the same size; got {tuple(a.shape)} and {tuple(b.shape)}.")
    if max_channels is not None:
        a, b = a[:max_channels, :max_channels], b[:max_channels, :max_channels]
    high = float(max(a.max(), b.max()))
    low = float(min(0.0, a.min(), b.min()))
    spread = float((a - b).abs().max()) or 1.0
    fig, axes = plt.subplots(1, 3, figsize=(12.6, 3.9))
    gram_heatmap(a, ax=axes[0], title=f"Gram matrix: {labels[0]}", max_channels=None, vmin=low, vmax=high)
    gram_heatmap(b, ax=axes[1], title=f"Gram matrix: {labels[1]}", max_channels=None, vmin=low, vmax=high)
    gram_heatmap(a - b, ax=axes[2], title=f"difference ({labels[0]} - {labels[1]})", max_channels=None,
                 cmap="RdBu_r", vmin=-spread, vmax=spread)
    return finish(fig, title)


def png_bytes(item, *, dpi: int = 80) -> bytes:
    """PNG file bytes of a figure or an image, e.g. for ``ipywidgets.Image(value=...)``.

    ``item`` is a matplotlib ``Figure`` (rendered at ``dpi``, then closed so that Jupyter
    does not show it a second time) or an image tensor ``(1, 3, H, W)`` / ``(3, H, W)``
    in [0, 1] (converted with :func:`stylelab.to_pil`: one PNG pixel per image pixel).
    """
    import io

    buffer = io.BytesIO()
    if isinstance(item, Figure):
        try:
            item.savefig(buffer, format="png", dpi=dpi)
        finally:
            plt.close(item)
    else:
        from ..imaging.images import to_pil

        to_pil(item).save(buffer, format="PNG")
    return buffer.getvalue()


def loss_curves(
    history: Mapping[str, Sequence[float]] | Dict[str, Mapping[str, Sequence[float]]],
    terms: Sequence[str] = ("total", "content", "style", "tv"),
    *,
    x: str = "step",
    log: bool = True,
    title: Optional[str] = None,
    ax=None,
) -> Figure:
    """Loss per evaluation for each term of a :class:`StyleTransferResult` history.

    ``history`` may also be ``{label: history}`` to compare runs (then only ``terms[0]``
    is drawn per run). ``x="time"`` plots against seconds instead of steps.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.6))
    else:
        fig = ax.figure
    runs = history if history and all(isinstance(v, Mapping) for v in history.values()) else None
    if runs is not None:
        for label, run in runs.items():
            values = run[terms[0]]
            xs = run["time"] if x == "time" else range(1, len(values) + 1)
            ax.plot(list(xs), values, label=label)
    else:
        for term in terms:
            values = history.get(term)
            if not values or not any(values):
                continue
            xs = history["time"] if x == "time" else range(1, len(values) + 1)
            ax.plot(list(xs), values, label=term)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("seconds" if x == "time" else "evaluation (forward + backward pass)")
    ax.set_ylabel("loss")
    ax.set_title(title or "Loss during optimisation")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
