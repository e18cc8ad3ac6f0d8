"""``stylize()``: Gatys et al.'s style transfer as one function call.

The generated image's pixels are the parameters: starting from the content image (or
noise, or the style image), an optimiser changes them to lower the objective of
:mod:`stylelab.objective`. L-BFGS (Gatys et al. 2016; jcjohnson/neural-style) reaches a
good image in a few hundred evaluations; Adam (the TensorFlow tutorial) is simpler and
handy for live previews.

Defaults and where they come from:

* ``content_layers=("relu4_2",)`` and ``style_layers`` = relu1_1 ... relu5_1 with equal
  weights: Gatys et al. 2016, Fig. 2 (their "conv4_2" is the rectified response).
* ``content_weight=1``, ``style_weight=1e6``: with the per-layer ``1/N_l^2`` of
  :mod:`stylelab.objective` this is exactly the objective of the PyTorch tutorial
  (style weight 1e6, Gram / (C H W)), which is well tested with torchvision's ImageNet
  VGG-19 and gives a strongly stylised image that keeps the content's layout.
* ``tv_weight=0``: the paper uses no smoothness term. A useful value makes the TV term a
  few per cent of the total loss (lesson 05 shows how to pick it from the loss history);
  the right number depends on the weights and the image size.
* ``optimizer="lbfgs"``, ``steps=300`` loss evaluations, ``lr=1``: the optimiser of
  Gatys et al., the PyTorch tutorial and neural-style. stylelab adds a strong-Wolfe line
  search (``line_search=True``): each update must lower the loss enough, which keeps
  L-BFGS from the huge overshoots it otherwise makes now and then, and reaches a given
  loss in far fewer evaluations (see benchmarks/speed.py). With it, the gradient of a
  pixel held at 0 or 1 that points out of [0, 1] is zeroed (the projected gradient), so
  the line search sees the slope of the loss it actually evaluates and does not stall.
  ``line_search=False`` is the tutorial's plain L-BFGS. ``"adam"`` uses ``lr=0.02`` on [0, 1] pixels, as in the
  TensorFlow tutorial.
* ``init="content"``: as in the authors' reference code; faster than noise and
  deterministic. ``"noise"`` reproduces the paper's white-noise start.
* Pixels stay in [0, 1]: they are projected onto that range before every evaluation (the
  PyTorch tutorial does the same), so each recorded loss belongs to a displayable image
  and the returned best image has exactly its recorded loss.

Nothing is lost: Ctrl-C (a ``KeyboardInterrupt``) or a callback returning ``True`` ends
the run early and still returns the best image found; a NaN/inf loss ends it with a
``RuntimeWarning`` that names the likely cause.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from .color import combine_luminance, gray_to_rgb, luminance, luminance_image, match_color_histogram, match_luminance
from . import validate
from .errors import ImageLoadError, ParameterError, StyleLabError
from .images import image_shape, load_image, resize, save_image, target_size, to_pil
from .layers import Architecture
from .masks import prepare_masks, resize_mask
from .objective import LAYER_WEIGHTINGS, StyleObjective
from .scales import stage_sizes, stage_steps
from .vgg import NORMALIZE_CHOICES, VGGFeatures, normalizes

__all__ = [
    "stylize",
    "StyleTransferResult",
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_STYLE_LAYERS",
]

DEFAULT_CONTENT_LAYERS = ("relu4_2",)
DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
_DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
_PRESERVE_COLOR = ("luminance", "histogram")

Callback = Callable[[int, torch.Tensor, Dict[str, float]], Optional[bool]]


@dataclass
class StyleTransferResult:
    """What :func:`stylize` returns.

    Attributes:
        image: the best image found, ``(1, 3, H, W)`` float32 in [0, 1], on the CPU.
        history: ``{term: [value per evaluation]}`` with ``"total"``, the weighted
            ``"content"``, ``"style"``, ``"tv"``, each layer's unweighted loss
            (``"style:relu1_1"``, ...) and ``"time"`` (seconds since the start).
        config: every setting used, for the record (JSON-friendly values).
        best_step: the evaluation (1-based) that produced :attr:`image`; 0 is the start.
        steps: optimiser updates made (Adam steps or L-BFGS iterations).
        evaluations: loss evaluations (forward + backward passes); at most the
            ``steps`` budget given to :func:`stylize`.
        seconds: wall time of the optimisation, excluding target computation.
        status: ``"completed"``, ``"interrupted"`` (Ctrl-C, a kernel interrupt, SIGTERM in
            the command line), ``"stopped"`` (by the callback), ``"diverged"`` (a NaN or
            infinite loss) or ``"no_progress"`` (every evaluation was worse than the start
            image, which is returned). Only ``"completed"`` is a success.
        message: a sentence about how the run ended.
    """

    image: torch.Tensor
    history: Dict[str, List[float]]
    config: Dict[str, Any]
    best_step: int = 0
    steps: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    status: str = "completed"
    message: str = ""

    @property
    def interrupted(self) -> bool:
        """True when the run ended before its last step, for any reason."""
        return self.status in ("interrupted", "stopped", "diverged")

    @property
    def succeeded(self) -> bool:
        """True when the run completed and improved on its start image."""
        return self.status == "completed"

    def to_pil(self):
        """The image as a PIL RGB image."""
        return to_pil(self.image)

    def save(self, path: str | Path) -> Path:
        """Save the image (format from the extension); returns the path."""
        return save_image(self.image, path)

    def _repr_png_(self) -> bytes:  # shown by Jupyter when the result is a cell's value
        import io

        buffer = io.BytesIO()
        self.to_pil().save(buffer, format="PNG")
        return buffer.getvalue()

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.image.shape[-2:])
        total = self.history.get("total") or [float("nan")]
        return (
            f"StyleTransferResult({shape} px, {self.status}, {self.steps} updates, "
            f"{self.evaluations} evaluations in {self.seconds:.1f} s, "
            f"loss {total[0]:.4g} -> {min(total):.4g})"
        )


class _Diverged(Exception):
    """A loss term became NaN or infinite (args: the record, the evaluation number)."""


class _Stopped(Exception):
    """The callback asked to stop."""


class _CallbackFailed(Exception):
    """The callback raised an exception (args: its type and message, one line)."""


def _run_callback(callback: Callback, evaluation: int, image: torch.Tensor, record: Dict[str, float]) -> bool:
    """The callback's wish to stop; its own exceptions stop the run without losing the best image."""
    try:
        return bool(callback(evaluation, image, record))
    except Exception as exc:  # noqa: BLE001 - the user's code; the run's work must not be lost to it
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise _CallbackFailed(f"{type(exc).__name__}: {text}" if text else type(exc).__name__) from exc


