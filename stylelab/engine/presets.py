r"""Presets: the conventions of well-known style-transfer implementations, as data.

"My picture does not look like the tutorial's" usually comes from conventions nobody
mentions: which network and preprocessing, which layers (before or after the ReLU), how the
Gram matrix and the losses are normalised, what the weights multiply, the optimiser and
its constants, the start image, clamping, the image size. Each preset holds one
implementation's conventions, read from its source, with the file and line each value comes
from:

========================  ===================================================================
``"pytorch-tutorial"``    PyTorch's tutorial "Neural Transfer Using PyTorch"
``"tensorflow-tutorial"`` TensorFlow's tutorial "Neural style transfer"
``"d2l"``                 Dive into Deep Learning, chapter "Neural Style Transfer" (PyTorch)
``"neural-style"``        jcjohnson/neural-style (Lua Torch), the defaults of its script
``"gatys"``               leongatys/PytorchNeuralStyleTransfer, the authors' own PyTorch code
``"stylelab"``            stylelab's own defaults
========================  ===================================================================

>>> sl.stylize(photo, painting, preset="gatys")                 # doctest: +SKIP
>>> sl.stylize(photo, painting, preset="gatys", steps=100)      # what is given explicitly wins
>>> sl.presets.table()                                          # doctest: +SKIP
>>> print(sl.presets.explain("d2l"))                            # doctest: +SKIP
>>> sl.presets.effective_balance("pytorch-tutorial", model, photo, painting)  # doctest: +SKIP

A preset sets stylize's keywords (:func:`options`; :func:`settings` makes the checked
:class:`~stylelab.engine.settings.TransferSettings`, the one place ``preset=`` is read for
:func:`~stylelab.stylize`, the command line and the widgets). Where stylelab cannot express
a convention exactly, the preset says so (:attr:`Preset.differs`, shown by :func:`table` and
:func:`explain`); nothing is approximated silently. ``tests/engine/test_presets.py`` re-implements
each implementation's loss from its published formulas and checks that the objective a
preset builds gives the same value, and the same first optimiser iterates.

The weights a preset names are the *implementation's* own ones; stylelab runs them on the
network it is given. The same numbers on another network weigh the two losses differently
(the activations' scale differs by orders of magnitude between networks and
preprocessings): :func:`effective_balance` turns each preset's weights into the one number
that can be compared, the style/content ratio the preset actually applies on a network,
in units of lesson 04's balance point.
"""

from __future__ import annotations

import math
import re
import weakref
from typing import Any, Dict, List, Optional, Sequence

import torch

from .. import validate
from ..imaging.images import load_image, resize
from ..vgg.features import VGGFeatures, normalizes
from ..vgg.layers import Architecture
from ..vgg.network import use_model
from ..vgg.weights import VGGWeights
from .conventions import GENERAL_DIFFERENCES, IMPLEMENTATIONS, TOPICS, Fact, Preset
from .objective import StyleObjective
from .prepare import style_side
from .settings import TransferSettings
from .tables import Table

__all__ = [
    "PRESETS",
    "names",
    "get",
    "options",
    "settings",
    "table",
    "explain",
    "on_network",
    "network_note",
    "effective_balance",
]


def _number(value: float) -> str:
    """``1e6`` rather than ``1e+06``."""
    return f"{value:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _tv_text(s: TransferSettings) -> str:
    if s.tv_weight == 0:
        return "none"
    form = "squared" if s.tv_power == 2 else "absolute"
    return f"{_number(s.tv_weight)} x {s.tv_reduction} of {form} differences ({s.image_units} units)"


def _optimizer_text(s: TransferSettings) -> str:
    if s.optimizer == "lbfgs":
        search = "strong-Wolfe line search" if s.line_search else "no line search"
        return f"L-BFGS, lr {s.learning_rate:g}, {search}"
    (beta1, beta2), where = s.adam_betas, " (Keras's form)" if s.adam_eps_hat else ""
    return f"Adam, lr {s.learning_rate:g}, betas {beta1:g}/{beta2:g}, eps {_number(s.adam_eps)}{where}"


