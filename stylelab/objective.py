r"""The Gatys et al. objective: targets computed once, then a weighted sum of losses.

For a generated image :math:`x`, content image :math:`p` and style image(s) :math:`a`:

.. math::

    L(x) = \alpha \sum_{c} \frac{1}{|C|}\, \mathrm{content\_loss}(F_c(x), F_c(p))
         + \beta \sum_{l} w_l \, \frac{\mathrm{style\_loss}(F_l(x), A_l)}{N_l^2}
         + \gamma \, \mathrm{tv\_loss}(x)

with :math:`\alpha, \beta, \gamma` the content, style and TV weights, :math:`w_l` the
style layer weights and :math:`N_l` the channels of layer :math:`l`. This is eq. 7 of
Gatys et al. (2016) in stylelab's conventions (see :mod:`stylelab.losses`). The extra
:math:`1/N_l^2` per style layer follows the authors' reference PyTorch code
(``1e3 / n**2`` layer weights); it is the same objective as the PyTorch tutorial's
Gram matrices divided by :math:`C H W`, so the well-tested weights carry over.

Several style images are blended in Gram space: :math:`A_l = \sum_k b_k\, G_l(a_k)` with
blend weights :math:`b_k \ge 0` that sum to 1.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Sequence

import torch

from .layers import LAYER_NAMES, spec
from .losses import content_loss, gram_matrix, style_loss, tv_loss
from .vgg import VGGFeatures

__all__ = ["StyleObjective"]


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

    Calling the objective on an image returns a dict of scalar tensors: ``"total"``,
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
    ) -> None:
        self.model = model
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        use_content = content is not None and self.content_weight > 0
        use_style = len(styles) > 0 and self.style_weight > 0
        self.content_layers: List[str] = list(content_layers) if use_content else []
        self.style_layers: Dict[str, float] = dict(style_layers) if use_style else {}
        wanted = set(self.content_layers) | set(self.style_layers)
        self.layers: List[str] = [name for name in LAYER_NAMES if name in wanted]
        with torch.no_grad():
            self.content_targets: Dict[str, torch.Tensor] = {}
            if self.content_layers:
                feats = model(content.to(model.device), self.content_layers)
                self.content_targets = {name: feats[name].detach().clone() for name in self.content_layers}
            self.style_targets: Dict[str, torch.Tensor] = {}
            if self.style_layers:
                for image, weight in zip(styles, blend):
                    feats = model(image.to(model.device), list(self.style_layers))
                    for name, value in feats.items():
                        gram = gram_matrix(value.float()) * float(weight)
                        self.style_targets[name] = self.style_targets.get(name, 0) + gram
        # 1 / N_l^2 of the reference implementation, folded into each layer's weight.
        self._style_scale = {name: w / spec(name).out_channels ** 2 for name, w in self.style_layers.items()}

    def __call__(self, image: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Loss terms for ``image`` ``(1, 3, H, W)``; differentiable with respect to it."""
        terms: Dict[str, torch.Tensor] = {}
        zero = image.new_zeros(())
        content_term, style_term = zero, zero
        if self.layers:
            feats = self.model(image, self.layers)
            for name in self.content_layers:
                value = content_loss(feats[name].float(), self.content_targets[name])
                terms[f"content:{name}"] = value
                content_term = content_term + value
            if self.content_layers:
                content_term = content_term * (self.content_weight / len(self.content_layers))
            for name, scale in self._style_scale.items():
                value = style_loss(feats[name].float(), self.style_targets[name])
                terms[f"style:{name}"] = value
                style_term = style_term + value * scale
            style_term = style_term * self.style_weight
        tv_term = tv_loss(image) * self.tv_weight if self.tv_weight > 0 else zero
        terms["content"] = content_term
        terms["style"] = style_term
        terms["tv"] = tv_term
        terms["total"] = content_term + style_term + tv_term
        return terms