class _BudgetSpent(Exception):
    """The evaluation budget is used up (L-BFGS may ask for more inside a line search)."""


def stylize(
    content: Any,
    style: Any = None,
    *,
    content_layers: Union[str, Sequence[str]] = DEFAULT_CONTENT_LAYERS,
    style_layers: Union[str, Sequence[str], Mapping[str, float]] = DEFAULT_STYLE_LAYERS,
    content_weight: float = 1.0,
    style_weight: float = 1e6,
    tv_weight: float = 0.0,
    optimizer: str = "lbfgs",
    steps: Union[int, Sequence[int]] = 300,
    lr: Optional[float] = None,
    init: Union[str, torch.Tensor, None] = None,
    seed: int = 0,
    size: Union[int, Sequence[int], None] = None,
    style_scale: float = 1.0,
    style_blend: Optional[Sequence[float]] = None,
    preserve_color: Optional[str] = None,
    masks: Optional[Sequence[Any]] = None,
    scales: Optional[Sequence[int]] = None,
    model: Optional[VGGFeatures] = None,
    weights: Optional[str] = None,
    pooling: str = "max",
    normalize: Union[bool, str, None] = None,
    device: Optional[str] = None,
    callback: Optional[Callback] = None,
    progress: bool = True,
    line_search: bool = True,
    layer_weighting: str = "channels",
) -> StyleTransferResult:
    """Render ``content`` in the style of ``style`` (Gatys et al. 2016).

    Args:
        content: the content image: anything :func:`~stylelab.load_image` accepts, or
            ``None`` for pure texture synthesis (then give ``size``).
        style: the style image, a list of style images (blended, see ``style_blend``,
            or placed by ``masks``), or ``None`` for pure content reconstruction.
        content_layers: layer name(s) for the content term.
        style_layers: layer names (equal weights 1) or ``{layer: weight}``.
        content_weight, style_weight, tv_weight: weights of the three terms (``>= 0``);
            see :mod:`stylelab.objective` for the exact formula.
        optimizer: ``"lbfgs"`` or ``"adam"``.
        steps: the budget of loss evaluations (one forward + backward pass each, the
            unit of cost). Adam makes one update per evaluation; L-BFGS with its line
            search about one update per 1.1 evaluations. With ``scales``: the budget
            at every scale, or a list with one budget per scale.
        lr: step size; default 1 for L-BFGS, 0.02 for Adam.
        init: ``"content"``, ``"noise"`` (uniform white noise in [0, 1]), ``"style"``
            (the first style image stretched to the content's size) or an image of the
            output's size: anything :func:`~stylelab.load_image` reads (a
            ``(1, 3, H, W)`` tensor, a numpy array, a PIL image, a ``Path``, or a
            string naming an existing file). Default: ``"content"`` if there is a
            content image, else ``"noise"``.
        seed: seed for the noise start; the same seed gives the same result.
        size: resize the content: an int is the longest side, ``(h, w)`` exact. Without
            a content image, the output size (an int gives a square).
        style_scale: style images are resized so that their longest side is
            ``style_scale`` times the content's longest side.
        style_blend: one weight per style image (``>= 0``, normalised to sum to 1);
            default equal weights.
        preserve_color: keep the content's colours (Gatys et al. 2017, §5; see
            :mod:`stylelab.color`): ``"luminance"`` stylises the luminance only (VGG
            sees grey images; the style's luminance is matched to the content's mean
            and spread) and puts the content's chrominance back; ``"histogram"``
            recolours each style image to the content's colour mean and covariance
            first. ``None`` (default): the style's colours.
        masks: one mask per style image saying where it applies (Gatys et al. 2017,
            §4; see :mod:`stylelab.masks`): ``(H, W)`` or ``(1, 1, H, W)`` in [0, 1]
            at the content's size (or a mask image file), or ``None`` for one style
            meaning "everywhere else". Where no mask is on, only the content term acts
            and the photo is kept (with ``scales``, each scale restarts from the content
            there). Not combinable with ``style_blend``.
        scales: coarse-to-fine (Gatys et al. 2017, §6; see :mod:`stylelab.scales`):
            increasing longest sides, e.g. ``(256, 512, 1024)``; each scale's result,
            upsampled, starts the next. The last scale is the output size (it sets
            ``size`` when that is not given).
        model: a :class:`~stylelab.VGGFeatures` to reuse; otherwise one is built from
            ``weights``, ``pooling``, ``normalize`` and ``device``.
        normalize: use Gatys et al.'s normalised network (every filter's mean activation
            rescaled to 1, see :mod:`stylelab.normalization`): ``True``, ``False`` or
            ``"auto"`` (Caffe-preprocessed networks only, see :class:`~stylelab.VGGFeatures`).
            ``None``: the model's own setting, or ``"auto"`` for a model built here.
        callback: ``callback(evaluation, image, losses)`` after every evaluation, with
            the image just evaluated ``(1, 3, H, W)`` clamped to [0, 1] and its loss
            values; returning ``True`` stops the run (the best image is kept). With
            ``scales``, ``evaluation`` counts on across the scales and ``image`` has
            the current scale's size.
        progress: show a tqdm progress bar.
        line_search: L-BFGS only: use a strong-Wolfe line search on the projected
            gradient (recommended); ``False`` is the PyTorch tutorial's L-BFGS.
        layer_weighting: ``"channels"`` (default: each style layer's weight divided by
            :math:`N_l^2`, as in the authors' reference code and the PyTorch tutorial) or
            ``"paper"`` (eq. 7's layer weights as given); see :mod:`stylelab.objective`.

    Returns:
        A :class:`StyleTransferResult`; ``result.image`` is ``(1, 3, H, W)`` in [0, 1].
        ``result.config["stages"]`` lists each scale's size, steps and evaluations;
        with several scales the history runs on across them and
        ``result.history["scale"]`` gives the longest side of each evaluation.

    Raises:
        ParameterError: a setting has a wrong type or value (the message names it);
            checked before any image is loaded.
        MemoryLimitError: the run would need more memory than the limit (estimated from
            the images' sizes before loading them; see :mod:`stylelab.validate` and
            ``STYLELAB_MEMORY_LIMIT``).
        ImageLoadError, ImageNotFoundError, ImageTooSmallError, LayerNameError: an
            image or a layer name cannot be used.
    """
    # Every setting is checked before any image is loaded or any memory allocated.
    if not isinstance(optimizer, str) or optimizer.lower() not in _DEFAULT_LR:
        raise ParameterError(f"optimizer must be 'lbfgs' or 'adam', not {optimizer!r}.")
    optimizer = optimizer.lower()
    scale_list = validate.scales(scales) if scales is not None else None
    steps_list = [validate.whole_number("steps", n) for n in stage_steps(steps, len(scale_list) if scale_list else 1)]
    weights_used = {
        "content_weight": validate.non_negative("content_weight", content_weight),
        "style_weight": validate.non_negative("style_weight", style_weight),
        "tv_weight": validate.non_negative("tv_weight", tv_weight),
    }
    lr = _DEFAULT_LR[optimizer] if lr is None else validate.positive("lr", lr)
    style_scale = validate.positive("style_scale", style_scale)
    seed = validate.seed(seed)
    preserve_color = _check_preserve_color(preserve_color)
    validate.choice("layer_weighting", layer_weighting, LAYER_WEIGHTINGS)
    validate.choice("normalize", normalize, (None, *NORMALIZE_CHOICES))
    content_names = validate.layer_names("content_layers", content_layers)
    style_map = style_layer_weights(style_layers)
    _check_init(init)
    if callback is not None and not callable(callback):
        raise ParameterError(f"callback must be a function callback(evaluation, image, losses); got {callback!r}.")
    if model is not None and not isinstance(model, VGGFeatures):
        raise ParameterError(f"model must be a stylelab.VGGFeatures; got a {type(model).__name__}.")

    if content is None and style is None:
        raise ParameterError("stylize needs a content image, a style image, or both; both are None.")
    if scale_list is not None and size is None:
        size = scale_list[-1]
    style_list = [] if style is None else list(style) if isinstance(style, (list, tuple)) else [style]
    if masks is not None and style_blend is not None:
        raise ParameterError(
            "Give masks or style_blend, not both: masks place each style in its own region, "
            "style_blend mixes the styles everywhere."
        )
    blend = validate.blend_weights(style_blend, len(style_list))
    if content is None and size is None:
        raise ParameterError("Without a content image, pass size= (an int or (h, w)) for the output image.")
    _check_memory_before_loading(content, style_list, size, style_scale, model, device)

    content_image = load_image(content, size) if content is not None else None
    if content_image is not None:
        height, width = content_image.shape[-2:]
    else:
        height, width = _output_shape(None, size)
    if preserve_color is not None and content_image is None:
        raise ParameterError(f"preserve_color={preserve_color!r} keeps the content's colours, but there is no content image.")
    sizes = [(height, width)] if scale_list is None else stage_sizes((height, width), scale_list)
    if scale_list is not None and max(height, width) != scale_list[-1]:
        raise ParameterError(
            f"The last scale ({scale_list[-1]}) must be the output size, but the output is {height}x{width}; "
            "leave size= out (the last scale sets it) or make them agree."
        )
    style_side = _style_side((height, width), style_scale)
    if style_list and style_side < 1:
        raise ParameterError(
            f"style_scale={style_scale:g} makes the style images less than 1 pixel wide at this "
            f"{height}x{width} output; use a style_scale of at least {1 / max(height, width):.3g}."
        )
    style_images = [load_image(s, style_side) for s in style_list]
    mask_list = prepare_masks(masks, len(style_images), (height, width)) if masks is not None else None

    model = _model(model, weights, pooling, normalize, device)
    device_used = model.device
    content_names = model.architecture.check_layer_names(content_names)
    model.architecture.check_layer_names(list(style_map))
    active_content = content_names if content_image is not None and weights_used["content_weight"] > 0 else []
    active_style = list(style_map) if style_images and weights_used["style_weight"] > 0 and any(style_map.values()) else []
    if not active_content and not active_style and weights_used["tv_weight"] == 0:
        raise ParameterError(
            "Every term of the loss is switched off (its weight is 0 or its image is missing), so there is "
            "nothing to optimise; give content_weight, style_weight or tv_weight a value above 0."
        )
    if weights_used["tv_weight"] > 0 and min(min(shape) for shape in sizes) < 2:
        raise ParameterError(
            f"tv_weight needs an image of at least 2x2 pixels (it compares neighbours), but the image is "
            f"{min(sizes)[0]}x{min(sizes)[1]}; use a larger size= or tv_weight=0."
        )
    _check_stage_sizes(sizes, scale_list, style_images, style_scale, active_content, active_style, model.architecture)

    # Colour control changes what the network sees (grey images, or recoloured styles).
    net_content, net_styles = _color_inputs(preserve_color, content_image, style_images)
    config = {
        "content_layers": content_names,
        "style_layers": style_map,
        **weights_used,
        "optimizer": optimizer,
        "steps": steps_list[0] if scale_list is None else steps_list,
        "lr": lr,
        "line_search": bool(line_search) if optimizer == "lbfgs" else None,
        "layer_weighting": layer_weighting,
        "init": "tensor" if _init_is_image(init) else init,
        "seed": seed,
        "size": [height, width],
        "style_sizes": [list(s.shape[-2:]) for s in style_images],
        "style_scale": style_scale,
        "style_blend": blend,
        "preserve_color": preserve_color,
        "masks": None if mask_list is None else len(mask_list),
        "scales": scale_list,
        "weights": model.weights_source,
        "network": model.architecture.name,
        "normalized": model.normalized,
        "pooling": model.pooling,
        "device": str(device_used),
    }
    if config["init"] is None:
        config["init"] = "content" if content_image is not None else "noise"
    if _init_is_image(init):
        start = resize(_initial_image(init, net_content, net_styles, (height, width), seed), sizes[0])
    else:
        first_content = resize(net_content, sizes[0]) if net_content is not None else None
        start = _initial_image(init, first_content, net_styles, sizes[0], seed)
    if preserve_color == "luminance":
        start = luminance_image(start)

    stage_inputs = dict(
        model=model, content=net_content, styles=net_styles, masks=mask_list, content_names=content_names,
        style_map=style_map, blend=blend, weights_used=weights_used, style_scale=style_scale,
        layer_weighting=layer_weighting,
    )
    result = _run_stages(stage_inputs, start, sizes, steps_list, optimizer, lr, config, callback, progress, line_search)
    if preserve_color == "luminance":
        result.image = combine_luminance(result.image, content_image)
    return result


