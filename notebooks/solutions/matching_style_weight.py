# Reference solution, lesson 07: converting a style weight between two presets.
# Load it into a cell with:  %load solutions/matching_style_weight.py
#
# The effective balance r is the weighted style term at the photo over the weighted content
# term at the painting, and the style term is proportional to the style weight. So a preset's
# r grows in proportion to its style weight: multiply the weight by r_target / r_source.


def matching_style_weight(style_weight, r_source, r_target):
    """The style weight that moves a preset from effective balance r_source (with style_weight) to r_target."""
    return style_weight * r_target / r_source
