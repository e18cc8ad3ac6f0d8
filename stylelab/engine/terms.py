r"""The terms of the style-transfer objective, each holding its target(s) and its weight.

Gatys et al. (2016, eq. 7) write the loss as a weighted sum,
:math:`L(x) = \alpha L_{content} + \beta L_{style} + \gamma L_{TV}`. Each term here is a
small :class:`torch.nn.Module` that holds what it compares against (features or Gram
matrices of the content and style images, computed once, without gradient) and its weight;
:class:`~stylelab.StyleObjective` is their sum. The losses themselves are the plain
functions of :mod:`stylelab.engine.losses` and :mod:`stylelab.engine.masks`, which the lessons write out.

The layer terms (content, style, guided style) are fed one layer at a time, so that the
objective needs one forward pass for all of them and computes each layer's loss as soon as
the network reaches that layer (see :meth:`~stylelab.VGGFeatures.iter_features`)::

    losses = {name: term.layer_loss(name, features) for name, features in model.iter_features(x, term.layers)}
    value = term.total(losses)          # the weighted term; term(features) does both

Each can be built from its targets directly (a test needs no network) or from images with
``from_image``/``from_images``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .. import validate
from .losses import TV_POWERS, TV_REDUCTIONS, content_loss, gram_matrix, style_loss, tv_loss
from .masks import guided_gram_matrix, layer_mask, mask_list
from .settings import LAYER_WEIGHTINGS
from ..vgg.features import VGGFeatures

__all__ = ["LayerTerm", "ContentTerm", "StyleTerm", "GuidedStyleTerm", "TVTerm", "style_scales"]


def style_scales(model: VGGFeatures, layers: Mapping[str, float], layer_weighting: str = "channels") -> Dict[str, float]:
    r"""Each style layer's factor in the sum: :math:`w_l / N_l^2` (``"channels"``) or :math:`w_l` (``"paper"``).

    ``"channels"`` is the :math:`1/N_l^2` of the authors' reference code (``1e3 / n**2``
    layer weights), :math:`N_l` the layer's channels; ``"paper"`` is eq. 7's :math:`w_l`
    alone (each :func:`~stylelab.style_loss` is :math:`4 E_l`, a constant factor). See
    :data:`stylelab.engine.settings.LAYER_WEIGHTINGS`.
    """
    validate.choice("layer_weighting", layer_weighting, LAYER_WEIGHTINGS)
    arch = model.architecture
    return {name: w / arch.spec(name).out_channels ** 2 if layer_weighting == "channels" else w
            for name, w in layers.items()}


def _start(losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The 0 a sum over ``losses`` starts from (a scalar of their dtype, on their device)."""
    if not losses:
        raise ValueError("A term's total needs the loss of each of its layers; got none.")
    return next(iter(losses.values())).new_zeros(())