def _stylelab() -> Preset:
    """stylelab's own defaults, read from :class:`~stylelab.engine.settings.TransferSettings`."""
    d = TransferSettings()
    facts = (
        Fact("network", "the network stylize is given or builds: $STYLELAB_WEIGHTS, by default torchvision's "
             "ImageNet VGG-19", "stylelab/vgg/weights.py"),
        Fact("preprocessing", "what the weights expect: torchvision's mean/std, or Caffe's BGR 0-255 less the mean "
             "pixel; Caffe networks normalised (normalize='auto')", "stylelab/vgg/features.py"),
        Fact("content_layers", ", ".join(d.content_layers), "stylelab/engine/settings.py"),
        Fact("style_layers", ", ".join(name for name, _ in d.style_layers), "stylelab/engine/settings.py"),
        Fact("gram", "F F^T / (H W)", "stylelab/engine/losses.py"),
        Fact("layer_weights", "1 / N_l^2 (layer_weighting='channels')", "stylelab/engine/objective.py"),
        Fact("reduction", "mean squared error of features and of Gram matrices", "stylelab/engine/losses.py"),
        Fact("weights", f"content {_number(d.content_weight)}, style {_number(d.style_weight)}", "stylelab/engine/settings.py"),
        Fact("tv", _tv_text(d), "stylelab/engine/settings.py"),
        Fact("optimizer", _optimizer_text(d), "stylelab/engine/optimize.py"),
        Fact("evaluations", str(d.steps), "stylelab/engine/settings.py"),
        Fact("init", "the content image", "stylelab/engine/settings.py"),
        Fact("clamp", "projected onto [0, 1] before every evaluation", "stylelab/engine/optimize.py"),
        Fact("size", "as given (the command line: its --size default)", "stylelab/__main__.py"),
        Fact("pooling", d.network.pooling, "stylelab/vgg/network.py"),
    )
    return Preset(
        name="stylelab", title="stylelab's defaults", source="stylelab/engine/settings.py (TransferSettings)",
        network="the network stylelab is given", preprocessing="", options={}, facts=facts, differs=(),
        effect=("Gatys et al.'s layers (relu4_2; relu1_1 ... relu5_1) with the PyTorch tutorial's objective "
                "(1 / N_l^2 per layer, style weight 1e6), started from the photo, optimised by L-BFGS with a "
                "line search that keeps every step from overshooting, pixels kept in [0, 1]."),
    )


#: Every preset by name, in the order of :func:`names`.
PRESETS: Dict[str, Preset] = {p.name: p for p in (*IMPLEMENTATIONS, _stylelab())}


# --------------------------------------------------------------------------- reading the presets


def names() -> List[str]:
    """The presets' names: ``['pytorch-tutorial', 'tensorflow-tutorial', 'd2l', 'neural-style', 'gatys', 'stylelab']``."""
    return list(PRESETS)


def get(name: str) -> Preset:
    """The :class:`Preset` called ``name``; :class:`~stylelab.ParameterError` (one sentence
    listing the names) for any other value."""
    return PRESETS[validate.choice("preset", name, tuple(PRESETS))]


def options(name: str) -> Dict[str, Any]:
    """The :func:`~stylelab.stylize` keywords preset ``name`` sets (a copy)."""
    return dict(get(name).options)


def settings(preset: Optional[str] = None, **explicit: Any) -> TransferSettings:
    """The checked :class:`~stylelab.engine.settings.TransferSettings` of ``preset`` with ``explicit``
    keywords on top: anything given explicitly wins, every other setting is the preset's, or
    stylelab's default where the preset says nothing (``preset=None``: the defaults alone).

    This is how :func:`~stylelab.stylize`, the command line and the widgets read ``preset=``.

    Raises:
        ParameterError: ``preset`` is not one of :func:`names`, or a value is wrong.
    """
    values = {} if preset is None else options(preset)
    return TransferSettings.from_options(**{**values, **explicit})


# --------------------------------------------------------------------------- showing them


