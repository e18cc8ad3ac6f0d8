"""The views of the image picker, the feature-map explorer and the Gram explorer.

Each view builds its ipywidgets layout, forwards every control's change to its plain
model (:mod:`stylelab.course.widgets.models`) and redraws from what the model computes. The
model is ``view.state``; the view's public attributes are the controls and the view
widgets that the lessons and tests use. The playground's view is in
:mod:`stylelab.course.widgets.playground`.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import ipywidgets as W
import torch

from ...errors import ImageLoadError, StyleLabError
from ...vgg.features import VGGFeatures
from .. import figures
from .base import Explorer, Forward, picture, plain
from .models import TOP, FeatureMaps, GramComparison, ImageChoice, Images

__all__ = ["ImagePicker", "FeatureMapExplorer", "GramExplorer"]


class ImagePicker:
    """A drop-down of images plus an upload button that adds the learner's own pictures.

    Args:
        images: example names (default: every example) or ``{label: source}``.
        size: longest side, in pixels, of every image handed out.
        description: the drop-down's label.
        value: the label selected at the start (default: the first).
        on_error: called with a one-sentence message when an upload cannot be used.

    ``picker.dropdown.value`` is the selected label and :meth:`image` its tensor
    ``(1, 3, H, W)`` in [0, 1]. Images load on first use and are kept. The model is
    ``picker.state``, an :class:`~stylelab.course.widgets.models.ImageChoice`.
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
        self.state = ImageChoice(images, size=size, value=value, description=description)
        self._on_error = on_error
        self._listeners: List[Callable[[], None]] = []
        self._muted = False
        self.dropdown = W.Dropdown(options=self.state.labels, value=self.state.label, description=description)
        self.dropdown.observe(self._changed, names="value")
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="upload")
        self.upload.observe(self._on_upload, names="value")
        self.box = W.HBox([self.dropdown, self.upload])

    size = Forward()

    @property
    def label(self) -> str:
        """The selected label (select another with ``picker.dropdown.value``)."""
        return self.state.label

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever another image is selected (once per change)."""
        self._listeners.append(callback)

    def _changed(self, change: Mapping[str, Any]) -> None:
        self.state.select(change["new"])
        if not self._muted:
            for callback in self._listeners:
                callback()

    def image(self, label: Optional[str] = None) -> torch.Tensor:
        """The image called ``label`` (default: the selected one), ``(1, 3, H, W)`` in [0, 1]."""
        return self.state.image(label)

    def add(self, label: str, source: Any) -> str:
        """Add an image (anything ``load_image`` accepts), select it, and return its label."""
        return self._show(self.state.add(label, source))  # fails there, before the picker changes

    def add_upload(self, name: str, content: bytes) -> Optional[str]:
        """Add uploaded file bytes; on a bad file report it through ``on_error`` and return None.

        See :meth:`~stylelab.course.widgets.models.ImageChoice.add_upload` for the decoding.
        """
        try:
            label = self.state.add_upload(name, content)
        except ImageLoadError as exc:
            if self._on_error is not None:
                self._on_error(str(exc))
            return None
        return self._show(label)

    def _show(self, label: str) -> str:
        self._muted = True  # new options select the first one for a moment: no redraw for that
        try:
            self.dropdown.options = self.state.labels
        finally:
            self._muted = False
        self.dropdown.value = label
        return label

    def _on_upload(self, change: Mapping[str, Any]) -> None:
        files = list(change["new"] or [])
        if not files:
            return
        for entry in files:
            self.add_upload(entry["name"], entry["content"])
        self.upload.value = ()  # so that the same file can be uploaded again


# --------------------------------------------------------------------------- features


class FeatureMapExplorer(Explorer):
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
    statistics) and ``status`` (problems, e.g. an upload that is not an image). The model
    is ``explorer.state``, a :class:`~stylelab.course.widgets.models.FeatureMaps`.
    """

    model = Forward()
    top = Forward()

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
        self.status = W.HTML()
        self.image = ImagePicker(images, size=size, value=value, on_error=self._show_error)
        self.state = FeatureMaps(model, self.image.state, layer=layer, top=top)
        self._busy = False
        self.layer = W.Dropdown(options=list(self.model.architecture.layer_names), value=layer, description="layer")
        self.channel = W.Dropdown(options=self.state.channel_choices(), value=TOP, description="channel")
        self.maps = W.Image(format="png", layout=picture())
        self.preview = W.Image(format="png", layout=picture("200px"))
        self.stats = W.HTML(layout=W.Layout(margin="0 0 0 12px"))
        for control, name in ((self.layer, "layer"), (self.channel, "channel"), (self.maps, "feature-maps"),
                              (self.stats, "stats")):
            control.add_class(f"stylelab-{name}")
        self.image.on_change(self.update)
        self.layer.observe(self._layer_changed, names="value")
        self.channel.observe(self._channel_changed, names="value")
        self.widget = W.VBox([
            self.image.box, W.HBox([self.layer, self.channel]), W.HBox([self.preview, self.stats]),
            self.maps, self.status,
        ])
        self.widget.add_class("stylelab-feature-map-explorer")
        self.update()

    def features(self) -> torch.Tensor:
        """Activations ``(1, C, h, w)`` of the selected layer for the selected image."""
        return self.state.features()

    def channel_statistics(self, channel: Optional[int] = None) -> Dict[str, float]:
        """Mean, std, max and fraction of positive values of one channel (None: all channels)."""
        return self.state.channel_statistics(channel)

    def update(self) -> None:
        """Recompute the view for the current image, layer and channel."""
        try:
            feats = self.state.features()
        except StyleLabError as exc:  # e.g. an image too small for a deep layer
            self._show_error(str(exc))
            return
        layer, channel, label = self.state.layer, self.state.channel, plain(self.image.label)
        chosen = self.state.shown_channels()
        if channel == TOP:
            title = f"{layer} of '{label}': the {len(chosen)} most active channels (each with its own colour scale)"
            figure = figures.feature_maps(feats, chosen, ncols=8, title=title)
        else:
            figure = figures.feature_maps(feats, chosen, ncols=1, size=3.6, title=f"{layer} of '{label}', channel {channel}")
        self.maps.value = figures.png_bytes(figure)
        self.preview.value = figures.png_bytes(self.image.image())
        self.stats.value = self._stats_html(chosen)
        self.status.value = ""

    def _stats_html(self, chosen: Sequence[int]) -> str:
        row, channel = self.state.layer_row(), self.state.channel
        stats = self.state.channel_statistics(channel)
        which = "all channels" if channel == TOP else f"channel {channel}"
        return (
            f"<b>{row['name']}</b>: {row['channels']} channels of {row['height']}&times;{row['width']} positions; "
            f"each value sees a {row['receptive_field']}&times;{row['receptive_field']} px patch "
            f"(stride {row['stride']} px).<br>"
            f"<b>{which}</b>: mean {stats['mean']:.3g}, std {stats['std']:.3g}, max {stats['max']:.3g}, "
            f"positive at {100 * stats['active']:.0f}% of positions.<br>"
            f"<small>shown: {', '.join(str(c) for c in chosen)}</small>"
        )

    def _layer_changed(self, change: Mapping[str, Any]) -> None:
        self._busy = True  # the channel drop-down's new options are not a channel choice
        try:
            channel = self.state.select_layer(change["new"])
            self.channel.options = self.state.channel_choices()
            self.channel.value = channel
        finally:
            self._busy = False
        self.update()

    def _channel_changed(self, change: Mapping[str, Any]) -> None:
        if not self._busy:
            self.state.select_channel(change["new"])
            self.update()


