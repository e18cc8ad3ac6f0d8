# Reference solution, lesson 01: the output shape of a VGG-19 layer.
# Load it into a cell with:  %load solutions/output_shape.py


def output_shape(layer, height, width):
    """(channels, height, width) of `layer`'s output for a height x width input image.

    VGG-19 has five blocks of 3x3 convolutions (padding 1: the size stays) with 64, 128,
    256, 512 and 512 filters; each block ends with a 2x2 pooling layer of stride 2 that
    halves the height and the width, rounding down.
    """
    channels = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    block = int(layer[4]) if layer.startswith("pool") else int(layer.split("_")[0][-1])
    pools = block if layer.startswith("pool") else block - 1  # poolN closes block N
    for _ in range(pools):
        height, width = height // 2, width // 2
    return channels[block], height, width