def table(kind: str = "conventions", presets: Optional[Sequence[str]] = None) -> Table:
    """The presets side by side, one column each (Jupyter shows HTML, ``print`` Markdown).

    Args:
        kind: ``"conventions"``: each value in the implementation's own terms, a last row
            listing what stylelab cannot reproduce; ``"sources"``: where each value comes
            from (``path:line`` at the commit in the first row); ``"settings"``: the
            stylelab settings each preset runs with.
        presets: which presets, in this order (default: all of :func:`names`).
    """
    validate.choice("kind", kind, ("conventions", "sources", "settings"))
    chosen = [get(name) for name in (presets if presets is not None else names())]
    if kind == "settings":
        rows = _settings_rows(chosen)
    else:
        attribute = "value" if kind == "conventions" else "source"
        rows = [{"": heading, **{p.name: getattr(p.fact(topic), attribute) for p in chosen}}
                for topic, heading in TOPICS.items()]
        if kind == "conventions":
            rows.append({"": "not reproduced", **{p.name: "; ".join(d.label for d in p.differs) or "-" for p in chosen}})
        else:
            rows.insert(0, {"": "file", **{p.name: p.source for p in chosen}})
    captions = {
        "conventions": "Conventions of each implementation, in its own terms (sl.presets.explain(name) says more)",
        "sources": "Where each value comes from: lines of the file in the first row",
        "settings": "The stylelab settings each preset runs with",
    }
    return Table(rows, ["", *(p.name for p in chosen)], caption=captions[kind])


_SETTINGS_SHOWN = (
    ("content layers", lambda s: ", ".join(s.content_layers)),
    ("style layers", lambda s: ", ".join(n if w == 1 else f"{n} x{_number(w)}" for n, w in s.style_layers)),
    ("layer weighting", lambda s: s.layer_weighting),
    ("content / style weight", lambda s: f"{_number(s.content_weight)} / {_number(s.style_weight)}"),
    ("total variation", lambda s: _tv_text(s)),
    ("optimiser", lambda s: _optimizer_text(s)),
    ("evaluations", lambda s: str(s.steps)),
    ("start image", lambda s: s.start_rule(has_content=True)),
    ("image units", lambda s: s.image_units),
    ("clamp", lambda s: "yes" if s.clamp else "no"),
    ("size", lambda s: "as given" if s.size is None else str(s.size)),
    ("network", lambda s: f"normalize={s.network.normalize}, pooling={s.network.pooling}"),
)


def _settings_rows(chosen: Sequence[Preset]) -> List[Dict[str, str]]:
    made = {p.name: settings(p.name) for p in chosen}
    return [{"": heading, **{name: show(s) for name, s in made.items()}} for heading, show in _SETTINGS_SHOWN]


def explain(name: str, model: Optional[VGGFeatures] = None) -> str:
    """A few sentences on preset ``name``: what it does to a picture, the settings in which it
    differs from stylelab's defaults, and what stylelab cannot reproduce exactly.

    With ``model``, also whether that network is the one the implementation uses.
    """
    preset = get(name)
    lines = [f"{preset.title}. {preset.effect}"]
    changed = _changed_settings(name)
    if changed:
        lines.append("It differs from stylelab's defaults in " + "; ".join(changed) + ".")
    else:
        lines.append("These are stylelab's defaults.")
    if model is not None:
        lines.append(network_note(name, model))
    notes = [d.sentence for d in preset.differs]
    if preset.options:
        notes += [d.sentence for d in GENERAL_DIFFERENCES]
    if notes:
        lines.append("Not reproduced exactly: " + " ".join(notes))
    return "\n\n".join(lines)


def _changed_settings(name: str) -> List[str]:
    """``"field VALUE (stylelab: DEFAULT)"`` for every setting the preset changes, defaults resolved."""
    ours, theirs = _resolved(TransferSettings()), _resolved(settings(name))
    return [f"{field} {_plain(theirs[field])} (stylelab: {_plain(ours[field])})"
            for field in options(name) if theirs[field] != ours[field]]


