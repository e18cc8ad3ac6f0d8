# Reference solution, lesson 03: the Gram matrix.
# Load it into a cell with:  %load solutions/gram_matrix.py


def gram_matrix(features):
    """Gram matrix of features (B, C, H, W) -> (B, C, C), divided by the H * W positions.

    G[b, i, j] = 1/(H W) * sum over positions k of F[b, i, k] * F[b, j, k]
    (Gatys et al. 2016, eq. 3, averaged over positions instead of summed).
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)             # F: one row per channel
    return flat @ flat.transpose(1, 2) / (h * w)     # F F^T / (H W), batched
