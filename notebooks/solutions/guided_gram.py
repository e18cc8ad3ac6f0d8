# Reference solution, lesson 06: the guided Gram matrix of a masked region.
# Load it into a cell with:  %load solutions/guided_gram.py


def guided_gram(features, mask):
    """Gram matrix of the features inside a soft region: (1, C, h, w) and (1, 1, h, w) -> (1, C, C).

    G = (F * T)(F * T)^T / sum_k T_k^2 (Gatys et al. 2017, section 4): both factors are
    masked, and dividing by the sum of the squared mask makes G the Gram matrix of the
    region alone for a 0/1 mask (and the ordinary Gram matrix for a mask of ones).
    """
    b, c, h, w = features.shape
    weighted = (features * mask).reshape(b, c, h * w)   # F * T: one row per channel
    return weighted @ weighted.transpose(1, 2) / (mask ** 2).sum()