def _resolved(s: TransferSettings) -> Dict[str, Any]:
    """The settings' values with ``lr``, ``init`` and ``normalize`` as a run resolves them."""
    values = {f: getattr(s, f) for f in s.record() if f != "network"}
    values.update(lr=s.learning_rate, init=s.start_rule(has_content=True), pooling=s.network.pooling,
                  normalize="auto" if s.network.normalize is None else s.network.normalize)
    return values


def _plain(value: Any) -> str:
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) for v in value):
        return ", ".join(n if w == 1 else f"{n} x{_number(w)}" for n, w in value)  # style layers
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(_plain(v) for v in value) + ")"
    return _number(value) if isinstance(value, float) else str(value)



def on_network(name: str, model: VGGFeatures, **explicit: Any) -> Dict[str, Any]:
    """The keywords that run preset ``name`` (with ``explicit`` settings on top) with ``model``'s weights.

    ``model=``: ``model`` itself, or a copy of its weights with the normalisation the preset
    (or ``explicit``) asks for: Gatys' code runs on the normalised network, the tutorials on
    the plain one (built once per model and normalisation, then reused). And, for a layer
    the settings name that the network lacks (VGG-16 has no ``relu4_4``), the last layer of
    the same kind in the same block (``relu4_3``), which is d2l.ai's own rule for choosing
    its layers. Pass them on, after ``explicit``, to :func:`~stylelab.stylize` or
    :func:`effective_balance`::

        sl.stylize(photo, painting, preset="gatys", **sl.presets.on_network("gatys", model))
        changes = dict(style_weight=1e3, normalize=True)
        sl.presets.effective_balance("d2l", content=photo, style=painting,
                                     **{**changes, **sl.presets.on_network("d2l", model, **changes)})

    A copy that is not normalised is loaded from ``model.weights_source`` (the rescaled
    filters of a normalised model cannot give the original ones back).
    """
    checked = settings(name, **explicit)
    wanted = checked.network.normalize
    network = model
    if wanted is not None and normalizes(wanted, model.preprocessing) != model.normalized:
        network = _twin(model, normalizes(wanted, model.preprocessing))
    keywords: Dict[str, Any] = {"model": network}
    arch = network.architecture
    content = tuple(_counterpart(n, arch) for n in checked.content_layers)
    if content != checked.content_layers:
        keywords["content_layers"] = content
    style = {_counterpart(n, arch): w for n, w in checked.style_layers}
    if list(style) != [n for n, _ in checked.style_layers]:
        keywords["style_layers"] = style
    return keywords


_TWINS: "weakref.WeakKeyDictionary[VGGFeatures, Dict[bool, VGGFeatures]]" = weakref.WeakKeyDictionary()


def _twin(model: VGGFeatures, normalized: bool) -> VGGFeatures:
    """``model``'s weights, normalised or not; one copy per model and state."""
    twins = _TWINS.setdefault(model, {})
    if normalized not in twins:
        if normalized:  # the filters as they are, rescaled by their measured means
            state = {f"{n}.{p}": getattr(m, p).detach().float().cpu() for n, m in model.convolutions()
                     for p in ("weight", "bias")}
            source: Any = VGGWeights(state=state, source=model.weights_source, preprocessing=model.preprocessing,
                                     note=model.weights_note, architecture=model.architecture.name)
        else:
            source = model.weights_source
        twins[normalized] = VGGFeatures(source, pooling=model.pooling, device=model.device,
                                        precision=model.precision, normalize=normalized)
    return twins[normalized]


def _counterpart(layer: str, arch: Architecture) -> str:
    """``layer``, or the last layer of its kind in its block when ``arch`` lacks it (``relu4_4`` -> ``relu4_3``);
    a name that fits no block is returned as it is, for the settings' check to name."""
    parts = re.fullmatch(r"(conv|relu)(\d)_\d", layer)
    if layer in arch.layer_names or parts is None:
        return layer
    same = [n for n in arch.layer_names if n.startswith(f"{parts.group(1)}{parts.group(2)}_")]
    return same[-1] if same else layer


