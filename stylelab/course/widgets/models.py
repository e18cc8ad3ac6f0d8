"""The explorers' models: their state and computation, as plain Python objects.

Each explorer of :mod:`stylelab.course.widgets` is a model (here) and a view
(:mod:`stylelab.course.widgets.views`), as in the ipywidgets documentation's model/view split:
the model holds the state (which image, which layer, which settings) and does the work
(feature maps, Gram matrices, a style-transfer run and its Stop button's logic); the view
builds the ipywidgets controls, copies their values into the model and draws what the
model computed. This module does not import ipywidgets, so everything here can be used,
and tested, without a notebook:

* :class:`ImageChoice` - the images a picker offers, the selected one, uploads;
* :class:`FeatureMaps` - one layer's activations for the selected image (lesson 01);
* :class:`GramComparison` - two images' Gram matrices at one layer (lesson 03);
* :class:`PlaygroundRun` - a style transfer's settings, its runs in a background thread,
  Stop, and the events a view listens to (lessons 04 and 05).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from ...engine import presets
from ...engine.losses import gram_matrix
from ...engine.result import StyleTransferResult
from ...engine.settings import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, TransferSettings
from ...engine.transfer import run
from ...errors import ImageLoadError, StyleLabError
from ...imaging.data import example_path, names
from ...imaging.images import load_image
from ...vgg.features import VGGFeatures
from ...vgg.layers import style_layer_weights
from ...vgg.network import NetworkSettings, build_model
from ..analysis import course_style_weight
from ..figures import top_channels

__all__ = ["TOP", "KEEP", "ImageChoice", "FeatureMaps", "GramComparison", "PlaygroundRun"]

Images = Union[None, Sequence[str], Mapping[str, Any]]
TOP = -1  #: the channel value that means "the most active channels"
KEEP = 8  #: feature maps (or Gram matrices) an explorer keeps, newest first

PLAYGROUND_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_CHOICES = ("relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2")


def _network(model: Optional[VGGFeatures]) -> VGGFeatures:
    return model if model is not None else build_model(NetworkSettings())


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _remember(cache: Dict[Hashable, torch.Tensor], key: Hashable, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``cache[key]``, computed on first use; only the newest :data:`KEEP` entries are kept."""
    if key not in cache:
        cache[key] = compute()
        while len(cache) > KEEP:  # forget the oldest: feature maps can be large
            cache.pop(next(iter(cache)))
    return cache[key]


