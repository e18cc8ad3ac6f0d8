"""Interactive explorers for the lessons, built with ipywidgets.

* :class:`FeatureMapExplorer` (lesson 01): an image, a layer and a channel (or the 16
  most active channels); shows the feature maps and the channel's activation statistics.
* :class:`GramExplorer` (lesson 03): two images and a layer; shows both Gram matrices,
  their difference and the style loss between the two images.
* :class:`StylePlayground` (lessons 04 and 05): a complete style transfer with every
  setting on a control, Run and Stop buttons, a live preview and a gallery of past runs.

Each explorer is a plain Python object: its state lives in the ``value`` of its
controls (``explorer.layer.value = "relu3_1"``), its logic in ordinary methods, and its
root widget is ``explorer.widget``. Putting the explorer last in a notebook cell (or
calling ``display(explorer)``) shows it. Nothing slow runs while a slider is dragged:
the feature and Gram explorers recompute when a drop-down changes, sliders only report
on release (``continuous_update=False``), and the playground only works when Run is
pressed.

Every explorer accepts the model and the images as arguments: ``images`` may be a list of
example names (see :func:`stylelab.data.names`) or a ``{label: source}`` dict of
anything :func:`stylelab.load_image` accepts. The learner can add their own pictures with
the upload button next to each image picker.
"""

from __future__ import annotations

import html
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import ipywidgets as W
import torch

from . import plotting
from .data import example_path, names
from .errors import StyleLabError
from .images import load_image
from .losses import gram_matrix
from .transfer import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, StyleTransferResult, style_layer_weights, stylize
from .vgg import VGGFeatures

__all__ = ["FeatureMapExplorer", "GramExplorer", "StylePlayground", "ImagePicker"]

Images = Union[None, Sequence[str], Mapping[str, Any]]
TOP = -1  # the channel picker's value for "the most active channels"
_KEEP = 8  # feature maps kept per explorer (image, layer), newest first


def _plain(label: str) -> str:
    # Figure titles go through matplotlib's mathtext: a "$" in a file name must stay literal.
    return label.replace("$", r"\$")


def _model(model: Optional[VGGFeatures]) -> VGGFeatures:
    return model if model is not None else VGGFeatures()


def _picture(width: Optional[str] = None) -> W.Layout:
    # A fixed display width (small images are scaled up), or at most the available width;
    # the aspect ratio is kept whatever the surrounding flex box does.
    return W.Layout(width=width, max_width="100%", height="auto", object_fit="contain", align_self="flex-start")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _error_html(message: str) -> str:
    return f'<span style="color:#b03a2e"><b>Problem:</b> {html.escape(message, quote=False)}</span>'


