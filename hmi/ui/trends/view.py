"""A complete trend: time bar, plot and pen table, fed by the live snapshot.

Used by the trends page (several pens, pen table) and by every faceplate (one pen,
``compact``: a preset menu and a one-line cursor readout instead of the table).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from hmi.config.schema import TagConfig
from hmi.core.tagtable import TagUpdate
from hmi.ui import fmt
from hmi.ui.i18n import i18n, tr
from hmi.ui.live import LiveData
from hmi.ui.theme import restyle, theme
from hmi.ui.trends.cursor import time_text
from hmi.ui.trends.export import csv_rows, save_png, write_csv
from hmi.ui.trends.pen_table import PenTable, readout_text
from hmi.ui.trends.rangebar import RangeBar
from hmi.ui.widgets.trend import TrendPlot

log = logging.getLogger(__name__)


class TrendView(QWidget):
    """Time bar + plot + pens; appends live values from :class:`LiveData`."""

    sigPensChanged = Signal()
    sigMessage = Signal(str, bool)  # text, ok

    def __init__(
        self,
        live: LiveData,
        tags: Sequence[TagConfig],
        span: float = 3600.0,
        parent: QWidget | None = None,
        compact: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trendView")
        self.live = live
        self.compact = compact
        self.bar = RangeBar(self, compact)
        historian = getattr(live.runtime, "historian", None)
        self.plot = TrendPlot(
            [], span, self, limits=True, legend=False, historian=historian, interactive=True
        )
        self.table: PenTable | None = None if compact else PenTable(self)
        self.readout = QLabel(self)
        self.readout.setObjectName("trendReadout")
        self.message = QLabel(self)
        self.message.setObjectName("trendMessage")
        self.message.setProperty("role", "state")
        self.message.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self.bar)
        lay.addWidget(self.plot, 1)
        if self.table is not None:
            lay.addWidget(self.table)
        lay.addWidget(self.readout)
        lay.addWidget(self.message)
        self.readout.setVisible(False)
        self.message.setVisible(False)
        self._view = (0.0, 0.0)
        self._bar_timer = QTimer(self)
        self._bar_timer.setSingleShot(True)
        self._bar_timer.setInterval(200)
        self._bar_timer.timeout.connect(self._update_bar)
        self._index: dict[int, str] = {}
        self._idx = np.empty(0, np.int64)
        # wiring
        self.bar.sigPreset.connect(self.set_span)
        self.bar.sigStep.connect(self.plot.step)
        self.bar.sigFollow.connect(self.plot.set_follow)
        self.bar.sigRange.connect(self.plot.set_range)
        self.bar.sigCursor.connect(self._cursor_toggled)
        self.bar.sigMessage.connect(self.show_message)
        self.plot.sigFollowChanged.connect(self.bar.set_follow)
        self.plot.sigViewChanged.connect(self._view_changed)
        self.plot.sigCursorMoved.connect(self._cursor_moved)
        self.plot.sigRendered.connect(lambda _rid: self._refresh_readout())
        self.plot.sigPensChanged.connect(self._pens_changed)
        self.plot.sigError.connect(
            lambda text: self.show_message(tr("History unavailable") + f": {text}", False)
        )
        if self.table is not None:
            self.table.sigSelected.connect(self.plot.set_band_pen)
        live.sigTags.connect(self.on_tags)
        live.sigTick.connect(self.on_tick)
        i18n().sigLanguageChanged.connect(self._retranslate)
        try:  # after the plot's own slot: the swatches take the new pen colors
            theme().sigThemeChanged.connect(self._retranslate)
        except RuntimeError:  # no theme installed
            pass
        self.set_pens(tags)
        self.bar.set_span(span)
        self.bar.set_view(*self.plot.view_range())

    # ------------------------------------------------------------------ pens
    @property
    def names(self) -> list[str]:
        """Pen tag names."""
        return self.plot.names

    def set_pens(self, tags: Sequence[TagConfig]) -> None:
        """Show these tags (numeric ones; at most the plot's maximum)."""
        new = [t for t in tags if t.type != "string" and t.name not in self.plot.pens]
        self.plot.set_pens([t for t in tags if t.type != "string"])
        for t in new:
            self._seed(t.name)

    def add_pens(self, names: Sequence[str]) -> int:
        """Add pens by tag name; returns how many were added."""
        cfg = self.live.cfg.tag_map()
        tags = [p.tag for p in self.plot.pens.values()]
        tags += [cfg[n] for n in names if n in cfg and n not in self.plot.pens]
        before = len(self.plot.pens)
        self.set_pens(tags)
        return len(self.plot.pens) - before

    def remove_pen(self, name: str) -> bool:
        """Remove one pen."""
        return self.plot.remove_pen(name)

    def _seed(self, name: str) -> None:
        """Start the live part with the tag's current value."""
        try:
            v, q, ts, _r = self.live.value(name)
        except KeyError:
            return
        if ts and not isinstance(v, str):
            self.plot.feed(name, ts, float(v), int(q))

    def _pens_changed(self) -> None:
        idx = {}
        for name in self.plot.pens:
            try:
                idx[self.live.index_of(name)] = name
            except KeyError:
                log.warning("trend pen %s is not a tag of this station", name)
        self._index = idx
        self._idx = np.fromiter(idx, np.int64, len(idx))
        if self.table is not None:
            pens = list(self.plot.pens.values())
            self.table.set_pens(
                [p.tag for p in pens], [(p.color, p.style) for p in pens], self.plot.band_pen
            )
            self.table.fit_rows(6)  # the plot gets the rest of the page
            self._update_current()
        self._refresh_readout()
        self.sigPensChanged.emit()

    # ------------------------------------------------------------------ time
    def set_span(self, seconds: float) -> None:
        """A preset: show ``seconds`` (live: up to now)."""
        self.plot.set_span(seconds)
        self.bar.set_span(seconds)

    def _view_changed(self, x0: float, x1: float) -> None:
        # the range bar follows at most 5 times a second: while panning, the plot's own
        # repaints already keep the event loop busy
        self._view = (x0, x1)
        if not self._bar_timer.isActive():
            self._bar_timer.start()

    def _update_bar(self) -> None:
        x0, x1 = self._view
        self.bar.set_view(x0, x1)
        self.bar.set_span(x1 - x0)

    # ------------------------------------------------------------------ live
    def on_tags(self, upd: TagUpdate) -> None:
        """Append the pens' new values (all pens at once, one NumPy intersection)."""
        if not len(self._idx) or not len(upd):
            return
        for k in np.flatnonzero(np.isin(upd.indices, self._idx)):
            name = self._index[int(upd.indices[k])]
            v = upd.values[k]
            if isinstance(v, str):
                continue
            self.plot.feed(name, float(upd.ts[k]), float(v), int(upd.quality[k]))

    def on_tick(self, n: int) -> None:
        """Scroll (live) and refresh the current values while shown."""
        if not self.isVisible():
            return
        self.plot.tick()
        if n % 4 == 0:
            self._update_current()
            if self.plot.follow and self.plot.time_cursor.visible:
                self._refresh_readout()

    def _update_current(self) -> None:
        if self.table is None:
            return
        for name, pen in self.plot.pens.items():
            v, q, _ts, _r = self.live.value(name)
            self.table.set_current(name, fmt.value_text(pen.tag, v, q))

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Catch up when shown again: redraw, fetch what the view lacks."""
        super().showEvent(event)
        self.plot.redraw()
        self.plot.refetch()

    # ------------------------------------------------------------------ cursor
    def _cursor_toggled(self, on: bool) -> None:
        if on:
            self.plot.show_cursor()
        else:
            self.plot.hide_cursor()

    def _cursor_moved(self, t: float) -> None:
        if not math.isnan(t) and not self.bar.cursor_button.isChecked():
            self.bar.cursor_button.blockSignals(True)
            self.bar.cursor_button.setChecked(True)  # placed by a double-click
            self.bar.cursor_button.blockSignals(False)
        self._refresh_readout()

    def _refresh_readout(self) -> None:
        if not self.plot.time_cursor.visible:
            if self.table is not None:
                self.table.set_readout(None)
            self.readout.setVisible(False)
            return
        t = self.plot.time_cursor.time
        readings = self.plot.readout(t)
        if self.table is not None:
            self.table.set_readout(readings)
            return
        parts = [time_text(t, self.plot.window)]
        for name, pen in self.plot.pens.items():
            value, quality = readout_text(pen.tag, readings.get(name))
            parts.append(f"{value}  [{quality}]")
        self.readout.setText("   ".join(parts))
        self.readout.setVisible(True)

    def readings(self) -> dict[str, tuple[str, str]]:
        """Pen -> (value text, quality text) at the cursor, as shown."""
        t = self.plot.time_cursor.time
        r = self.plot.readout(t)
        return {name: readout_text(pen.tag, r.get(name)) for name, pen in self.plot.pens.items()}

    # ------------------------------------------------------------------ export
    def export_csv(self, path: str | Path) -> int:
        """The visible data of every pen as CSV; returns the number of rows (raises OSError)."""
        tags = {name: pen.tag for name, pen in self.plot.pens.items()}
        return write_csv(
            path, csv_rows(tags, self.plot.visible_rows(), "zh" if i18n().is_zh else "en")
        )

    def export_png(self, path: str | Path) -> bool:
        """The plot as a PNG image."""
        return save_png(self.plot, path)

    # ------------------------------------------------------------------ messages
    def show_message(self, text: str, ok: bool = True) -> None:
        """A line under the plot (export results, errors)."""
        self.message.setText(text)
        self.message.setVisible(bool(text))
        restyle(self.message, state="ok" if ok else "bad")

    def apply_theme(self) -> None:
        """Colors from the current theme (plot and pen swatches)."""
        self.plot.apply_theme()
        self._pens_changed()

    def _retranslate(self, *_: Any) -> None:
        self._pens_changed()