class ImageChoice:
    """The images a picker offers and the selected one (the model of :class:`ImagePicker`).

    Args:
        images: example names (default: every example) or ``{label: source}`` with any
            source :func:`stylelab.load_image` reads.
        size: longest side, in pixels, of every image handed out.
        value: the label selected at the start (default, or if absent: the first).
        description: what the images are for, used in the error for an empty choice.

    :attr:`label` is the selected label and :meth:`image` its tensor ``(1, 3, H, W)`` in
    [0, 1]. Images load on first use and are kept.
    """

    def __init__(self, images: Images = None, *, size: int = 128, value: Optional[str] = None,
                 description: str = "image") -> None:
        if images is None:
            images = names()
        sources = dict(images) if isinstance(images, Mapping) else {name: None for name in images}
        if not sources:
            raise ValueError(f"The {description} picker needs at least one image; pass example names or a dict.")
        self.size = size
        self._sources: Dict[str, Any] = sources
        self._cache: Dict[str, torch.Tensor] = {}
        self.label: str = value if value in sources else next(iter(sources))

    @property
    def labels(self) -> List[str]:
        """Every label offered, in order (uploads last)."""
        return list(self._sources)

    def select(self, label: str) -> None:
        """Make ``label`` (one of :attr:`labels`) the selected image."""
        if label not in self._sources:
            raise ValueError(f"{label!r} is not one of the images offered: {', '.join(map(repr, self._sources))}.")
        self.label = label

    def image(self, label: Optional[str] = None) -> torch.Tensor:
        """The image called ``label`` (default: the selected one), ``(1, 3, H, W)`` in [0, 1]."""
        label = self.label if label is None else label
        if label not in self._cache:
            source = self._sources[label]
            self._cache[label] = load_image(example_path(label) if source is None else source, self.size)
        return self._cache[label]

    def add(self, label: str, source: Any) -> str:
        """Add an image (anything ``load_image`` accepts), select it, and return its label.

        The label gets a number, ``"name (2)"``, if it is taken already. A source that
        cannot be loaded raises before anything changes.
        """
        tensor = load_image(source, self.size)
        base, number = label, 2
        while label in self._sources:
            label, number = f"{base} ({number})", number + 1
        self._sources[label] = tensor
        self._cache[label] = tensor
        self.label = label
        return label

    def add_upload(self, name: str, content: bytes) -> str:
        """Add uploaded file bytes as ``"upload: <name>"``, select it and return the label.

        The bytes go through the same bounded decoding as a path (:func:`~stylelab.load_image`
        reads the header first, refuses decompression bombs, and decodes large images at a
        reduced scale), so an upload costs no more memory than the same file by path.
        Raises :class:`~stylelab.ImageLoadError` with one sentence for the learner when the
        file cannot be used; nothing changes then.
        """
        try:
            tensor = load_image(bytes(content), self.size)
        except StyleLabError as exc:
            raise ImageLoadError(f"{name!r} could not be used as an image: {_lower_first(str(exc))}") from None
        except (OSError, SyntaxError, ValueError, MemoryError) as exc:  # Pillow's own, not anticipated
            raise ImageLoadError(
                f"{name!r} could not be used as an image (Pillow said: {exc}); upload a PNG or JPEG file."
            ) from None
        return self.add(f"upload: {name}", tensor)


class FeatureMaps:
    """One layer's activations for the selected image (the model of :class:`FeatureMapExplorer`).

    Args:
        model: a :class:`~stylelab.VGGFeatures` (default: built from ``$STYLELAB_WEIGHTS``).
        images: the :class:`ImageChoice` whose selected image is looked at.
        layer: the layer looked at first.
        top: how many channels the "top" view shows (the most active by mean activation).

    State: :attr:`layer` and :attr:`channel` (:data:`TOP` for "the most active
    channels"), changed with :meth:`select_layer` and :meth:`select_channel`.
    """

    def __init__(self, model: Optional[VGGFeatures], images: ImageChoice, *, layer: str = "relu1_1",
                 top: int = 16) -> None:
        self.model = _network(model)
        self.model.architecture.spec(layer)  # a clear error for an unknown layer name
        self.images = images
        self.top = top
        self.layer = layer
        self.channel = TOP
        self._features: Dict[Tuple[str, str], torch.Tensor] = {}

    def channel_count(self, layer: Optional[str] = None) -> int:
        """How many channels ``layer`` (default: the selected one) has."""
        return self.model.architecture.spec(self.layer if layer is None else layer).out_channels

    def channel_choices(self) -> List[Tuple[str, int]]:
        """``(label, value)`` of every channel choice at the selected layer, "top" first."""
        return [(f"top {self.top}", TOP)] + [(str(c), c) for c in range(self.channel_count())]

    def select_layer(self, layer: str) -> int:
        """Look at ``layer``; the channel is kept if that layer has it, else it becomes :data:`TOP`.

        Returns the channel now selected.
        """
        channels = self.channel_count(layer)
        self.layer = layer
        self.channel = self.channel if self.channel < channels else TOP
        return self.channel

    def select_channel(self, channel: int) -> None:
        """Look at one ``channel`` of the layer, or at the most active ones (:data:`TOP`)."""
        if channel != TOP and not 0 <= channel < self.channel_count():
            raise ValueError(f"{self.layer} has channels 0 to {self.channel_count() - 1}; got {channel}.")
        self.channel = channel

    def features(self) -> torch.Tensor:
        """Activations ``(1, C, h, w)`` of the selected layer for the selected image."""
        layer = self.layer

        def compute() -> torch.Tensor:
            with torch.no_grad():
                image = self.images.image().to(self.model.device)
                return self.model(image, [layer])[layer].float().cpu()

        return _remember(self._features, (self.images.label, layer), compute)

    def cached(self) -> List[Tuple[str, str]]:
        """``(image label, layer)`` of the feature maps kept, oldest first (at most :data:`KEEP`)."""
        return list(self._features)

    def shown_channels(self) -> List[int]:
        """The channels on view: the :attr:`top` most active ones, or the selected one."""
        return top_channels(self.features(), self.top) if self.channel == TOP else [self.channel]

    def channel_statistics(self, channel: Optional[int] = None) -> Dict[str, float]:
        """Mean, std, max and fraction of positive values of one channel (None or TOP: all)."""
        feats = self.features()[0]
        values = feats if channel is None or channel == TOP else feats[channel]
        return {
            "mean": float(values.mean()),
            "std": float(values.std()) if values.numel() > 1 else 0.0,
            "max": float(values.max()),
            "active": float((values > 0).float().mean()),
        }

    def layer_row(self) -> Dict[str, Any]:
        """The :func:`~stylelab.layer_table` row of the selected layer for the selected image's size."""
        rows = self.model.architecture.layer_table(*self.images.image().shape[-2:])
        return next(row for row in rows if row["name"] == self.layer)


