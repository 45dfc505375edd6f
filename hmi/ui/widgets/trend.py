"""Trend plot (pyqtgraph): pens with their own axes, live scrolling and history at any range.

* **Pens** — one per tag; pens with the same unit share a value axis (left, then right).
* **Live** (``follow``): the window [now - span, now] scrolls; live values are appended
  (:meth:`feed`), nothing is re-queried while it scrolls.
* **History** (paused): a fixed range; dragging or the wheel pans and zooms time, and
  after a short pause the visible range is fetched again at the resolution the plot's
  width needs (:mod:`hmi.ui.trends.fetcher`: off the GUI thread, stale results dropped).
* Decimated history is drawn as the bucket average with a min/max envelope; a BAD
  period is a gap (NaN + ``connect="finite"``).
* Alarm limits of the selected pen as bands; a cursor reading out every pen.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from hmi.config.schema import TagConfig
from hmi.ui import fmt
from hmi.ui import theme as theme_mod
from hmi.ui.i18n import i18n
from hmi.ui.trends.axes import AxisSet, TimeAxis, ValueAxis
from hmi.ui.trends.bands import LimitBands
from hmi.ui.trends.cursor import Cursor
from hmi.ui.trends.fetcher import Fetcher, Plan, bucket_width, plan
from hmi.ui.trends.pen import TrendPen
from hmi.ui.trends.series import BAD, GOOD, Readout, Series

log = logging.getLogger(__name__)
pg.setConfigOptions(antialias=True, foreground="k")

MAX_PENS = 12
DEBOUNCE_MS = 150  # refetch this long after the last pan/zoom step ...
MAX_WAIT_MS = 400  # ... but at least this often while the user keeps dragging
MARGIN = 1.0 / 3.0  # history fetched beyond the view on each side, in spans


class TrendPlot(pg.PlotWidget):
    """A time plot of one or more tags, live or over a past range."""

    sigViewChanged = Signal(float, float)  # visible time range
    sigFollowChanged = Signal(bool)  # live (True) / paused or history (False)
    sigCursorMoved = Signal(float)  # cursor time, NaN when hidden
    sigRendered = Signal(int)  # a history request was drawn (request id)
    sigPensChanged = Signal()
    sigError = Signal(str)

    def __init__(
        self,
        tags: Sequence[TagConfig],
        window: float = 600.0,
        parent: QWidget | None = None,
        limits: bool = True,
        legend: bool | None = None,
        historian: Any = None,
        interactive: bool = False,
    ) -> None:
        super().__init__(
            parent=parent,
            axisItems={
                "bottom": TimeAxis(orientation="bottom"),
                "left": ValueAxis("left"),
                "right": ValueAxis("right"),
            },
        )
        self.setObjectName("trend")
        self.window = float(window)  # span (s)
        self.follow = True
        self.limits = limits
        self.created = time.time()
        self.pens: dict[str, TrendPen] = {}
        self.band_pen = ""
        self.bands: LimitBands | None = None
        self.last_rid = -1
        pi = self.plotItem
        pi.showGrid(x=True, y=True, alpha=0.25)
        pi.setMenuEnabled(False)
        pi.hideButtons()
        # a plain plot (overview) always follows live values; the trends page and the
        # faceplates pan and zoom with the mouse (``interactive``)
        self.axes = AxisSet(pi, mouse=interactive)
        self.legend = (
            pi.addLegend(offset=(10, 5))
            if (legend if legend is not None else len(tags) > 1)
            else None
        )
        self.fetcher = Fetcher(historian, self)
        self.fetcher.sigFetched.connect(self._on_fetched)
        self.fetcher.sigError.connect(self.sigError)
        self.time_cursor = Cursor(pi.vb, self)
        self.time_cursor.sigMoved.connect(self.sigCursorMoved)
        self._programmatic = False
        self._pending_since = 0.0
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.timeout.connect(self._view_settled)
        self._last_scroll = 0.0
        pi.vb.sigXRangeChanged.connect(self._on_x_range)
        for name in ("left", "bottom"):
            pi.getAxis(name).enableAutoSIPrefix(False)
        self.set_pens(tags)
        now = time.time()
        self._set_x(now - self.window, now)
        self.apply_theme()
        i18n().sigLanguageChanged.connect(self.retranslate)
        try:
            theme_mod.theme().sigThemeChanged.connect(self.apply_theme)
        except RuntimeError:  # no theme installed (bare plot)
            pass

    # ------------------------------------------------------------------ pens
    @property
    def names(self) -> list[str]:
        """Pen tag names, in order."""
        return list(self.pens)

    def set_pens(self, tags: Sequence[TagConfig]) -> None:
        """Replace the pens (keeps the data of pens that stay)."""
        keep = {t.name for t in tags}
        for name in [n for n in self.pens if n not in keep]:
            self._drop(name)
        added = []
        for t in tags[:MAX_PENS]:
            if t.name not in self.pens:
                self.pens[t.name] = TrendPen(t, Series(live_since=time.time()))
                added.append(t.name)
        self.pens = {t.name: self.pens[t.name] for t in tags[:MAX_PENS]}
        self._layout()
        if added:
            self.refetch(added)

    def add_pen(self, tag: TagConfig) -> bool:
        """Add a pen; False when it is there already or the plot is full."""
        if tag.name in self.pens or len(self.pens) >= MAX_PENS:
            return False
        self.set_pens([p.tag for p in self.pens.values()] + [tag])
        return True

    def remove_pen(self, name: str) -> bool:
        """Remove a pen; False when there is no such pen."""
        if name not in self.pens:
            return False
        self.set_pens([p.tag for p in self.pens.values() if p.name != name])
        return True

    def _drop(self, name: str) -> None:
        pen = self.pens.pop(name)
        pen.dispose()
        self.fetcher.forget(name)

    def _layout(self) -> None:
        """Axes per unit, pens into their boxes, colors, legend, bands."""
        for pen in self.pens.values():
            pen.detach()
        if self.bands is not None:
            self.bands.remove()
            self.bands = None
        self.axes.set_units([p.unit for p in self.pens.values()])
        for pen in self.pens.values():
            pen.attach(self.axes.box(pen.unit))
        if self.legend is not None:
            self.legend.clear()
            for pen in self.pens.values():
                self.legend.addItem(pen.curve, self._pen_name(pen.tag))
        if self.band_pen not in self.pens:
            self.band_pen = next(iter(self.pens), "")
        single = len(self.pens) == 1
        if self.limits and self.band_pen:
            pen = self.pens[self.band_pen]
            self.bands = LimitBands(pen.tag, self.axes.box(pen.unit), in_range=single)
        # a single pen's scale includes its limit lines: room for their labels
        self.plotItem.vb.setDefaultPadding(0.15 if single and self.limits else 0.02)
        for pen in self.pens.values():
            pen.invalidate()
            pen.update(time.time() if self.follow else None)
        self.apply_theme()
        self.sigPensChanged.emit()

    def set_band_pen(self, name: str) -> None:
        """Show the alarm limits of pen ``name`` (and draw it thicker)."""
        if name in self.pens and name != self.band_pen:
            self.band_pen = name
            self._layout()

    def _pen_name(self, tag: TagConfig) -> str:
        return fmt.label(tag) + (f" ({tag.unit})" if tag.unit else "")

    # ------------------------------------------------------------------ time
    def view_range(self) -> tuple[float, float]:
        """Visible time range (Unix s)."""
        x0, x1 = self.plotItem.vb.viewRange()[0]
        return float(x0), float(x1)

    def _set_x(self, x0: float, x1: float) -> None:
        self._programmatic = True
        try:
            self.plotItem.vb.setXRange(x0, x1, padding=0)
        finally:
            self._programmatic = False

    def set_follow(self, follow: bool) -> None:
        """Live (scrolling) or paused; resuming jumps back to now."""
        if follow == self.follow:
            return
        self.follow = follow
        if follow:
            now = time.time()
            self._set_x(now - self.window, now)
            self.refetch()
            self.redraw()
        self.sigFollowChanged.emit(follow)

    def pause(self) -> None:
        """Stop scrolling (live values are still collected)."""
        self.set_follow(False)

    def resume(self) -> None:
        """Scroll with live values again."""
        self.set_follow(True)

    def set_span(self, seconds: float) -> None:
        """Show ``seconds`` of time: ending now when live, else ending where the view ends."""
        self.window = float(seconds)
        self.time_cursor.span = self.window
        if self.follow:
            now = time.time()
            self._set_x(now - self.window, now)
        else:
            _x0, x1 = self.view_range()
            self._set_x(x1 - self.window, x1)
        self.refetch()
        self.redraw()

    def set_range(self, start: float, end: float) -> None:
        """Show the past range [start, end] (pauses live scrolling)."""
        if end <= start:
            raise ValueError("the range ends before it starts")
        self.window = end - start
        self.time_cursor.span = self.window
        if self.follow:
            self.follow = False
            self.sigFollowChanged.emit(False)
        self._set_x(start, end)
        self.refetch()
        self.redraw()

    def step(self, direction: int) -> None:
        """Move a whole span back (-1) or forward (+1)."""
        x0, x1 = self.view_range()
        d = (x1 - x0) * direction
        self.set_range(x0 + d, x1 + d)

    def _on_x_range(self, *_: Any) -> None:
        x0, x1 = self.view_range()
        self.sigViewChanged.emit(x0, x1)
        if self._programmatic:
            return
        # the user dragged or zoomed: stop following, fetch the new range when it settles
        self.window = x1 - x0
        self.time_cursor.span = self.window
        if self.follow:
            self.follow = False
            self.sigFollowChanged.emit(False)
        now = time.monotonic()
        if not self._debounce.isActive():
            self._pending_since = now
        if (now - self._pending_since) * 1000.0 < MAX_WAIT_MS:
            self._debounce.start(DEBOUNCE_MS)

    def _view_settled(self) -> None:
        self.refetch()

    def resizeEvent(self, ev: Any) -> None:  # noqa: N802 - Qt override
        """A wider plot may need finer history: check once the resizing settles."""
        super().resizeEvent(ev)
        fetcher = self.__dict__.get("fetcher")  # None while pyqtgraph builds the view
        if fetcher is not None and fetcher.historian is not None and self.pens:
            self._debounce.start(DEBOUNCE_MS)

    # ------------------------------------------------------------------ history
    @property
    def historian(self) -> Any:
        """Where history comes from (None: live values only)."""
        return self.fetcher.historian

    def load_history(
        self,
        historian: Any,
        start: float | None = None,
        end: float | None = None,
        points: int | None = None,
    ) -> None:
        """Use ``historian`` and fetch the visible range again (``start``/``end`` set a past range)."""
        del points  # the plot's width decides the resolution
        self.fetcher.historian = historian
        if start is not None and end is not None:
            self.set_range(start, end)
        else:
            self.refetch(force=True)

    def pixels(self) -> int:
        """Width of the plot area in pixels (for the resolution of history requests)."""
        w = int(self.plotItem.vb.width())
        return w if w > 50 else max(self.width() - 80, 600)

    def wanted(self) -> tuple[float, float, float]:
        """(x0, x1, bucket width) of what should be shown now."""
        if self.follow:
            now = time.time()
            x0, x1 = now - self.window, now
        else:
            x0, x1 = self.view_range()
        return x0, x1, bucket_width(x1 - x0, self.pixels())

    def _covered(self, pen: TrendPen, x0: float, x1: float, width: float) -> bool:
        s = pen.series
        if math.isnan(s.start) or pen.width > width * 1.001:
            return False
        live_tail = s.end >= s.live_since - 1.0  # the live part continues the history
        return s.start <= x0 and (s.end >= x1 or live_tail)

    def refetch(self, names: Sequence[str] | None = None, force: bool = False) -> int:
        """Fetch history for pens whose data does not cover the view (or ``names``, or all
        with ``force``) at the resolution the view needs. Returns the request id or -1."""
        if self.fetcher.historian is None or not self.pens:
            return -1
        x0, x1, width = self.wanted()
        if names is None:
            names = [
                n for n, p in self.pens.items() if force or not self._covered(p, x0, x1, width)
            ]
        names = [n for n in names if n in self.pens]
        if not names:
            return -1
        span = x1 - x0
        now = time.time()
        if self.follow:
            start, end = x0 - span * MARGIN, now
        else:  # a margin either side: a short pan needs no new data
            start, end = x0 - span * MARGIN, min(x1 + span * MARGIN, now + width)
        return self.fetcher.fetch(names, plan(start, max(end, start + width), width))

    def _on_fetched(self, rid: int, results: dict[str, Any], p: Plan) -> None:
        now = time.time()
        for name, data in results.items():
            pen = self.pens.get(name)
            if pen is None:
                continue
            pen.series.set_history(data, p.start, min(p.end, now))
            pen.width = p.width
            pen.update(now if self.follow else None)
        self.last_rid = rid
        self.sigRendered.emit(rid)

    # ------------------------------------------------------------------ live
    def feed(self, name: str, ts: float, value: float, quality: int) -> None:
        """A live value of pen ``name`` (quality 192 / 64 / 0)."""
        pen = self.pens.get(name)
        if pen is not None:
            pen.series.append(ts, value, quality)

    def add_point(self, name: str, ts: float, value: float, good: bool) -> None:
        """A live value (NaN / not good breaks the line)."""
        self.feed(name, ts, value, GOOD if good and not math.isnan(value) else BAD)

    def redraw(self) -> None:
        """Push new data to the curves; when live, slide the window to now."""
        now = time.time()
        for pen in self.pens.values():
            pen.update(now if self.follow else None)
        if self.follow:
            self._set_x(now - self.window, now)
            self._last_scroll = now

    def tick(self) -> None:
        """Called on every live refresh: redraw when a pixel's worth of time has passed."""
        now = time.time()
        step = min(max(self.window / max(self.pixels(), 1), 0.25), 5.0)
        if not self.follow:
            step = 1.0
        if now - self._last_scroll >= step * 0.95:
            self._last_scroll = now
            self.redraw()

    # ------------------------------------------------------------------ cursor
    def show_cursor(self, t: float | None = None) -> None:
        """Show the cursor at ``t`` (default: the middle of the view)."""
        x0, x1 = self.view_range()
        self.time_cursor.span = x1 - x0
        self.time_cursor.show((x0 + x1) / 2.0 if t is None else t)

    def hide_cursor(self) -> None:
        """Hide the cursor."""
        self.time_cursor.hide()
        self.sigCursorMoved.emit(math.nan)

    def readout(self, t: float) -> dict[str, Readout | None]:
        """Every pen's reading at ``t``."""
        now = time.time()
        return {name: pen.series.value_at(t, now) for name, pen in self.pens.items()}

    def mouseDoubleClickEvent(self, ev: Any) -> None:  # noqa: N802 - Qt override
        """Double-click places the cursor there (interactive plots)."""
        if not self.axes.mouse:
            super().mouseDoubleClickEvent(ev)
            return
        pos = self.plotItem.vb.mapSceneToView(self.mapToScene(ev.position().toPoint()))
        self.show_cursor(float(pos.x()))
        ev.accept()

    # ------------------------------------------------------------------ export
    def visible_rows(self) -> dict[str, dict[str, np.ndarray]]:
        """Per pen, the rows in the visible range."""
        x0, x1 = self.view_range()
        return {name: pen.series.rows_between(x0, x1) for name, pen in self.pens.items()}

    # ------------------------------------------------------------------ looks
    def retranslate(self, *_: Any) -> None:
        """Legend texts in the current language."""
        if self.legend is None:
            return
        for (_sample, label), pen in zip(self.legend.items, self.pens.values(), strict=False):
            label.setText(self._pen_name(pen.tag))

    def apply_theme(self) -> None:
        """Colors from the current theme."""
        try:
            c = theme_mod.colors()
        except RuntimeError:
            return
        bg = c.color("trendBg")
        self.setBackground(bg)
        axis_pen = pg.mkPen(c.color("textDim"))
        text_pen = pg.mkPen(c.color("text"))
        # opaque grid lines, pre-mixed with the background: translucent lines across the
        # whole plot cost Qt ~10 ms per axis and frame, too much while panning
        grid = _mix(bg, c.color("textDim"), 0.22)
        for ax in [self.plotItem.getAxis(n) for n in ("left", "bottom", "right")] + list(
            self.axes.axes
        ):
            ax.setPen(axis_pen)
            ax.setTextPen(text_pen)
            ax.setTickPen(pg.mkPen(grid))
            ax.setStyle(tickAlpha=255, maxTickLevel=1)  # major and minor lines, no third level
        if self.legend is not None:
            self.legend.setLabelTextColor(c.color("text"))
            self.legend.setBrush(pg.mkBrush(c.color("trendBg")))
        colors = c.pens()
        for i, pen in enumerate(self.pens.values()):
            pen.set_style(
                colors[i % len(colors)],
                i,
                selected=len(self.pens) > 1 and pen.name == self.band_pen,
            )
        # an axis used by one pen takes its color, so the reader knows which scale is whose
        for unit, ax in zip(self.axes.units, self.axes.axes, strict=False):
            users = [p for p in self.pens.values() if p.unit == unit]
            col = users[0].color if len(users) == 1 and len(self.pens) > 1 else c.color("text")
            ax.setLabel(unit, color=col.name())
        if self.bands is not None:
            self.bands.apply_colors(c.alarm)
        self.time_cursor.set_color(c.color("text"), c.color("text"), bg)


def _mix(a: QColor, b: QColor, f: float) -> QColor:
    """``a`` with ``f`` of ``b`` mixed in (an opaque color)."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * f),
        round(a.green() + (b.green() - a.green()) * f),
        round(a.blue() + (b.blue() - a.blue()) * f),
    )
