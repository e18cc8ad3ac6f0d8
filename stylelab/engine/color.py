r"""Colour control (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style
Transfer", §5): keep the content photo's colours while taking the style's brush strokes.

Two ways, both plain functions on ``(1, 3, H, W)`` images in [0, 1]:

**Luminance-only transfer** (§5.1). Split every image into luminance :math:`Y` and two
chrominance channels :math:`I, Q` (the YIQ colour space of NTSC television)::

    Y = 0.299 R + 0.587 G + 0.114 B      (brightness)
    I = 0.596 R - 0.274 G - 0.322 B      (orange-blue)
    Q = 0.211 R - 0.523 G + 0.312 B      (purple-green)

Style transfer then runs on luminance alone, and the content's :math:`I, Q` are put back
at the end, so the result has exactly the content's colours (up to clipping to [0, 1]).
The style's luminance is first matched to the content's mean and spread,

.. math::  Y_S' = \frac{\sigma_C}{\sigma_S}\,(Y_S - \mu_S) + \mu_C ,

so that a dark painting does not darken a bright photo. VGG-19 expects three channels,
so a luminance image is fed to it as a grey RGB image (:math:`Y` in all three channels,
as the paper does); because the three weights of :math:`Y` sum to 1, the grey image has
the same luminance :math:`Y`.

**Colour histogram matching** (§5.2). Recolour the *style* image so that its pixels'
colour mean and covariance equal the content's, then run the ordinary transfer. The
paper uses the linear map :math:`x_S' = A x_S + b` on every pixel's RGB vector, with

.. math::  b = \mu_C - A\mu_S, \qquad A\,\Sigma_S\,A^\top = \Sigma_C ,

which any :math:`A = \Sigma_C^{1/2}\,\Sigma_S^{-1/2}` satisfies for a square root
:math:`\Sigma^{1/2}` with :math:`\Sigma^{1/2}\Sigma^{\top/2} = \Sigma`. ``mode="cholesky"``
uses the Cholesky factors :math:`L L^\top = \Sigma`; ``mode="eigen"`` (the default) uses
the symmetric square roots :math:`U \Lambda^{1/2} U^\top` from the eigen-decomposition,
which, unlike Cholesky, does not depend on the order of the colour channels. Both give a
style image with exactly the content's colour mean and covariance before the result is
clipped to [0, 1].
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch

from ..errors import ParameterError

__all__ = [
    "network_inputs",
    "restore_colors",
    "RGB_TO_YIQ",
    "rgb_to_yiq",
    "yiq_to_rgb",
    "luminance",
    "gray_to_rgb",
    "match_luminance",
    "luminance_image",
    "combine_luminance",
    "color_statistics",
    "match_color_histogram",
]

#: Rows give Y, I, Q as combinations of R, G, B (NTSC 1953 coefficients).
RGB_TO_YIQ = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [0.5959, -0.2746, -0.3213],
        [0.2115, -0.5227, 0.3112],
    ],
    dtype=torch.float64,
)
_YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)
_MODES = ("eigen", "cholesky")


def _check_image(image: torch.Tensor, name: str = "image") -> None:
    if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ParameterError(
            f"{name} must be a (B, 3, H, W) RGB tensor; got {shape}. Load it with stylelab.load_image(...)."
        )


def _apply_matrix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(image.dtype).to(image.device), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """RGB ``(B, 3, H, W)`` -> YIQ ``(B, 3, H, W)``.

    Y (luminance) lies in [0, 1] for RGB in [0, 1]; I lies in about [-0.6, 0.6] and Q in
    about [-0.52, 0.52]. Exactly invertible by :func:`yiq_to_rgb`.
    """
    _check_image(image)
    return _apply_matrix(RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """YIQ ``(B, 3, H, W)`` -> RGB ``(B, 3, H, W)`` (not clipped: clamp for display)."""
    _check_image(image, "the YIQ image")
    return _apply_matrix(_YIQ_TO_RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Luminance ``Y = 0.299 R + 0.587 G + 0.114 B``: ``(B, 3, H, W)`` -> ``(B, 1, H, W)`` in [0, 1]."""
    return rgb_to_yiq(image)[:, :1]


def gray_to_rgb(gray: torch.Tensor) -> torch.Tensor:
    """A one-channel image ``(B, 1, H, W)`` repeated into a grey RGB image ``(B, 3, H, W)``.

    This is how luminance is shown to VGG-19; the grey image's own luminance is ``gray``.
    """
    if not isinstance(gray, torch.Tensor) or gray.dim() != 4 or gray.shape[1] != 1:
        shape = tuple(gray.shape) if isinstance(gray, torch.Tensor) else type(gray).__name__
        raise ParameterError(f"gray_to_rgb expects a (B, 1, H, W) tensor; got {shape}.")
    return gray.expand(-1, 3, -1, -1).contiguous()


