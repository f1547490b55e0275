"""The widget every lecture explorer is (ipywidgets): controls over a picture and a caption that follow them.

A picture is a PNG drawn on a matplotlib Figure of its own (no pyplot), redrawn whenever a control's value changes;
``coursekit.widgets`` builds the lectures' explorers on it. Needs ipywidgets (in requirements.txt).
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Mapping

import ipywidgets as widgets
from matplotlib.figure import Figure

__all__ = ["Explorer", "CAPTION_STYLE"]

CAPTION_STYLE = "font-family: monospace; white-space: pre-wrap; line-height: 1.4"


class Explorer(widgets.VBox):
    """Controls over a picture and a caption. ``draw(figure, **values)`` draws the picture for the controls'
    values on the empty ``figure`` and returns the caption; it runs again whenever a control's value changes."""

    def __init__(self, controls: Mapping[str, widgets.ValueWidget], draw: Callable[..., str],
                 figsize: tuple[float, float], dpi: int = 80) -> None:
        super().__init__()
        self.controls, self._draw, self._dpi = dict(controls), draw, dpi
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.image = widgets.Image(format="png", width=int(figsize[0] * dpi))     # drawn at its own size, not scaled
        self.text = widgets.HTML()
        self.caption = ""
        self.children = [widgets.HBox(list(self.controls.values())), self.image, self.text]
        for control in self.controls.values():
            control.observe(self.update, names="value")
        self.update()

    def update(self, change: object = None) -> None:
        """Redraw the picture and the caption for the controls' current values."""
        self.figure.clear()
        self.caption = self._draw(self.figure, **{name: c.value for name, c in self.controls.items()})
        png = io.BytesIO()
        self.figure.savefig(png, format="png", dpi=self._dpi)
        self.image.value = png.getvalue()
        self.text.value = f'<div style="{CAPTION_STYLE}">{html.escape(self.caption)}</div>'