def network_note(name: str, model: VGGFeatures) -> str:
    """One sentence: is ``model`` the kind of network preset ``name``'s implementation uses
    (trained, VGG-19, the same preprocessing)? If not, what differs."""
    preset = get(name)
    if not preset.preprocessing:  # stylelab's own defaults take any network
        return f"stylelab's defaults run on any network; this one is {model.weights_label}."
    mismatch = [] if model.trained else ["its weights are untrained"]
    if model.architecture.name != "vgg19":
        mismatch.append(f"it is {model.architecture.title}, not VGG-19")
    if preset.preprocessing and model.preprocessing != preset.preprocessing:
        mismatch.append(f"its weights expect {model.preprocessing} preprocessing, not {preset.preprocessing}")
    if not mismatch:
        return f"The network in use ({model.weights_label}) is of the kind the implementation uses."
    return (f"The network in use ({model.weights_label}) differs from the implementation's ({preset.network}): "
            + " and ".join(mismatch) + "; the same weights weigh the losses differently there (effective_balance).")


# --------------------------------------------------------------------------- the effective balance


def effective_balance(name: str, model: VGGFeatures, content: Any, style: Any, **explicit: Any) -> float:
    r"""The style/content ratio preset ``name`` applies on ``model``, in units of the balance point.

    A preset's ``style_weight`` means nothing by itself: its style term's size depends on the
    network (activations of a Caffe network are tens to hundreds of times those of a
    torchvision one), on how the Gram matrix is normalised and on the layers. This number
    takes all of that into account:

    .. math::

        r = \frac{\beta\, S(p)}{\alpha\, C(a)}

    with :math:`p` the photo, :math:`a` the painting resized to the photo's size,
    :math:`\beta S(p)` the preset's weighted style term at the photo itself (the price of
    having no style at all) and :math:`\alpha C(a)` its weighted content term at the
    painting itself (the price of having no content at all), both computed with the
    preset's layers, normalisations and weights on ``model`` (no TV term). :math:`r = 1` is
    lesson 04's balance point: the photo and the painting cost the same. :math:`r = 100`
    leans a hundredfold towards the style, :math:`r = 0.01` towards the photo. For
    stylelab's conventions :math:`r = \beta / \beta^*`, with :math:`\beta^*` the balance
    point lesson 04 measures, so two presets with the same :math:`r` on a network balance
    the two losses alike there, whatever their weights read.

    Args:
        name: a preset (:func:`names`).
        model: the network, whose normalisation must be the preset's (as in
            :func:`~stylelab.stylize`; a :class:`~stylelab.ParameterError` says how to build it).
        content, style: the photo and the painting, anything :func:`~stylelab.load_image`
            reads (e.g. ``(1, 3, H, W)`` tensors in [0, 1]); the photo is used at its size,
            the painting at ``style_scale`` times it as in a run.
        **explicit: settings that replace the preset's, as in :func:`settings` (e.g.
            ``content_layers="relu4_3"`` where a layer is missing from the network).

    Returns:
        :math:`r`, a positive float (``inf`` if the painting has the photo's content features
        exactly).
    """
    checked = settings(name, **explicit)
    model = use_model(model, checked.network)
    photo = load_image(content).to(model.device)
    painting = load_image(style).to(model.device)
    shape = tuple(photo.shape[-2:])
    model.architecture.check_layer_names(list(checked.content_layers) + [n for n, _ in checked.style_layers])
    objective = StyleObjective(
        model, photo, [resize(painting, style_side(shape, checked.style_scale))],
        content_layers=checked.content_layers, style_layers=checked.style_layer_weights, blend=[1.0],
        content_weight=checked.content_weight, style_weight=checked.style_weight, tv_weight=0.0,
        layer_weighting=checked.layer_weighting,
    )
    with torch.no_grad():
        style_cost = objective(photo)["style"].item()
        content_cost = objective(resize(painting, shape))["content"].item()
    return style_cost / content_cost if content_cost > 0 else math.inf