# --------------------------------------------------------------------------- control


def _model(
    model: Optional[VGGFeatures], weights: Optional[str], pooling: str, normalize: Union[bool, str, None],
    device: Optional[str],
) -> VGGFeatures:
    """The model given (checked against ``normalize``), or one built from the settings."""
    if model is None:
        return _build_model(weights, pooling, device, "auto" if normalize is None else normalize)
    if normalize is not None and normalizes(normalize, model.preprocessing) != model.normalized:
        state = "is" if model.normalized else "is not"
        raise ParameterError(
            f"normalize={normalize!r} but the model given {state} normalised; build it with "
            f"VGGFeatures(..., normalize={normalize!r}) or leave normalize= out."
        )
    return model


def _check_preserve_color(value: Optional[str]) -> Optional[str]:
    if value is None or value is False:
        return None
    if not isinstance(value, str) or value.lower() not in _PRESERVE_COLOR:
        raise ParameterError(f"preserve_color must be None, 'luminance' or 'histogram', not {value!r}.")
    return value.lower()


def _check_stage_sizes(
    sizes: List[tuple],
    scales: Optional[List[int]],
    styles: List[torch.Tensor],
    style_scale: float,
    content_layers: List[str],
    style_layers: List[str],
    arch: Architecture,
) -> None:
    """Every scale's image and style images must be large enough for the layers used."""
    for shape, scale in zip(sizes, scales or [None]):
        what = "this image" if scale is None else f"the image at scale {scale}"
        arch.check_input_size(*shape, content_layers + style_layers, what=what)
        for index, image in enumerate(styles):
            style_shape = image.shape[-2:] if scale is None else target_size(image.shape[-2:], _style_side(shape, style_scale))
            label = f"style image {index + 1}" + ("" if scale is None else f" at scale {scale}")
            arch.check_input_size(*style_shape, style_layers, what=label)


