"""Lesson 04's checker: a choice of style layers for a look, judged by the layers' receptive fields.

A layer's receptive field (:func:`stylelab.layer_table`) is the size of the patch of the
input image that one of its values depends on. Gram matrices of layers that see only small
patches describe fine grain; a layer that sees large patches brings in large shapes. The
rules below are stated by blocks and measured in pixels of the learner's own network:
VGG-16 and VGG-19 agree up to block 2, and VGG-19's extra convolutions make its deeper
fields larger (relu4_1 sees 68 px in VGG-19, 60 px in VGG-16).
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
from typing import Any, Callable, Dict, List, Mapping

from ...errors import LayerNameError
from ...vgg.layers import Architecture, NetworkLike
from .checking import CheckResult, Fail, architecture_of, checker, describe

__all__ = ["LOOKS", "check_style_layers"]

#: The looks of the layer-choice exercise. ``"widest"``: every chosen layer may see at most
#: the patch this layer sees; ``"narrowest"``: at least one chosen layer must see at least
#: the patch this layer sees (receptive fields from the learner's network).
LOOKS: Dict[str, Dict[str, Any]] = {
    "fine texture": {
        "exercise": "fine_texture_layers",
        "goal": "fine texture only (grain and small brush strokes, no large shapes)",
        "widest": "pool2",
        "blocks": "blocks 1 and 2",
    },
    "large structures": {
        "exercise": "large_structure_layers",
        "goal": "large structures (big shapes and long strokes)",
        "narrowest": "relu4_1",
        "blocks": "blocks 4 and 5",
    },
}


def check_style_layers(layers: Any, look: str = "fine texture", network: NetworkLike = None, *,
                       quiet: bool = False) -> CheckResult:
    """Check a choice of style layers for a target look (lesson 04).

    Args:
        layers: a list of layer names, or ``{layer: weight}`` (layers with weight 0 do not count).
        look: one of :data:`LOOKS`: ``"fine texture"`` or ``"large structures"``.
        network: the learner's network (the lesson's model, ``"vgg16"`` or ``"vgg19"``;
            default VGG-19): its layer names are the valid ones and its receptive fields
            judge the choice.
        quiet: do not print the verdict.

    Known mistakes: ``string_not_list``, ``empty_choice``, ``not_a_layer_name``, ``unknown_layer``,
    ``conv_not_relu`` (a convolution's output before its ReLU), ``not_a_weight``,
    ``infinite_weight``, ``negative_weight``, ``too_coarse`` (a deep layer in a fine-texture choice),
    ``too_fine`` (only shallow layers for large structures), ``unknown_look``,
    ``unknown_network``.
    """
    name = LOOKS[look]["exercise"] if isinstance(look, str) and look in LOOKS else "style_layers"
    return _check_style_layers(name)(layers, look, network, quiet=quiet)


@functools.lru_cache(maxsize=None)
def _check_style_layers(name: str) -> Callable[..., CheckResult]:
    @checker(name)
    def body(layers: Any, look: str, network: NetworkLike) -> str:
        if not isinstance(look, str) or look not in LOOKS:
            raise Fail("unknown_look", f"the look must be one of {', '.join(map(repr, LOOKS))}, not {describe(look)}.")
        arch = architecture_of(network)
        chosen = _chosen_layers(layers, arch)
        fields = {row["name"]: row["receptive_field"] for row in arch.layer_table(224)}

        def described(names: List[str]) -> str:
            return ", ".join(f"{n} ({fields[n]} px)" for n in names)

        rule = LOOKS[look]
        largest = max(fields[n] for n in chosen)
        if "widest" in rule:
            limit = fields[rule["widest"]]
            wide = [n for n in chosen if fields[n] > limit]
            if wide:
                raise Fail("too_coarse", f"the target is {rule['goal']}, so every chosen layer must see patches of "
                           f"at most {limit} px ({rule['blocks']} of {arch.title}); but {described(wide)} see larger "
                           "patches and bring in large shapes. Keep to layers such as relu1_1, relu1_2, relu2_1 and "
                           "relu2_2.")
        else:
            limit = fields[rule["narrowest"]]
            if largest < limit:
                raise Fail("too_fine", f"the target is {rule['goal']}, so at least one chosen layer must see patches "
                           f"of {limit} px or more ({rule['blocks']} of {arch.title}); your largest receptive field is "
                           f"{largest} px ({described(chosen)}). Add a deeper layer such as "
                           f"{described(['relu4_1', 'relu5_1'])}.")
        return (f"you chose {described(chosen)}; the largest receptive field is {largest} px in {arch.title}, "
                f"which fits {look}. See it in the StylePlayground: playground.set_style_layers(...), then Run.")

    return body


def _chosen_layers(layers: Any, arch: Architecture) -> List[str]:
    """The names of the layers that count (weight above 0), validated against ``arch``.

    At most :data:`_MOST` names are read, so an endless generator is not read forever.
    """
    if isinstance(layers, str):
        raise Fail("string_not_list", f"you gave one string, {describe(layers)}; put the layer names in a list, e.g. "
                   f"[{describe(layers)}], so that several layers can be chosen.")
    if isinstance(layers, Mapping):
        pairs = list(itertools.islice(layers.items(), _MOST))
        for name, weight in pairs:
            _check_weight(name, weight)
        chosen = [name for name, weight in pairs if weight > 0]
    else:
        try:
            chosen = list(itertools.islice(iter(layers), _MOST))
        except TypeError:
            raise Fail("string_not_list", f"give a list of layer names, not a {type(layers).__name__}.") from None
    if not chosen:
        raise Fail("empty_choice", "you chose no layer; without a style layer there is no style term at all.")
    for name in chosen:
        if not isinstance(name, str):
            raise Fail("not_a_layer_name", f"{describe(name)} is not a layer name; give a flat list of names such as "
                       "['relu1_1', 'relu2_1'] (not a list of lists, not numbers).")
    convolutions = [name for name in chosen if name.startswith("conv") and name in arch.layer_names]
    if convolutions:
        relu = "relu" + convolutions[0][len("conv"):]
        raise Fail("conv_not_relu", f"{convolutions[0]!r} is the convolution's output before its ReLU; the lessons "
                   f"take style features after the ReLU, as Gatys et al. do (their 'conv1_1' is the rectified "
                   f"response, our 'relu1_1'): choose {relu!r} instead.")
    try:
        arch.check_layer_names(chosen)
    except LayerNameError as exc:
        raise Fail("unknown_layer", str(exc)) from None
    return chosen


#: The most layer names read from a choice (VGG-19 has 43 layers).
_MOST = 64


def _check_weight(name: Any, weight: Any) -> None:
    """Fail unless ``weight`` is a finite real number >= 0 (``np.float32`` and the like included)."""
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
        raise Fail("not_a_weight", f"the weight of {describe(name)} is {describe(weight)}; weights must be numbers "
                   ">= 0 (0 switches a layer off).")
    if not math.isfinite(float(weight)):
        raise Fail("infinite_weight", f"the weight of {describe(name)} is {describe(weight)}; weights must be finite "
                   "numbers >= 0 (an infinite weight drowns every other term).")
    if weight < 0:
        raise Fail("negative_weight", f"the weight of {describe(name)} is {describe(weight)}; weights must be numbers "
                   ">= 0 (0 switches a layer off).")
