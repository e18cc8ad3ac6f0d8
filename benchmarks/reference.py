"""An independent, fair baseline: the algorithm of PyTorch's "Neural Transfer Using PyTorch".

This file re-implements that tutorial's method from its description, with no stylelab
code, so that ``benchmarks/speed.py`` can compare stylelab against it:

* loss modules inserted into a copy of VGG-19's ``features`` right after the chosen
  convolutions (their pre-ReLU output), with the ReLUs made out-of-place so the captured
  activations stay intact;
* content loss: mean squared error; style loss: mean squared error of Gram matrices
  divided by ``C * H * W``;
* targets computed once; the network cut after the last loss layer; parameters frozen;
* L-BFGS on the pixels, starting from the content image, clamping to [0, 1] before each
  evaluation, as the tutorial does.

One deliberate difference: the tutorial's defaults stop at ``conv_5`` (conv3_1); here the
layers are Gatys et al.'s (content conv4_2; style conv1_1, conv2_1, conv3_1, conv4_1,
conv5_1), the same as the stylelab side of the benchmark, so both optimise one objective.
L-BFGS runs exactly ``evaluations`` loss evaluations (its early-stopping tolerances are
switched off, so the count is the same on every machine).
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

CONTENT_LAYERS = ("conv4_2",)
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def _gram(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    flat = x.reshape(b * c, h * w)
    return flat @ flat.t() / (b * c * h * w)


class _ContentLoss(nn.Module):
    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.target = target.detach()
        self.loss = torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.loss = F.mse_loss(x, self.target)
        return x


class _StyleLoss(nn.Module):
    def __init__(self, target_feature: torch.Tensor) -> None:
        super().__init__()
        self.target = _gram(target_feature).detach()
        self.loss = torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.loss = F.mse_loss(_gram(x), self.target)
        return x


class _Normalization(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(-1, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(-1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def build(
    features: nn.Sequential,
    content: torch.Tensor,
    style: torch.Tensor,
    content_layers: Sequence[str] = CONTENT_LAYERS,
    style_layers: Sequence[str] = STYLE_LAYERS,
) -> Tuple[nn.Sequential, List[_ContentLoss], List[_StyleLoss]]:
    """The tutorial's model: normalisation, VGG layers with loss modules, cut after the last."""
    model = nn.Sequential(_Normalization())
    content_losses: List[_ContentLoss] = []
    style_losses: List[_StyleLoss] = []
    block, conv = 1, 0
    for layer in features.children():
        if isinstance(layer, nn.Conv2d):
            conv += 1
            name = f"conv{block}_{conv}"
        elif isinstance(layer, nn.ReLU):
            name = f"relu{block}_{conv}"
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, nn.MaxPool2d):
            name = f"pool{block}"
            block, conv = block + 1, 0
        else:
            raise RuntimeError(f"unexpected layer {layer}")
        model.add_module(name, layer)
        if name in content_layers:
            loss = _ContentLoss(model(content).detach())
            model.add_module(f"content_loss_{name}", loss)
            content_losses.append(loss)
        if name in style_layers:
            loss = _StyleLoss(model(style).detach())
            model.add_module(f"style_loss_{name}", loss)
            style_losses.append(loss)
    last = max(i for i, m in enumerate(model) if isinstance(m, (_ContentLoss, _StyleLoss)))
    model = model[: last + 1]
    model.eval()
    model.requires_grad_(False)
    return model, content_losses, style_losses


class _Stop(Exception):
    pass


def run(
    features: nn.Sequential,
    content: torch.Tensor,
    style: torch.Tensor,
    evaluations: int = 300,
    content_weight: float = 1.0,
    style_weight: float = 1e6,
    line_search: bool = False,
    callback: Optional[Callable[[int, torch.Tensor], bool]] = None,
) -> Tuple[torch.Tensor, Dict[str, List[float]]]:
    """Optimise from the content image for exactly ``evaluations`` L-BFGS evaluations.

    ``line_search=True`` is NOT the tutorial: it adds PyTorch's strong-Wolfe line search,
    for the benchmark's ablation row only. ``callback(evaluation, image)`` returning True
    stops early (used to time the ablation to a target loss).

    Returns the final image (clamped to [0, 1]) and ``{"total": [loss per evaluation],
    "time": [seconds since the start at each evaluation]}``.
    """
    with torch.no_grad():
        model, content_losses, style_losses = build(features, content, style)
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image], max_iter=evaluations, max_eval=evaluations,
                                  tolerance_grad=-1, tolerance_change=-1,
                                  line_search_fn="strong_wolfe" if line_search else None)
    totals: List[float] = []
    times: List[float] = []
    began = time.perf_counter()

    def closure() -> torch.Tensor:
        with torch.no_grad():
            image.clamp_(0, 1)
        optimizer.zero_grad()
        model(image)
        style_score = style_weight * sum(loss.loss for loss in style_losses)
        content_score = content_weight * sum(loss.loss for loss in content_losses)
        loss = style_score + content_score
        loss.backward()
        totals.append(loss.item())
        times.append(time.perf_counter() - began)
        if callback is not None and callback(len(totals), image.detach()):
            raise _Stop
        return loss

    try:
        optimizer.step(closure)
    except _Stop:
        pass
    with torch.no_grad():
        image.clamp_(0, 1)
    return image.detach(), {"total": totals, "time": times}


class Judge:
    """The objective above in float32, without gradients, for any image of the content's size."""

    def __init__(self, features: nn.Sequential, content: torch.Tensor, style: torch.Tensor,
                 content_weight: float = 1.0, style_weight: float = 1e6) -> None:
        with torch.no_grad():
            self.model, self.content_losses, self.style_losses = build(features.float(), content.float(), style.float())
        self.content_weight, self.style_weight = content_weight, style_weight

    @torch.no_grad()
    def __call__(self, image: torch.Tensor) -> float:
        self.model(image.detach().float().clamp(0, 1).contiguous())
        style = sum(loss.loss for loss in self.style_losses)
        content = sum(loss.loss for loss in self.content_losses)
        return float(self.style_weight * style + self.content_weight * content)
