"""Matplotlib figures for the lessons: image grids, feature maps, Gram heatmaps, loss curves.

Every function returns the ``matplotlib.figure.Figure`` it drew (so a test can inspect
it and a notebook can save it) and never changes global matplotlib settings. Figures get
a title and labelled panels; pass ``title=`` to say what the reader should look at.
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = [
    "to_numpy_image",
    "show_images",
    "image_grid",
    "feature_maps",
    "top_channels",
    "gram_heatmap",
    "loss_curves",
]


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` or ``(3, H, W)`` tensor -> ``(H, W, 3)`` float array in [0, 1]."""
    tensor = image.detach().float().cpu()
    if tensor.dim() == 4:
        tensor = tensor[0]
    return tensor.clamp(0, 1).permute(1, 2, 0).numpy()


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
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.5 if title else 0)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, titles):
        ax.imshow(to_numpy_image(image))
        ax.set_title(label, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


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
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


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
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def gram_heatmap(
    gram: torch.Tensor,
    *,
    ax=None,
    title: Optional[str] = None,
    max_channels: Optional[int] = 64,
    cmap: str = "magma",
    vmax: Optional[float] = None,
) -> Figure:
    """A Gram matrix ``(C, C)`` or ``(1, C, C)`` as a heatmap (first ``max_channels`` channels)."""
    matrix = gram.detach().float().cpu()
    if matrix.dim() == 3:
        matrix = matrix[0]
    if max_channels is not None:
        matrix = matrix[:max_channels, :max_channels]
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.2, 3.6))
    else:
        fig = ax.figure
    shown = ax.imshow(matrix.numpy(), cmap=cmap, vmin=min(0.0, float(matrix.min())), vmax=vmax)
    ax.set_xlabel("channel j")
    ax.set_ylabel("channel i")
    ax.set_title(title or f"Gram matrix ({matrix.shape[0]} channels)", fontsize=10)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    return fig


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


# --------------------------------------------------------------------------- ablations and convergence
# (lessons 04 and 05)

__all__ += ["ablation_grid", "zoom_crops", "first_reach", "convergence"]


