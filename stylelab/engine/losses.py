r"""The losses of neural style transfer, as pure functions on tensors.

Conventions (Gatys, Ecker & Bethge, CVPR 2016, "Image Style Transfer Using Convolutional
Neural Networks"), for one layer with :math:`N` channels and :math:`M = H \cdot W`
positions, features :math:`F` (generated image) and :math:`P` (content image), Gram
matrices :math:`G` (generated) and :math:`A` (style image):

* the paper's content loss (eq. 1) is :math:`\tfrac12 \sum_{ij} (F_{ij} - P_{ij})^2`;
  :func:`content_loss` is the **mean** :math:`\tfrac{1}{NM} \sum_{ij} (F_{ij} - P_{ij})^2`,
  i.e. the paper's value times :math:`2 / (N M)`, a constant factor that a weight absorbs;
* the paper's Gram matrix (eq. 3) is the raw :math:`F F^\top`; :func:`gram_matrix` divides
  it by :math:`M`, so it is the average over positions and does not grow with image size;
* the paper's layer style loss (eq. 4) is
  :math:`E_l = \tfrac{1}{4 N^2 M^2} \sum_{ij} (G_{ij} - A_{ij})^2` on raw Gram matrices;
  :func:`style_loss` is the mean squared difference of the normalised Gram matrices,
  which is exactly :math:`4 E_l`.

All functions are differentiable and work for any float dtype and device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["gram_matrix", "content_loss", "style_loss", "tv_loss", "TV_POWERS", "TV_REDUCTIONS"]

#: The exponents :func:`tv_loss` takes: 2 squares the differences, 1 takes their absolute value.
TV_POWERS = (2, 1)
#: How :func:`tv_loss` reduces the differences: their mean, or their sum.
TV_REDUCTIONS = ("mean", "sum")


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    r"""Gram matrix of feature maps, normalised by the number of positions.

    :math:`G_{ij} = \frac{1}{HW} \sum_k F_{ik} F_{jk}`: entry ``(i, j)`` is the average
    over positions of channel i times channel j, i.e. how strongly the two features fire
    together anywhere in the image (Gatys et al. 2016, eq. 3, divided by ``H * W``).

    Args:
        features: ``(B, C, H, W)``.

    Returns:
        ``(B, C, C)``, symmetric.
    """
    if features.dim() != 4:
        raise ValueError(
            f"gram_matrix expects features of shape (B, C, H, W); got {tuple(features.shape)}. "
            "Add a batch dimension with features.unsqueeze(0)."
        )
    batch, channels, height, width = features.shape
    if features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        # Channels-last memory holds (B, H, W, C): take F^T as a view instead of copying
        # to (B, C, H*W), so that the gradient keeps the same layout as the network's.
        flat_t = features.permute(0, 2, 3, 1).reshape(batch, height * width, channels)
        return torch.bmm(flat_t.transpose(1, 2), flat_t) / (height * width)
    flat = features.reshape(batch, channels, height * width)
    return torch.bmm(flat, flat.transpose(1, 2)) / (height * width)


def content_loss(generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Mean squared difference of two feature maps.

    ``mean((generated - target) ** 2)`` over every element; the paper's
    :math:`\tfrac12\sum (F - P)^2` (eq. 1) equals this times ``numel / 2``.

    Args:
        generated: ``(B, C, H, W)`` features of the image being optimised.
        target: features of the content image, same shape (treated as a constant).

    Returns:
        A scalar tensor, 0 when the features are identical.
    """
    if generated.shape != target.shape:
        raise ValueError(
            f"content_loss needs features of the same shape; got {tuple(generated.shape)} and "
            f"{tuple(target.shape)}. Compute both at the same layer from images of the same size."
        )
    return F.mse_loss(generated, target.detach())


def style_loss(generated_features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    r"""Mean squared difference between the Gram matrix of ``generated_features`` and a target.

    ``mean((gram_matrix(generated_features) - target_gram) ** 2)``, which equals
    :math:`4 E_l` of Gatys et al. 2016, eq. 4 (see the module docstring).

    Args:
        generated_features: ``(B, C, H, W)``.
        target_gram: ``(B, C, C)`` or ``(C, C)``, e.g. ``gram_matrix`` of the style image's
            features at the same layer (the style image may have another size).

    Returns:
        A scalar tensor.
    """
    gram = gram_matrix(generated_features)
    if target_gram.shape[-2:] != gram.shape[-2:]:
        raise ValueError(
            f"style_loss: the target Gram matrix is {tuple(target_gram.shape)} but these features "
            f"give {tuple(gram.shape)}; compute the target at the same layer."
        )
    return F.mse_loss(gram, target_gram.detach().expand_as(gram))


def tv_loss(image: torch.Tensor, power: int = 2, reduction: str = "mean") -> torch.Tensor:
    r"""Total-variation loss: how much neighbouring pixels differ.

    With the defaults, ``mean(dx ** 2) + mean(dy ** 2)`` with ``dx`` the differences
    between horizontal neighbours and ``dy`` between vertical ones (the squared, "beta = 2"
    total variation of Mahendran & Vedaldi, 2015). 0 for a constant image; for a
    horizontal ramp that rises by ``d`` per pixel it is ``d ** 2``. Penalising it removes
    high-frequency noise.

    ``power=1`` uses ``|dx|`` and ``|dy|`` instead (the anisotropic total variation of
    ``tf.image.total_variation`` and of d2l.ai's chapter), which penalises a large jump
    less than squaring does and so keeps edges sharper; ``reduction="sum"`` adds the
    differences up instead of averaging them, so the term grows with the image's size.

    Args:
        image: ``(B, C, H, W)`` with ``H, W >= 2``.
        power: 2 or 1 (:data:`TV_POWERS`).
        reduction: ``"mean"`` or ``"sum"`` (:data:`TV_REDUCTIONS`), over every difference
            of every channel, horizontal and vertical ones separately.

    Returns:
        A scalar tensor.
    """
    if image.dim() != 4 or image.shape[-1] < 2 or image.shape[-2] < 2:
        raise ValueError(
            f"tv_loss expects an image of shape (B, C, H, W) with H, W >= 2; got {tuple(image.shape)}."
        )
    if power not in TV_POWERS or reduction not in TV_REDUCTIONS:
        raise ValueError(f"tv_loss takes power 2 or 1 and reduction 'mean' or 'sum'; got {power!r} and {reduction!r}.")
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx, dy = (dx.pow(2), dy.pow(2)) if power == 2 else (dx.abs(), dy.abs())
    return dx.mean() + dy.mean() if reduction == "mean" else dx.sum() + dy.sum()