class GramComparison:
    """Two images' Gram matrices at one layer (the model of :class:`GramExplorer`).

    Args:
        model: a :class:`~stylelab.VGGFeatures` (default: built from ``$STYLELAB_WEIGHTS``).
        left, right: the two :class:`ImageChoice` objects compared (A and B).
        layer: the layer compared first; change it with :meth:`select_layer`.
    """

    def __init__(self, model: Optional[VGGFeatures], left: ImageChoice, right: ImageChoice, *,
                 layer: str = "relu1_1") -> None:
        self.model = _network(model)
        self.left, self.right = left, right
        self.layer = ""
        self.select_layer(layer)
        self._grams: Dict[tuple, torch.Tensor] = {}

    def select_layer(self, layer: str) -> None:
        """Compare at ``layer`` (checked: an unknown name raises :class:`~stylelab.LayerNameError`)."""
        self.model.architecture.spec(layer)
        self.layer = layer

    def gram(self, images: ImageChoice) -> torch.Tensor:
        """Gram matrix ``(1, C, C)`` of ``images``' selected image at the selected layer."""
        layer = self.layer

        def compute() -> torch.Tensor:
            with torch.no_grad():
                feats = self.model(images.image().to(self.model.device), [layer])[layer].float()
                return gram_matrix(feats).cpu()

        return _remember(self._grams, (id(images), images.label, layer), compute)

    def style_loss(self) -> float:
        """``mean((G_A - G_B)^2)`` at the selected layer: :func:`stylelab.style_loss`, = 4 E_l."""
        # style_loss(features, target) is this mean over the two (cached) Gram matrices.
        return float(torch.mean((self.gram(self.left) - self.gram(self.right)) ** 2))


