"""One pen of a trend: a tag's series drawn as a line, its min/max envelope and the held
last value up to now."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from hmi.config.schema import TagConfig
from hmi.ui.trends.envelope import EnvelopeItem
from hmi.ui.trends.series import Series

#: line styles once the theme's pen colors are used up
_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine)


class TrendPen:
    """The drawing of one tag: line (gaps where BAD), envelope, hold segment."""

    def __init__(self, tag: TagConfig, series: Series) -> None:
        self.tag = tag
        self.name = tag.name
        self.unit = tag.unit
        self.series = series
        self.width = 0.0  # bucket width the history was planned with (s)
        self.step = tag.type == "bool" or bool(tag.states)
        self.color = QColor("#1f4e9c")
        self.style = Qt.PenStyle.SolidLine
        self.selected = False
        # no antialiasing: a long noisy trend costs ~1 s per pen antialiased, ~10 ms without
        self.curve = pg.PlotDataItem(
            [],
            [],
            connect="finite",
            clipToView=True,
            autoDownsample=True,
            downsampleMethod="peak",
            antialias=False,
        )
        self.envelope = EnvelopeItem()
        self.hold_line = pg.PlotCurveItem([], [], antialias=False)
        self.box: pg.ViewBox | None = None
        self._drawn = -1

    # ------------------------------------------------------------------ placement
    def attach(self, box: pg.ViewBox) -> None:
        """Add the items to a view box (the box of the pen's unit)."""
        self.detach()
        for item, ignore in ((self.envelope, False), (self.curve, False), (self.hold_line, True)):
            # parent first: an item with data must find its view box as soon as it is in the scene
            item.setParentItem(box.childGroup)
            box.addItem(item, ignoreBounds=ignore)
        self.box = box

    def detach(self) -> None:
        """Take the items out of their view box."""
        if self.box is None:
            return
        for item in (self.envelope, self.curve, self.hold_line):
            self.box.removeItem(item)
        self.box = None

    def dispose(self) -> None:
        """The pen is removed for good: take its items out and let Qt delete them now
        (not Python's garbage collector, see :meth:`LimitBands.remove`)."""
        self.detach()
        for item in (self.envelope, self.curve, self.hold_line):
            item.deleteLater()

    # ------------------------------------------------------------------ looks
    def set_style(self, color: QColor, index: int, selected: bool = False) -> None:
        """Color and line style (pens past the palette are dashed); a selected pen is thicker.

        One pixel wide otherwise: Qt strokes wider lines without antialiasing ~3x slower,
        which shows while panning a long range."""
        self.color = QColor(color)
        self.style = _STYLES[(index // 6) % len(_STYLES)]
        self.selected = selected
        pen = pg.mkPen(self.color, width=2 if selected else 1, style=self.style)
        self.curve.setPen(pen)
        self.hold_line.setPen(pen)
        self.envelope.set_color(self.color, 90 if selected else 60)

    # ------------------------------------------------------------------ data -> items
    def invalidate(self) -> None:
        """Push the data again on the next update (after the items moved)."""
        self._drawn = -1

    def update(self, now: float | None = None) -> bool:
        """Push new data to the items; draw the held value on to ``now``. True when redrawn."""
        changed = self.series.version != self._drawn
        if changed:
            x, y = self.series.line(self.step)
            self.curve.setData(x, y, connect="finite")
            self.envelope.set_data(*self.series.envelope())
            self._drawn = self.series.version
        hold = self.series.hold() if now is not None else None
        if hold is not None and now is not None and now > hold[0]:
            self.hold_line.setData([hold[0], now], [hold[1], hold[1]])
        elif now is not None or changed:
            self.hold_line.setData([], [])
        return changed