def _color_inputs(
    mode: Optional[str], content: Optional[torch.Tensor], styles: List[torch.Tensor]
) -> tuple:
    """The content and style images the network sees under colour control (stylelab.color)."""
    if mode == "luminance":
        content_y = luminance(content)
        grey_styles = [gray_to_rgb(match_luminance(luminance(s), content_y)) for s in styles]
        return gray_to_rgb(content_y), grey_styles
    if mode == "histogram":
        return content, [match_color_histogram(s, content) for s in styles]
    return content, styles


def _run_stages(
    inputs: Dict[str, Any],
    start: torch.Tensor,
    sizes: List[tuple],
    steps_list: List[int],
    optimizer: str,
    lr: float,
    config: Dict[str, Any],
    callback: Optional[Callback],
    progress: bool,
    line_search: bool = True,
) -> StyleTransferResult:
    """Run :func:`_optimize` once per scale, each starting from the previous result upsampled."""
    results: List[StyleTransferResult] = []
    done = 0
    stages = [_stage_images(inputs, shape, several=len(sizes) > 1) for shape in sizes]
    for index, (steps, (content, styles, masks)) in enumerate(zip(steps_list, stages)):
        objective = StyleObjective(
            inputs["model"],
            content,
            styles,
            content_layers=inputs["content_names"],
            style_layers=inputs["style_map"],
            blend=inputs["blend"],
            masks=masks,
            layer_weighting=inputs["layer_weighting"],
            **inputs["weights_used"],
        )
        stage_callback = callback
        if callback is not None and done:
            stage_callback = lambda step, image, losses, _done=done: callback(_done + step, image, losses)  # noqa: E731
        result = _optimize(
            objective, start.to(inputs["model"].device), optimizer, steps, lr, config, stage_callback, progress, line_search
        )
        results.append(result)
        done += result.evaluations
        if result.status not in ("completed", "no_progress"):
            break
        if index + 1 < len(sizes):
            next_content, _, next_masks = stages[index + 1]
            start = _next_start(result.image, sizes[index + 1], next_content, next_masks)
    config["stages"] = [
        {"size": list(r.image.shape[-2:]), "steps": r.steps, "evaluations": r.evaluations,
         "seconds": r.seconds, "status": r.status}
        for r in results
    ]
    return results[0] if len(sizes) == 1 else _merge_stages(results, sizes, config)


