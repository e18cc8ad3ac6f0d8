"""``stylize()``: Gatys et al.'s style transfer as one function call.

The generated image's pixels are the parameters: starting from the content image (or
noise, or the style image), an optimiser changes them to lower the objective of
:mod:`stylelab.engine.objective`. L-BFGS (Gatys et al. 2016; jcjohnson/neural-style) reaches a
good image in a few hundred evaluations; Adam (the TensorFlow tutorial) is simpler and
handy for live previews.

A run is three steps, each a short function of its own module: *prepare*
(:func:`stylelab.engine.prepare.prepare`: images at their sizes, the colour pre-step, masks,
scales, the start image), the *objective* (:class:`~stylelab.StyleObjective`, which
holds its targets) and the *optimisation loop* (:func:`stylelab.engine.optimize.optimize`);
coarse-to-fine wraps that single-scale run from outside (:mod:`stylelab.engine.pyramid`). All
settings live in one frozen, checked value, :class:`~stylelab.engine.settings.TransferSettings`:
:func:`stylize` makes it from its keyword arguments and hands it to :func:`run`, which the
command line, the result cache and :mod:`stylelab.course.measure` call directly.

Defaults (the fields of :class:`~stylelab.engine.settings.TransferSettings`) and where they come from:

* ``content_layers=("relu4_2",)`` and ``style_layers`` = relu1_1 ... relu5_1 with equal
  weights: Gatys et al. 2016, Fig. 2 (their "conv4_2" is the rectified response).
* ``content_weight=1``, ``style_weight=1e6``: with the per-layer ``1/N_l^2`` of
  :mod:`stylelab.engine.objective` this is exactly the objective of the PyTorch tutorial
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

from functools import partial
from typing import Any, List, Optional

import torch

from . import presets
from .color import restore_colors
from ..errors import ParameterError
from ..imaging.images import resize
from .masks import resize_mask
from ..vgg.network import build_model, use_model
from .objective import StyleObjective
from .optimize import Callback, optimize
from .prepare import Prepared, check_inputs, check_memory, is_image, prepare, style_list
from .pyramid import run_pyramid, stage_records
from .result import StyleTransferResult
from .settings import START_RULES, TransferSettings
from ..vgg.features import VGGFeatures

__all__ = [
    "stylize",
    "run",
    "settings_from",
    "StyleTransferResult",
    "TransferSettings",
]


def stylize(
    content: Any,
    style: Any = None,
    *,
    init: Any = None,
    masks: Optional[List[Any]] = None,
    model: Optional[VGGFeatures] = None,
    callback: Optional[Callback] = None,
    progress: bool = True,
    **settings: Any,
) -> StyleTransferResult:
    """Render ``content`` in the style of ``style`` (Gatys et al. 2016).

    Every keyword but ``init``, ``masks``, ``model``, ``callback`` and ``progress`` is a
    field of :class:`~stylelab.engine.settings.TransferSettings` (defaults and checks live there)
    or of :class:`~stylelab.vgg.network.NetworkSettings` (``weights``, ``pooling``,
    ``normalize``, ``device``, ``precision``, ``channels_last``).

    Args:
        content: the content image: anything :func:`~stylelab.load_image` accepts, or
            ``None`` for pure texture synthesis (then give ``size``).
        style: the style image, a list of style images (blended, see ``style_blend``,
            or placed by ``masks``), or ``None`` for pure content reconstruction.
        content_layers: layer name(s) for the content term.
        style_layers: layer names (equal weights 1) or ``{layer: weight}``.
        content_weight, style_weight, tv_weight: weights of the three terms (``>= 0``);
            see :mod:`stylelab.engine.objective` for the exact formula.
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
            :mod:`stylelab.engine.color`): ``"luminance"`` stylises the luminance only (VGG
            sees grey images; the style's luminance is matched to the content's mean
            and spread) and puts the content's chrominance back; ``"histogram"``
            recolours each style image to the content's colour mean and covariance
            first. ``None`` (default): the style's colours.
        masks: one mask per style image saying where it applies (Gatys et al. 2017,
            §4; see :mod:`stylelab.engine.masks`): ``(H, W)`` or ``(1, 1, H, W)`` in [0, 1]
            at the content's size (or a mask image file), or ``None`` for one style
            meaning "everywhere else". Where no mask is on, only the content term acts
            and the photo is kept (with ``scales``, each scale restarts from the content
            there). Not combinable with ``style_blend``.
        scales: coarse-to-fine (Gatys et al. 2017, §6; see :mod:`stylelab.engine.scales`):
            increasing longest sides, e.g. ``(256, 512, 1024)``; each scale's result,
            upsampled, starts the next. The last scale is the output size (it sets
            ``size`` when that is not given).
        model: a :class:`~stylelab.VGGFeatures` to reuse; otherwise one is built from
            ``weights``, ``pooling``, ``normalize`` and ``device``.
        normalize: use Gatys et al.'s normalised network (every filter's mean activation
            rescaled to 1, see :mod:`stylelab.vgg.normalization`): ``True``, ``False`` or
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
            ``"paper"`` (eq. 7's layer weights as given); see :mod:`stylelab.engine.objective`.
        tv_power, tv_reduction: the TV term's form: squared (2, default) or absolute (1)
            differences of neighbouring pixels, their ``"mean"`` (default) or ``"sum"``
            (see :func:`~stylelab.tv_loss`).
        image_units: ``"pixels"`` (default: the optimiser changes RGB values in [0, 1]) or
            ``"network"`` (it changes the network's preprocessed input, as Gatys et al.'s
            code, neural-style and d2l.ai do; the TV term then measures that too). With
            L-BFGS this changes only the length of the first step; with Adam ``lr`` is in
            these units.
        clamp: project the pixels onto [0, 1] before every evaluation (default ``True``);
            ``False`` lets them leave that range during the run (only the returned image
            is clipped), as Gatys et al.'s code, neural-style and d2l.ai do.
        adam_betas, adam_eps, adam_eps_hat: Adam's constants (default PyTorch's: (0.9,
            0.999) and 1e-8); ``adam_eps_hat=True`` adds epsilon before the bias
            correction, as Keras/TensorFlow's Adam does.
        preset: the name of a well-known implementation whose conventions set every
            setting not given here (see :mod:`stylelab.engine.presets`; ``sl.presets.names()``).

    Returns:
        A :class:`StyleTransferResult`; ``result.image`` is ``(1, 3, H, W)`` in [0, 1].
        ``result.facts["stages"]`` lists each scale's size, steps and evaluations;
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
    checked, init_image = settings_from(init, settings)
    return run(content, style, checked, init_image=init_image, masks=masks, model=model, callback=callback,
               progress=progress)


