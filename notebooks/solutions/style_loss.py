# Reference solution, lesson 03: the style loss of one layer.
# Load it into a cell with:  %load solutions/style_loss.py


def style_loss(generated_features, target_gram):
    """Mean squared difference between the Gram matrix of generated_features and target_gram.

    generated_features: (B, C, H, W); target_gram: (B, C, C) or (C, C).
    With Gram matrices divided by H * W this is 4 * E_l of Gatys et al. (2016, eq. 4).
    """
    b, c, h, w = generated_features.shape
    flat = generated_features.reshape(b, c, h * w)
    gram = flat @ flat.transpose(1, 2) / (h * w)     # the same as your gram_matrix(generated_features)
    return ((gram - target_gram) ** 2).mean()