def _style_side(shape: Sequence[int], style_scale: float) -> int:
    """Longest side of the style images for an output of ``shape``: ``style_scale`` times its own."""
    return round(max(shape) * style_scale)


def _stage_images(inputs: Dict[str, Any], shape: tuple, several: bool) -> tuple:
    """``(content, styles, masks)`` as one scale of a run sees them, at ``shape``.

    With a single scale the content and styles are already at their size; masks are
    always brought to the image's size (and later to each layer's, by the objective).
    """
    content, styles = inputs["content"], inputs["styles"]
    if several:
        content = resize(content, shape) if content is not None else None
        styles = [resize(s, _style_side(shape, inputs["style_scale"])) for s in styles]
    masks = None if inputs["masks"] is None else [resize_mask(m, shape) for m in inputs["masks"]]
    return content, styles, masks


def _next_start(
    image: torch.Tensor, shape: tuple, content: Optional[torch.Tensor], masks: Optional[List[torch.Tensor]]
) -> torch.Tensor:
    """The previous scale's result upsampled to ``shape``; where no mask asks for style, the
    sharp content itself (upsampling would otherwise leave the kept photo blurred).
    ``content`` and ``masks`` are the next scale's, already at ``shape``."""
    start = resize(image, shape)
    if masks is None or content is None:
        return start
    covered = torch.stack(masks).sum(dim=0).clamp(0.0, 1.0)
    return covered * start + (1.0 - covered) * content


