# Reference solution, lesson 05 (capstone): the closure that L-BFGS calls.
# Load it into a cell with:  %load solutions/make_closure.py
# It uses your content_loss (lesson 02), gram_matrix and style_loss (lesson 03) and tv_loss (lesson 05).
import torch


def make_closure(model, content, style, image, optimizer, settings):
    """Return closure(): it scores `image` (1, 3, H, W) and leaves d loss / d pixels in image.grad.

    settings: content_layer, style_layers, content_weight, style_weight, tv_weight. The loss is
    alpha * content_loss + beta * sum_l style_loss_l / N_l^2 + gamma * tv_loss, as in sl.stylize.
    """
    model.requires_grad_(False)                 # only the pixels are optimised, never the network
    layer, style_layers = settings["content_layer"], list(settings["style_layers"])
    with torch.no_grad():                       # the targets never change: compute them once, here
        content_target = model(content, [layer])[layer]
        style_targets = {name: gram_matrix(f) for name, f in model(style, style_layers).items()}

    def closure():
        with torch.no_grad():
            image.clamp_(0, 1)                  # score only pictures that can be shown
        optimizer.zero_grad()                   # gradients add up in image.grad unless cleared
        features = model(image, [layer, *style_layers])
        loss = settings["content_weight"] * content_loss(features[layer], content_target)
        for name, target in style_targets.items():
            channels = target.shape[-1]         # N_l: the Gram matrix is N_l x N_l
            loss = loss + settings["style_weight"] * style_loss(features[name], target) / channels ** 2
        loss = loss + settings["tv_weight"] * tv_loss(image)
        loss.backward()                         # d loss / d pixels into image.grad
        return loss                             # the tensor: optimizer.step(closure) hands it back

    return closure
