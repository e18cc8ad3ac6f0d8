r"""The Gatys et al. objective: the sum of its terms, each holding targets computed once.

For a generated image :math:`x`, content image :math:`p` and style image(s) :math:`a`:

.. math::

    L(x) = \alpha \sum_{c} \frac{1}{|C|}\, \mathrm{content\_loss}(F_c(x), F_c(p))
         + \beta \sum_{l} w_l \, \frac{\mathrm{style\_loss}(F_l(x), A_l)}{N_l^2}
         + \gamma \, \mathrm{tv\_loss}(x)

with :math:`\alpha, \beta, \gamma` the content, style and TV weights, :math:`w_l` the
style layer weights and :math:`N_l` the channels of layer :math:`l`. The objective is a
function of the pixels :math:`x` (RGB in [0, 1]) or, with ``image_units="network"``, of the
network's input, :math:`x` after the network's preprocessing (see :data:`stylelab.engine.settings.IMAGE_UNITS`); the
TV term measures whichever it is given. This is eq. 7 of
Gatys et al. (2016) in stylelab's conventions (see :mod:`stylelab.engine.losses`). The extra
:math:`1/N_l^2` per style layer follows the authors' reference PyTorch code
(``1e3 / n**2`` layer weights); it is the same objective as the PyTorch tutorial's
Gram matrices divided by :math:`C H W`, so the well-tested weights carry over.

Several style images are blended in Gram space: :math:`A_l = \sum_k b_k\, G_l(a_k)` with
blend weights :math:`b_k \ge 0` that sum to 1.

With spatial masks (Gatys et al. 2017, §4; one mask per style image), style image
:math:`k` applies only inside its region :math:`T_k`: the layer's style loss becomes
:math:`\sum_k \mathrm{style\_loss}_{T_k}(F_l(x), G_l(a_k))`, comparing the *guided* Gram
matrix of the region (:func:`stylelab.engine.masks.guided_gram_matrix`) with the style image's
Gram matrix; blend weights are not used then.

Each of the three terms is a module of :mod:`stylelab.engine.terms` (:class:`~stylelab.engine.terms.ContentTerm`,
:class:`~stylelab.engine.terms.StyleTerm` or :class:`~stylelab.engine.terms.GuidedStyleTerm`,
:class:`~stylelab.engine.terms.TVTerm`) holding its targets and weight; ``print(objective.terms)``
shows them. One forward pass of the network feeds every term.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from .. import validate
from .losses import TV_POWERS, TV_REDUCTIONS
from .settings import IMAGE_UNITS, LAYER_WEIGHTINGS
from .terms import ContentTerm, GuidedStyleTerm, LayerTerm, StyleTerm, TVTerm
from ..vgg.features import VGGFeatures

__all__ = ["StyleObjective", "active_layers"]

def active_layers(content_layers: Sequence[str], style_layers: Mapping[str, float], *, has_content: bool,
                  has_style: bool, content_weight: float, style_weight: float) -> Tuple[List[str], Dict[str, float]]:
    """The layers of the terms that are on: ``(content layers, {style layer: weight})``.

    The content term is on when there is a content image and ``content_weight > 0``; the
    style term when there is a style image, ``style_weight > 0`` and some style layer has a
    weight above 0. A term that is off has no layers. This is the one rule for both the
    objective and the checks made before a run (:mod:`stylelab.engine.prepare`).
    """
    use_content = has_content and content_weight > 0
    use_style = has_style and style_weight > 0 and any(w > 0 for w in style_layers.values())
    return (list(content_layers) if use_content else []), (dict(style_layers) if use_style else {})


class StyleObjective:
    """Evaluates the style-transfer loss of an image; all targets are fixed at creation.

    Args:
        model: the feature extractor.
        content: ``(1, 3, H, W)`` content image, or ``None`` for no content term.
        styles: style images ``(1, 3, h_k, w_k)`` (any sizes); empty for no style term.
        content_layers: layers whose activations must match the content image's.
        style_layers: ``{layer: weight}``.
        blend: one weight per style image, ``>= 0``, summing to 1.
        content_weight, style_weight, tv_weight: :math:`\\alpha, \\beta, \\gamma` above.
        masks: optional, one ``(1, 1, H, W)`` mask in [0, 1] per style image, at the
            resolution of the images this objective will be called on (see
            :mod:`stylelab.engine.masks`); ``blend`` is then ignored.
        layer_weighting: ``"channels"`` (the :math:`1/N_l^2` above) or ``"paper"`` (without
            it); see :data:`stylelab.engine.settings.LAYER_WEIGHTINGS`.
        tv_power, tv_reduction: the TV term's exponent and reduction (see
            :func:`~stylelab.tv_loss`).
        image_units: what the objective is called with (:data:`stylelab.engine.settings.IMAGE_UNITS`): the pixels, or
            the network's input (:meth:`~stylelab.VGGFeatures.normalize` of the pixels); the
            TV term measures the image in these units.

    Calling the objective on an image (in ``image_units``) returns a dict of scalar tensors: ``"total"``,
    the weighted terms ``"content"``, ``"style"``, ``"tv"``, and each layer's unweighted
    loss as ``"content:relu4_2"``, ``"style:relu1_1"``, ... A term that is off is 0.

    Attributes:
        terms: the terms that are on, an :class:`torch.nn.ModuleDict` with keys among
            ``"content"``, ``"style"``, ``"tv"``; ``"total"`` is the sum of their values.
        layers: every layer a term needs, in network order (one forward pass computes them).
    """

    def __init__(
        self,
        model: VGGFeatures,
        content: torch.Tensor | None,
        styles: Sequence[torch.Tensor],
        *,
        content_layers: Sequence[str],
        style_layers: Mapping[str, float],
        blend: Sequence[float],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
        masks: Optional[Sequence[torch.Tensor]] = None,
        layer_weighting: str = "channels",
        tv_power: int = 2,
        tv_reduction: str = "mean",
        image_units: str = "pixels",
    ) -> None:
        validate.choice("layer_weighting", layer_weighting, LAYER_WEIGHTINGS)
        self.tv_power = validate.choice("tv_power", tv_power, TV_POWERS)
        self.tv_reduction = validate.choice("tv_reduction", tv_reduction, TV_REDUCTIONS)
        self.image_units = validate.choice("image_units", image_units, IMAGE_UNITS)
        self.model = model
        self.layer_weighting = layer_weighting
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        self.content_layers, self.style_layers = active_layers(
            content_layers, style_layers, has_content=content is not None, has_style=len(styles) > 0,
            content_weight=self.content_weight, style_weight=self.style_weight)
        wanted = set(self.content_layers) | set(self.style_layers)
        self.layers: List[str] = model.architecture.ordered(wanted) if wanted else []
        #: The terms that are on, by name ("content", "style", "tv"); the objective is their sum.
        self.terms = nn.ModuleDict()
        if self.content_layers:
            self.terms["content"] = ContentTerm.from_image(model, content, self.content_layers, self.content_weight)
        if self.style_layers and masks is not None:
            self.terms["style"] = GuidedStyleTerm.from_images(model, styles, masks, self.style_layers,
                                                              self.style_weight, layer_weighting)
        elif self.style_layers:
            self.terms["style"] = StyleTerm.from_images(model, styles, blend, self.style_layers, self.style_weight,
                                                        layer_weighting)
        if self.tv_weight > 0:
            self.terms["tv"] = TVTerm(self.tv_weight, self.tv_power, self.tv_reduction)

    def __call__(self, image: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Loss terms for ``image`` ``(1, 3, H, W)`` in :attr:`image_units`; differentiable with respect to it."""
        values: Dict[str, torch.Tensor] = {}
        layer_terms = {key: term for key, term in self.terms.items() if isinstance(term, LayerTerm)}
        losses: Dict[str, Dict[str, torch.Tensor]] = {key: {} for key in layer_terms}
        if self.layers:
            # One forward pass for every term; each layer's losses are computed as soon as it is reached
            # (see VGGFeatures.iter_features): the backward pass then needs less memory at peak.
            preprocessed = self.image_units == "network"
            for name, features in self.model.iter_features(image, self.layers, preprocessed=preprocessed):
                for key, term in layer_terms.items():
                    if name in term.layers:
                        losses[key][name] = values[f"{key}:{name}"] = term.layer_loss(name, features)
        zero = image.new_zeros(())
        weighted = {key: term.total(losses[key]) for key, term in layer_terms.items()}
        weighted["tv"] = self.terms["tv"](image) if "tv" in self.terms else zero
        for key in ("content", "style", "tv"):
            values[key] = weighted.get(key, zero)
        values["total"] = values["content"] + values["style"] + values["tv"]
        return values

    def __repr__(self) -> str:
        return f"StyleObjective(image_units={self.image_units!r}, terms={self.terms})"