def _merge_stages(results: List[StyleTransferResult], sizes: List[tuple], config: Dict[str, Any]) -> StyleTransferResult:
    """One result for a coarse-to-fine run: histories joined, the last stage's image."""
    history: Dict[str, List[float]] = {}
    elapsed, evaluations = 0.0, 0
    for result, shape in zip(results, sizes):
        for key, values in result.history.items():
            shifted = [v + elapsed for v in values] if key == "time" else values
            history.setdefault(key, []).extend(shifted)
        history.setdefault("scale", []).extend([float(max(shape))] * len(result.history.get("total", [])))
        elapsed += result.seconds
        evaluations += result.evaluations
    last = results[-1]
    final = tuple(sizes[-1])
    image = last.image if tuple(last.image.shape[-2:]) == final else resize(last.image, final)
    scales = "/".join(str(max(s)) for s in sizes[: len(results)])
    status = last.status
    message = f"Coarse-to-fine at {scales} px: {last.message}"
    if status == "no_progress" and any(r.status == "completed" for r in results):
        # The run as a whole improved on its start; only the last scale kept its upsampled start.
        status = "completed"
        message = (
            f"Coarse-to-fine at {scales} px: completed; the last scale's {last.evaluations} evaluations did not "
            "improve on the upsampled image, which is returned."
        )
    if len(results) < len(sizes):
        message += f" The image was upsampled to {final[0]}x{final[1]} from the {max(sizes[len(results) - 1])} px scale."
    return StyleTransferResult(
        image=image,
        history=history,
        config=config,
        best_step=evaluations - last.evaluations + last.best_step,
        steps=sum(r.steps for r in results),
        evaluations=evaluations,
        seconds=elapsed,
        status=status,
        message=message,
    )


# --------------------------------------------------------------------------- the loop


