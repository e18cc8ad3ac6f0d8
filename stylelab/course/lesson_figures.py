"""Figures made for particular lessons: layer grids, receptive fields, ablations, convergence.

Built on :mod:`stylelab.course.figures` and, like those, each returns the ``Figure`` it drew and
leaves global matplotlib settings alone. The lessons read them as ``sl.lesson_figures.*``.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .analysis import first_reach
from .figures import finish, gram_heatmap, image_grid, to_numpy_image, top_channels

__all__ = [
    "feature_map_grid",
    "receptive_fields",
    "channel_histograms",
    "responses",
    "intervals",
    "heatmaps",
    "images_and_grams",
    "grouped_bars",
    "ablation_grid",
    "zoom_crops",
    "convergence",
    "filter_patches",
]


def feature_map_grid(
    features: Mapping[str, torch.Tensor],
    k: int = 6,
    *,
    size: float = 1.5,
    title: Optional[str] = None,
    cmap: str = "viridis",
) -> Figure:
    """One row per layer of ``{layer: (1, C, h, w)}``, showing its ``k`` most active channels.

    Each row is labelled with the layer's name and shape, each panel with its channel
    index; every panel has its own colour scale (compare patterns, not brightness).
    """
    if not features:
        raise ValueError("feature_map_grid needs at least one layer's features.")
    fig, axes = plt.subplots(len(features), k, figsize=(size * k + 1.0, size * len(features) + (0.5 if title else 0.1)),
                             squeeze=False)
    for row, (name, feats) in zip(axes, features.items()):
        if feats.dim() != 4:
            raise ValueError(f"feature_map_grid expects (1, C, h, w) features; {name} has shape {tuple(feats.shape)}.")
        maps = feats.detach().float()[0].cpu()
        chosen = top_channels(feats, k)
        for c, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(chosen):
                ax.imshow(maps[chosen[c]].numpy(), cmap=cmap)
                ax.set_title(f"ch {chosen[c]}", fontsize=8)
            else:
                ax.axis("off")
        row[0].set_ylabel(f"{name}\n{maps.shape[0]} x {maps.shape[1]} x {maps.shape[2]}", fontsize=9)
    return finish(fig, title)


def receptive_fields(
    image: torch.Tensor,
    layers: Sequence[str],
    *,
    centre: Optional[Sequence[int]] = None,
    title: Optional[str] = None,
    ax=None,
    network=None,
) -> Figure:
    """Draw the receptive field of one unit of each layer as a square on ``image``.

    The squares are centred on ``centre`` ``(row, column)`` (default: the image centre)
    and have the side :func:`stylelab.layer_table` gives, so you see how much of the
    picture a single value of each layer can depend on. Fields larger than the image are
    clipped by the axes; their size is in the legend. ``network``: the model (or
    ``"vgg16"`` / ``"vgg19"``) whose layers are drawn; default VGG-19.
    """
    from matplotlib.patches import Rectangle

    from ..vgg.layers import check_layer_names, layer_table

    layers = check_layer_names(layers, network)  # before any figure exists; suggests close names
    height, width = image.shape[-2:]
    fields = {row["name"]: row["receptive_field"] for row in layer_table(height, width, network=network)}
    cy, cx = centre if centre is not None else (height / 2, width / 2)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5 * height / width))
    else:
        fig = ax.figure
    ax.imshow(to_numpy_image(image))
    colours = plt.get_cmap("plasma")(np.linspace(0.0, 0.85, len(layers)))
    for name, colour in zip(layers, colours):
        side = fields[name]
        ax.add_patch(Rectangle((cx - side / 2, cy - side / 2), side, side, fill=False, lw=2, color=colour,
                               label=f"{name}: {side} px"))
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    ax.set_title(title or "Receptive field of one unit per layer")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


#: The colour each channel's curve is drawn in, by the channel's name.
CHANNEL_COLOURS = {"R": "tab:red", "G": "tab:green", "B": "tab:blue"}


def channel_histograms(
    images: Mapping[str, torch.Tensor],
    *,
    bins: int = 60,
    title: Optional[str] = None,
    channel_names: Union[str, Sequence[str], Mapping[str, Union[str, Sequence[str]]]] = "RGB",
) -> Figure:
    """Histograms of the three channels of each ``(1, 3, H, W)`` tensor, one panel each.

    ``channel_names`` names the channels in their order in the tensor: ``"RGB"`` for all
    panels, or ``{label: "BGR", ...}`` per panel (Caffe networks take their input in blue,
    green, red order). Each curve is labelled with its channel's name and drawn in that
    colour (:data:`CHANNEL_COLOURS`), so a BGR tensor's first channel is drawn blue.
    Values are not clamped, so a normalised image (values around 0, some negative) can be
    compared with the raw one (values in [0, 1]).
    """
    if not images:
        raise ValueError("channel_histograms needs at least one image.")
    per_image = channel_names if isinstance(channel_names, Mapping) else {label: channel_names for label in images}
    unnamed = [label for label in images if label not in per_image]
    if unnamed:
        raise ValueError(f"channel_histograms: no channel_names for {unnamed}; give one entry per image.")
    fig, axes = plt.subplots(1, len(images), figsize=(4.2 * len(images), 3.2 + (0.4 if title else 0)), squeeze=False)
    for ax, (label, image) in zip(axes[0], images.items()):
        values = image.detach().float().cpu()[0]
        names = list(per_image[label])
        if len(names) != values.shape[0]:
            raise ValueError(f"channel_histograms: {label!r} has {values.shape[0]} channels but names {names}.")
        for channel, name in zip(values, names):
            ax.hist(channel.flatten().numpy(), bins=bins, histtype="step", color=CHANNEL_COLOURS.get(name), label=name)
        ax.axvline(0.0, color="black", lw=0.8, ls=":")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("value")
        ax.set_ylabel("pixels")
        ax.legend(fontsize=8)
    return finish(fig, title)


def responses(
    images: Sequence[torch.Tensor],
    features: Sequence[Mapping[str, torch.Tensor]],
    *,
    row_labels: Sequence[str],
    size: float = 1.9,
    title: Optional[str] = None,
    cmap: str = "viridis",
) -> Figure:
    """Each input image (first column) next to its most active channel at each layer.

    ``features[i]`` is ``{layer: (1, C, h, w)}`` for ``images[i]``; all rows must use the
    same layers. Panels are labelled with the layer and channel.
    """
    if len(images) != len(features) or len(images) != len(row_labels) or not images:
        raise ValueError(
            f"responses needs as many feature dicts and row labels as images; got {len(images)} images, "
            f"{len(features)} feature dicts and {len(row_labels)} labels."
        )
    layers = list(features[0])
    fig, axes = plt.subplots(len(images), len(layers) + 1,
                             figsize=(size * (len(layers) + 1), size * len(images) + (0.5 if title else 0.1)),
                             squeeze=False)
    for r, (image, feats, label) in enumerate(zip(images, features, row_labels)):
        axes[r][0].imshow(to_numpy_image(image))
        axes[r][0].set_ylabel(label, fontsize=9)
        if r == 0:
            axes[r][0].set_title("input", fontsize=9)
        for c, name in enumerate(layers, start=1):
            channel = top_channels(feats[name], 1)[0]
            axes[r][c].imshow(feats[name].detach().float()[0, channel].cpu().numpy(), cmap=cmap)
            axes[r][c].set_title(f"{name} ch {channel}", fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    return finish(fig, title)


def intervals(
    spans: Mapping[str, Sequence[float]],
    *,
    reference: Optional[Mapping[str, Sequence[float]]] = None,
    marker: Optional[float] = None,
    xlabel: str = "x (pixels)",
    labels: Sequence[str] = ("measured", "expected"),
    title: Optional[str] = None,
) -> Figure:
    """Horizontal bars ``{row: (start, end)}``, optionally with a ``reference`` span per row
    (drawn as an outline) and a vertical ``marker`` line (e.g. where an edge is)."""
    if not spans:
        raise ValueError("intervals needs at least one span.")
    names = list(spans)
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.6))
    for i, name in enumerate(names):
        start, end = spans[name]
        ax.barh(i, end - start, left=start, height=0.5, color="tab:orange", label=labels[0] if i == 0 else None)
        if reference is not None and name in reference:
            rs, re = reference[name]
            ax.barh(i, re - rs, left=rs, height=0.75, fill=False, edgecolor="black", ls="--",
                    label=labels[1] if i == 0 else None)
    if marker is not None:
        ax.axvline(marker, color="tab:blue", lw=1)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title or "Spans")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def heatmaps(
    maps: Sequence[torch.Tensor],
    titles: Sequence[str],
    *,
    size: float = 3.0,
    title: Optional[str] = None,
    cmap: str = "inferno",
    colorbar_label: str = "",
) -> Figure:
    """2-D maps ``(H, W)`` (or ``(1, H, W)``, ``(1, 1, H, W)``) side by side, each with a colour bar."""
    if len(maps) != len(titles) or not maps:
        raise ValueError(f"heatmaps got {len(maps)} maps and {len(titles)} titles; give one title per map.")
    fig, axes = plt.subplots(1, len(maps), figsize=(size * len(maps) + 0.6 * len(maps), size + (0.5 if title else 0.1)),
                             squeeze=False)
    for ax, values, label in zip(axes[0], maps, titles):
        array = values.detach().float().cpu().squeeze()
        if array.dim() != 2:
            raise ValueError(f"heatmaps expects 2-D maps; got shape {tuple(values.shape)} for {label!r}.")
        shown = ax.imshow(array.numpy(), cmap=cmap)
        ax.set_title(label, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        if colorbar_label:
            bar.set_label(colorbar_label, fontsize=8)
    return finish(fig, title)


def images_and_grams(
    images: Sequence[torch.Tensor],
    grams: Sequence[torch.Tensor],
    labels: Sequence[str],
    *,
    max_channels: int = 32,
    title: Optional[str] = None,
) -> Figure:
    """Images on top, their Gram matrices below on one shared colour scale, so the
    heatmaps can be compared directly (first ``max_channels`` channels)."""
    if not (len(images) == len(grams) == len(labels)) or not images:
        raise ValueError(
            f"images_and_grams needs as many Gram matrices and labels as images; got {len(images)}, "
            f"{len(grams)} and {len(labels)}."
        )
    crops = [g.detach().float().cpu().reshape(-1, *g.shape[-2:])[0, :max_channels, :max_channels] for g in grams]
    vmax = max(float(c.max()) for c in crops)
    fig, axes = plt.subplots(2, len(images), figsize=(3.4 * len(images), 6.6 + (0.4 if title else 0)), squeeze=False)
    for c, (image, crop, label) in enumerate(zip(images, crops, labels)):
        axes[0][c].imshow(to_numpy_image(image))
        axes[0][c].set_title(label, fontsize=10)
        axes[0][c].axis("off")
        gram_heatmap(crop, ax=axes[1][c], title=f"Gram of {label}", max_channels=None, vmax=vmax)
    return finish(fig, title)


def grouped_bars(
    values: Mapping[str, Mapping[str, float]],
    *,
    ylabel: str,
    log: bool = False,
    title: Optional[str] = None,
) -> Figure:
    """Bars for ``{series: {category: value}}``, grouped by category (e.g. by layer)."""
    if not values:
        raise ValueError("grouped_bars needs at least one series.")
    categories = list(next(iter(values.values())))
    fig, ax = plt.subplots(figsize=(1.3 * len(categories) + 2.5, 3.6))
    width = 0.8 / len(values)
    for i, (series, row) in enumerate(values.items()):
        xs = np.arange(len(categories)) + (i - (len(values) - 1) / 2) * width
        ax.bar(xs, [row[c] for c in categories], width=width, label=series)
    ax.set_xticks(np.arange(len(categories)))
    ax.set_xticklabels(categories)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title or ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


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
    return finish(fig, title)


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
    return finish(fig, title)


def filter_patches(models: Sequence, labels: Sequence[str], *, title: Optional[str] = None, scale: int = 6) -> Figure:
    """conv1_1's filters of each model as small colour patches, side by side.

    Each ``(3, 3, 3)`` filter is shown as a 3x3 RGB patch (BGR filters of Caffe networks
    are flipped to RGB), stretched to [0, 1] on its own, in an 8x8 mosaic per model.
    Trained filters look like smooth oriented edges and colour blobs; random ones like noise.
    """
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4.4), squeeze=False)
    for ax, model, label in zip(axes[0], models, labels):
        weight = model.layers.conv1_1.weight.detach().float().cpu()
        if model.preprocessing == "caffe":
            weight = weight.flip(1)
        low = weight.amin(dim=(1, 2, 3), keepdim=True)
        high = weight.amax(dim=(1, 2, 3), keepdim=True)
        patches = ((weight - low) / (high - low).clamp(min=1e-12)).permute(0, 2, 3, 1).numpy()  # (64, 3, 3, 3)
        count = patches.shape[0]
        side = math.ceil(math.sqrt(count))
        mosaic = np.ones((side * 4 - 1, side * 4 - 1, 3))
        for k in range(count):
            r, c = divmod(k, side)
            mosaic[r * 4 : r * 4 + 3, c * 4 : c * 4 + 3] = patches[k]
        ax.imshow(np.kron(mosaic, np.ones((scale, scale, 1))), interpolation="nearest")
        ax.set_title(label, fontsize=10)
        ax.axis("off")
    return finish(fig, title)
