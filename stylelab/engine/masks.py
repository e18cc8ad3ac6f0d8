r"""Spatial control (Gatys et al. 2017, §4): which style goes where.

A *mask* says, for every pixel of the content image, how much a style applies there:
``(1, 1, H, W)`` float in [0, 1] at the content's resolution. ``stylize(content,
[a, b], masks=[mask_a, mask_b])`` paints style ``a`` where ``mask_a`` is 1 and style
``b`` where ``mask_b`` is 1. Pixels that no mask covers get no style at all: only the
content term acts there, so the photo is kept ("stylise the sky, keep the street"). With
``scales`` (coarse-to-fine), those pixels also restart from the sharp content at every
scale instead of from the blurred upsampled result of the previous one.

**Guided Gram matrices.** The paper multiplies a layer's feature maps by the region's
mask, downsampled to that layer's resolution (a "guidance channel" :math:`T^l_r`),
before taking the Gram matrix:

.. math::

    G^l_r(x) = \frac{(F^l(x) \circ T^l_r)\,(F^l(x) \circ T^l_r)^\top}{\sum_k (T^l_{r,k})^2}

We divide by :math:`\sum_k (T^l_{r,k})^2` (the paper leaves the normalisation open): for
a 0/1 mask that is the number of positions inside the region, so :math:`G^l_r` is the
ordinary (position-averaged) Gram matrix of the region alone, on the same scale as the
style image's Gram matrix :math:`A^l_r`, and a mask of ones gives back
:func:`~stylelab.gram_matrix` exactly. The style loss of a layer is then
:math:`\sum_r \mathrm{mean}\big((G^l_r(x) - A^l_r)^2\big)`: every region is stylised as
strongly as a whole image would be, whatever its size. A region that vanishes at a deep,
coarse layer (all of its mask pools to zero there) is skipped at that layer.

**Downsampling.** A mask reaches layer :math:`l` through the same 2x2 pooling steps as
the network (average pooling, so soft edges stay soft): relu1_1 sees the mask at full
resolution, relu2_1 at 1/2, relu3_1 at 1/4, ... The receptive fields of deep layers are
large, so the style of a region leaks a few tens of pixels across its border; that is the
price of smooth transitions.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ParameterError, StyleLabError
from ..imaging.images import load_image, target_size
from ..vgg.layers import spec

__all__ = ["load_mask", "mask_list", "prepare_masks", "layer_mask", "guided_gram_matrix", "resize_mask"]


def load_mask(source: Any, size: Optional[Tuple[int, int]] = None, *, name: str = "the mask") -> torch.Tensor:
    """Turn ``source`` into a mask ``(1, 1, H, W)`` float32 in [0, 1].

    Args:
        source: a file path or PIL image (grey or colour; read as grey 0-255 -> 0-1),
            a numpy array or tensor ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)`` (bool,
            uint8 0-255, or float already in [0, 1]); a tensor on any device holding
            data (it is copied to the CPU; not ``meta``, not sparse).
        size: ``(h, w)`` to resize to (area-averaged when shrinking, bilinear when
            enlarging); the mask must have the same aspect ratio.
        name: how error messages name this mask.

    Raises:
        ValueError: float values outside [0, 1], a colour array, or a different aspect ratio.
    """
    if isinstance(source, np.ndarray):
        source = torch.from_numpy(np.ascontiguousarray(source))
    if isinstance(source, torch.Tensor):
        mask = source.detach()
        if mask.is_meta or mask.layout != torch.strided or mask.is_quantized:
            kind = "meta" if mask.is_meta else "quantised" if mask.is_quantized else str(mask.layout).split(".")[-1]
            raise ParameterError(
                f"{name} is a {kind} tensor, which holds no ordinary values; pass a dense tensor with data, "
                "e.g. mask.to_dense() on the CPU."
            )
        while mask.dim() > 2 and mask.shape[0] == 1:
            mask = mask[0]
        if mask.dim() != 2:
            raise ParameterError(
                f"{name} must have shape (H, W), (1, H, W) or (1, 1, H, W); got {tuple(source.shape)}. "
                "A mask has one value per pixel."
            )
        if mask.dtype == torch.bool:
            mask = mask.float()
        elif mask.dtype == torch.uint8:
            mask = mask.float() / 255.0
        elif not mask.dtype.is_floating_point:
            raise ParameterError(f"{name} must be bool, uint8 or float; got {mask.dtype}.")
        mask = mask.float().cpu()
        if not torch.isfinite(mask).all():
            raise ParameterError(f"{name} contains NaN or infinite values; masks must be in [0, 1].")
        low, high = float(mask.min()), float(mask.max())
        if low < 0 or high > 1:
            hint = " (it looks like 0-255: divide by 255)" if high > 1 and high <= 255 and low >= 0 else ""
            raise ParameterError(
                f"{name} has values from {low:g} to {high:g} but masks must be in [0, 1]{hint}."
            )
        mask = mask[None, None]
    else:
        try:
            mask = load_image(source).mean(dim=1, keepdim=True)
        except StyleLabError as exc:
            raise type(exc)(f"Could not read {name}: {exc}") from None
    if size is not None:
        mask = resize_mask(mask, size, name=name)
    return mask


def resize_mask(mask: torch.Tensor, size: Tuple[int, int], *, name: str = "the mask") -> torch.Tensor:
    """Resize a ``(1, 1, h, w)`` mask to ``size = (H, W)`` keeping it in [0, 1].

    Only masks with the target's aspect ratio are resized (the rounding of
    :func:`~stylelab.imaging.images.target_size` decides); anything else is a mistake worth
    an error rather than a silent stretch.
    """
    height, width = int(size[0]), int(size[1])
    current = tuple(mask.shape[-2:])
    if current == (height, width):
        return mask
    if target_size(current, max(height, width)) != (height, width):
        raise ParameterError(
            f"{name} is {current[0]}x{current[1]} pixels but the content image is {height}x{width}; "
            "give a mask with the content's size (or at least its aspect ratio)."
        )
    shrinking = current[0] >= height and current[1] >= width
    mode = "area" if shrinking else "bilinear"
    kwargs = {} if shrinking else {"align_corners": False}
    return F.interpolate(mask, size=(height, width), mode=mode, **kwargs).clamp(0.0, 1.0)


def mask_list(masks: Any, count: int) -> List[Any]:
    """``masks`` as a list of one entry per style image (a single mask is a list of one),
    checked to have ``count`` entries of which at most one is ``None``; nothing is loaded.

    This is the one check of the number of masks: :func:`stylelab.engine.prepare.check_inputs`
    makes it before a run loads anything, and :func:`prepare_masks` and the objective
    rely on it.
    """
    if isinstance(masks, (torch.Tensor, np.ndarray, str)) or not isinstance(masks, Sequence):
        masks = [masks]
    masks = list(masks)
    if count == 0:
        raise ParameterError("masks were given but there is no style image; masks say where each style goes.")
    if len(masks) != count:
        raise ParameterError(
            f"{len(masks)} mask(s) for {count} style image(s); give exactly one mask per style image "
            "(None for 'everywhere else')."
        )
    if sum(m is None for m in masks) > 1:
        raise ParameterError("Only one mask may be None ('everywhere else'); give the others as images.")
    return masks


def prepare_masks(masks: Sequence[Any], count: int, size: Tuple[int, int]) -> List[torch.Tensor]:
    """Check and load one mask per style image; ``None`` means "wherever no other mask is".

    Args:
        masks: one entry per style image, each anything :func:`load_mask` takes, or
            ``None`` for at most one entry: that style then covers the rest,
            ``1 - sum(other masks)`` clipped to [0, 1].
        count: the number of style images.
        size: the content image's ``(H, W)``.

    Returns:
        A list of ``count`` masks ``(1, 1, H, W)`` float32 in [0, 1].
    """
    masks = mask_list(masks, count)
    loaded = [None if m is None else load_mask(m, size, name=f"mask {i + 1}") for i, m in enumerate(masks)]
    given = [m for m in loaded if m is not None]
    if any(m is None for m in loaded):
        covered = torch.stack(given).sum(dim=0) if given else torch.zeros(1, 1, *size)
        rest = (1.0 - covered).clamp(0.0, 1.0)
        loaded = [rest if m is None else m for m in loaded]
    for index, mask in enumerate(loaded):
        if float(mask.max()) <= 0:
            raise ParameterError(
                f"mask {index + 1} is zero everywhere, so style image {index + 1} would never be used; "
                "drop that style or give it a region."
            )
    return loaded


def layer_mask(mask: torch.Tensor, layer: str) -> torch.Tensor:
    """The mask ``(1, 1, H, W)`` at the resolution of ``layer``'s output.

    Average-pools 2x2 (stride 2) once per pooling layer before ``layer``, exactly as the
    network shrinks its feature maps (odd sizes are floored the same way), so the result
    has the layer's ``(h, w)``.
    """
    for _ in range(spec(layer).pools_before):
        mask = F.avg_pool2d(mask, kernel_size=2, stride=2)
    return mask


def guided_gram_matrix(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Gram matrix of the features inside a soft region (Gatys et al. 2017, §4).

    :math:`G = (F \circ T)(F \circ T)^\top / \sum_k T_k^2`; equals
    :func:`~stylelab.gram_matrix` when ``mask`` is all ones, and the Gram matrix of the
    masked positions alone when ``mask`` is 0/1.

    Args:
        features: ``(B, C, h, w)``.
        mask: ``(1, 1, h, w)`` or ``(B, 1, h, w)`` in [0, 1], at the features' resolution
            (see :func:`layer_mask`), not all zero.

    Returns:
        ``(B, C, C)``.
    """
    if features.dim() != 4 or mask.dim() != 4 or mask.shape[1] != 1 or features.shape[-2:] != mask.shape[-2:]:
        raise ParameterError(
            f"guided_gram_matrix needs features (B, C, h, w) and a mask (1, 1, h, w) of the same h, w; "
            f"got {tuple(features.shape)} and {tuple(mask.shape)}. Use layer_mask(mask, layer) first."
        )
    batch, channels = features.shape[:2]
    mask = mask.to(device=features.device, dtype=features.dtype)
    weighted = (features * mask).reshape(batch, channels, -1)
    norm = mask.pow(2).sum(dim=(1, 2, 3)).reshape(-1, 1, 1)
    return torch.bmm(weighted, weighted.transpose(1, 2)) / norm
