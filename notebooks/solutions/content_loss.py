# Reference solution, lesson 02: the content loss.
# Load it into a cell with:  %load solutions/content_loss.py


def content_loss(generated, target):
    """Mean squared difference of two feature maps of shape (B, C, H, W): a scalar tensor.

    Gatys et al. (2016, eq. 1) write 1/2 * sum((F - P) ** 2); the mean differs from it only
    by a constant factor, and does not grow with the size of the layer.
    """
    return ((generated - target) ** 2).mean()
