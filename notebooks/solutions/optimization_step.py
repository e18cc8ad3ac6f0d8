# Reference solution, lesson 05: one optimisation step on the pixels.
# Load it into a cell with:  %load solutions/optimization_step.py
import torch


def optimization_step(image, optimizer, loss_fn):
    """One gradient step on `image` (a leaf tensor with requires_grad=True); returns the loss.

    The optimizer (e.g. torch.optim.Adam([image], lr=0.02)) owns `image`; loss_fn(image)
    returns a scalar tensor. The loss returned is the one before the update, as a float.
    """
    optimizer.zero_grad()          # gradients add up in image.grad unless cleared
    loss = loss_fn(image)          # forward pass
    loss.backward()                # d loss / d pixels into image.grad
    optimizer.step()               # move the pixels against the gradient
    with torch.no_grad():          # keep valid pixel values, without recording the clamp
        image.clamp_(0, 1)
    return loss.item()
