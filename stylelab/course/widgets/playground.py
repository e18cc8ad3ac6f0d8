"""The view of the style playground: every setting on a control, Run, Stop, preview, gallery.

The settings and the runs (in a background thread, with Stop) live in the model,
:class:`~stylelab.course.widgets.models.PlaygroundRun`; this view copies each control's value
into it and follows a run through the model's events.
"""

from __future__ import annotations

import html
import math
import threading
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import ipywidgets as W
import torch

from ...engine import presets
from ...engine.result import StyleTransferResult
from ...engine.settings import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, OPTIMIZERS, START_RULES
from ...imaging.data import names as example_names
from ...vgg.features import VGGFeatures
from .. import figures
from .base import Explorer, Forward, bind, picture
from .models import Images, PlaygroundRun
from .views import ImagePicker

__all__ = ["StylePlayground"]


class StylePlayground(Explorer):
    """A complete style transfer with every setting on a control (lessons 04 and 05).

    Args:
        model: a :class:`~stylelab.VGGFeatures` (default: built from ``$STYLELAB_WEIGHTS``).
        contents, styles: example names or ``{label: source}`` for the two pickers;
            default: the content and the style examples.
        size: longest side of the content image (the style image gets the same).
        steps: optimisation steps offered at the start.
        optimizer: ``"adam"`` (smooth live preview) or ``"lbfgs"``.
        ratio: the style weight / content weight ratio offered at the start; by default the
            course's style weight for the starting images (ten times their balance point,
            :func:`stylelab.course.analysis.course_style_weight`).
        style_layers: the style layers ticked at the start (list or ``{layer: weight}``).
        content_layer: the content layer offered at the start.
        preview_every: refresh the live preview every this many steps.
        gallery_size: how many past runs the gallery keeps.
        seed: the seed of every run (same settings, same image).
        content, style: the labels selected at the start (the first ones if absent).

    Controls: ``content`` and ``style`` (:class:`ImagePicker`), ``preset`` (the conventions
    of a well-known implementation, :mod:`stylelab.engine.presets`), ``ratio`` (log slider),
    ``content_layer``, ``layer_boxes`` and ``layer_weights`` (one per style layer;
    :meth:`set_style_layers` ticks a given choice), ``optimizer``, ``steps``,
    ``tv_weight``, ``init``, ``run_button``, ``stop_button``.
    Views: ``progress``, ``preview``, ``status``, ``gallery``. :attr:`runs` keeps every
    finished run as ``{"settings": ..., "result": StyleTransferResult}``.

    Run starts :func:`stylelab.stylize` in a background thread so that Stop stays
    clickable; Stop ends the run after the current step and keeps the best image so far.
    :meth:`run` does the same synchronously (for scripts and tests). The model, which
    holds the settings and does the runs, is ``playground.state``, a
    :class:`~stylelab.course.widgets.models.PlaygroundRun`.
    """

    model = Forward()
    runs = Forward()
    result = Forward()
    seed = Forward()
    preview_every = Forward()
    running = Forward()

    def __init__(
        self,
        model: Optional[VGGFeatures] = None,
        contents: Images = None,
        styles: Images = None,
        *,
        size: int = 128,
        steps: int = 50,
        optimizer: str = "adam",
        ratio: Optional[float] = None,
        style_layers: Union[Sequence[str], Mapping[str, float]] = DEFAULT_STYLE_LAYERS,
        content_layer: str = DEFAULT_CONTENT_LAYERS[0],
        preview_every: int = 5,
        gallery_size: int = 6,
        seed: int = 0,
        content: str = "chelsea",
        style: str = "swirls",
    ) -> None:
        self.size, self.gallery_size = size, gallery_size
        self.status = W.HTML()
        self.content = ImagePicker(contents if contents is not None else example_names("content"), size=size,
                                   description="content", value=content, on_error=self._show_error)
        self.style = ImagePicker(styles if styles is not None else example_names("style"), size=size,
                                 description="style", value=style, on_error=self._show_error)
        self.state = PlaygroundRun(model, self.content.state, self.style.state, steps=steps, optimizer=optimizer,
                                   ratio=ratio, style_layers=style_layers, content_layer=content_layer,
                                   preview_every=preview_every, seed=seed)
        self._build_settings()
        self._build_run_view()
        self.widget = W.VBox([W.HBox([self._settings_box, W.VBox([self.progress, self.preview, self.status])]),
                              W.HTML("<b>gallery</b> (newest first)"), self.gallery])
        self.widget.add_class("stylelab-style-playground")
        self.preview.value = figures.png_bytes(self.content.image())
        self.content.on_change(self._show_content)
        self._follow_runs()

    def _build_settings(self) -> None:
        state, wide = self.state, {"description_width": "initial"}
        self.preset = W.Dropdown(options=[("(none)", None)] + [(n, n) for n in presets.names()], value=None,
                                 description="preset")
        self.preset.observe(lambda change: self.use_preset(change["new"]), names="value")
        self.ratio = W.FloatLogSlider(value=state.ratio, base=10, min=0, max=10, step=0.25, description="style/content",
                                      continuous_update=False, readout_format=".1e", style=wide)
        self.content_layer = W.Dropdown(options=state.content_choices, value=state.content_layer,
                                        description="content layer", style=wide)
        self.layer_boxes: Dict[str, W.Checkbox] = {}
        self.layer_weights: Dict[str, W.BoundedFloatText] = {}
        for name in state.ticked:
            self._add_layer_controls(name)
        self.layer_rows = W.VBox([self._layer_row(n) for n in state.ticked])
        self.optimizer = W.ToggleButtons(options=sorted(OPTIMIZERS), value=state.optimizer, description="optimizer")
        self.steps = W.BoundedIntText(value=state.steps, min=1, max=10_000, description="steps")
        self.tv_weight = W.BoundedFloatText(value=state.tv_weight, min=0.0, max=1e3, step=1e-3, description="TV weight")
        self.init = W.Dropdown(options=list(START_RULES), value=state.init, description="start from")
        for control, attribute, convert in ((self.ratio, "ratio", float), (self.content_layer, "content_layer", str),
                                            (self.optimizer, "optimizer", str), (self.steps, "steps", int),
                                            (self.tv_weight, "tv_weight", float), (self.init, "init", str)):
            bind(control, state, attribute, convert)
        self.run_button = W.Button(description="Run", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.run_button.on_click(lambda button: self.start())
        self.stop_button.on_click(lambda button: self.stop())
        self.run_button.add_class("stylelab-run")
        self.stop_button.add_class("stylelab-stop")
        self._settings_box = W.VBox(
            [self.content.box, self.style.box, self.preset, self.ratio, self.content_layer,
             W.HTML("<b>style layers</b> (tick to use; the number is the layer's weight)"), self.layer_rows,
             self.optimizer, self.steps, self.tv_weight, self.init, W.HBox([self.run_button, self.stop_button])]
        )

    def _build_run_view(self) -> None:
        self.progress = W.IntProgress(value=0, min=0, max=self.state.steps, description="progress")
        self.preview = W.Image(format="png", layout=picture("320px"))
        self.preview.add_class("stylelab-preview")
        self.gallery = W.HBox(layout=W.Layout(flex_flow="row wrap"))

    def _show_content(self) -> None:
        # Between runs the preview shows the chosen content image (the starting point).
        if not self.running:
            self.preview.value = figures.png_bytes(self.content.image())

    # ------------------------------------------------------------------ settings

    def _add_layer_controls(self, name: str) -> None:
        box = W.Checkbox(value=self.state.ticked[name], description=name, indent=False, layout=W.Layout(width="90px"))
        weight = W.BoundedFloatText(value=self.state.weights[name], min=0.0, max=1e3, step=0.1,
                                    layout=W.Layout(width="80px"))
        box.observe(lambda change: self.state.ticked.__setitem__(name, bool(change["new"])), names="value")
        weight.observe(lambda change: self.state.weights.__setitem__(name, float(change["new"])), names="value")
        self.layer_boxes[name], self.layer_weights[name] = box, weight
        self.state.weights[name] = float(weight.value)  # as the control shows it (clamped to its range)

    def _layer_row(self, name: str) -> W.HBox:
        return W.HBox([self.layer_boxes[name], self.layer_weights[name]])

    def set_style_layers(self, layers: Union[str, Sequence[str], Mapping[str, float]]) -> None:
        """Tick exactly ``layers`` (names, or ``{layer: weight}``) and untick the others.

        Layers without a checkbox yet (e.g. ``relu1_2``) get one, in network order.
        """
        for name in self.state.set_style_layers(layers):
            self._add_layer_controls(name)
        ticked, weights = dict(self.state.ticked), dict(self.state.weights)
        self.layer_rows.children = tuple(self._layer_row(n) for n in ticked)
        for name in ticked:  # the controls' observers copy the same values back
            self.layer_boxes[name].value = ticked[name]
            self.layer_weights[name].value = weights[name]

    def style_layer_weights(self) -> Dict[str, float]:
        """``{layer: weight}`` of the ticked style layers with a weight above 0."""
        return self.state.style_layer_weights()

    def use_preset(self, name: Optional[str]) -> None:
        """What choosing ``name`` in ``preset`` does: put the preset's values on the controls
        (see :meth:`PlaygroundRun.use_preset`)."""
        if name is not None:
            self.set_style_layers(dict(presets.settings(name).style_layers))  # the controls of new layers first
        self.state.use_preset(name)
        if name is None:
            return
        state = self.state
        wanted = [(self.content_layer, state.content_layer), (self.ratio, state.ratio), (self.optimizer, state.optimizer),
                  (self.steps, state.steps), (self.tv_weight, state.tv_weight), (self.init, state.init)]
        self.content_layer.options = list(state.content_choices)
        self.ratio.min = min(self.ratio.min, math.floor(math.log10(state.ratio)))
        self.ratio.max = max(self.ratio.max, math.ceil(math.log10(state.ratio)))
        for control, value in wanted:  # each control's observer copies its value back into the state
            control.value = value
        if self.preset.value != name:
            self.preset.value = name

    def settings(self) -> Dict[str, Any]:
        """The keyword arguments :func:`stylelab.stylize` gets from the controls."""
        return self.state.settings()

    def describe(self, settings: Mapping[str, Any], result: Optional[StyleTransferResult] = None) -> str:
        """One short HTML caption of a run's settings (and outcome)."""
        layers = ", ".join(f"{n}&times;{w:g}" for n, w in settings.style_layer_weights.items())
        preset = f"preset {html.escape(self.state.preset)}<br>" if self.state.preset else ""
        text = (
            f"{html.escape(self.content.label)} + {html.escape(self.style.label)}<br>{preset}"
            f"style/content {settings.style_weight:.1e}, content {settings.content_layers[0]}<br>"
            f"style {layers}<br>{settings.optimizer}, start {settings.init}, TV {settings.tv_weight:g}"
        )
        if result is not None:
            text += f"<br>{result.evaluations}/{settings.steps} evaluations, {result.status}, {result.seconds:.1f} s"
        return f'<div style="font-size:smaller;line-height:1.3">{text}</div>'

    # ------------------------------------------------------------------ running

    def start(self) -> Optional[threading.Thread]:
        """What Run does: start a run in a background thread (returns it, or None if busy)."""
        return self.state.start()

    def stop(self) -> None:
        """What Stop does: end the current run after its current step, keeping the image so far."""
        self.state.stop()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait for a background run to end; True if it has."""
        return self.state.wait(timeout)

    def run(self) -> Optional[StyleTransferResult]:
        """Run one style transfer with the current settings, synchronously.

        Updates the progress bar and the status after every step and the preview every
        :attr:`preview_every` steps; adds the result to the gallery. Problems (no style
        layer ticked, an image too small for the layers, ...) are shown in ``status``
        and return ``None``; nothing is raised.
        """
        return self.state.run()

    def _follow_runs(self) -> None:
        on = self.state.on
        on("refused", self._show_error)
        on("started", self._started)
        on("step", self._step)
        on("stopping", lambda: setattr(self.status, "value", "stopping after this step&hellip;"))
        on("failed", self._failed)
        on("finished", self._finished)
        on("idle", self._idle)

    def _started(self, settings: Mapping[str, Any]) -> None:
        self.run_button.disabled = True
        self.stop_button.disabled = False
        self.progress.max = settings.steps
        self.progress.value = 0
        self.progress.bar_style = "info"
        self.status.value = "preparing the targets&hellip;"

    def _step(self, step: int, image: torch.Tensor, losses: Mapping[str, float], preview: bool) -> None:
        self.progress.value = step
        if preview:
            self.preview.value = figures.png_bytes(image)
        self.status.value = (
            f"evaluation {step}/{self.progress.max}: loss {losses['total']:.4g} (content {losses['content']:.3g}, "
            f"style {losses['style']:.3g}) after {losses['time']:.1f} s"
        )

    def _failed(self, message: str) -> None:
        self.progress.bar_style = "danger"
        self._show_error(message)

    def _finished(self, settings: Mapping[str, Any], result: StyleTransferResult, message: str) -> None:
        self.preview.value = figures.png_bytes(result.image)
        self.progress.bar_style = "success" if result.status == "completed" else "warning"
        self.status.value = html.escape(message) + f" ({result.seconds:.1f} s)"
        thumbnail = W.Image(value=figures.png_bytes(result.image), format="png", layout=picture("150px"))
        card = W.VBox([thumbnail, W.HTML(self.describe(settings, result))], layout=W.Layout(margin="4px"))
        self.gallery.children = (card,) + tuple(self.gallery.children)[: max(0, self.gallery_size - 1)]

    def _idle(self) -> None:
        self.run_button.disabled = False
        self.stop_button.disabled = True