def match_luminance(style_y: torch.Tensor, content_y: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    r"""Shift and scale ``style_y`` to the mean and standard deviation of ``content_y``.

    :math:`Y_S' = \frac{\sigma_C}{\sigma_S}(Y_S - \mu_S) + \mu_C` (Gatys et al. 2017,
    §5.1), clipped to [0, 1]. Both are ``(B, 1, H, W)`` luminance images of any sizes.
    """
    mu_s, sigma_s = style_y.mean(), style_y.std(unbiased=False)
    mu_c, sigma_c = content_y.mean(), content_y.std(unbiased=False)
    return ((style_y - mu_s) * (sigma_c / (sigma_s + eps)) + mu_c).clamp(0.0, 1.0)


def luminance_image(image: torch.Tensor) -> torch.Tensor:
    """The grey RGB image ``(B, 3, H, W)`` made of ``image``'s luminance in every channel."""
    return gray_to_rgb(luminance(image))


def combine_luminance(luma: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
    """Put the colours of ``color`` on the luminance of ``luma``.

    Takes Y from ``luma`` (any RGB image, typically the stylised grey image) and I, Q
    from ``color`` (the content photo), converts back to RGB and clips to [0, 1]. Both
    are ``(1, 3, H, W)`` of the same size. Away from clipping, the result's I and Q are
    exactly ``color``'s and its Y exactly ``luma``'s.
    """
    _check_image(luma, "luma")
    _check_image(color, "color")
    if luma.shape[-2:] != color.shape[-2:]:
        raise ParameterError(
            f"combine_luminance needs images of the same size; got {tuple(luma.shape[-2:])} and "
            f"{tuple(color.shape[-2:])}. Resize one with stylelab.resize."
        )
    yiq = torch.cat([luminance(luma), rgb_to_yiq(color.to(luma.device, luma.dtype))[:, 1:]], dim=1)
    return yiq_to_rgb(yiq).clamp(0.0, 1.0)


def color_statistics(image: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""Mean colour ``(3,)`` and colour covariance ``(3, 3)`` over the pixels of ``(1, 3, H, W)``.

    :math:`\mu = \frac1M\sum_k x_k`, :math:`\Sigma = \frac1M\sum_k (x_k-\mu)(x_k-\mu)^\top`
    with :math:`x_k` the RGB vector of pixel k and M the number of pixels (float64).
    """
    _check_image(image)
    pixels = image.detach().double().permute(1, 0, 2, 3).reshape(3, -1)
    mean = pixels.mean(dim=1)
    centred = pixels - mean[:, None]
    return mean, centred @ centred.T / pixels.shape[1]


def _sqrt_factor(cov: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "cholesky":
        return torch.linalg.cholesky(cov)
    values, vectors = torch.linalg.eigh(cov)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T


def match_color_histogram(
    source: torch.Tensor,
    target: torch.Tensor,
    *,
    mode: str = "eigen",
    eps: float = 1e-5,
    clamp: bool = True,
) -> torch.Tensor:
    r"""Recolour ``source`` so that its colour mean and covariance equal ``target``'s.

    For style transfer with the content's colours, ``source`` is the style image and
    ``target`` the content image (Gatys et al. 2017, §5.2): every pixel becomes
    :math:`A x + b` with :math:`A = \Sigma_T^{1/2}\Sigma_S^{-1/2}` and
    :math:`b = \mu_T - A\mu_S` (see the module docstring). ``eps`` is added to both
    covariances' diagonals so that a flat-coloured image does not divide by zero.

    Args:
        source: ``(1, 3, H, W)`` in [0, 1], the image to recolour.
        target: ``(1, 3, h, w)`` in [0, 1], any size, whose colour statistics are copied.
        mode: ``"eigen"`` (symmetric square roots) or ``"cholesky"``.
        eps: regulariser added to the covariance diagonals.
        clamp: clip the result to [0, 1] (then the statistics match only approximately
            where many pixels clip).

    Returns:
        ``(1, 3, H, W)``, same dtype and device as ``source``.
    """
    if mode not in _MODES:
        raise ParameterError(f"mode must be 'eigen' or 'cholesky', not {mode!r}.")
    _check_image(source, "source")
    _check_image(target, "target")
    mu_s, cov_s = color_statistics(source)
    mu_t, cov_t = color_statistics(target)
    eye = torch.eye(3, dtype=torch.float64)
    root_s = _sqrt_factor(cov_s + eps * eye, mode)
    root_t = _sqrt_factor(cov_t + eps * eye, mode)
    matrix = root_t @ torch.linalg.inv(root_s)
    pixels = source.detach().double().permute(1, 0, 2, 3).reshape(3, -1)
    mapped = matrix @ (pixels - mu_s[:, None]) + mu_t[:, None]
    out = mapped.reshape(3, source.shape[0], *source.shape[-2:]).permute(1, 0, 2, 3)
    out = out.to(dtype=source.dtype, device=source.device)
    return out.clamp(0.0, 1.0) if clamp else out


# --------------------------------------------------------------------------- in a run


def network_inputs(
    mode: Optional[str], content: Optional[torch.Tensor], styles: Sequence[torch.Tensor]
) -> Tuple[Optional[torch.Tensor], List[torch.Tensor]]:
    """The content and style images the network sees under colour control ``mode``.

    ``"luminance"``: grey images (the styles' luminance matched to the content's, §5.1);
    ``"histogram"``: the styles recoloured to the content's colours (§5.2); ``None``: the
    images as given. The run's pre-step; :func:`restore_colors` is its post-step.
    """
    if mode == "luminance":
        content_y = luminance(content)
        return gray_to_rgb(content_y), [gray_to_rgb(match_luminance(luminance(s), content_y)) for s in styles]
    if mode == "histogram":
        return content, [match_color_histogram(s, content) for s in styles]
    return content, list(styles)


def restore_colors(mode: Optional[str], image: torch.Tensor, content: Optional[torch.Tensor]) -> torch.Tensor:
    """The run's post-step: under ``"luminance"`` the content's colours on ``image``'s
    luminance (:func:`combine_luminance`); otherwise ``image`` as it is."""
    return combine_luminance(image, content) if mode == "luminance" else image