def ablation_grid(
    images: Sequence[Sequence[Optional[torch.Tensor]]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    captions: Optional[Sequence[Sequence[str]]] = None,
    row_title: Optional[str] = None,
    col_title: Optional[str] = None,
    missing: str = "not available",
    size: float = 2.4,
    title: Optional[str] = None,
) -> Figure:
    """:func:`image_grid` for experiments: captions under panels, axis titles, missing cells.

    Args:
        images: rows of ``(1, 3, H, W)`` images; ``None`` marks a cell that could not be
            computed (it is drawn as a grey panel that says ``missing``).
        row_labels, col_labels: one label per row / column (the setting that varies).
        captions: optional rows of short texts shown under each panel (e.g. measured
            losses); same shape as ``images``.
        row_title, col_title: what the rows and the columns vary, written once along the
            left and bottom edges.
        missing: the text of missing cells.
    """
    rows = [list(row) for row in images]
    present = [image for row in rows for image in row if image is not None]
    if not present:
        raise ValueError("ablation_grid needs at least one image that is not None.")
    if captions is not None and [len(r) for r in captions] != [len(r) for r in rows]:
        raise ValueError("ablation_grid: captions must have the same rows and columns as images.")
    height, width = present[0].shape[-2:]
    blank = torch.full((1, 3, height, width), 0.92)
    filled = [[blank if image is None else image for image in row] for row in rows]
    fig = image_grid(filled, row_labels, col_labels, size=size, title=title)
    axes = np.array(fig.axes).reshape(len(rows), -1)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            ax = axes[r][c]
            if image is None:
                ax.text(0.5, 0.5, missing, ha="center", va="center", wrap=True, fontsize=9,
                        color="0.3", transform=ax.transAxes)
            if captions is not None and captions[r][c]:
                ax.set_xlabel(captions[r][c], fontsize=8)
    if row_title:
        fig.supylabel(row_title)
    if col_title:
        fig.supxlabel(col_title)
    fig.tight_layout()
    return fig


def zoom_crops(
    images: Sequence[torch.Tensor],
    titles: Sequence[str],
    box: Sequence[int],
    *,
    size: float = 3.0,
    title: Optional[str] = None,
) -> Figure:
    """Each image on top with a red frame, and the framed region enlarged underneath.

    Args:
        images: ``(1, 3, H, W)`` images of the same size.
        titles: one per image.
        box: ``(top, left, height, width)`` of the region, in pixels.

    The crops are drawn with nearest-neighbour interpolation, so single-pixel noise
    stays visible instead of being smoothed by the display.
    """
    images = list(images)
    if len(titles) != len(images):
        raise ValueError(f"zoom_crops got {len(images)} images but {len(titles)} titles.")
    top, left, height, width = (int(v) for v in box)
    full_h, full_w = images[0].shape[-2:]
    if height < 1 or width < 1 or top < 0 or left < 0 or top + height > full_h or left + width > full_w:
        raise ValueError(
            f"zoom_crops: the box (top={top}, left={left}, height={height}, width={width}) does not fit "
            f"inside the {full_h}x{full_w} images; pick a box within the image."
        )
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(2, len(images), figsize=(size * len(images), 2 * size + (0.5 if title else 0)),
                             squeeze=False)
    for c, (image, label) in enumerate(zip(images, titles)):
        whole, crop = axes[0][c], axes[1][c]
        whole.imshow(to_numpy_image(image))
        whole.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor="red", linewidth=1.5))
        whole.set_title(label, fontsize=10)
        crop.imshow(to_numpy_image(image[..., top : top + height, left : left + width]), interpolation="nearest")
        crop.set_title(f"zoom on the red box ({height}x{width} px)", fontsize=9)
        for ax in (whole, crop):
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def first_reach(history: Mapping[str, Sequence[float]], level: float, term: str = "total") -> Optional[tuple]:
    """``(evaluations, seconds)`` at which ``history[term]`` first drops to ``level`` or below.

    ``evaluations`` counts from 1 (the first forward + backward pass) and ``seconds`` is
    ``history["time"]`` at that evaluation. Returns ``None`` if the level is never reached.
    """
    for index, value in enumerate(history[term]):
        if value <= level:
            return index + 1, float(history["time"][index])
    return None


def convergence(
    runs: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    term: str = "total",
    level: Optional[float] = None,
    title: Optional[str] = None,
    log: bool = True,
) -> Figure:
    """Compare runs: ``history[term]`` against evaluations (left) and against seconds (right).

    Args:
        runs: ``{label: history}`` with histories of :class:`~stylelab.StyleTransferResult`.
        level: if given, a dashed horizontal line at this loss and a dot where each run
            first reaches it (see :func:`first_reach`).
    """
    if not runs:
        raise ValueError("convergence needs at least one run, as {label: result.history}.")
    fig, (by_eval, by_time) = plt.subplots(1, 2, figsize=(11, 3.8))
    for label, history in runs.items():
        values = list(history[term])
        evals = list(range(1, len(values) + 1))
        (line,) = by_eval.plot(evals, values, label=label)
        by_time.plot(list(history["time"]), values, label=label, color=line.get_color())
        reached = first_reach(history, level, term) if level is not None else None
        if reached is not None:
            by_eval.plot([reached[0]], [values[reached[0] - 1]], "o", color=line.get_color())
            by_time.plot([reached[1]], [values[reached[0] - 1]], "o", color=line.get_color())
    for ax, xlabel in ((by_eval, "evaluation (forward + backward pass)"), (by_time, "seconds")):
        if level is not None:
            ax.axhline(level, color="0.4", linestyle="--", linewidth=1, label=f"common level {level:.3g}")
        if log:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{term} loss")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9)
    by_eval.set_title("against evaluations")
    by_time.set_title("against wall-clock time")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