class PlaygroundRun:
    """A complete style transfer's settings and runs (the model of :class:`StylePlayground`).

    Args:
        model: a :class:`~stylelab.VGGFeatures` (default: built from ``$STYLELAB_WEIGHTS``).
        content, style: the two :class:`ImageChoice` objects.
        steps, optimizer, ratio, content_layer, seed: the settings at the start (see
            :meth:`settings`); ``ratio`` is style weight / content weight, by default the
            course's style weight for the starting images and layers
            (:func:`stylelab.course.analysis.course_style_weight`, ten times their balance point).
        style_layers: the style layers ticked at the start (a name, names or ``{layer: weight}``).
        preview_every: the ``"step"`` event asks for a preview every this many steps.

    Settings are attributes (:attr:`ratio`, :attr:`content_layer`, :attr:`optimizer`,
    :attr:`steps`, :attr:`tv_weight`, :attr:`init`, :attr:`preset`) and, per style layer
    offered, :attr:`ticked` and :attr:`weights`. :meth:`use_preset` puts a preset's values
    on those settings; its other conventions apply to every run while it is chosen. :meth:`run` runs synchronously, :meth:`start` in a
    background thread; :meth:`stop` ends a run after its current step. A view follows a
    run through :meth:`on`.
    """

    #: Events and their arguments: ``refused(message)`` (nothing ran), ``started(settings)``,
    #: ``step(step, image, losses, preview)``, ``stopping()``, ``failed(message)``,
    #: ``finished(settings, result, message)``, ``idle()`` (after every run that started or was refused
    #: for its settings).
    EVENTS = ("refused", "started", "step", "stopping", "failed", "finished", "idle")

    def __init__(
        self,
        model: Optional[VGGFeatures],
        content: ImageChoice,
        style: ImageChoice,
        *,
        steps: int = 50,
        optimizer: str = "adam",
        ratio: Optional[float] = None,
        style_layers: Union[str, Sequence[str], Mapping[str, float]] = DEFAULT_STYLE_LAYERS,
        content_layer: str = DEFAULT_CONTENT_LAYERS[0],
        preview_every: int = 5,
        seed: int = 0,
    ) -> None:
        weights = style_layer_weights(style_layers)
        offered = list(PLAYGROUND_LAYERS) + [n for n in weights if n not in PLAYGROUND_LAYERS]
        self.content_choices = list(CONTENT_CHOICES) + ([content_layer] if content_layer not in CONTENT_CHOICES else [])
        self.model = _network(model)
        for name in offered + [content_layer]:
            self.model.architecture.spec(name)
        self.content, self.style = content, style
        self.ticked: Dict[str, bool] = {name: name in weights for name in offered}
        self.weights: Dict[str, float] = {name: float(weights.get(name, 1.0)) for name in offered}
        if ratio is None:
            try:
                ratio = course_style_weight(self.model, content.image(), style.image(), content_layers=[content_layer],
                                            style_layers=weights)
            except StyleLabError:  # e.g. images too small for the layers: the run will say so; start at stylize's default
                ratio = TransferSettings.style_weight
        self.ratio, self.content_layer, self.optimizer = float(ratio), content_layer, optimizer
        self.steps, self.tv_weight, self.init, self.seed = int(steps), 0.0, "content", seed
        self.preset: Optional[str] = None
        self.preview_every = max(1, int(preview_every))
        self.runs: List[Dict[str, Any]] = []
        self.result: Optional[StyleTransferResult] = None
        self._listeners: Dict[str, List[Callable[..., None]]] = {event: [] for event in self.EVENTS}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._steps = self.steps

    # ------------------------------------------------------------------ settings

    def set_style_layers(self, layers: Union[str, Sequence[str], Mapping[str, float]]) -> List[str]:
        """Tick exactly ``layers`` (names, or ``{layer: weight}``) and untick the others.

        Layers not offered yet (e.g. ``relu1_2``) are added; the layers are then kept in
        network order. Returns the names added.
        """
        weights = style_layer_weights(layers)
        added = [name for name in weights if name not in self.ticked]
        for name in added:
            self.model.architecture.spec(name)
        order = sorted(list(self.ticked) + added, key=self.model.architecture.layer_names.index)
        self.weights = {name: float(weights.get(name, self.weights.get(name, 1.0))) for name in order}
        self.ticked = {name: name in weights for name in order}
        return added

    def style_layer_weights(self) -> Dict[str, float]:
        """``{layer: weight}`` of the ticked style layers with a weight above 0."""
        return {name: float(self.weights[name]) for name, on in self.ticked.items() if on and self.weights[name] > 0}

    def use_preset(self, name: Optional[str]) -> None:
        """Choose preset ``name`` (see :mod:`stylelab.engine.presets`; ``None``: none) and put its
        values on the settings: ratio, content layer, style layers, optimiser, steps, TV
        weight and start. The run keeps the playground's images and network."""
        if name is None:
            self.preset = None
            return
        values = presets.settings(name)
        self.set_style_layers(dict(values.style_layers))
        self.preset, self.content_layer = name, values.content_layers[0]
        if self.content_layer not in self.content_choices:
            self.content_choices.append(self.content_layer)
        self.ratio = values.style_weight / values.content_weight
        self.optimizer, self.steps, self.tv_weight = values.optimizer, values.steps, values.tv_weight
        self.init = values.start_rule(has_content=True)

    def settings(self) -> TransferSettings:
        """The :class:`~stylelab.engine.settings.TransferSettings` of a run with the current controls
        and the chosen preset's other conventions (raises :class:`~stylelab.ParameterError`
        for a value no run can take)."""
        content_weight = presets.settings(self.preset).content_weight if self.preset else 1.0
        return presets.settings(
            self.preset,
            content_layers=(self.content_layer,),
            style_layers=self.style_layer_weights(),
            content_weight=content_weight,
            style_weight=float(self.ratio) * content_weight,
            tv_weight=float(self.tv_weight),
            optimizer=self.optimizer,
            steps=int(self.steps),
            init=self.init,
            seed=self.seed,
            size=None,  # the images come at the playground's size
            normalize=None,  # and the network is the playground's
        )

    @staticmethod
    def outcome(settings: TransferSettings, result: StyleTransferResult) -> str:
        """One sentence on how a run with ``settings`` ended."""
        if result.status == "stopped":
            return (f"Stopped after evaluation {result.evaluations} of {settings.steps}; "
                    "the best image so far is shown and kept.")
        return result.message

    # ------------------------------------------------------------------ events

    def on(self, event: str, callback: Callable[..., None]) -> None:
        """Call ``callback(*arguments)`` on every ``event`` (one of :attr:`EVENTS`)."""
        if event not in self._listeners:
            raise ValueError(f"{event!r} is not an event of the playground; use one of {', '.join(self.EVENTS)}.")
        self._listeners[event].append(callback)

    def _emit(self, event: str, *arguments: Any) -> None:
        for callback in self._listeners[event]:
            callback(*arguments)

    # ------------------------------------------------------------------ running

    @property
    def running(self) -> bool:
        """True while a run is in progress."""
        return self._lock.locked()

    def start(self) -> Optional[threading.Thread]:
        """Start :meth:`run` in a background thread (returned), or return None if one is running."""
        if self.running:
            return None
        self._thread = threading.Thread(target=self.run, name="stylelab-playground", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """End the current run after its current step, keeping the best image so far."""
        self._stop.set()
        self._emit("stopping")

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait for a background run to end; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def run(self) -> Optional[StyleTransferResult]:
        """Run one style transfer with the current settings, synchronously.

        Returns the result (also kept in :attr:`result` and :attr:`runs`), or ``None``
        when it could not run: another run is in progress, no style layer is ticked, or
        :func:`~stylelab.stylize` refused (an image too small for the layers, ...). The
        reason goes to the ``refused`` or ``failed`` listeners; nothing is raised.
        """
        if not self._lock.acquire(blocking=False):
            self._emit("refused", "A run is already in progress; press Stop first.")
            return None
        try:
            return self._run_locked()
        finally:
            self._emit("idle")
            self._lock.release()

    def _run_locked(self) -> Optional[StyleTransferResult]:
        if not self.style_layer_weights():
            self._emit("refused", "Tick at least one style layer with a weight above 0, then press Run again.")
            return None
        try:
            settings = self.settings()
        except StyleLabError as exc:
            self._emit("failed", str(exc))
            return None
        self._stop.clear()
        self._steps = settings.steps
        self._emit("started", settings)
        try:
            result = run(self.content.image(), self.style.image(), settings, model=self.model, progress=False,
                         callback=self._step)
        except (StyleLabError, ValueError, RuntimeError) as exc:
            self._emit("failed", str(exc))
            return None
        self.result = result
        self.runs.append({"settings": settings, "result": result})
        self._emit("finished", settings, result, self.outcome(settings, result))
        return result

    def _step(self, step: int, image: torch.Tensor, losses: Mapping[str, float]) -> bool:
        preview = step % self.preview_every == 0 or step == self._steps
        self._emit("step", step, image, losses, preview)
        return self._stop.is_set()