# --------------------------------------------------------------------------- Gram


class GramExplorer(Explorer):
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
    difference), ``loss`` (the style loss as text) and ``status``. The model is
    ``explorer.state``, a :class:`~stylelab.course.widgets.models.GramComparison`.
    """

    model = Forward()

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
        self.max_channels = max_channels
        self.status = W.HTML()
        self.left = ImagePicker(images, size=size, description="image A", value=left, on_error=self._show_error)
        self.right = ImagePicker(images, size=size, description="image B", value=right, on_error=self._show_error)
        self.state = GramComparison(model, self.left.state, self.right.state, layer=layer)
        self.layer = W.Dropdown(options=list(self.model.architecture.layer_names), value=layer, description="layer")
        self.left_view = W.Image(format="png", layout=picture("200px"))
        self.right_view = W.Image(format="png", layout=picture("200px"))
        self.heatmaps = W.Image(format="png", layout=picture())
        self.loss = W.HTML()
        self.layer.add_class("stylelab-layer")
        self.heatmaps.add_class("stylelab-gram-heatmaps")
        self.left.on_change(self.update)
        self.right.on_change(self.update)
        self.layer.observe(self._layer_changed, names="value")
        sides = W.HBox([W.VBox([self.left.box, self.left_view]), W.VBox([self.right.box, self.right_view])])
        self.widget = W.VBox([sides, self.layer, self.heatmaps, self.loss, self.status])
        self.widget.add_class("stylelab-gram-explorer")
        self.update()

    def gram(self, picker: ImagePicker) -> torch.Tensor:
        """Gram matrix ``(1, C, C)`` of ``picker``'s image at the selected layer."""
        return self.state.gram(picker.state)

    def style_loss_value(self) -> float:
        """``mean((G_A - G_B)^2)`` at the selected layer: :func:`stylelab.style_loss`, = 4 E_l."""
        return self.state.style_loss()

    def _layer_changed(self, change: Mapping[str, Any]) -> None:
        self.state.select_layer(change["new"])
        self.update()

    def update(self) -> None:
        """Recompute the heatmaps and the loss for the current images and layer."""
        try:
            gram_a, gram_b = self.gram(self.left), self.gram(self.right)
            loss = self.state.style_loss()
        except StyleLabError as exc:
            self._show_error(str(exc))
            return
        layer, a, b = self.state.layer, self.left.label, self.right.label
        channels = gram_a.shape[-1]
        figure = figures.gram_comparison(
            gram_a, gram_b, (plain(a), plain(b)), max_channels=self.max_channels,
            title=f"Gram matrices at {layer} (first {min(channels, self.max_channels)} of {channels} channels)",
        )
        self.heatmaps.value = figures.png_bytes(figure)
        self.left_view.value = figures.png_bytes(self.left.image())
        self.right_view.value = figures.png_bytes(self.right.image())
        self.loss.value = (
            f"style loss at <b>{layer}</b> between '{html.escape(a)}' and '{html.escape(b)}': "
            f"<b>{loss:.4g}</b> <small>(mean of (G<sub>A</sub> &minus; G<sub>B</sub>)&sup2; over "
            f"{channels}&times;{channels} entries = 4&nbsp;E<sub>l</sub> of Gatys et al. 2016)</small>"
        )
        self.status.value = ""