class ImagePicker:
    """A drop-down of images plus an upload button that adds the learner's own pictures.

    Args:
        images: example names (default: every example) or ``{label: source}``.
        size: longest side, in pixels, of every image handed out.
        description: the drop-down's label.
        value: the label selected at the start (default: the first).
        on_error: called with a one-sentence message when an upload cannot be used.

    ``picker.dropdown.value`` is the selected label and :meth:`image` its tensor
    ``(1, 3, H, W)`` in [0, 1]. Images load on first use and are kept.
    """

    def __init__(
        self,
        images: Images = None,
        *,
        size: int = 128,
        description: str = "image",
        value: Optional[str] = None,
        on_error: Optional[Callable[[str], None]] = None,
    ) -> None:
        if images is None:
            images = names()
        sources = dict(images) if isinstance(images, Mapping) else {name: None for name in images}
        if not sources:
            raise ValueError(f"The {description} picker needs at least one image; pass example names or a dict.")
        self.size = size
        self._sources: Dict[str, Any] = sources
        self._cache: Dict[str, torch.Tensor] = {}
        self._on_error = on_error
        self._listeners: List[Callable[[], None]] = []
        self._muted = False
        labels = list(sources)
        self.dropdown = W.Dropdown(
            options=labels, value=value if value in sources else labels[0], description=description
        )
        self.dropdown.observe(self._changed, names="value")
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="upload")
        self.upload.observe(self._on_upload, names="value")
        self.box = W.HBox([self.dropdown, self.upload])

    @property
    def label(self) -> str:
        """The selected label."""
        return self.dropdown.value

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever another image is selected (once per change)."""
        self._listeners.append(callback)

    def _changed(self, change: Mapping[str, Any]) -> None:
        if not self._muted:
            for callback in self._listeners:
                callback()

    def image(self, label: Optional[str] = None) -> torch.Tensor:
        """The image called ``label`` (default: the selected one), ``(1, 3, H, W)`` in [0, 1]."""
        label = self.dropdown.value if label is None else label
        if label not in self._cache:
            source = self._sources[label]
            self._cache[label] = load_image(example_path(label) if source is None else source, self.size)
        return self._cache[label]

    def add(self, label: str, source: Any) -> str:
        """Add an image (anything ``load_image`` accepts), select it, and return its label."""
        tensor = load_image(source, self.size)  # fails here, before the picker changes
        base, number = label, 2
        while label in self._sources:
            label, number = f"{base} ({number})", number + 1
        self._sources[label] = tensor
        self._cache[label] = tensor
        self._muted = True  # new options select the first one for a moment: no redraw for that
        try:
            self.dropdown.options = list(self._sources)
        finally:
            self._muted = False
        self.dropdown.value = label
        return label

    def add_upload(self, name: str, content: bytes) -> Optional[str]:
        """Add uploaded file bytes; on a bad file report it through ``on_error`` and return None.

        The bytes go through the same bounded decoding as a path (:func:`~stylelab.load_image`
        reads the header first, refuses decompression bombs, and decodes large images at a
        reduced scale), so an upload costs no more memory than the same file by path.
        """
        try:
            tensor = load_image(bytes(content), self.size)
        except StyleLabError as exc:
            self._report(f"{name!r} could not be used as an image: {_lower_first(str(exc))}")
            return None
        except (OSError, SyntaxError, ValueError, MemoryError) as exc:  # Pillow's own, not anticipated
            self._report(f"{name!r} could not be used as an image (Pillow said: {exc}); upload a PNG or JPEG file.")
            return None
        return self.add(f"upload: {name}", tensor)

    def _on_upload(self, change: Mapping[str, Any]) -> None:
        files = list(change["new"] or [])
        if not files:
            return
        for entry in files:
            self.add_upload(entry["name"], entry["content"])
        self.upload.value = ()  # so that the same file can be uploaded again

    def _report(self, message: str) -> None:
        if self._on_error is not None:
            self._on_error(message)


class _Explorer:
    """Shared display behaviour: the root widget is ``self.widget``."""

    widget: W.Widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _show_error(self, message: str) -> None:
        self.status.value = _error_html(message)


# --------------------------------------------------------------------------- features


class FeatureMapExplorer(_Explorer):
    """Look at what each VGG-19 layer responds to (lesson 01).

    Args:
        model: a :class:`~stylelab.VGGFeatures` (default: built from ``$STYLELAB_WEIGHTS``).
        images: example names or ``{label: source}``; default every example image.
        size: longest side of the images in pixels.
        layer: the layer shown first.
        top: how many channels the "top" view shows (the most active by mean activation).
        value: the image selected at the start (the first one if there is none by that name).

    Controls: ``image`` (an :class:`ImagePicker`), ``layer`` and ``channel`` drop-downs
    (``channel.value == -1`` means "top 16"). Views: ``maps`` (PNG of the feature maps),
    ``preview`` (the input image), ``stats`` (shape, receptive field and activation
    statistics) and ``status`` (problems, e.g. an upload that is not an image).
    """

    def __init__(
        self,
        model: Optional[VGGFeatures] = None,
        images: Images = None,
        *,
        size: int = 128,
        layer: str = "relu1_1",
        top: int = 16,
        value: str = "chelsea",
    ) -> None:
        self.model = _model(model)
        arch = self.model.architecture
        arch.spec(layer)  # a clear error for an unknown layer name
        self.top = top
        self._features: Dict[tuple, torch.Tensor] = {}
        self._busy = False
        self.status = W.HTML()
        self.image = ImagePicker(images, size=size, value=value, on_error=self._show_error)
        self.layer = W.Dropdown(options=list(arch.layer_names), value=layer, description="layer")
        self.channel = W.Dropdown(options=self._channel_options(layer), value=TOP, description="channel")
        self.maps = W.Image(format="png", layout=_picture())
        self.preview = W.Image(format="png", layout=_picture("200px"))
        self.stats = W.HTML(layout=W.Layout(margin="0 0 0 12px"))
        self.layer.add_class("stylelab-layer")
        self.channel.add_class("stylelab-channel")
        self.maps.add_class("stylelab-feature-maps")
        self.stats.add_class("stylelab-stats")
        self.image.on_change(self.update)
        self.layer.observe(self._layer_changed, names="value")
        self.channel.observe(self._changed, names="value")
        self.widget = W.VBox([
            self.image.box, W.HBox([self.layer, self.channel]), W.HBox([self.preview, self.stats]),
            self.maps, self.status,
        ])
        self.widget.add_class("stylelab-feature-map-explorer")
        self.update()

    def _channel_options(self, layer: str) -> List[tuple]:
        channels = self.model.architecture.spec(layer).out_channels
        return [(f"top {self.top}", TOP)] + [(str(c), c) for c in range(channels)]

    def features(self) -> torch.Tensor:
        """Activations ``(1, C, h, w)`` of the selected layer for the selected image."""
        key = (self.image.label, self.layer.value)
        if key not in self._features:
            with torch.no_grad():
                image = self.image.image().to(self.model.device)
                self._features[key] = self.model(image, [self.layer.value])[self.layer.value].float().cpu()
            while len(self._features) > _KEEP:  # forget the oldest maps: they can be large
                self._features.pop(next(iter(self._features)))
        return self._features[key]

    def channel_statistics(self, channel: Optional[int] = None) -> Dict[str, float]:
        """Mean, std, max and fraction of positive values of one channel (None: all channels)."""
        feats = self.features()[0]
        values = feats if channel is None or channel == TOP else feats[channel]
        return {
            "mean": float(values.mean()),
            "std": float(values.std()) if values.numel() > 1 else 0.0,
            "max": float(values.max()),
            "active": float((values > 0).float().mean()),
        }

    def update(self) -> None:
        """Recompute the view for the current image, layer and channel."""
        try:
            feats = self.features()
        except StyleLabError as exc:  # e.g. an image too small for a deep layer
            self._show_error(str(exc))
            return
        layer, channel, label = self.layer.value, self.channel.value, _plain(self.image.label)
        row = next(r for r in self.model.architecture.layer_table(*self.image.image().shape[-2:]) if r["name"] == layer)
        if channel == TOP:
            chosen = plotting.top_channels(feats, self.top)
            title = f"{layer} of '{label}': the {len(chosen)} most active channels (each with its own colour scale)"
            figure = plotting.feature_maps(feats, chosen, ncols=8, title=title)
        else:
            chosen = [channel]
            title = f"{layer} of '{label}', channel {channel}"
            figure = plotting.feature_maps(feats, chosen, ncols=1, size=3.6, title=title)
        self.maps.value = plotting.png_bytes(figure)
        self.preview.value = plotting.png_bytes(self.image.image())
        stats = self.channel_statistics(channel)
        which = "all channels" if channel == TOP else f"channel {channel}"
        shown = ", ".join(str(c) for c in chosen)
        self.stats.value = (
            f"<b>{layer}</b>: {row['channels']} channels of {row['height']}&times;{row['width']} positions; "
            f"each value sees a {row['receptive_field']}&times;{row['receptive_field']} px patch "
            f"(stride {row['stride']} px).<br>"
            f"<b>{which}</b>: mean {stats['mean']:.3g}, std {stats['std']:.3g}, max {stats['max']:.3g}, "
            f"positive at {100 * stats['active']:.0f}% of positions.<br>"
            f"<small>shown: {shown}</small>"
        )
        self.status.value = ""

    def _layer_changed(self, change: Mapping[str, Any]) -> None:
        self._busy = True
        try:
            old = self.channel.value
            options = self._channel_options(change["new"])
            self.channel.options = options
            self.channel.value = old if old < len(options) - 1 else TOP
        finally:
            self._busy = False
        self.update()

    def _changed(self, change: Mapping[str, Any]) -> None:
        if not self._busy:
            self.update()


# --------------------------------------------------------------------------- Gram


class GramExplorer(_Explorer):
    """Compare the Gram matrices ("style") of two images at one layer (lesson 03).

    Args:
        model: a :class:`~stylelab.VGGFeatures` (default: built from ``$STYLELAB_WEIGHTS``).
        images: example names or ``{label: source}`` offered on both sides.
        size: longest side of the images in pixels (the two may differ in shape: Gram
            matrices are ``C x C`` whatever the image size).
        left, right: the labels selected at the start.
        layer: the layer shown first.
        max_channels: the heatmaps show the first ``max_channels`` channels; the style
            loss always uses all of them.

    Controls: ``left`` and ``right`` (:class:`ImagePicker`), ``layer``. Views:
    ``previews`` (the two images), ``heatmaps`` (PNG: both Gram matrices and their
    difference), ``loss`` (the style loss as text) and ``status``.
    """

    def __init__(
        self,
        model: Optional[VGGFeatures] = None,
        images: Images = None,
        *,
        size: int = 128,
        left: str = "chelsea",
        right: str = "swirls",
        layer: str = "relu1_1",
        max_channels: int = 32,
    ) -> None:
        self.model = _model(model)
        self.model.architecture.spec(layer)
        self.max_channels = max_channels
        self._grams: Dict[tuple, torch.Tensor] = {}
        self.status = W.HTML()
        self.left = ImagePicker(images, size=size, description="image A", value=left, on_error=self._show_error)
        self.right = ImagePicker(images, size=size, description="image B", value=right, on_error=self._show_error)
        self.layer = W.Dropdown(options=list(self.model.architecture.layer_names), value=layer, description="layer")
        self.left_view = W.Image(format="png", layout=_picture("200px"))
        self.right_view = W.Image(format="png", layout=_picture("200px"))
        self.heatmaps = W.Image(format="png", layout=_picture())
        self.loss = W.HTML()
        self.layer.add_class("stylelab-layer")
        self.heatmaps.add_class("stylelab-gram-heatmaps")
        self.left.on_change(self.update)
        self.right.on_change(self.update)
        self.layer.observe(lambda change: self.update(), names="value")
        sides = W.HBox([W.VBox([self.left.box, self.left_view]), W.VBox([self.right.box, self.right_view])])
        self.widget = W.VBox([sides, self.layer, self.heatmaps, self.loss, self.status])
        self.widget.add_class("stylelab-gram-explorer")
        self.update()

    def gram(self, picker: ImagePicker) -> torch.Tensor:
        """Gram matrix ``(1, C, C)`` of ``picker``'s image at the selected layer."""
        key = (id(picker), picker.label, self.layer.value)
        if key not in self._grams:
            with torch.no_grad():
                image = picker.image().to(self.model.device)
                feats = self.model(image, [self.layer.value])[self.layer.value].float()
                self._grams[key] = gram_matrix(feats).cpu()
        return self._grams[key]

    def style_loss_value(self) -> float:
        """``mean((G_A - G_B)^2)`` at the selected layer: :func:`stylelab.style_loss`, = 4 E_l."""
        # style_loss(features, target) is this mean over the two (cached) Gram matrices.
        return float(torch.mean((self.gram(self.left) - self.gram(self.right)) ** 2))

    def update(self) -> None:
        """Recompute the heatmaps and the loss for the current images and layer."""
        try:
            gram_a, gram_b = self.gram(self.left), self.gram(self.right)
            loss = self.style_loss_value()
        except StyleLabError as exc:
            self._show_error(str(exc))
            return
        layer, a, b = self.layer.value, self.left.label, self.right.label
        channels = gram_a.shape[-1]
        shown = min(channels, self.max_channels)
        figure = plotting.gram_comparison(
            gram_a, gram_b, (_plain(a), _plain(b)), max_channels=self.max_channels,
            title=f"Gram matrices at {layer} (first {shown} of {channels} channels)",
        )
        self.heatmaps.value = plotting.png_bytes(figure)
        self.left_view.value = plotting.png_bytes(self.left.image())
        self.right_view.value = plotting.png_bytes(self.right.image())
        n = self.model.architecture.spec(layer).out_channels
        self.loss.value = (
            f"style loss at <b>{layer}</b> between '{html.escape(a)}' and '{html.escape(b)}': "
            f"<b>{loss:.4g}</b> <small>(mean of (G<sub>A</sub> &minus; G<sub>B</sub>)&sup2; over "
            f"{n}&times;{n} entries = 4&nbsp;E<sub>l</sub> of Gatys et al. 2016)</small>"
        )
        self.status.value = ""


