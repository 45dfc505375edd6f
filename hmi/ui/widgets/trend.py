"""Trend plots (pyqtgraph): history from the historian (queried off the GUI thread) + live points."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QWidget

from hmi.config.schema import TagConfig
from hmi.ui import fmt
from hmi.ui import theme as theme_mod
from hmi.ui.i18n import i18n
from hmi.ui.tasks import run_in_pool

log = logging.getLogger(__name__)
pg.setConfigOptions(antialias=True, foreground="k")


class Pen:
    """One curve: its tag, colors, ring buffer of (ts, value)."""

    def __init__(self, tag: TagConfig, curve: pg.PlotDataItem, capacity: int = 20000) -> None:
        self.tag = tag
        self.curve = curve
        self.ts = np.empty(0)
        self.values = np.empty(0)
        self.capacity = capacity

    def set_history(self, ts: np.ndarray, values: np.ndarray) -> None:
        """Replace the buffer with history (NaN where there was no usable value)."""
        self.ts, self.values = np.asarray(ts, float), np.asarray(values, float)

    def append(self, ts: float, value: float) -> None:
        """Add one live point (NaN breaks the line)."""
        if len(self.ts) and ts <= self.ts[-1]:
            return
        self.ts = np.append(self.ts, ts)[-self.capacity :]
        self.values = np.append(self.values, value)[-self.capacity :]


class TrendPlot(pg.PlotWidget):
    """A time plot of one or more tags over a sliding window."""

    def __init__(self, tags: list[TagConfig], window: float = 600.0, parent: QWidget | None = None, limits: bool = True) -> None:
        super().__init__(parent=parent, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.setObjectName("trend")
        self.window = window
        self.follow = True
        self.pens: dict[str, Pen] = {}
        self.limit_lines: list[pg.InfiniteLine] = []
        self.plotItem.showGrid(x=True, y=True, alpha=0.25)
        self.plotItem.getAxis("left").enableAutoSIPrefix(False)  # engineering units as configured
        self.plotItem.setMenuEnabled(False)
        self.setMouseEnabled(x=True, y=False)
        self.legend = self.plotItem.addLegend(offset=(10, 5)) if len(tags) > 1 else None
        for tag in tags:
            curve = self.plotItem.plot([], [], name=self._pen_name(tag), connect="finite")
            self.pens[tag.name] = Pen(tag, curve)
        if len(tags) == 1:
            t = tags[0]
            self.plotItem.setLabel("left", t.unit)
            if limits:
                for a in t.alarms:
                    if a.limit is not None and a.kind in ("HH", "H", "L", "LL"):
                        line = pg.InfiniteLine(pos=a.limit, angle=0, label=a.kind, labelOpts={"position": 0.03})
                        line.alarm_priority = a.priority  # type: ignore[attr-defined]
                        self.addItem(line)
                        self.limit_lines.append(line)
        self.apply_theme()
        i18n().sigLanguageChanged.connect(self.retranslate)

    def _pen_name(self, tag: TagConfig) -> str:
        return fmt.label(tag) + (f" ({tag.unit})" if tag.unit and self.legend is not None else "")

    def retranslate(self, *_: Any) -> None:
        """Legend texts in the current language."""
        if self.legend is None:
            return
        for (_sample, label), pen in zip(self.legend.items, self.pens.values(), strict=False):
            label.setText(self._pen_name(pen.tag))

    def apply_theme(self) -> None:
        """Colors from the current theme."""
        c = theme_mod.colors()
        self.setBackground(c.color("trendBg"))
        axis_pen = QPen(c.color("textDim"))
        for name in ("left", "bottom"):
            ax = self.plotItem.getAxis(name)
            ax.setPen(axis_pen)
            ax.setTextPen(QPen(c.color("text")))
        if self.legend is not None:
            self.legend.setLabelTextColor(c.color("text"))
            self.legend.setBrush(pg.mkBrush(c.color("trendBg")))
        pens = c.pens()
        for i, pen in enumerate(self.pens.values()):
            pen.curve.setPen(pg.mkPen(pens[i % len(pens)], width=2))
        for line in self.limit_lines:
            col = QColor(c.alarm(getattr(line, "alarm_priority", 3)))
            line.setPen(pg.mkPen(col, width=1, style=Qt.PenStyle.DashLine))
            line.label.setColor(col)

    def load_history(self, historian: Any, start: float | None = None, end: float | None = None, points: int = 600) -> None:
        """Query every pen's history on the thread pool; draw when it arrives."""
        if historian is None:
            return
        end = end or time.time()
        start = start or end - self.window
        names = list(self.pens)

        def query() -> dict[str, tuple[np.ndarray, np.ndarray]]:
            out = {}
            for name in names:
                h = historian.query(name, start, end, points)
                vals = h.avg if getattr(h, "bucket", 0) else h.last
                out[name] = (np.asarray(h.ts, float), np.asarray(vals, float))
            return out

        def done(result: Any, error: BaseException | None) -> None:
            if not shiboken6.isValid(self):  # the plot was closed meanwhile
                return
            if error is not None:
                log.warning("trend history query failed: %s", error)
                return
            for name, (ts, vals) in result.items():
                pen = self.pens.get(name)
                if pen is None:
                    continue
                live_ts, live_v = pen.ts, pen.values
                keep = live_ts > (ts[-1] if len(ts) else 0)
                pen.set_history(np.concatenate([ts, live_ts[keep]]), np.concatenate([vals, live_v[keep]]))
            self.redraw()

        run_in_pool(query, done)

    def add_point(self, name: str, ts: float, value: float, good: bool) -> None:
        """A live value (NaN when not good, so the line breaks)."""
        pen = self.pens.get(name)
        if pen is not None:
            pen.append(ts, value if good and not math.isnan(value) else math.nan)

    def redraw(self) -> None:
        """Push buffers to the curves and slide the window."""
        now = time.time()
        for pen in self.pens.values():
            if len(pen.ts):
                pen.curve.setData(pen.ts, pen.values, connect="finite")
        if self.follow:
            self.setXRange(now - self.window, now, padding=0)
