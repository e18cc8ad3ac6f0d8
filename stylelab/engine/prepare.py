"""Everything a run needs before its first evaluation, checked and at the right sizes.

:func:`prepare` turns a run's inputs (content, style images, masks, a start image) and
its :class:`~stylelab.engine.settings.TransferSettings` into a :class:`Prepared` run: images
loaded at the output size (the styles at ``style_scale`` times it), the colour pre-step
applied (:func:`stylelab.engine.color.network_inputs`), masks at the output size, the run's
:class:`Plan` (every size at every scale and the terms that are on, from :func:`plan`) and
the start image. Every check that needs the images' sizes or the network happens here,
before any optimisation; the memory a run needs is checked from the images' headers
before they are loaded (:func:`check_memory`, with the same :func:`plan`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .. import validate
from .color import luminance_image, network_inputs
from ..errors import ImageLoadError, ParameterError
from ..imaging.decoding import image_shape
from ..imaging.images import load_image, resize, target_size
from ..vgg.layers import Architecture
from .masks import mask_list, prepare_masks
from .objective import active_layers
from .pyramid import stage_sizes
from .settings import INIT_CHOICES, TransferSettings

__all__ = ["Plan", "plan", "Prepared", "prepare", "check_memory", "check_inputs", "style_side", "is_image", "style_list"]

Shape = Tuple[int, int]


@dataclass(frozen=True)
class Plan:
    """Every size of a run and the terms that are on, worked out in one place (:func:`plan`).

    Attributes:
        shape: the output's ``(H, W)``.
        sizes: ``(h, w)`` of each scale, coarse to fine; the last is ``shape``.
        style_sides: the style images' longest side at each scale (``style_scale`` times
            that scale's); each keeps its own aspect ratio.
        content_layers: the content term's layers (empty when the term is off).
        style_layers: the style term's ``{layer: weight}`` (empty when the term is off).
        style_shapes: ``(h, w)`` of each style image at the last scale, for those whose size
            was given (:func:`plan`'s ``style_shapes``).
        memory: the estimated peak memory of the run in bytes, at its largest (last) scale
            (:func:`stylelab.validate.memory_estimate`); :func:`check_memory` refuses a run
            whose ``memory`` is above the limit. ``print(f"{plan.memory / 2**20:.0f} MiB")``.
    """

    shape: Shape
    sizes: Tuple[Shape, ...]
    style_sides: Tuple[int, ...]
    content_layers: Tuple[str, ...]
    style_layers: Tuple[Tuple[str, float], ...]
    style_shapes: Tuple[Shape, ...]
    memory: int

    def style_side_at(self, shape: Sequence[int]) -> int:
        """The style images' longest side at the scale of size ``shape``."""
        return self.style_sides[self.sizes.index(tuple(shape))]


def plan(settings: TransferSettings, content_shape: Optional[Sequence[int]], style_count: int,
         style_shapes: Sequence[Optional[Sequence[int]]] = ()) -> Plan:
    """The :class:`Plan` of a run whose content is ``content_shape`` ``(h, w)`` as given
    (``None``: no content image) with ``style_count`` style images.

    ``style_shapes``: the style images' ``(h, w)`` as given, ``None`` for one whose size is
    not known before loading it (e.g. from :func:`~stylelab.imaging.images.image_shape`): they give
    :attr:`Plan.style_shapes` and :attr:`Plan.memory`, which leave out the ones not given.

    Raises :class:`~stylelab.ParameterError` when the last scale is not the output size or
    ``style_scale`` makes the style images less than a pixel wide.
    """
    size = output_size(settings)
    shape: Shape = target_size(tuple(content_shape) if content_shape is not None else (1, 1), size)
    sizes = [shape] if not settings.scales else stage_sizes(shape, settings.scales)
    if settings.scales and max(shape) != settings.scales[-1]:
        raise ParameterError(
            f"The last scale ({settings.scales[-1]}) must be the output size, but the output is {shape[0]}x{shape[1]}; "
            "leave size= out (the last scale sets it) or make them agree."
        )
    side = style_side(shape, settings.style_scale)
    if style_count and side < 1:
        raise ParameterError(
            f"style_scale={settings.style_scale:g} makes the style images less than 1 pixel wide at this "
            f"{shape[0]}x{shape[1]} output; use a style_scale of at least {1 / max(shape):.3g}."
        )
    content_layers, style_layers = active_layers(
        settings.content_layers, settings.style_layer_weights, has_content=content_shape is not None,
        has_style=style_count > 0, content_weight=settings.content_weight, style_weight=settings.style_weight)
    styles_last = tuple(target_size(tuple(s), side) for s in style_shapes if s is not None)
    return Plan(shape, tuple(sizes), tuple(style_side(s, settings.style_scale) for s in sizes),
                tuple(content_layers), tuple(style_layers.items()), styles_last,
                validate.memory_estimate(shape, styles_last))


@dataclass
class Prepared:
    """A run's images, ready for the objective.

    Attributes:
        content: the content ``(1, 3, H, W)`` at the output size as given (for the colour
            post-step), or ``None``.
        net_content: the content as the network sees it (grey under ``"luminance"``).
        net_styles: the style images as the network sees them, ``(1, 3, h_k, w_k)``.
        masks: one ``(1, 1, H, W)`` mask per style image at the output size, or ``None``.
        blend: one weight per style image, summing to 1.
        plan: every size of the run and the terms that are on (:class:`Plan`).
        start: the start image ``(1, 3, h, w)`` at ``plan.sizes[0]``.
    """

    content: Optional[torch.Tensor]
    net_content: Optional[torch.Tensor]
    net_styles: List[torch.Tensor]
    masks: Optional[List[torch.Tensor]]
    blend: List[float]
    plan: Plan
    start: torch.Tensor


def style_list(style: Any) -> List[Any]:
    """``style`` as a list of image sources: ``None`` is no style, a list or tuple several."""
    return [] if style is None else list(style) if isinstance(style, (list, tuple)) else [style]


def is_image(init: Any) -> bool:
    """Whether ``init`` names an image rather than a start rule: any image object, a Path,
    or a string naming an existing file."""
    if isinstance(init, str):
        return init not in INIT_CHOICES and os.path.isfile(init)
    return isinstance(init, (torch.Tensor, np.ndarray, os.PathLike, bytes, bytearray)) or type(init).__module__.startswith("PIL.")


def style_side(shape: Sequence[int], style_scale: float) -> int:
    """Longest side of the style images for an output of ``shape``: ``style_scale`` times its own."""
    return round(max(shape) * style_scale)


def check_inputs(content: Any, styles: List[Any], settings: TransferSettings, masks: Any,
                 init_image: Any) -> List[float]:
    """The inputs agree with each other and with the settings (nothing is loaded); returns
    the blend weights as the run uses them (one per style image, summing to 1), for
    :func:`prepare`. The counts (blend weights, masks) per style image are checked here."""
    if content is None and not styles:
        raise ParameterError("stylize needs a content image, a style image, or both; both are None.")
    if masks is not None and settings.style_blend is not None:
        raise ParameterError(
            "Give masks or style_blend, not both: masks place each style in its own region, "
            "style_blend mixes the styles everywhere."
        )
    blend = validate.blend_weights(settings.style_blend, len(styles))
    if masks is not None:
        mask_list(masks, len(styles))
    if content is None and settings.size is None and not settings.scales:
        raise ParameterError("Without a content image, pass size= (an int or (h, w)) for the output image.")
    if settings.preserve_color is not None and content is None:
        raise ParameterError(
            f"preserve_color={settings.preserve_color!r} keeps the content's colours, but there is no content image."
        )
    if (settings.init == "image") != (init_image is not None):
        raise ParameterError("init='image' goes with an init image: pass the image itself as init=.")
    return blend


def output_size(settings: TransferSettings) -> Any:
    """``size``, or the last scale when only ``scales`` gives it."""
    return settings.size if settings.size is not None or not settings.scales else settings.scales[-1]


def check_memory(content: Any, styles: List[Any], settings: TransferSettings, device: Any) -> None:
    """Refuse a run too large for the memory limit, from the images' headers, before loading them."""
    own = None if content is None else image_shape(content)
    if content is not None and own is None:
        return  # not measurable without loading it; load_image says why
    run_plan = plan(settings, own, len(styles), [image_shape(s) for s in styles])
    validate.check_memory(run_plan.shape, run_plan.style_shapes, device=device, need=run_plan.memory)


def prepare(content: Any, style: Any, settings: TransferSettings, architecture: Architecture, *,
            blend: List[float], masks: Any = None, init_image: Any = None) -> Prepared:
    """Load and check a run's images (see the module docstring); ``architecture`` is the network's,
    ``blend`` the weights :func:`check_inputs` returned for these inputs."""
    styles = style_list(style)
    content_image = load_image(content, output_size(settings)) if content is not None else None
    run_plan = plan(settings, None if content_image is None else content_image.shape[-2:], len(styles),
                    [image_shape(s) for s in styles])
    style_images = [load_image(s, run_plan.style_sides[-1]) for s in styles]
    region_masks = prepare_masks(masks, len(style_images), run_plan.shape) if masks is not None else None
    _check_layers(settings, architecture, run_plan, style_images)
    net_content, net_styles = network_inputs(settings.preserve_color, content_image, style_images)
    start = _start_image(settings, init_image, net_content, net_styles, run_plan.shape, run_plan.sizes[0])
    return Prepared(content_image, net_content, net_styles, region_masks, blend, run_plan, start)


def _check_layers(settings: TransferSettings, arch: Architecture, run_plan: Plan, styles: List[torch.Tensor]) -> None:
    """The layers exist in this network, some term is on, and every image is large enough for its layers."""
    arch.check_layer_names(list(settings.content_layers))
    arch.check_layer_names(list(settings.style_layer_weights))
    content_layers, style_layers = list(run_plan.content_layers), [name for name, _ in run_plan.style_layers]
    if not content_layers and not style_layers and settings.tv_weight == 0:
        raise ParameterError(
            "Every term of the loss is switched off (its weight is 0 or its image is missing), so there is "
            "nothing to optimise; give content_weight, style_weight or tv_weight a value above 0."
        )
    smallest = min(run_plan.sizes, key=min)
    if settings.tv_weight > 0 and min(smallest) < 2:
        raise ParameterError(
            f"tv_weight needs an image of at least 2x2 pixels (it compares neighbours), but the image is "
            f"{smallest[0]}x{smallest[1]}; use a larger size= or tv_weight=0."
        )
    several = len(run_plan.sizes) > 1
    for shape, side, scale in zip(run_plan.sizes, run_plan.style_sides, settings.scales or [None]):
        arch.check_input_size(*shape, content_layers + style_layers, what="this image" if scale is None else
                              f"the image at scale {scale}")
        for index, image in enumerate(styles):
            own = target_size(image.shape[-2:], side) if several else image.shape[-2:]
            label = f"style image {index + 1}" + ("" if scale is None else f" at scale {scale}")
            arch.check_input_size(*own, style_layers, what=label)


def _start_image(settings: TransferSettings, init_image: Any, content: Optional[torch.Tensor],
                 styles: List[torch.Tensor], shape: Shape, first: Shape) -> torch.Tensor:
    """The start of the first scale, at ``first``: from the start rule or the given image."""
    if init_image is not None:
        start = load_image(init_image)
        if tuple(start.shape[-2:]) != tuple(shape):
            raise ImageLoadError(
                f"The init image is {start.shape[-2]}x{start.shape[-1]} but the output is "
                f"{shape[0]}x{shape[1]}; resize it with stylelab.resize(init, ({shape[0]}, {shape[1]}))."
            )
        start = resize(start, first)
    else:
        start = _from_rule(settings.start_rule(content is not None), content, styles, first, settings.seed)
    return luminance_image(start) if settings.preserve_color == "luminance" else start


def _from_rule(rule: str, content: Optional[torch.Tensor], styles: List[torch.Tensor], shape: Shape,
               seed: int) -> torch.Tensor:
    if rule == "content":
        if content is None:
            raise ParameterError("init='content' needs a content image; use init='noise' or 'style'.")
        return resize(content, shape)
    if rule == "noise":
        generator = torch.Generator().manual_seed(int(seed))
        return torch.rand((1, 3, int(shape[0]), int(shape[1])), generator=generator)
    if not styles:
        raise ParameterError("init='style' needs a style image; use init='content' or 'noise'.")
    return resize(styles[0], shape)