# --------------------------------------------------------------------------- playground

_PLAYGROUND_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
_CONTENT_CHOICES = ("relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2")


class StylePlayground(_Explorer):
    """A complete style transfer with every setting on a control (lessons 04 and 05).

    Args:
        model: a :class:`~stylelab.VGGFeatures` (default: built from ``$STYLELAB_WEIGHTS``).
        contents, styles: example names or ``{label: source}`` for the two pickers;
            default: the content and the style examples.
        size: longest side of the content image (the style image gets the same).
        steps: optimisation steps offered at the start.
        optimizer: ``"adam"`` (smooth live preview) or ``"lbfgs"``.
        ratio: the style weight / content weight ratio offered at the start.
        style_layers: the style layers ticked at the start (list or ``{layer: weight}``).
        content_layer: the content layer offered at the start.
        preview_every: refresh the live preview every this many steps.
        gallery_size: how many past runs the gallery keeps.
        seed: the seed of every run (same settings, same image).
        content, style: the labels selected at the start (the first ones if absent).

    Controls: ``content`` and ``style`` (:class:`ImagePicker`), ``ratio`` (log slider),
    ``content_layer``, ``layer_boxes`` and ``layer_weights`` (one per style layer;
    :meth:`set_style_layers` ticks a given choice), ``optimizer``, ``steps``,
    ``tv_weight``, ``init``, ``run_button``, ``stop_button``.
    Views: ``progress``, ``preview``, ``status``, ``gallery``. :attr:`runs` keeps every
    finished run as ``{"settings": ..., "result": StyleTransferResult}``.

    Run starts :func:`stylelab.stylize` in a background thread so that Stop stays
    clickable; Stop ends the run after the current step and keeps the best image so far.
    :meth:`run` does the same synchronously (for scripts and tests).
    """

    def __init__(
        self,
        model: Optional[VGGFeatures] = None,
        contents: Images = None,
        styles: Images = None,
        *,
        size: int = 128,
        steps: int = 50,
        optimizer: str = "adam",
        ratio: float = 1e6,
        style_layers: Union[Sequence[str], Mapping[str, float]] = DEFAULT_STYLE_LAYERS,
        content_layer: str = DEFAULT_CONTENT_LAYERS[0],
        preview_every: int = 5,
        gallery_size: int = 6,
        seed: int = 0,
        content: str = "chelsea",
        style: str = "swirls",
    ) -> None:
        weights = style_layer_weights(style_layers)
        offered = list(_PLAYGROUND_LAYERS) + [n for n in weights if n not in _PLAYGROUND_LAYERS]
        content_offered = list(_CONTENT_CHOICES) + ([content_layer] if content_layer not in _CONTENT_CHOICES else [])
        self.model = _model(model)
        for name in offered + [content_layer]:
            self.model.architecture.spec(name)
        self.size = size
        self.preview_every = max(1, int(preview_every))
        self.gallery_size = gallery_size
        self.seed = seed
        self.runs: List[Dict[str, Any]] = []
        self.result: Optional[StyleTransferResult] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

        self.status = W.HTML()
        self.content = ImagePicker(contents if contents is not None else names("content"), size=size,
                                   description="content", value=content, on_error=self._show_error)
        self.style = ImagePicker(styles if styles is not None else names("style"), size=size,
                                 description="style", value=style, on_error=self._show_error)
        self.ratio = W.FloatLogSlider(
            value=ratio, base=10, min=0, max=10, step=0.25, description="style/content",
            continuous_update=False, readout_format=".1e", style={"description_width": "initial"},
        )
        self.content_layer = W.Dropdown(options=content_offered, value=content_layer, description="content layer",
                                        style={"description_width": "initial"})
        self.layer_boxes: Dict[str, W.Checkbox] = {}
        self.layer_weights: Dict[str, W.BoundedFloatText] = {}
        for name in offered:
            self._add_layer_controls(name, name in weights, weights.get(name, 1.0))
        self.optimizer = W.ToggleButtons(options=["adam", "lbfgs"], value=optimizer, description="optimizer")
        self.steps = W.BoundedIntText(value=steps, min=1, max=10_000, description="steps")
        self.tv_weight = W.BoundedFloatText(value=0.0, min=0.0, max=1e3, step=1e-3, description="TV weight")
        self.init = W.Dropdown(options=["content", "noise", "style"], value="content", description="start from")
        self.run_button = W.Button(description="Run", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.progress = W.IntProgress(value=0, min=0, max=steps, description="progress")
        self.preview = W.Image(format="png", layout=_picture("320px"))
        self.gallery = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.run_button.on_click(lambda button: self.start())
        self.stop_button.on_click(lambda button: self.stop())
        self.preview.add_class("stylelab-preview")
        self.run_button.add_class("stylelab-run")
        self.stop_button.add_class("stylelab-stop")

        self.layer_rows = W.VBox([self._layer_row(n) for n in offered])
        settings = W.VBox(
            [self.content.box, self.style.box, self.ratio, self.content_layer,
             W.HTML("<b>style layers</b> (tick to use; the number is the layer's weight)"), self.layer_rows,
             self.optimizer, self.steps, self.tv_weight, self.init,
             W.HBox([self.run_button, self.stop_button])]
        )
        view = W.VBox([self.progress, self.preview, self.status])
        self.widget = W.VBox([W.HBox([settings, view]), W.HTML("<b>gallery</b> (newest first)"), self.gallery])
        self.widget.add_class("stylelab-style-playground")
        self.preview.value = plotting.png_bytes(self.content.image())
        self.content.on_change(self._show_content)

    def _show_content(self) -> None:
        # Between runs the preview shows the chosen content image (the starting point).
        if not self.running:
            self.preview.value = plotting.png_bytes(self.content.image())

    # ------------------------------------------------------------------ settings

    def _add_layer_controls(self, name: str, ticked: bool, weight: float) -> None:
        self.layer_boxes[name] = W.Checkbox(value=ticked, description=name, indent=False, layout=W.Layout(width="90px"))
        self.layer_weights[name] = W.BoundedFloatText(value=weight, min=0.0, max=1e3, step=0.1,
                                                      layout=W.Layout(width="80px"))

    def _layer_row(self, name: str) -> W.HBox:
        return W.HBox([self.layer_boxes[name], self.layer_weights[name]])

    def set_style_layers(self, layers: Union[str, Sequence[str], Mapping[str, float]]) -> None:
        """Tick exactly ``layers`` (names, or ``{layer: weight}``) and untick the others.

        Layers without a checkbox yet (e.g. ``relu1_2``) get one, in network order.
        """
        weights = style_layer_weights(layers)
        for name in weights:
            if name not in self.layer_boxes:
                self._add_layer_controls(name, True, 1.0)
        order = sorted(self.layer_boxes, key=self.model.architecture.layer_names.index)
        self.layer_rows.children = tuple(self._layer_row(n) for n in order)
        for name, box in self.layer_boxes.items():
            box.value = name in weights
            if name in weights:
                self.layer_weights[name].value = float(weights[name])

    def style_layer_weights(self) -> Dict[str, float]:
        """``{layer: weight}`` of the ticked style layers with a weight above 0."""
        return {
            name: float(self.layer_weights[name].value)
            for name, box in self.layer_boxes.items()
            if box.value and self.layer_weights[name].value > 0
        }

    def settings(self) -> Dict[str, Any]:
        """The keyword arguments :func:`stylelab.stylize` gets from the controls."""
        return {
            "content_layers": [self.content_layer.value],
            "style_layers": self.style_layer_weights(),
            "content_weight": 1.0,
            "style_weight": float(self.ratio.value),
            "tv_weight": float(self.tv_weight.value),
            "optimizer": self.optimizer.value,
            "steps": int(self.steps.value),
            "init": self.init.value,
            "seed": self.seed,
        }

    def describe(self, settings: Mapping[str, Any], result: Optional[StyleTransferResult] = None) -> str:
        """One short HTML caption of a run's settings (and outcome)."""
        layers = ", ".join(f"{n}&times;{w:g}" for n, w in settings["style_layers"].items())
        text = (
            f"{html.escape(self.content.label)} + {html.escape(self.style.label)}<br>"
            f"style/content {settings['style_weight']:.1e}, content {settings['content_layers'][0]}<br>"
            f"style {layers}<br>{settings['optimizer']}, start {settings['init']}, TV {settings['tv_weight']:g}"
        )
        if result is not None:
            text += f"<br>{result.evaluations}/{settings['steps']} evaluations, {result.status}, {result.seconds:.1f} s"
        return f'<div style="font-size:smaller;line-height:1.3">{text}</div>'

    # ------------------------------------------------------------------ running

    @property
    def running(self) -> bool:
        """True while a run is in progress."""
        return self._lock.locked()

    def start(self) -> Optional[threading.Thread]:
        """What Run does: start a run in a background thread (returns it, or None if busy)."""
        if self.running:
            return None
        self._thread = threading.Thread(target=self.run, name="stylelab-playground", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """What Stop does: end the current run after its current step, keeping the image so far."""
        self._stop.set()
        self.status.value = "stopping after this step&hellip;"

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait for a background run to end; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def run(self) -> Optional[StyleTransferResult]:
        """Run one style transfer with the current settings, synchronously.

        Updates the progress bar and the status after every step and the preview every
        :attr:`preview_every` steps; adds the result to the gallery. Problems (no style
        layer ticked, an image too small for the layers, ...) are shown in ``status``
        and return ``None``; nothing is raised.
        """
        if not self._lock.acquire(blocking=False):
            self._show_error("A run is already in progress; press Stop first.")
            return None
        try:
            return self._run_locked()
        finally:
            self.run_button.disabled = False
            self.stop_button.disabled = True
            self._lock.release()

    def _run_locked(self) -> Optional[StyleTransferResult]:
        settings = self.settings()
        if not settings["style_layers"]:
            self._show_error("Tick at least one style layer with a weight above 0, then press Run again.")
            return None
        self._stop.clear()
        self.run_button.disabled = True
        self.stop_button.disabled = False
        self.progress.max = settings["steps"]
        self.progress.value = 0
        self.progress.bar_style = "info"
        self.status.value = "preparing the targets&hellip;"
        try:
            result = stylize(
                self.content.image(), self.style.image(), model=self.model, progress=False,
                callback=self._callback, **settings,
            )
        except (StyleLabError, ValueError, RuntimeError) as exc:
            self.progress.bar_style = "danger"
            self._show_error(str(exc))
            return None
        self.result = result
        self.runs.append({"settings": settings, "result": result})
        self.preview.value = plotting.png_bytes(result.image)
        self.progress.bar_style = "success" if result.status == "completed" else "warning"
        if result.status == "stopped":
            message = f"Stopped after evaluation {result.evaluations} of {settings['steps']}; the best image so far is shown and kept."
        else:
            message = result.message
        self.status.value = html.escape(message) + f" ({result.seconds:.1f} s)"
        self._add_to_gallery(settings, result)
        return result

    def _callback(self, step: int, image: torch.Tensor, losses: Mapping[str, float]) -> bool:
        self.progress.value = step
        if step % self.preview_every == 0 or step == self.progress.max:
            self.preview.value = plotting.png_bytes(image)
        self.status.value = (
            f"evaluation {step}/{self.progress.max}: loss {losses['total']:.4g} (content {losses['content']:.3g}, "
            f"style {losses['style']:.3g}) after {losses['time']:.1f} s"
        )
        return self._stop.is_set()

    def _add_to_gallery(self, settings: Mapping[str, Any], result: StyleTransferResult) -> None:
        thumbnail = W.Image(value=plotting.png_bytes(result.image), format="png", layout=_picture("150px"))
        card = W.VBox([thumbnail, W.HTML(self.describe(settings, result))], layout=W.Layout(margin="4px"))
        self.gallery.children = (card,) + tuple(self.gallery.children)[: max(0, self.gallery_size - 1)]
