# Reference solution, lesson 07: which paints more strongly?
# Load it into a cell with:  %load solutions/stronger_preset.py
#
# The PyTorch tutorial divides its Gram matrix by C*H*W; the copied code divides by H*W
# only, so its Gram matrices are C times larger. The style loss squares their difference:
# with the same style weight, every layer's style term is N_l^2 times larger (64^2 at
# relu1_1, 256^2 at relu3_1), on any network. The copy paints far more strongly.

stronger_preset = "copied"
