"""Analysis: numbers that say what a run did and what a picture shows, without figures.

Three kinds of measure; none draws anything (the figures live in :mod:`stylelab.course.figures` and
:mod:`stylelab.course.lesson_figures`), and none needs matplotlib:

* **choosing the style weight** - :func:`balance_point` and :func:`course_style_weight`,
  the one place where the course's style weight β is chosen (lesson 04 derives it);
* **reading a picture** - how much of the photo it keeps (:func:`content_distance`,
  :func:`layout_similarity`, :func:`detail_similarity`) and how close its feature statistics
  are to the painting's (:func:`style_distance`); the lessons assert their figures' claims
  with these;
* **reading a run** - :func:`first_reach`, :func:`final_scale_losses` and :func:`pixel_cost`,
  pure functions over what a :class:`~stylelab.StyleTransferResult` records:
  ``result.history`` (``{term: [value per evaluation]}`` with the loss terms ``"total"``,
  ``"content"``, ``"style"``, ``"tv"``, ``"time"`` in seconds since the start and, for a
  coarse-to-fine run, ``"scale"``, the longest side of the image at each evaluation) and
  ``result.config["stages"]`` (one ``{"size": (h, w), "evaluations": n, ...}`` per scale).

Images are ``(1, 3, H, W)`` tensors in [0, 1] throughout; a picture and the photo it is
compared with have the same size.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from ..engine.color import luminance
from ..engine.losses import gram_matrix
from ..engine.objective import StyleObjective
from ..engine.settings import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
from ..imaging.images import resize

__all__ = [
    "STYLE_STRENGTH",
    "RECOGNISABLE",
    "balance_point",
    "course_style_weight",
    "content_distance",
    "content_lost",
    "style_distance",
    "layout_similarity",
    "detail_similarity",
    "first_reach",
    "final_scale_losses",
    "pixel_cost",
]

#: How many times the balance point the course's style weight is (:func:`course_style_weight`).
#: Chosen by looking (lesson 04's grid on the ImageNet-trained VGG-16): at 10 the subject
#: stays recognisable under a clear style; at 100 and more the painting's texture takes over.
STYLE_STRENGTH = 10.0

#: A picture whose :func:`content_lost` is below this kept its subject recognisable in every
#: transfer we looked at on the ImageNet-trained VGG-16 (lessons 04 to 06 in laptop mode, 128
#: to 512 px): it had gone less than half of the way from the photo to the painting. A
#: judgement by eye, made on the trained network.
RECOGNISABLE = 0.5

Layers = Union[Sequence[str], Mapping[str, float]]


def _style_layer_weights(style_layers: Layers) -> dict:
    if isinstance(style_layers, Mapping):
        return {str(name): float(weight) for name, weight in style_layers.items()}
    return {str(name): 1.0 for name in style_layers}


def balance_point(
    model,
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS,
    style_layers: Layers = DEFAULT_STYLE_LAYERS,
    layer_weighting: str = "channels",
) -> float:
    """The style weight β at which the photo and the painting cost the same.

    With content weight α = 1 and the objective of :class:`~stylelab.StyleObjective`
    (the same layers and layer weighting), the photo itself has no content
    loss and a style term :math:`S` = β times its style loss, and the painting (resized to
    the photo's size) has a content loss :math:`C` and almost no style loss. The balance point is
    :math:`C / S`: the β at which the two extremes score the same. The losses are in the
    network's own units (content loss grows with the square of the activations, style loss
    with their fourth power), so the balance point differs from network to network, and a β
    written as a multiple of it means the same everywhere.

    Args:
        model: the :class:`~stylelab.VGGFeatures` network.
        content, style: ``(1, 3, H, W)`` and ``(1, 3, h, w)`` images in [0, 1].
        content_layers: the content layers (their losses are averaged, as in the objective).
        style_layers: layer names (weight 1 each) or ``{layer: weight}``.
        layer_weighting: ``"channels"`` (stylelab's default :math:`1/N_l^2` per layer) or
            ``"paper"``, as in :func:`~stylelab.stylize`.

    Returns:
        β as a float > 0.
    """
    device = model.device
    content, style = content.to(device), style.to(device)
    judge = StyleObjective(model, content, [style], content_layers=list(content_layers),
                           style_layers=_style_layer_weights(style_layers), blend=[1.0],
                           content_weight=1.0, style_weight=1.0, tv_weight=0.0, layer_weighting=layer_weighting)
    painting = resize(style, tuple(content.shape[-2:]))
    with torch.no_grad():
        return float(judge(painting)["content"] / judge(content)["style"])


def course_style_weight(
    model,
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    strength: float = STYLE_STRENGTH,
    content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS,
    style_layers: Layers = DEFAULT_STYLE_LAYERS,
    layer_weighting: str = "channels",
) -> float:
    """The course's style weight: ``strength`` times :func:`balance_point` (default :data:`STYLE_STRENGTH`).

    Lessons 04 to 06 and the playground choose β this way, for their own images, layers
    and network, so that "ten times the balance point" looks alike on every network and at
    every size. Arguments as in :func:`balance_point`.
    """
    if not strength > 0:
        raise ValueError(f"strength must be a positive number, not {strength!r}.")
    return strength * balance_point(model, content, style, content_layers=content_layers, style_layers=style_layers,
                                    layer_weighting=layer_weighting)


def _features(model, image: torch.Tensor, layers: Sequence[str]) -> dict:
    with torch.no_grad():
        return model(image.to(model.device), list(layers))


def content_distance(model, image: torch.Tensor, photo: torch.Tensor, layer: str = "relu4_2") -> float:
    r"""How far ``image`` is from ``photo`` in the features of ``layer``, relative to the photo's.

    :math:`\lVert F(x) - F(p)\rVert^2 / \lVert F(p)\rVert^2` at one layer: 0 for the photo
    itself, about 1 or more for an unrelated picture. A ratio, so it means the same on any
    network. ``image`` and ``photo``: ``(1, 3, H, W)``, the same size.
    """
    _check_pair(image, photo, "content_distance")
    ours, theirs = _features(model, image, [layer])[layer], _features(model, photo, [layer])[layer]
    return float((ours - theirs).pow(2).sum() / theirs.pow(2).sum().clamp_min(1e-30))


def content_lost(model, image: torch.Tensor, photo: torch.Tensor, painting: torch.Tensor, layer: str = "relu4_2") -> float:
    """How much of the way from the photo to the painting ``image`` has gone, in ``layer``'s features.

    :func:`content_distance` of ``image`` divided by that of the painting itself (resized to
    the photo's size): 0 for the photo, 1 for a picture as far from the photo as the painting
    is. Dividing by the painting's distance makes the number comparable across image sizes
    and networks (a large picture's features change more under the same style); below
    :data:`RECOGNISABLE` the subject stayed recognisable in every transfer we looked at.
    ``image``, ``photo``: ``(1, 3, H, W)``, one size; ``painting``: ``(1, 3, h, w)``.
    """
    whole_way = content_distance(model, resize(painting, tuple(photo.shape[-2:])), photo, layer)
    return content_distance(model, image, photo, layer) / max(whole_way, 1e-30)


def style_distance(model, image: torch.Tensor, style: torch.Tensor, layers: Sequence[str] = DEFAULT_STYLE_LAYERS) -> float:
    r"""How far ``image``'s feature statistics are from ``style``'s, relative to the style's.

    The mean over ``layers`` of :math:`\lVert G_l(x) - G_l(a)\rVert^2 / \lVert G_l(a)\rVert^2`
    (Gram matrices of :func:`~stylelab.gram_matrix`, which do not depend on the image size):
    0 for the style image itself, about 1 for a picture with unrelated statistics. A ratio
    per layer, so every layer counts alike and the value means the same on any network.
    ``image`` ``(1, 3, H, W)`` and ``style`` ``(1, 3, h, w)`` may differ in size.
    """
    layers = list(layers)
    ours, theirs = _features(model, image, layers), _features(model, style, layers)
    distances = []
    for name in layers:
        target = gram_matrix(theirs[name])
        distances.append(float((gram_matrix(ours[name]) - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-30)))
    return sum(distances) / len(distances)


def _window(image: torch.Tensor) -> int:
    """The side of the smoothing window: about 1/32 of the image's longest side, odd, at least 3."""
    return max(3, (max(image.shape[-2:]) // 32) | 1)


def _coarse_and_fine(image: torch.Tensor, window: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The luminance split into its local mean over ``window`` pixels and what is left (the detail)."""
    y = luminance(image.detach().float().cpu())
    coarse = F.avg_pool2d(y, window, stride=1, padding=window // 2, count_include_pad=False)
    return coarse, y - coarse


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
    return float(a @ b / (a.norm() * b.norm()).clamp_min(1e-12))


def _check_pair(image: torch.Tensor, photo: torch.Tensor, name: str) -> None:
    if image.shape[-2:] != photo.shape[-2:]:
        raise ValueError(f"{name} compares pictures of one size; got {tuple(image.shape[-2:])} "
                         f"and {tuple(photo.shape[-2:])}. Resize one with sl.resize.")


def layout_similarity(image: torch.Tensor, photo: torch.Tensor) -> float:
    """Does ``image`` keep the photo's layout of light and dark? A correlation in [-1, 1].

    Both luminances are smoothed over a window of about 1/32 of the longest side (what is
    left is where the large bright and dark areas lie: the outline of the subject, its
    eyes, the background) and correlated: 1 when the picture keeps the photo's layout up to
    brightness and contrast, near 0 for an unrelated picture. It needs no network, so it
    reads the same for every network. ``image``, ``photo``: ``(1, 3, H, W)``, one size.
    """
    _check_pair(image, photo, "layout_similarity")
    window = _window(photo)
    return _correlation(_coarse_and_fine(image, window)[0], _coarse_and_fine(photo, window)[0])


def detail_similarity(image: torch.Tensor, photo: torch.Tensor) -> float:
    """Does ``image`` keep the photo's fine detail where it was? A correlation in [-1, 1].

    The luminance minus its local mean over a window of about 1/32 of the longest side
    (edges, fur, the rims of the eyes) of both pictures, correlated: 1 when every fine
    detail of the photo is still in place, near 0 when the picture's fine structure (a
    painting's strokes, say) has nothing to do with the photo's. Needs no network.
    ``image``, ``photo``: ``(1, 3, H, W)``, one size.
    """
    _check_pair(image, photo, "detail_similarity")
    window = _window(photo)
    return _correlation(_coarse_and_fine(image, window)[1], _coarse_and_fine(photo, window)[1])


History = Mapping[str, Sequence[float]]


def first_reach(history: History, level: float, term: str = "total") -> Optional[Tuple[int, float]]:
    """When a run first gets its ``term`` loss down to ``level``.

    Args:
        history: a result's history; it needs ``history[term]`` and ``history["time"]``.
        level: the loss to reach (reached when a value is ``<= level``).
        term: which loss term to watch (default the total).

    Returns:
        ``(evaluations, seconds)``: ``evaluations`` counts from 1 (the first forward +
        backward pass) and ``seconds`` is ``history["time"]`` at that evaluation; ``None``
        if the level is never reached.
    """
    for index, value in enumerate(history[term]):
        if value <= level:
            return index + 1, float(history["time"][index])
    return None


def final_scale_losses(history: History, key: str = "total") -> List[float]:
    """The ``key`` losses of a history evaluated at the last (largest) scale.

    Args:
        history: a result's history; ``history["scale"]``, when present and not empty,
            names the longest side of each evaluation's image.
        key: the loss term to return.

    Returns:
        A new list of the ``key`` values at the largest scale. A coarse-to-fine history
        runs on across the scales, and losses at different sizes are not comparable, so
        compare runs by these. Without scales: the whole ``history[key]``.
    """
    scales = history.get("scale")
    if not scales:
        return list(history[key])
    final = max(scales)
    return [value for value, scale in zip(history[key], scales) if scale == final]


def pixel_cost(result: Any) -> int:
    """Compute spent by a run, in evaluations x pixels.

    Args:
        result: a :class:`~stylelab.StyleTransferResult` (anything with
            ``config["stages"]``, each stage with ``"evaluations"`` and ``"size"``
            ``(h, w)``).

    Returns:
        ``sum(evaluations * height * width)`` over the stages. VGG-19 is convolutional, so
        one evaluation (forward + backward) costs time in proportion to the image's
        pixels; this cost does not depend on the machine or on what else it is doing.
        Divide by the final size's pixels to count it in full-size evaluations.
    """
    return sum(int(stage["evaluations"]) * int(stage["size"][0]) * int(stage["size"][1]) for stage in result.config["stages"])