def _optimize(
    objective: StyleObjective,
    start: torch.Tensor,
    optimizer_name: str,
    steps: int,
    lr: float,
    config: Dict[str, Any],
    callback: Optional[Callback],
    progress: bool,
    line_search: bool = True,
) -> StyleTransferResult:
    """Minimise ``objective`` from ``start`` within ``steps`` loss evaluations.

    Everything per evaluation happens in one closure: projecting the pixels onto [0, 1],
    the loss and gradient, the history (one device sync for all terms), the best image, the
    progress bar and the callback.
    L-BFGS runs as one ``step()`` call so that its line search never evaluates a point
    twice; the evaluation budget is enforced by the closure itself.
    """
    from tqdm.auto import tqdm

    image = start.detach().clone().requires_grad_(True)
    # With the line search, L-BFGS sees the slope of the function it really evaluates:
    # see _zero_blocked_gradient. Without it, stylelab's L-BFGS is the tutorial's.
    bounded_gradient = optimizer_name == "lbfgs" and line_search
    if optimizer_name == "lbfgs":
        # Negative tolerances: never stop early, spend the whole budget.
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [image], lr=lr, max_iter=steps, max_eval=steps + 25, history_size=100,
            tolerance_grad=-1, tolerance_change=-1, line_search_fn="strong_wolfe" if line_search else None,
        )
    else:
        opt = torch.optim.Adam([image], lr=lr)

    history: Dict[str, List[float]] = {}
    best = {"loss": math.inf, "image": start.detach().clone(), "step": 0}
    evaluations = 0
    bar = tqdm(total=steps, desc="stylize", unit="eval", disable=not progress, leave=True)
    began = time.perf_counter()

    def evaluate() -> torch.Tensor:
        nonlocal evaluations
        with torch.no_grad():
            # Keep the pixels displayable: L-BFGS's updates (and line-search trials) are
            # projected onto [0, 1] before each evaluation, as in the PyTorch tutorial, so
            # every recorded loss is the loss of an image that can be returned as is.
            image.clamp_(0.0, 1.0)
        opt.zero_grad(set_to_none=True)
        terms = objective(image)
        values = torch.stack([t.detach().float() for t in terms.values()]).tolist()
        record = dict(zip(terms.keys(), values))
        if not math.isfinite(record["total"]):
            raise _Diverged(record, evaluations + 1)
        terms["total"].backward()
        if bounded_gradient:
            _zero_blocked_gradient(image)
        evaluations += 1
        record["time"] = time.perf_counter() - began
        for key, value in record.items():
            history.setdefault(key, []).append(value)
        if record["total"] < best["loss"]:
            best.update(loss=record["total"], image=image.detach().clone(), step=evaluations)
        bar.update(1)
        if progress:
            bar.set_postfix(loss=f"{record['total']:.4g}", refresh=False)
        if callback is not None and _run_callback(callback, evaluations, image.detach().clamp(0.0, 1.0), record):
            raise _Stopped
        if evaluations >= steps and optimizer_name == "lbfgs":
            raise _BudgetSpent
        return terms["total"]

    status, message = "completed", ""
    try:
        if optimizer_name == "lbfgs":
            opt.step(evaluate)
        else:
            for _ in range(steps):
                evaluate()
                opt.step()
                with torch.no_grad():
                    image.clamp_(0.0, 1.0)
    except _BudgetSpent:
        pass
    except _Stopped:
        status = "stopped"
        message = f"Stopped by the callback after evaluation {evaluations} of {steps}; the best image so far is kept."
    except _CallbackFailed as exc:
        status = "stopped"
        message = (
            f"The callback raised {exc.args[0]} at evaluation {evaluations} of {steps}, so the run was stopped; "
            "the best image so far is kept. Fix the callback and run again."
        )
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    except KeyboardInterrupt:
        status = "interrupted"
        message = (
            f"Interrupted after {evaluations} of {steps} evaluations; returning the best image so far "
            f"(evaluation {best['step']})."
        )
    except _Diverged as exc:
        status = "diverged"
        message = _divergence_message(exc.args[0], config, exc.args[1])
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    finally:
        bar.close()
    seconds = time.perf_counter() - began

    if status == "completed":
        if optimizer_name == "adam":
            # Adam's last update was never evaluated: keep it if it is the best image.
            with torch.no_grad():
                final = objective(image)["total"].item()
            if math.isfinite(final) and final < best["loss"]:
                best.update(loss=final, image=image.detach().clone(), step=evaluations + 1)
        message = f"Completed {evaluations} evaluations; the best loss was {best['loss']:.4g}."
        if evaluations >= 2 and best["step"] <= 1:
            status = "no_progress"
            message = (
                f"None of the {evaluations} evaluations improved on the start image (loss {best['loss']:.4g}), "
                "so the start image is returned: lower lr, or use optimizer='lbfgs' with line_search=True."
            )
    if optimizer_name == "lbfgs":
        updates = int(opt.state[image].get("n_iter", 0)) if image in opt.state else 0
    else:
        updates = evaluations if status == "completed" else max(evaluations - 1, 0)
    return StyleTransferResult(
        image=best["image"].clamp(0.0, 1.0).float().cpu(),
        history=history,
        config=config,
        best_step=best["step"],
        steps=updates,
        evaluations=evaluations,
        seconds=seconds,
        status=status,
        message=message,
    )


def _zero_blocked_gradient(image: torch.Tensor) -> None:
    """Zero the gradient of pixels that sit on a bound and would be pushed beyond it.

    Every evaluation projects the pixels onto [0, 1], so a pixel at 0 whose gradient is
    positive (descent wants it below 0), or at 1 with a negative gradient, cannot move:
    along such a direction the evaluated loss is flat. Its raw gradient would tell the
    line search otherwise, the Wolfe conditions then fail again and again, and L-BFGS
    stalls on one loss for dozens of evaluations. With these components zeroed (the
    projected gradient of bound-constrained optimisation) the slope the line search
    sees matches the function it evaluates. ``image``: the leaf ``(1, 3, H, W)`` whose
    ``.grad`` was just computed; changed in place.
    """
    with torch.no_grad():
        grad = image.grad
        blocked = ((image <= 0.0) & (grad > 0)) | ((image >= 1.0) & (grad < 0))
        grad.masked_fill_(blocked, 0.0)