class LayerTerm(nn.Module):
    """A term computed from the features of some layers: the base of the content and style terms.

    Subclasses give :meth:`layer_loss` (one layer's unweighted loss) and :meth:`total`
    (the weighted sum over layers). :attr:`layers` are the layers it wants, :attr:`weight`
    the factor of the whole sum.
    """

    def __init__(self, layers: Sequence[str], weight: float) -> None:
        super().__init__()
        self.layers: List[str] = list(layers)
        self.weight = float(weight)

    def layer_loss(self, name: str, features: torch.Tensor) -> torch.Tensor:
        """The unweighted loss of layer ``name`` for the generated image's ``features`` ``(1, C, h, w)``."""
        raise NotImplementedError

    def total(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The weighted term from ``{layer: layer_loss}``, summed in the mapping's order."""
        raise NotImplementedError

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The weighted term for ``{layer: features (1, C, h, w)}`` of the generated image (every layer of :attr:`layers`)."""
        return self.total({name: self.layer_loss(name, features[name]) for name in self.layers})

    def extra_repr(self) -> str:
        return f"layers={self.layers}, weight={self.weight:g}"


class ContentTerm(LayerTerm):
    r"""The content term: :math:`\frac{\alpha}{|C|} \sum_{c \in C} \mathrm{content\_loss}(F_c(x), P_c)`.

    Gatys et al. 2016, eq. 1, in stylelab's conventions (:func:`~stylelab.content_loss` is
    the mean squared difference), averaged over the content layers :math:`C`.

    Args:
        targets: ``{layer: P_c}``, the content image's features ``(1, C, h, w)`` at each
            content layer (held without gradient).
        weight: the factor of the sum over layers, :math:`\alpha / |C|`.
    """

    def __init__(self, targets: Mapping[str, torch.Tensor], weight: float) -> None:
        super().__init__(list(targets), weight)
        for name, target in targets.items():
            self.register_buffer(f"target_{name}", target.detach())

    @classmethod
    @torch.no_grad()
    def from_image(cls, model: VGGFeatures, image: torch.Tensor, layers: Sequence[str],
                   content_weight: float) -> "ContentTerm":
        """The term whose targets are ``model``'s features of ``image`` ``(1, 3, H, W)`` (pixels)
        at ``layers``, with weight ``content_weight / len(layers)``."""
        features = model(image.to(model.device), list(layers))
        targets = {name: features[name].detach().clone() for name in model.architecture.ordered(layers)}
        return cls(targets, float(content_weight) / len(layers))

    @property
    def targets(self) -> Dict[str, torch.Tensor]:
        """``{layer: target features (1, C, h, w)}``."""
        return {name: getattr(self, f"target_{name}") for name in self.layers}

    def layer_loss(self, name: str, features: torch.Tensor) -> torch.Tensor:
        return content_loss(features.float(), getattr(self, f"target_{name}"))

    def total(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        total = _start(losses)
        for value in losses.values():
            total = total + value
        return total * self.weight


class StyleTerm(LayerTerm):
    r"""The style term: :math:`\beta \sum_{l} s_l\, \mathrm{style\_loss}(F_l(x), A_l)`.

    Gatys et al. 2016, eqs. 4-5, in stylelab's conventions (:func:`~stylelab.style_loss`
    is :math:`4 E_l`), with :math:`s_l` the layer's scale (:func:`style_scales`:
    :math:`w_l / N_l^2` or :math:`w_l`). Several style images are blended in Gram space:
    :math:`A_l = \sum_k b_k\, G_l(a_k)`.

    Args:
        targets: ``{layer: A_l}``, the target Gram matrices ``(1, N_l, N_l)`` (held
            without gradient).
        scales: ``{layer: s_l}`` for every layer of ``targets``.
        weight: :math:`\beta`.
    """

    def __init__(self, targets: Mapping[str, Any], scales: Mapping[str, float], weight: float) -> None:
        super().__init__(list(targets), weight)
        self.scales: Dict[str, float] = {name: scales[name] for name in self.layers}
        self._hold(targets)

    def _hold(self, targets: Mapping[str, torch.Tensor]) -> None:
        for name, gram in targets.items():
            self.register_buffer(f"target_{name}", gram.detach())

    @classmethod
    @torch.no_grad()
    def from_images(cls, model: VGGFeatures, images: Sequence[torch.Tensor], blend: Sequence[float],
                    layers: Mapping[str, float], weight: float, layer_weighting: str = "channels") -> "StyleTerm":
        """The term whose targets are the ``blend``-weighted Gram matrices of ``images``
        ``(1, 3, h_k, w_k)`` (pixels) at ``layers`` (``{layer: w_l}``).

        One layer at a time (:meth:`~stylelab.VGGFeatures.iter_features`): only its Gram
        matrix is kept, never the style image's features.
        """
        targets: Dict[str, torch.Tensor] = {}
        for image, b in zip(images, blend):
            for name, value in model.iter_features(image.to(model.device), list(layers)):
                gram = gram_matrix(value.float()) * float(b)
                targets[name] = targets.get(name, 0) + gram
        return cls(targets, style_scales(model, layers, layer_weighting), weight)

    @property
    def targets(self) -> Dict[str, torch.Tensor]:
        """``{layer: target Gram matrix (1, N_l, N_l)}``."""
        return {name: getattr(self, f"target_{name}") for name in self.layers}

    def layer_loss(self, name: str, features: torch.Tensor) -> torch.Tensor:
        return style_loss(features.float(), getattr(self, f"target_{name}"))

    def total(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        total = _start(losses)
        for name, value in losses.items():
            total = total + value * self.scales[name]
        return total * self.weight


class GuidedStyleTerm(StyleTerm):
    r"""The style term with spatial guidance (Gatys et al. 2017, §4): each style in its region.

    A layer's loss sums over the regions :math:`r`:
    :math:`\sum_r \mathrm{mean}\big((G^l_r(x) - A^l_r)^2\big)`, with :math:`G^l_r` the
    guided Gram matrix of the generated image's features inside mask :math:`T^l_r`
    (:func:`~stylelab.engine.masks.guided_gram_matrix`) and :math:`A^l_r` the Gram matrix of
    region :math:`r`'s style image; the term is :math:`\beta \sum_l s_l \cdot` that, as in
    :class:`StyleTerm`. With a single mask of ones at every layer it is :class:`StyleTerm`
    with the same targets (the guided Gram matrix is then the Gram matrix).

    Args:
        targets: ``{layer: [(T^l_r (1, 1, h, w) at the layer's resolution, A^l_r (1, N_l, N_l)), ...]}``;
            a layer's list may be empty (no region reaches it: its loss is 0).
        scales: ``{layer: s_l}`` for every layer of ``targets``.
        weight: :math:`\beta`.
    """

    def _hold(self, targets: Mapping[str, Sequence[Tuple[torch.Tensor, torch.Tensor]]]) -> None:
        self._counts = {name: len(pairs) for name, pairs in targets.items()}
        for name, pairs in targets.items():
            for k, (mask, gram) in enumerate(pairs):
                self.register_buffer(f"mask_{name}_{k}", mask.detach())
                self.register_buffer(f"target_{name}_{k}", gram.detach())

    @classmethod
    @torch.no_grad()
    def from_images(cls, model: VGGFeatures, images: Sequence[torch.Tensor], masks: Sequence[torch.Tensor],
                    layers: Mapping[str, float], weight: float, layer_weighting: str = "channels") -> "GuidedStyleTerm":
        """The term for ``images`` ``(1, 3, h_k, w_k)`` (pixels), one mask ``(1, 1, H, W)`` in
        [0, 1] each at the resolution of the images it will be called on.

        Each mask reaches each layer through :func:`~stylelab.engine.masks.layer_mask`; a region
        too small for a layer (its mask pools to zero there) is skipped at that layer.
        """
        mask_list(masks, len(images))
        device = model.device
        regions: Dict[str, List[Tuple[torch.Tensor, torch.Tensor]]] = {name: [] for name in model.architecture.ordered(layers)}
        for image, mask in zip(images, masks):
            for name, value in model.iter_features(image.to(device), list(layers)):
                small = layer_mask(mask.to(device=device, dtype=torch.float32), name)
                if float(small.max()) > 0:
                    regions[name].append((small, gram_matrix(value.float())))
        return cls(regions, style_scales(model, layers, layer_weighting), weight)

    @property
    def targets(self) -> Dict[str, List[Tuple[torch.Tensor, torch.Tensor]]]:  # type: ignore[override]
        """``{layer: [(mask (1, 1, h, w), target Gram matrix (1, N_l, N_l)), ...]}``."""
        return {name: [(getattr(self, f"mask_{name}_{k}"), getattr(self, f"target_{name}_{k}"))
                       for k in range(self._counts[name])] for name in self.layers}

    def layer_loss(self, name: str, features: torch.Tensor) -> torch.Tensor:
        features = features.float()
        total = features.new_zeros(())
        for k in range(self._counts[name]):
            mask, target = getattr(self, f"mask_{name}_{k}"), getattr(self, f"target_{name}_{k}")
            if mask.shape[-2:] != features.shape[-2:]:
                raise ValueError(
                    f"The masks are {mask.shape[-2]}x{mask.shape[-1]} at layer {name} but the features are "
                    f"{features.shape[-2]}x{features.shape[-1]}; build the objective with masks at the image's size."
                )
            total = total + F.mse_loss(guided_gram_matrix(features, mask), target.expand(features.shape[0], -1, -1))
        return total


class TVTerm(nn.Module):
    r"""The total-variation term: :math:`\gamma\, \mathrm{tv\_loss}(x)`.

    Mahendran & Vedaldi (2015): squared (``power=2``) or absolute (``power=1``) differences
    between neighbouring pixels, their mean or sum (see :func:`~stylelab.tv_loss`).

    Args:
        weight: :math:`\gamma`.
        power: 2 or 1 (:data:`~stylelab.engine.losses.TV_POWERS`).
        reduction: ``"mean"`` or ``"sum"`` (:data:`~stylelab.engine.losses.TV_REDUCTIONS`).
    """

    def __init__(self, weight: float, power: int = 2, reduction: str = "mean") -> None:
        super().__init__()
        self.weight = float(weight)
        self.power = validate.choice("tv_power", power, TV_POWERS)
        self.reduction = validate.choice("tv_reduction", reduction, TV_REDUCTIONS)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """The weighted term for ``image`` ``(1, 3, H, W)`` (in whatever units it is given)."""
        return tv_loss(image, self.power, self.reduction) * self.weight

    def extra_repr(self) -> str:
        return f"weight={self.weight:g}, power={self.power}, reduction={self.reduction!r}"
