"""What the explorers' views share: layouts, error text, attribute forwarding, display.

Used by :mod:`stylelab.course.widgets.views` and :mod:`stylelab.course.widgets.playground`; imports
ipywidgets.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Optional

import ipywidgets as W

__all__ = ["plain", "picture", "error_html", "Forward", "bind", "Explorer"]


def plain(label: str) -> str:
    """``label`` for a figure title: a "$" in a file name stays literal, not matplotlib maths."""
    return label.replace("$", r"\$")


def picture(width: Optional[str] = None) -> W.Layout:
    """The layout of an image view: ``width`` wide (or as wide as there is room), aspect kept."""
    # A fixed display width (small images are scaled up), or at most the available width;
    # the aspect ratio is kept whatever the surrounding flex box does.
    return W.Layout(width=width, max_width="100%", height="auto", object_fit="contain", align_self="flex-start")


def error_html(message: str) -> str:
    """``message`` as a red "Problem:" line of HTML (escaped)."""
    return f'<span style="color:#b03a2e"><b>Problem:</b> {html.escape(message, quote=False)}</span>'


class Forward:
    """A view attribute that is the attribute of the same name of the view's model (``view.state``)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, view: Any, owner: Optional[type] = None) -> Any:
        return self if view is None else getattr(view.state, self.name)

    def __set__(self, view: Any, value: Any) -> None:
        setattr(view.state, self.name, value)


def bind(control: W.ValueWidget, state: Any, attribute: str, convert: Callable[[Any], Any] = lambda v: v) -> None:
    """Copy ``control.value`` into ``state.<attribute>`` now (a control may clamp it) and whenever it changes."""
    setattr(state, attribute, convert(control.value))
    control.observe(lambda change: setattr(state, attribute, convert(change["new"])), names="value")


class Explorer:
    """Shared display behaviour: the root widget is ``self.widget``, problems go to ``self.status``."""

    widget: W.Widget
    status: W.HTML

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _show_error(self, message: str) -> None:
        self.status.value = error_html(message)
