"""A style-transfer run's settings as one frozen, validated value.

:class:`TransferSettings` holds every setting of a run except its images: layers, loss
weights, optimiser, budget, start rule, sizes, colour and scale control, and the network
(:class:`~stylelab.vgg.network.NetworkSettings`). Creating one checks everything, once, with
one sentence per mistake (:class:`~stylelab.ParameterError`); it cannot be changed
afterwards, only copied with changes (:meth:`TransferSettings.replace`, checked again).

Every entry point makes its settings here: :func:`~stylelab.stylize` (its keyword
arguments are these fields), the command line, the result cache (which keys entries on
:meth:`TransferSettings.record`), :mod:`stylelab.course.measure` and the widgets. A result
carries the settings that made it (``result.settings``). ``preset=`` (another
implementation's conventions as the starting values) is read one level up, by
:func:`stylelab.engine.presets.settings`, which makes these settings from the preset's values
and the explicit ones.

>>> settings = TransferSettings(style_weight=1e5, steps=200)         # doctest: +SKIP
>>> result = stylelab.engine.transfer.run(content, style, settings)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from .. import validate
from ..errors import ParameterError
from ..imaging.images import target_size
from ..vgg.layers import layer_names, style_layer_weights
from ..vgg.network import NETWORK_FIELDS, NetworkSettings
from .losses import TV_POWERS, TV_REDUCTIONS

__all__ = [
    "TransferSettings",
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_STYLE_LAYERS",
    "DEFAULT_LR",
    "INIT_CHOICES",
    "START_RULES",
    "OPTIMIZERS",
    "LAYER_WEIGHTINGS",
    "PRESERVE_COLOR_CHOICES",
    "IMAGE_UNITS",
    "TV_POWERS",
    "TV_REDUCTIONS",
]

#: Gatys et al. 2016, Fig. 2: content at conv4_2 (its rectified response), style at conv1_1 ... conv5_1.
DEFAULT_CONTENT_LAYERS = ("relu4_2",)
DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: Step size by optimiser: L-BFGS's unit step, and Adam on [0, 1] pixels (the TensorFlow tutorial).
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
OPTIMIZERS = tuple(DEFAULT_LR)
#: The start rules that need no image of their own.
START_RULES = ("content", "noise", "style")
#: ``init``'s values; ``"image"`` means an image passed beside the settings (``init=`` of stylize).
INIT_CHOICES = START_RULES + ("image",)
PRESERVE_COLOR_CHOICES = ("luminance", "histogram")
#: How the style layers are weighted: ``"channels"`` (default) multiplies layer l's weight by
#: :math:`1/N_l^2` (the authors' reference code and the PyTorch tutorial, whose style weight
#: stylelab reuses): eq. 7 with :math:`w_l \propto 1/N_l^2`, so relu1_1 (64 channels) counts
#: 64 times as much as relu4_1 (512) for the same mean error. ``"paper"`` uses the
#: :math:`w_l` given, as eq. 7 writes it. See :mod:`stylelab.engine.objective`.
LAYER_WEIGHTINGS = ("channels", "paper")
#: The units an image is optimised and its total variation measured in: ``"pixels"`` (RGB
#: in [0, 1], as stylelab stores images) or ``"network"`` (what the network reads after its
#: preprocessing, :meth:`~stylelab.VGGFeatures.normalize`: BGR in 0-255 units less the mean
#: pixel for Caffe weights, ``(x - mean) / std`` for torchvision's), as Gatys et al.'s code,
#: jcjohnson/neural-style and d2l.ai do.
IMAGE_UNITS = ("pixels", "network")

Size = Union[int, Tuple[int, int], None]


@dataclass(frozen=True)
class TransferSettings:
    """Every setting of a style-transfer run but its images; checked when created.

    The fields are :func:`~stylelab.stylize`'s keyword arguments of the same names (see
    its docstring for what each does); values are stored in one normal form:
    ``content_layers`` a tuple of names, ``style_layers`` a tuple of ``(name, weight)``
    pairs in the order given, ``steps`` an int or one int per scale, ``scales`` and
    ``style_blend`` tuples, ``optimizer`` and ``preserve_color`` lower case. ``lr=None``
    and ``init=None`` mean the defaults (:attr:`learning_rate`, and ``"content"`` when
    there is a content image, else ``"noise"``).

    The last fields are conventions in which other implementations differ from stylelab's
    defaults (see :mod:`stylelab.engine.presets`): ``tv_power`` and ``tv_reduction`` (the TV
    term's form, :func:`~stylelab.tv_loss`), ``image_units`` (what the optimiser changes
    and the TV term measures: the ``"pixels"`` or the ``"network"``'s preprocessed input,
    :data:`~stylelab.engine.objective.IMAGE_UNITS`), ``clamp`` (project the pixels onto [0, 1]
    before every evaluation), ``adam_betas``, ``adam_eps`` and ``adam_eps_hat`` (Adam's
    constants, and Keras's place for epsilon; see :func:`stylelab.engine.optimize.optimize`).
    """

    content_layers: Tuple[str, ...] = field(default=DEFAULT_CONTENT_LAYERS, metadata=dict(
        help="layers whose activations must match the content image's", metavar="LAYER"))
    style_layers: Tuple[Tuple[str, float], ...] = field(
        default=tuple((name, 1.0) for name in DEFAULT_STYLE_LAYERS), metadata=dict(
            help="layers whose Gram matrices must match the style's, each LAYER or LAYER:WEIGHT "
                 "(weight 1 when left out), e.g. relu1_1 relu3_1:0.5", metavar="LAYER[:WEIGHT]"))
    content_weight: float = field(default=1.0, metadata=dict(help="weight of the content loss"))
    style_weight: float = field(default=1e6, metadata=dict(help="weight of the style loss"))
    tv_weight: float = field(default=0.0, metadata=dict(help="weight of the total-variation (smoothness) loss"))
    layer_weighting: str = field(default="channels", metadata=dict(
        help="style layers weighted by 1/N_l^2 (channels, as the PyTorch tutorial) or as eq. 7 of "
             "Gatys et al. writes them (paper)", choices=LAYER_WEIGHTINGS))
    optimizer: str = field(default="lbfgs", metadata=dict(help="optimiser", choices=OPTIMIZERS))
    steps: Union[int, Tuple[int, ...]] = field(default=300, metadata=dict(
        help="loss evaluations; with --scales one per scale, or one for all", metavar="N"))
    lr: Optional[float] = field(default=None, metadata=dict(
        help="step size (default " + ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_LR.items()) + ")"))
    line_search: bool = field(default=True, metadata=dict(
        help="L-BFGS only: a strong-Wolfe line search on the projected gradient; "
             "--no-line-search is the PyTorch tutorial's plain L-BFGS"))
    init: Optional[str] = field(default=None, metadata=dict(
        help="start image (default: content, or noise without a content image)", choices=INIT_CHOICES,
        command_line_choices=START_RULES))
    seed: int = field(default=0, metadata=dict(help="random seed"))
    size: Size = field(default=None, metadata=dict(
        help="output size: its longest side in pixels, or H W (default: the content's own size, "
             "or the last of --scales)", metavar="PX"))
    style_scale: float = field(default=1.0, metadata=dict(
        help="the style images' longest side, as a multiple of the output's"))
    style_blend: Optional[Tuple[float, ...]] = field(default=None, metadata=dict(
        help="one blend weight per style image, e.g. 0.7 0.3 (default: equal weights)", metavar="W",
        flags=("--blend",)))
    preserve_color: Optional[str] = field(default=None, metadata=dict(
        help="keep the content's colours (default: the style's)", choices=PRESERVE_COLOR_CHOICES))
    scales: Optional[Tuple[int, ...]] = field(default=None, metadata=dict(
        help="coarse-to-fine sizes, e.g. 256 512 1024 (the last is the output size)", metavar="PX"))
    tv_power: int = field(default=2, metadata=dict(
        help="the TV term's differences squared (2) or absolute (1)", choices=TV_POWERS))
    tv_reduction: str = field(default="mean", metadata=dict(
        help="the TV term's mean or sum over the differences", choices=TV_REDUCTIONS))
    image_units: str = field(default="pixels", metadata=dict(
        help="what the optimiser changes and the TV term measures: the pixels in [0, 1], or the "
             "network's preprocessed input", choices=IMAGE_UNITS))
    clamp: bool = field(default=True, metadata=dict(
        help="project the pixels onto [0, 1] before every evaluation"))
    adam_betas: Tuple[float, float] = field(default=(0.9, 0.999), metadata=dict(
        help="Adam's two decay rates", metavar=("BETA1", "BETA2")))
    adam_eps: float = field(default=1e-8, metadata=dict(help="Adam's epsilon"))
    adam_eps_hat: bool = field(default=False, metadata=dict(
        help="add Adam's epsilon before the bias correction, as Keras/TensorFlow's Adam does"))
    network: NetworkSettings = field(default_factory=NetworkSettings, metadata=dict(
        help="the network's settings, on the command line as their own options"))

    def __post_init__(self) -> None:
        for name, value in _checked(self).items():
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ making

    @classmethod
    def from_options(cls, **options: Any) -> "TransferSettings":
        """Settings from :func:`~stylelab.stylize`-style keywords: the fields above plus the
        network's (``weights``, ``pooling``, ``normalize``, ``device``, ``precision``,
        ``channels_last``). An unknown keyword is named, with the closest known one."""
        fields = {f.name for f in dataclasses.fields(cls)} - {"network"}
        if "preset" in options:
            raise ParameterError("preset= is read by stylelab.engine.presets.settings(preset, ...) (and so by stylize and the "
                                 "command line), not by TransferSettings.from_options; call that instead.")
        for name in options:
            if name not in fields and name not in NETWORK_FIELDS:
                close = difflib.get_close_matches(name, sorted(fields | set(NETWORK_FIELDS)), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else "; see help(stylelab.stylize)."
                raise ParameterError(f"{name!r} is not a style-transfer setting{hint}")
        network = NetworkSettings(**{k: options.pop(k) for k in NETWORK_FIELDS if k in options})
        return cls(network=network, **options)

    def replace(self, **changes: Any) -> "TransferSettings":
        """A copy with ``changes`` (same keywords as :meth:`from_options`), checked again."""
        network_changes = {k: changes.pop(k) for k in NETWORK_FIELDS if k in changes}
        network = dataclasses.replace(self.network, **network_changes)
        return dataclasses.replace(self, network=network, **changes)

    # ------------------------------------------------------------------ derived values

    @property
    def learning_rate(self) -> float:
        """``lr``, or the optimiser's default (:data:`DEFAULT_LR`)."""
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr

    @property
    def style_layer_weights(self) -> Dict[str, float]:
        """``{layer: weight}`` of the style term, in the order given."""
        return dict(self.style_layers)

    @property
    def stage_steps(self) -> List[int]:
        """The evaluation budget of each scale (one entry without ``scales``)."""
        count = len(self.scales) if self.scales else 1
        return list(self.steps) if isinstance(self.steps, tuple) else [self.steps] * count

    def start_rule(self, has_content: bool) -> str:
        """``init``, or its default: ``"content"`` when there is a content image, else ``"noise"``."""
        return self.init if self.init is not None else ("content" if has_content else "noise")

    # ------------------------------------------------------------------ records

    def record(self) -> Dict[str, Any]:
        """The settings as plain JSON values (lists and dicts; the network under ``"network"``).

        Equal settings give equal records, and :meth:`from_record` gives the settings back.
        """
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "network"}
        values["network"] = {k: _plain(getattr(self.network, k)) for k in NETWORK_FIELDS}
        return {name: _plain(value) for name, value in values.items()}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "TransferSettings":
        """The settings a :meth:`record` describes."""
        values = dict(record)
        network = NetworkSettings(**values.pop("network", {}))
        values["style_layers"] = {name: weight for name, weight in values.get("style_layers", [])}
        for name in ("content_layers", "scales", "style_blend", "size", "steps", "adam_betas"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(network=network, **values)


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively: JSON's types."""
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


def _checked(settings: TransferSettings) -> Dict[str, Any]:
    """Every field in its normal form; raises ParameterError (or LayerNameError) for the first mistake."""
    s = settings
    optimizer = validate.choice("optimizer", s.optimizer.lower() if isinstance(s.optimizer, str) else s.optimizer, OPTIMIZERS)
    scales = tuple(validate.scales(s.scales)) if s.scales is not None else None
    values = {
        "content_layers": tuple(layer_names("content_layers", s.content_layers)),
        "style_layers": tuple(style_layer_weights(_pairs_as_mapping(s.style_layers)).items()),
        "content_weight": validate.non_negative("content_weight", s.content_weight),
        "style_weight": validate.non_negative("style_weight", s.style_weight),
        "tv_weight": validate.non_negative("tv_weight", s.tv_weight),
        "layer_weighting": validate.choice("layer_weighting", s.layer_weighting, LAYER_WEIGHTINGS),
        "optimizer": optimizer,
        "steps": _steps(s.steps, scales),
        "lr": None if s.lr is None else validate.positive("lr", s.lr, maximum=validate.MAX_LR),
        "line_search": _flag("line_search", s.line_search),
        "init": None if s.init is None else validate.choice("init", s.init, INIT_CHOICES),
        "seed": validate.seed(s.seed),
        "size": _size(s.size),
        "style_scale": validate.positive("style_scale", s.style_scale, maximum=validate.MAX_STYLE_SCALE),
        "style_blend": _blend(s.style_blend),
        "preserve_color": _preserve_color(s.preserve_color),
        "scales": scales,
        "tv_power": validate.choice("tv_power", s.tv_power, TV_POWERS),
        "tv_reduction": validate.choice("tv_reduction", s.tv_reduction, TV_REDUCTIONS),
        "image_units": validate.choice("image_units", s.image_units, IMAGE_UNITS),
        "clamp": _flag("clamp", s.clamp),
        "adam_betas": _betas(s.adam_betas),
        "adam_eps": validate.positive("adam_eps", s.adam_eps),
        "adam_eps_hat": _flag("adam_eps_hat", s.adam_eps_hat),
    }
    if not isinstance(s.network, NetworkSettings):
        raise ParameterError(f"network must be a stylelab.vgg.network.NetworkSettings; got {s.network!r}.")
    return values


def _pairs_as_mapping(style_layers: Any) -> Any:
    """A tuple of ``(name, weight)`` pairs (the normal form) as a mapping; anything else as it is."""
    if isinstance(style_layers, tuple) and style_layers and all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in style_layers
    ):
        return dict(style_layers)
    return style_layers


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ParameterError(f"{name} must be True or False; got {value!r}.")
    return value


