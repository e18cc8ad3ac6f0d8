"""Everything a run needs before its first evaluation, checked and at the right sizes.

:func:`prepare` turns a run's inputs (content, style images, masks, a start image) and
its :class:`~stylelab.settings.TransferSettings` into a :class:`Prepared` run: images
loaded at the output size (the styles at ``style_scale`` times it), the colour pre-step
applied (:func:`stylelab.color.network_inputs`), masks at the output size, the size of
each scale and the start image. Every check that needs the images' sizes or the network
happens here, before any optimisation; the memory a run needs is checked from the
images' headers before they are loaded (:func:`check_memory`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch

from . import validate
from .color import luminance_image, network_inputs
from .errors import ImageLoadError, ParameterError
from .images import image_shape, load_image, resize, target_size
from .layers import Architecture
from .masks import mask_list, prepare_masks
from .objective import active_layers
from .pyramid import stage_sizes
from .settings import INIT_CHOICES, TransferSettings

__all__ = ["Prepared", "prepare", "check_memory", "check_inputs", "style_side", "is_image", "style_list"]

Shape = Tuple[int, int]


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
        shape: the output's ``(H, W)``.
        sizes: ``(h, w)`` of each scale; the last is ``shape``.
        start: the start image ``(1, 3, h, w)`` at ``sizes[0]``.
    """

    content: Optional[torch.Tensor]
    net_content: Optional[torch.Tensor]
    net_styles: List[torch.Tensor]
    masks: Optional[List[torch.Tensor]]
    blend: List[float]
    shape: Shape
    sizes: List[Shape]
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
    size = output_size(settings)
    if content is None:
        shape: Optional[Shape] = (size, size) if isinstance(size, int) else tuple(size)
    else:
        own = image_shape(content)
        shape = None if own is None else target_size(own, size)
    if shape is None:
        return
    side = style_side(shape, settings.style_scale)
    style_shapes = [target_size(own, side) for own in map(image_shape, styles) if own is not None and side >= 1]
    validate.check_memory(shape, style_shapes, device=device)


def prepare(content: Any, style: Any, settings: TransferSettings, architecture: Architecture, *,
            blend: List[float], masks: Any = None, init_image: Any = None) -> Prepared:
    """Load and check a run's images (see the module docstring); ``architecture`` is the network's,
    ``blend`` the weights :func:`check_inputs` returned for these inputs."""
    styles = style_list(style)
    size = output_size(settings)
    content_image = load_image(content, size) if content is not None else None
    shape: Shape = tuple(content_image.shape[-2:]) if content_image is not None else target_size((1, 1), size)
    sizes = [shape] if not settings.scales else stage_sizes(shape, settings.scales)
    if settings.scales and max(shape) != settings.scales[-1]:
        raise ParameterError(
            f"The last scale ({settings.scales[-1]}) must be the output size, but the output is {shape[0]}x{shape[1]}; "
            "leave size= out (the last scale sets it) or make them agree."
        )
    side = style_side(shape, settings.style_scale)
    if styles and side < 1:
        raise ParameterError(
            f"style_scale={settings.style_scale:g} makes the style images less than 1 pixel wide at this "
            f"{shape[0]}x{shape[1]} output; use a style_scale of at least {1 / max(shape):.3g}."
        )
    style_images = [load_image(s, side) for s in styles]
    region_masks = prepare_masks(masks, len(style_images), shape) if masks is not None else None
    _check_layers(settings, architecture, sizes, content_image is not None, style_images)
    net_content, net_styles = network_inputs(settings.preserve_color, content_image, style_images)
    start = _start_image(settings, init_image, net_content, net_styles, shape, sizes[0])
    return Prepared(content_image, net_content, net_styles, region_masks, blend, shape, sizes, start)


def _check_layers(settings: TransferSettings, arch: Architecture, sizes: List[Shape], has_content: bool,
                  styles: List[torch.Tensor]) -> None:
    """The layers exist in this network, some term is on, and every image is large enough for its layers."""
    content_layers = arch.check_layer_names(list(settings.content_layers))
    style_weights = settings.style_layer_weights
    arch.check_layer_names(list(style_weights))
    active_content, active_style = active_layers(
        content_layers, style_weights, has_content=has_content, has_style=bool(styles),
        content_weight=settings.content_weight, style_weight=settings.style_weight)
    if not active_content and not active_style and settings.tv_weight == 0:
        raise ParameterError(
            "Every term of the loss is switched off (its weight is 0 or its image is missing), so there is "
            "nothing to optimise; give content_weight, style_weight or tv_weight a value above 0."
        )
    smallest = min(sizes, key=min)
    if settings.tv_weight > 0 and min(smallest) < 2:
        raise ParameterError(
            f"tv_weight needs an image of at least 2x2 pixels (it compares neighbours), but the image is "
            f"{smallest[0]}x{smallest[1]}; use a larger size= or tv_weight=0."
        )
    several = len(sizes) > 1
    for shape, scale in zip(sizes, settings.scales or [None]):
        arch.check_input_size(*shape, active_content + list(active_style), what="this image" if scale is None else
                              f"the image at scale {scale}")
        for index, image in enumerate(styles):
            own = target_size(image.shape[-2:], style_side(shape, settings.style_scale)) if several else image.shape[-2:]
            label = f"style image {index + 1}" + ("" if scale is None else f" at scale {scale}")
            arch.check_input_size(*own, list(active_style), what=label)


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
