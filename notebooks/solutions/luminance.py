# Reference solution, lesson 06: the luminance of an RGB image.
# Load it into a cell with:  %load solutions/luminance.py


def luminance(image):
    """Luminance Y of RGB images (B, 3, H, W) in [0, 1] -> (B, 1, H, W).

    Y = 0.299 R + 0.587 G + 0.114 B, the first row of the YIQ transform
    (Gatys et al. 2017, section 5.1). Slicing with 0:1 keeps the channel dimension.
    """
    red, green, blue = image[:, 0:1], image[:, 1:2], image[:, 2:3]
    return 0.299 * red + 0.587 * green + 0.114 * blue
