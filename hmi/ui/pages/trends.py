"""Trends page: saved trend groups (station config), time range, history + live."""

from __future__ import annotations

import math
import time
from typing import Any

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from drivers.base import Quality
from hmi.ui import fmt
from hmi.ui.i18n import N_, i18n, tr
from hmi.ui.live import LiveData
from hmi.ui.widgets.trend import TrendPlot

RANGES = ((600, N_("10 min")), (3600, N_("1 h")), (8 * 3600, N_("8 h")), (24 * 3600, N_("24 h")), (7 * 86400, N_("7 days")))
_RANGE_TEXT = {"10m": 600, "1h": 3600, "8h": 8 * 3600, "24h": 86400, "1d": 86400, "7d": 7 * 86400}


class TrendsPage(QWidget):
    """Pick a trend group and a range; the plot shows history then follows live values."""

    def __init__(self, live: LiveData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "page")
        self.live = live
        self.groups = list(live.cfg.trend_groups)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        bar = QHBoxLayout()
        self.l_group, self.l_range = QLabel(self), QLabel(self)
        self.group = QComboBox(self)
        self.group.setObjectName("trendGroup")
        self.range = QComboBox(self)
        self.range.setObjectName("trendRange")
        self.reload = QPushButton(self)
        self.reload.clicked.connect(self.show_group)
        for w in (self.l_group, self.group, self.l_range, self.range, self.reload):
            bar.addWidget(w)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.values = QLabel(self)
        self.values.setObjectName("trendValues")
        self.values.setWordWrap(True)
        lay.addWidget(self.values)
        self.holder = QVBoxLayout()
        lay.addLayout(self.holder, 1)
        self.plot: TrendPlot | None = None
        self.group.currentIndexChanged.connect(self.show_group)
        self.range.currentIndexChanged.connect(self.show_group)
        live.sigTick.connect(self.on_tick)
        i18n().sigLanguageChanged.connect(self.retranslate)
        self.retranslate()
        self.show_group()

    def retranslate(self, *_: Any) -> None:
        """Texts (keeps the current choices)."""
        gi, ri = max(self.group.currentIndex(), 0), self.range.currentIndex()
        self.group.blockSignals(True)
        self.range.blockSignals(True)
        self.group.clear()
        for g in self.groups:
            self.group.addItem(fmt.text(g.title) or g.name, g.name)
        self.range.clear()
        for seconds, text in RANGES:
            self.range.addItem(tr(text), seconds)
        self.group.setCurrentIndex(gi if gi < len(self.groups) else 0)
        if ri < 0 and self.groups:
            default = _RANGE_TEXT.get(self.groups[max(gi, 0)].range, 3600)
            ri = max(self.range.findData(default), 0)
        self.range.setCurrentIndex(max(ri, 0))
        self.group.blockSignals(False)
        self.range.blockSignals(False)
        self.l_group.setText(tr("Trend group") + ":")
        self.l_range.setText(tr("Range") + ":")
        self.reload.setText(tr("Reload"))

    def show_group(self, *_: Any) -> None:
        """Build the plot for the chosen group and range; load its history off the GUI thread."""
        if self.plot is not None:
            self.holder.removeWidget(self.plot)
            self.plot.deleteLater()
            self.plot = None
        if not self.groups:
            self.values.setText(tr("The station config defines no trend groups"))
            return
        g = self.groups[max(self.group.currentIndex(), 0)]
        window = float(self.range.currentData() or 3600)
        tags = [self.live.cfg.tag(p) for p in g.pens]
        self.plot = TrendPlot(tags, window, self, limits=len(tags) == 1)
        self.holder.addWidget(self.plot)
        self.plot.load_history(getattr(self.live.runtime, "historian", None), points=800)
        self._names = [t.name for t in tags]
        self._update_values()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Reload history each time the page is shown (the historian grew meanwhile)."""
        super().showEvent(event)
        if self.plot is not None:
            self.plot.load_history(getattr(self.live.runtime, "historian", None), points=800)

    def _update_values(self) -> None:
        parts = []
        for name in getattr(self, "_names", []):
            t = self.live.cfg.tag(name)
            v, q, _ts, _r = self.live.value(name)
            parts.append(f"{fmt.label(t)}: {fmt.value_text(t, v, q)}")
        self.values.setText("    ".join(parts))

    def on_tick(self, n: int) -> None:
        """Append live values once a second while visible."""
        if self.plot is None or n % 4 or not self.isVisible():
            return
        now = time.time()
        for name in self._names:
            v, q, _ts, _r = self.live.value(name)
            self.plot.add_point(name, now, float(v) if not isinstance(v, str) else math.nan, q >= Quality.GOOD)
        self.plot.redraw()
        self._update_values()
