# Reference solution, lesson 07: converting a style weight between two presets.
# Load it into a cell with:  %load solutions/matching_style_weight.py
#
# The effective balance r is the style term at the photo over the content term at the
# painting, and the style term is proportional to the style weight. So r of the source
# preset grows in proportion to its style weight: multiply that weight by r_target / r_source.

import stylelab as sl


def matching_style_weight(source, target, balance):
    """The style weight that gives preset `source` the effective balance of preset `target`."""
    return sl.presets.settings(source).style_weight * balance(target) / balance(source)
