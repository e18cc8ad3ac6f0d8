# Reference solution, lesson 05: the total-variation loss.
# Load it into a cell with:  %load solutions/tv_loss.py


def tv_loss(image):
    """Squared total variation of an image (B, C, H, W): mean(dx ** 2) + mean(dy ** 2).

    dx: differences between horizontal neighbours (along the width, dimension 3),
    dy: differences between vertical neighbours (along the height, dimension 2).
    A constant image gives 0 (Mahendran & Vedaldi 2015, with beta = 2).
    """
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return (dx ** 2).mean() + (dy ** 2).mean()
