# Reference solution, lesson 04: choosing style layers for a look.
# Load it into a cell with:  %load solutions/style_layers.py
#
# A layer's receptive field (sl.layer_table) is the size of the patch it sees. Layers of
# blocks 1 and 2 see at most 16 px, so their Gram matrices only describe fine grain;
# relu4_1 (68 px) and relu5_1 (156 px) also capture large shapes and long strokes.

fine_texture_layers = ["relu1_1", "relu1_2", "relu2_1"]
large_structure_layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