def settings_from(init: Any, options: dict) -> tuple:
    """``(TransferSettings, init image or None)`` from :func:`stylize`'s ``init`` and its other
    setting keywords (``preset`` among them, see :func:`stylelab.engine.presets.settings`): an image
    given as ``init`` becomes ``init="image"`` beside the image."""
    init_image = init if is_image(init) else None
    if init is not None and init_image is None and not (isinstance(init, str) and init in START_RULES):
        raise ParameterError(
            f"init must be 'content', 'noise', 'style' or an image (a tensor, numpy array, PIL image, or the "
            f"path of an existing file); got {init!r}."
        )
    if init is not None:
        options = {**options, "init": "image" if init_image is not None else init}
    return presets.settings(**options), init_image


def run(
    content: Any,
    style: Any,
    settings: TransferSettings,
    *,
    init_image: Any = None,
    masks: Optional[List[Any]] = None,
    model: Optional[VGGFeatures] = None,
    callback: Optional[Callback] = None,
    progress: bool = True,
) -> StyleTransferResult:
    """The transfer that ``settings`` describe, on these images: prepare, then optimise.

    ``content``, ``style``, ``masks``, ``model``, ``callback`` and ``progress`` are as in
    :func:`stylize`; ``init_image`` is the start image when ``settings.init == "image"``.
    Returns a :class:`StyleTransferResult` whose ``settings`` are ``settings``.
    """
    if callback is not None and not callable(callback):
        raise ParameterError(f"callback must be a function callback(evaluation, image, losses); got {callback!r}.")
    styles = style_list(style)
    blend = check_inputs(content, styles, settings, masks, init_image)  # before the network or an image is loaded
    model = None if model is None else use_model(model, settings.network)
    check_memory(content, styles, settings, settings.network.device if model is None else model.device)
    model = build_model(settings.network) if model is None else model
    prepared = prepare(content, styles, settings, model.architecture, blend=blend, masks=masks, init_image=init_image)
    levels = list(zip(prepared.plan.sizes, settings.stage_steps))
    level = partial(_run_level, prepared, settings, model, progress=progress)
    result = run_pyramid(levels, prepared.start.to(model.device), level, partial(_next_start, prepared), callback)
    result.image = restore_colors(settings.preserve_color, result.image, prepared.content)
    result.facts = _facts(settings, prepared, model, result.facts.get("stages") or stage_records([result]))
    result.settings = settings
    return result


