r"""The Gatys et al. objective: targets computed once, then a weighted sum of losses.

For a generated image :math:`x`, content image :math:`p` and style image(s) :math:`a`:

.. math::

    L(x) = \alpha \sum_{c} \frac{1}{|C|}\, \mathrm{content\_loss}(F_c(x), F_c(p))
         + \beta \sum_{l} w_l \, \frac{\mathrm{style\_loss}(F_l(x), A_l)}{N_l^2}
         + \gamma \, \mathrm{tv\_loss}(x)

with :math:`\alpha, \beta, \gamma` the content, style and TV weights, :math:`w_l` the
style layer weights and :math:`N_l` the channels of layer :math:`l`. The objective is a
function of the pixels :math:`x` (RGB in [0, 1]) or, with ``image_units="network"``, of the
network's input, :math:`x` after the network's preprocessing (see :data:`stylelab.settings.IMAGE_UNITS`); the
TV term measures whichever it is given. This is eq. 7 of
Gatys et al. (2016) in stylelab's conventions (see :mod:`stylelab.losses`). The extra
:math:`1/N_l^2` per style layer follows the authors' reference PyTorch code
(``1e3 / n**2`` layer weights); it is the same objective as the PyTorch tutorial's
Gram matrices divided by :math:`C H W`, so the well-tested weights carry over.

Several style images are blended in Gram space: :math:`A_l = \sum_k b_k\, G_l(a_k)` with
blend weights :math:`b_k \ge 0` that sum to 1.

With spatial masks (Gatys et al. 2017, §4; one mask per style image), style image
:math:`k` applies only inside its region :math:`T_k`: the layer's style loss becomes
:math:`\sum_k \mathrm{style\_loss}_{T_k}(F_l(x), G_l(a_k))`, comparing the *guided* Gram
matrix of the region (:func:`stylelab.masks.guided_gram_matrix`) with the style image's
Gram matrix; blend weights are not used then.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .. import validate
from .losses import TV_POWERS, TV_REDUCTIONS, content_loss, gram_matrix, style_loss, tv_loss
from .masks import guided_gram_matrix, layer_mask, mask_list
from .settings import IMAGE_UNITS, LAYER_WEIGHTINGS
from ..vgg.features import VGGFeatures

__all__ = ["StyleObjective", "active_layers"]

def active_layers(content_layers: Sequence[str], style_layers: Mapping[str, float], *, has_content: bool,
                  has_style: bool, content_weight: float, style_weight: float) -> Tuple[List[str], Dict[str, float]]:
    """The layers of the terms that are on: ``(content layers, {style layer: weight})``.

    The content term is on when there is a content image and ``content_weight > 0``; the
    style term when there is a style image, ``style_weight > 0`` and some style layer has a
    weight above 0. A term that is off has no layers. This is the one rule for both the
    objective and the checks made before a run (:mod:`stylelab.prepare`).
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
            :mod:`stylelab.masks`); ``blend`` is then ignored.
        layer_weighting: ``"channels"`` (the :math:`1/N_l^2` above) or ``"paper"`` (without
            it); see :data:`stylelab.settings.LAYER_WEIGHTINGS`.
        tv_power, tv_reduction: the TV term's exponent and reduction (see
            :func:`~stylelab.tv_loss`).
        image_units: what the objective is called with (:data:`stylelab.settings.IMAGE_UNITS`): the pixels, or
            the network's input (:meth:`~stylelab.VGGFeatures.normalize` of the pixels); the
            TV term measures the image in these units.

    Calling the objective on an image (in ``image_units``) returns a dict of scalar tensors: ``"total"``,
    the weighted terms ``"content"``, ``"style"``, ``"tv"``, and each layer's unweighted
    loss as ``"content:relu4_2"``, ``"style:relu1_1"``, ...
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
        arch = model.architecture
        wanted = set(self.content_layers) | set(self.style_layers)
        self.layers: List[str] = arch.ordered(wanted) if wanted else []
        with torch.no_grad():
            self.content_targets: Dict[str, torch.Tensor] = {}
            if self.content_layers:
                feats = model(content.to(model.device), self.content_layers)
                self.content_targets = {name: feats[name].detach().clone() for name in self.content_layers}
            self.style_targets: Dict[str, torch.Tensor] = {}
            self.region_targets: Dict[str, List[tuple]] = {}
            if self.style_layers and masks is not None:
                self._set_region_targets(styles, masks)
            elif self.style_layers:
                for image, weight in zip(styles, blend):
                    # One layer at a time: only its Gram matrix is kept, not its features.
                    for name, value in model.iter_features(image.to(model.device), list(self.style_layers)):
                        gram = gram_matrix(value.float()) * float(weight)
                        self.style_targets[name] = self.style_targets.get(name, 0) + gram
        # "channels": the 1/N_l^2 of the reference implementation, folded into each layer's
        # weight; "paper": eq. 7's w_l alone (each style_loss is 4 E_l, a constant factor).
        self._style_scale = {
            name: w / arch.spec(name).out_channels ** 2 if layer_weighting == "channels" else w
            for name, w in self.style_layers.items()
        }

    def _set_region_targets(self, styles: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]) -> None:
        """Per layer, a list of ``(mask at the layer's resolution, style Gram matrix)``."""
        mask_list(masks, len(styles))
        device = self.model.device
        for image, mask in zip(styles, masks):
            for name, value in self.model.iter_features(image.to(device), list(self.style_layers)):
                small = layer_mask(mask.to(device=device, dtype=torch.float32), name)
                if float(small.max()) > 0:  # a region too small for this layer is skipped there
                    self.region_targets.setdefault(name, []).append((small, gram_matrix(value.float())))

    def __call__(self, image: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Loss terms for ``image`` ``(1, 3, H, W)`` in :attr:`image_units`; differentiable with respect to it."""
        terms: Dict[str, torch.Tensor] = {}
        zero = image.new_zeros(())
        content_term, style_term = zero, zero
        if self.layers:
            # Each layer's losses are computed as soon as the forward pass reaches it (see
            # VGGFeatures.iter_features): the backward pass then needs less memory at peak.
            preprocessed = self.image_units == "network"
            for name, features in self.model.iter_features(image, self.layers, preprocessed=preprocessed):
                if name in self.content_targets:
                    value = content_loss(features.float(), self.content_targets[name])
                    terms[f"content:{name}"] = value
                    content_term = content_term + value
                if name in self._style_scale:
                    value = self._layer_style_loss(name, features.float())
                    terms[f"style:{name}"] = value
                    style_term = style_term + value * self._style_scale[name]
            if self.content_layers:
                content_term = content_term * (self.content_weight / len(self.content_layers))
            style_term = style_term * self.style_weight
        tv_term = tv_loss(image, self.tv_power, self.tv_reduction) * self.tv_weight if self.tv_weight > 0 else zero
        terms["content"] = content_term
        terms["style"] = style_term
        terms["tv"] = tv_term
        terms["total"] = content_term + style_term + tv_term
        return terms

    def _layer_style_loss(self, name: str, features: torch.Tensor) -> torch.Tensor:
        """Unweighted style loss of one layer: plain, or summed over the masked regions."""
        if name in self.style_targets:
            return style_loss(features, self.style_targets[name])
        total = features.new_zeros(())
        for mask, target in self.region_targets.get(name, []):
            if mask.shape[-2:] != features.shape[-2:]:
                raise ValueError(
                    f"The masks are {mask.shape[-2]}x{mask.shape[-1]} at layer {name} but the features are "
                    f"{features.shape[-2]}x{features.shape[-1]}; build the objective with masks at the image's size."
                )
            total = total + F.mse_loss(guided_gram_matrix(features, mask), target.expand(features.shape[0], -1, -1))
        return total