def _divergence_message(record: Dict[str, float], config: Dict[str, Any], evaluation: int) -> str:
    bad = next((term for term in ("content", "style", "tv") if not math.isfinite(record.get(term, 0.0))), "total")
    value = record.get(bad, record["total"])
    kind = "NaN" if math.isnan(value) else "infinite"
    if bad == "total" or bad not in ("content", "style", "tv"):
        cause = "check that the input images hold no NaN values"
    elif config["optimizer"] == "adam" and config["lr"] > 0.1:
        cause = f"the learning rate lr={config['lr']:g} is too large for Adam on [0, 1] pixels; try lr=0.02"
    elif config[f"{bad}_weight"] > 1e12:
        cause = f"{bad}_weight={config[f'{bad}_weight']:g} is too large for float32 arithmetic; lower it"
    elif config["optimizer"] == "lbfgs":
        cause = f"L-BFGS took too large a step (lr={config['lr']:g}); lower lr, lower the weights, or use optimizer='adam'"
    else:
        cause = "lower the weights or the learning rate"
    return (
        f"The {bad} loss became {kind} at evaluation {evaluation}: {cause}. "
        "The run was stopped and the best image before that is returned."
    )


# --------------------------------------------------------------------------- checks


def style_layer_weights(style_layers: Union[str, Sequence[str], Mapping[str, float]]) -> Dict[str, float]:
    """``{layer: weight}`` from a name, a list of names (weight 1 each) or a mapping.

    Raises :class:`~stylelab.LayerNameError` for an unknown name and
    :class:`~stylelab.ParameterError` for a wrong type or a weight that is not a finite
    number >= 0 (see :func:`stylelab.validate.style_layer_weights`).
    """
    return validate.style_layer_weights(style_layers)


def _check_init(init: Any) -> None:
    """``init`` is a start name or an image (any source :func:`~stylelab.load_image` reads)."""
    if init is None or _init_is_image(init):
        return
    if not isinstance(init, str) or init not in ("content", "noise", "style"):
        raise ParameterError(
            f"init must be 'content', 'noise', 'style' or an image (a tensor, numpy array, PIL image, or the "
            f"path of an existing file); got {init!r}."
        )


def _init_is_image(init: Any) -> bool:
    """``init`` names an image rather than a start rule: any image object, a Path, or a string naming a file."""
    if isinstance(init, str):
        return init not in ("content", "noise", "style") and os.path.isfile(init)
    return isinstance(init, (torch.Tensor, np.ndarray, os.PathLike, bytes, bytearray)) or type(init).__module__.startswith("PIL.")


def _build_model(weights: Any, pooling: Any, device: Any, normalize: Any) -> VGGFeatures:
    """The network for ``weights``, ``pooling``, ``device`` and ``normalize``; its own checks' errors as ParameterError."""
    try:
        return VGGFeatures(weights=weights, pooling=pooling, device=device, normalize=normalize)
    except StyleLabError:
        raise
    except (ValueError, TypeError) as exc:  # VGGFeatures' checks of pooling, precision, ...
        raise ParameterError(str(exc).strip().splitlines()[0]) from None


def _output_shape(content: Any, size: Any) -> Optional[tuple]:
    """``(h, w)`` of the output, from the content's header and ``size``; ``None`` if unknown yet."""
    if content is None:
        return (int(size), int(size)) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    shape = image_shape(content)
    return None if shape is None else target_size(shape, size)


def _check_memory_before_loading(
    content: Any, styles: List[Any], size: Any, style_scale: float, model: Optional[VGGFeatures], device: Any
) -> None:
    """Refuse a run too large for the memory limit, from the images' headers, before loading them."""
    target_size((1, 1), size)  # a bad size= is reported as such, before the estimate
    shape = _output_shape(content, size)
    if shape is None:
        return
    side = _style_side(shape, style_scale)
    style_shapes = []
    for source in styles:
        own = image_shape(source)
        if own is not None and side >= 1:
            style_shapes.append(target_size(own, side))
    where = model.device if model is not None else device
    validate.check_memory(shape, style_shapes, device=where)


def _initial_image(
    init: Union[str, torch.Tensor, None],
    content: Optional[torch.Tensor],
    styles: Sequence[torch.Tensor],
    shape: Sequence[int],
    seed: int,
) -> torch.Tensor:
    height, width = int(shape[0]), int(shape[1])
    if _init_is_image(init):
        start = load_image(init)
        if tuple(start.shape[-2:]) != (height, width):
            raise ImageLoadError(
                f"The init image is {start.shape[-2]}x{start.shape[-1]} but the output is "
                f"{height}x{width}; resize it with stylelab.resize(init, ({height}, {width}))."
            )
        return start
    choice = init if init is not None else ("content" if content is not None else "noise")
    if choice == "content":
        if content is None:
            raise ParameterError("init='content' needs a content image; use init='noise' or 'style'.")
        return content.clone()
    if choice == "noise":
        generator = torch.Generator().manual_seed(int(seed))
        return torch.rand((1, 3, height, width), generator=generator)
    if choice == "style":
        if not styles:
            raise ParameterError("init='style' needs a style image; use init='content' or 'noise'.")
        return resize(styles[0], (height, width))
    raise ParameterError(f"init must be 'content', 'noise', 'style' or an image, not {init!r}.")