def _run_level(prepared: Prepared, settings: TransferSettings, model: VGGFeatures, shape: tuple, steps: int,
               start: torch.Tensor, callback: Optional[Callback], *, progress: bool) -> StyleTransferResult:
    """One scale: the objective for the images at ``shape``, minimised from ``start``."""
    content, styles, masks = _level_images(prepared, shape)
    objective = StyleObjective(
        model, content, styles,
        content_layers=prepared.plan.content_layers, style_layers=dict(prepared.plan.style_layers), blend=prepared.blend,
        content_weight=settings.content_weight, style_weight=settings.style_weight, tv_weight=settings.tv_weight,
        masks=masks, layer_weighting=settings.layer_weighting, tv_power=settings.tv_power,
        tv_reduction=settings.tv_reduction, image_units=settings.image_units,
    )
    weights = {"content": settings.content_weight, "style": settings.style_weight, "tv": settings.tv_weight}
    units = (model.normalize, model.denormalize) if settings.image_units == "network" else None
    return optimize(objective, start.to(model.device), optimizer=settings.optimizer, steps=steps,
                    lr=settings.learning_rate, line_search=settings.line_search, callback=callback,
                    progress=progress, weights=weights, clamp=settings.clamp, units=units,
                    adam_betas=settings.adam_betas, adam_eps=settings.adam_eps, adam_eps_hat=settings.adam_eps_hat)


def _level_images(prepared: Prepared, shape: tuple) -> tuple:
    """``(content, styles, masks)`` as the scale of size ``shape`` sees them."""
    content, styles = prepared.net_content, prepared.net_styles
    if len(prepared.plan.sizes) > 1:
        content = resize(content, shape) if content is not None else None
        styles = [resize(s, prepared.plan.style_side_at(shape)) for s in styles]
    masks = None if prepared.masks is None else [resize_mask(m, shape) for m in prepared.masks]
    return content, styles, masks


def _next_start(prepared: Prepared, image: torch.Tensor, shape: tuple) -> torch.Tensor:
    """The previous scale's result upsampled to ``shape``; where no mask asks for style, the
    sharp content itself (upsampling would otherwise leave the kept photo blurred)."""
    start = resize(image, shape)
    if prepared.masks is None or prepared.net_content is None:
        return start
    content = resize(prepared.net_content, shape)
    covered = torch.stack([resize_mask(m, shape) for m in prepared.masks]).sum(dim=0).clamp(0.0, 1.0)
    return covered * start + (1.0 - covered) * content.to(start.device)


def _facts(settings: TransferSettings, prepared: Prepared, model: VGGFeatures, stages: List[dict]) -> dict:
    """``result.facts``: what the run found that its settings do not say (JSON values)."""
    return {
        "init": settings.start_rule(prepared.content is not None),
        "size": list(prepared.plan.shape),
        "style_sizes": [list(s.shape[-2:]) for s in prepared.net_styles],
        "style_blend": prepared.blend,
        "masks": None if prepared.masks is None else len(prepared.masks),
        "weights": model.weights_source,
        "network": model.architecture.name,
        "normalized": model.normalized,
        "pooling": model.pooling,
        "device": str(model.device),
        "stages": stages,
    }
