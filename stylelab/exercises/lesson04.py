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
from typing import Any, Callable, Dict, List, Mapping

from ..errors import LayerNameError
from ..layers import Architecture, NetworkLike
from .checking import CheckResult, Fail, architecture_of, checker

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

    Known mistakes: ``string_not_list``, ``empty_choice``, ``unknown_layer``,
    ``negative_weight``, ``too_coarse`` (a deep layer in a fine-texture choice),
    ``too_fine`` (only shallow layers for large structures), ``unknown_look``,
    ``unknown_network``.
    """
    name = LOOKS[look]["exercise"] if isinstance(look, str) and look in LOOKS else "style_layers"
    return _check_style_layers(name)(layers, look, network, quiet=quiet)


@functools.lru_cache(maxsize=None)
def _check_style_layers(name: str) -> Callable[..., CheckResult]:
    @checker(name)
    def body(layers: Any, look: str, network: NetworkLike) -> str:
        if look not in LOOKS:
            raise Fail("unknown_look", f"look must be one of {', '.join(map(repr, LOOKS))}, not {look!r}.")
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
    """The names of the layers that count (weight above 0), validated against ``arch``."""
    if isinstance(layers, str):
        raise Fail("string_not_list", f"you gave one string, {layers!r}; put the layer names in a list, e.g. "
                   f"[{layers!r}], so that several layers can be chosen.")
    if isinstance(layers, Mapping):
        negative = [n for n, w in layers.items() if not (isinstance(w, (int, float)) and w >= 0)]
        if negative:
            raise Fail("negative_weight", f"the weight of {negative[0]!r} is {layers[negative[0]]!r}; "
                       "weights must be numbers >= 0 (0 switches a layer off).")
        chosen = [n for n, w in layers.items() if w > 0]
    else:
        try:
            chosen = list(layers)
        except TypeError:
            raise Fail("string_not_list", f"give a list of layer names, not a {type(layers).__name__}.") from None
    if not chosen:
        raise Fail("empty_choice", "you chose no layer; without a style layer there is no style term at all.")
    try:
        arch.check_layer_names(chosen)
    except LayerNameError as exc:
        raise Fail("unknown_layer", str(exc)) from None
    return chosen