def _betas(betas: Any) -> Tuple[float, float]:
    """Adam's two decay rates, each in [0, 1)."""
    if isinstance(betas, (str, bytes, Mapping)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ParameterError(f"adam_betas must be a pair (beta1, beta2) such as (0.9, 0.999); got {betas!r}.")
    values = tuple(validate.non_negative("each of adam_betas", b) for b in betas)
    if any(b >= 1 for b in values):
        raise ParameterError(f"adam_betas must each be below 1 (a decay rate); got {betas!r}.")
    return values  # type: ignore[return-value]


def _steps(steps: Any, scales: Optional[Tuple[int, ...]]) -> Union[int, Tuple[int, ...]]:
    """One budget, or one per scale (a list of one budget is that budget)."""
    if not isinstance(steps, (list, tuple)):
        return validate.whole_number("steps", steps)
    count = len(scales) if scales else 1
    if len(steps) != count:
        raise ParameterError(f"steps has {len(steps)} entries for {count} scale{'s' if count > 1 else ''}; "
                             "give one number, or one per scale.")
    numbers = tuple(validate.whole_number("steps", n) for n in steps)
    return numbers if scales else numbers[0]


def _size(size: Any) -> Size:
    if size is None:
        return None
    target_size((1, 1), size)  # raises for anything but a positive int or an (h, w) pair
    return int(size) if not isinstance(size, (list, tuple)) else (int(size[0]), int(size[1]))


def _blend(blend: Any) -> Optional[Tuple[float, ...]]:
    """Blend weights as given (their count is checked against the style images when a run starts)."""
    if blend is None:
        return None
    if isinstance(blend, (str, bytes, Mapping)) or not hasattr(blend, "__iter__"):
        validate.blend_weights(blend, 1)  # raises: not a list
    values = list(blend)
    validate.blend_weights(values, len(values))
    return tuple(float(b) for b in values)


def _preserve_color(value: Any) -> Optional[str]:
    if value is None or value is False:
        return None
    if not isinstance(value, str) or value.lower() not in PRESERVE_COLOR_CHOICES:
        validate.choice("preserve_color", value, (None, *PRESERVE_COLOR_CHOICES))  # raises: names them all
    return value.lower()
