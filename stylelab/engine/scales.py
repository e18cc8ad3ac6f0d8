r"""Scale control (Gatys et al. 2017, §6): coarse-to-fine optimisation and mixed-scale styles.

The coarse-to-fine machinery itself lives in :mod:`stylelab.engine.pyramid` (each scale's size:
:func:`stylelab.engine.pyramid.stage_sizes`); this module makes mixed-scale style images
(:func:`combine_scales`).

**Coarse-to-fine.** A VGG-19 unit sees a patch of fixed size in pixels, so at 1024 px the
style layers capture only small brush strokes relative to the picture, and every
evaluation costs four times as much as at 512 px. ``stylize(..., scales=(256, 512,
1024))`` therefore optimises at 256 px first (the longest side), upsamples that result
(bicubic) as the start of the 512 px run, and so on: the coarse layout of the style is
settled cheaply at low resolution, and the expensive large runs only refine details. The
cost of an evaluation grows with the number of pixels, so 100 steps at 256 px cost about
as much as 6 steps at 1024 px. ``steps`` may be one number (the same at every scale) or
one number per scale, e.g. ``steps=(300, 100, 50)``.

**Coarse style from one image, fine style from another.** The authors' code for §6
(leongatys/NeuralImageSynthesis, ``ScaleControl``) makes a *new style image*: start from
the painting whose large-scale structure you want, and change it by matching only the
low layers' Gram matrices (relu1_1 and relu2_1: small receptive fields, fine texture) of
the painting whose brush strokes you want. The optimisation starts at the coarse image
and is not asked to change its large-scale statistics, so they survive; the fine texture
is replaced. :func:`combine_scales` does exactly this, and its result is an ordinary
style image for :func:`~stylelab.stylize`.
"""

from __future__ import annotations

from typing import Any, Sequence, Tuple, Union

import torch

from ..imaging.images import load_image
from .settings import TransferSettings
from .transfer import stylize

__all__ = ["combine_scales", "FINE_LAYERS"]

#: The layers that carry the fine scale in :func:`combine_scales`.
FINE_LAYERS = ("relu1_1", "relu2_1")


def combine_scales(
    coarse: Any,
    fine: Any,
    *,
    fine_layers: Sequence[str] = FINE_LAYERS,
    steps: int = 100,
    size: Union[int, Tuple[int, int], None] = None,
    style_weight: float = TransferSettings.style_weight,
    model=None,
    progress: bool = False,
    **kwargs: Any,
) -> torch.Tensor:
    """A new style image: ``coarse``'s large-scale structure with ``fine``'s fine texture.

    Starts from ``coarse`` and runs :func:`~stylelab.stylize` with no content term and
    style loss only at ``fine_layers`` (default relu1_1, relu2_1), with ``fine`` as the
    style (Gatys et al. 2017, §6; see the module docstring).

    Args:
        coarse: image whose coarse structure is kept (any image source).
        fine: image whose fine texture is taken.
        fine_layers: the low layers matched to ``fine``.
        steps: optimisation steps (L-BFGS by default).
        size: size of the new image (default: ``coarse`` as given).
        style_weight, model, progress, **kwargs: passed to :func:`~stylelab.stylize`.

    Returns:
        ``(1, 3, H, W)`` in [0, 1], the size of ``coarse``.
    """
    start = load_image(coarse, size)
    result = stylize(
        None,
        fine,
        size=tuple(start.shape[-2:]),
        init=start,
        style_layers=list(fine_layers),
        style_weight=style_weight,
        steps=steps,
        model=model,
        progress=progress,
        **kwargs,
    )
    return result.image
