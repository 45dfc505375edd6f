"""Send-out forecast page: the next hours' forecast against the baseline and the actuals, early warnings.

Everything comes from ``runtime.analytics`` (``forecast()``, ``warnings()``), read on
Qt's thread pool (:func:`hmi.ui.tasks.run_in_pool`) every few seconds while the page is
shown; the page redraws only when a new forecast was issued or a finding changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.ui import theme as theme_mod
from hmi.ui.i18n import i18n, tr
from hmi.ui.live import LiveData
from hmi.ui.tasks import run_in_pool

log = logging.getLogger(__name__)
POLL_MS = 5000


def _num(v: float, digits: int = 0, unit: str = "") -> str:
    if v is None or not np.isfinite(v):
        return "-"
    return f"{v:,.{digits}f}" + (f" {unit}" if unit else "")


class ForecastPage(QWidget):
    """Send-out forecast (24-72 h) with baseline and actuals, temperature outlook, MAPE, early warnings."""

    def __init__(self, live: LiveData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "page")
        self.setObjectName("forecastPage")
        self.live = live
        self.analytics = getattr(live.runtime, "analytics", None)
        self.result: Any = None
        self.findings: list[Any] = []
        self._busy = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(8)
        # summary cards
        cards = QHBoxLayout()
        self.cards: dict[str, tuple[QLabel, QLabel]] = {}
        for key in ("next24", "mape", "baseline_mape", "temperature", "issued"):
            card = QFrame(self)
            card.setProperty("role", "card")
            cl = QVBoxLayout(card)
            cl.setContentsMargins(12, 8, 12, 8)
            title, value = QLabel(card), QLabel("-", card)
            title.setProperty("role", "cardTitle")
            value.setProperty("role", "kpiSmall")
            value.setObjectName(f"forecast_{key}")
            cl.addWidget(title)
            cl.addWidget(value)
            cards.addWidget(card, 1)
            self.cards[key] = (title, value)
        lay.addLayout(cards)
        self.note = QLabel(self)
        self.note.setObjectName("forecastNote")
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        # the trend: volumes on the left axis, temperature on the right
        self.plot = pg.PlotWidget(self, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.plot.setObjectName("forecastPlot")
        pi = self.plot.getPlotItem()
        pi.showGrid(x=True, y=True, alpha=0.25)
        self.legend = pi.addLegend(offset=(10, 10))
        self.c_actual = pi.plot([], [], name="actual")
        self.c_forecast = pi.plot([], [], name="forecast")
        self.c_baseline = pi.plot([], [], name="baseline")
        self.temp_vb = pg.ViewBox()
        pi.showAxis("right")
        pi.scene().addItem(self.temp_vb)
        pi.getAxis("right").linkToView(self.temp_vb)
        self.temp_vb.setXLink(pi)
        self.c_temp = pg.PlotDataItem([], [])
        self.temp_vb.addItem(self.c_temp)
        self.legend.addItem(self.c_temp, "temperature")
        pi.vb.sigResized.connect(lambda: self.temp_vb.setGeometry(pi.vb.sceneBoundingRect()))
        self.now_line = pg.InfiniteLine(angle=90, movable=False)
        pi.addItem(self.now_line)
        lay.addWidget(self.plot, 4)
        # early warnings
        self.warn_title = QLabel(self)
        self.warn_title.setProperty("role", "cardTitle")
        lay.addWidget(self.warn_title)
        self.table = QTableWidget(0, 5, self)
        self.table.setObjectName("warningTable")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        lay.addWidget(self.table, 3)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        i18n().sigLanguageChanged.connect(self.retranslate)
        try:
            theme_mod.theme().sigThemeChanged.connect(self.apply_theme)
        except RuntimeError:  # no theme installed
            pass
        self.apply_theme()
        self.retranslate()

    # ------------------------------------------------------------------ data
    def poll(self) -> None:
        """Fetch the latest forecast and findings off the GUI thread."""
        if self.analytics is None or self._busy:
            return
        self._busy = True
        an = self.analytics
        run_in_pool(lambda: (an.forecast(), an.warnings()), self._fetched)

    def _fetched(self, result: Any, error: BaseException | None) -> None:
        self._busy = False
        if error is not None:
            log.warning("forecast page: %s", error)
            return
        res, findings = result
        changed = res is not self.result
        self.result = res
        if changed:
            self._draw()
        if [(w.id, w.ts, w.value, w.judged) for w in findings] != [
            (w.id, w.ts, w.value, w.judged) for w in self.findings
        ]:
            self.findings = findings
            self._fill_warnings()

    def _draw(self) -> None:
        res = self.result
        if res is None:
            for c in (self.c_actual, self.c_forecast, self.c_baseline, self.c_temp):
                c.setData([], [])
            self._texts()
            return
        mid = 1800.0  # hourly volumes drawn at the middle of their hour
        self.c_actual.setData(
            np.asarray(res.history_ts, float) + mid,
            np.asarray(res.history, float),
            connect="finite",
        )
        self.c_forecast.setData(
            np.asarray(res.ts, float) + mid, np.asarray(res.forecast, float), connect="finite"
        )
        self.c_baseline.setData(
            np.asarray(res.ts, float) + mid, np.asarray(res.baseline, float), connect="finite"
        )
        self.c_temp.setData(
            np.asarray(res.ts, float) + mid, np.asarray(res.temperature, float), connect="finite"
        )
        self.now_line.setValue(res.issued)
        t = np.asarray(res.temperature, float)
        if np.isfinite(t).any():
            self.temp_vb.setYRange(float(np.nanmin(t)) - 2.0, float(np.nanmax(t)) + 2.0)
        self.plot.getPlotItem().enableAutoRange()
        self._texts()

    def _texts(self) -> None:
        res = self.result
        val = {k: v for k, (_t, v) in self.cards.items()}
        if res is None:
            for v in val.values():
                v.setText("-")
            self.note.setText(
                tr("No forecast yet")
                if self.analytics is not None
                else tr("Analytics is not configured for this station")
            )
            return
        n24 = float(np.sum(res.forecast[1:25])) if len(res.forecast) >= 25 else float("nan")
        val["next24"].setText(_num(n24, 0, "Sm³"))
        m, b = (
            res.mape.get("regression", float("nan")),
            res.mape.get("seasonal_naive", float("nan")),
        )
        val["mape"].setText(_num(m, 1, "%"))
        val["baseline_mape"].setText(_num(b, 1, "%"))
        t = np.asarray(res.temperature, float)
        val["temperature"].setText(
            f"{np.nanmin(t):.1f} … {np.nanmax(t):.1f} °C"
            if np.isfinite(t).any()
            else tr("no temperature tag")
        )
        val["issued"].setText(dt.datetime.fromtimestamp(res.issued).strftime("%Y-%m-%d %H:%M"))
        hours = len(res.ts)
        text = tr("{h} h forecast, model fitted on {n} h of history").format(
            h=hours, n=res.training_hours
        )
        if res.note:
            text += " — " + tr(res.note)
        self.note.setText(text)

    def _fill_warnings(self) -> None:
        self.table.setRowCount(len(self.findings))
        zh = i18n().is_zh
        for r, w in enumerate(self.findings):
            value = f"{w.value:.2f} {w.unit}" if w.judged and np.isfinite(w.value) else "-"
            prio, state = self._alarm_state(w)
            when = dt.datetime.fromtimestamp(w.ts).strftime("%H:%M:%S") if w.ts else "-"
            cells = [
                w.label_zh if zh else w.label_en,
                value,
                state,
                when,
                tr(w.reason) if w.reason else "",
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 2 and prio:
                    item.setForeground(theme_mod.colors().alarm(prio))
                if c == 1:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(r, c, item)

    def _alarm_state(self, w: Any) -> tuple[int, str]:
        """The priority and state text of the ``warning.<id>`` tag's alarm (the judgement)."""
        if not w.judged:
            return 0, tr("cannot judge")
        names = {t.name for t in self.live.cfg.tags if t.address == w.address}
        for name in names:
            prio, _ = self.live.alarm_of(name)
            if prio:
                return int(prio), tr("Alarm")
        return 0, tr("Normal")

    # ------------------------------------------------------------------ look
    def retranslate(self, *_: Any) -> None:
        """Texts."""
        titles = {
            "next24": tr("Forecast next 24 h"),
            "mape": tr("Day-ahead MAPE (model)"),
            "baseline_mape": tr("Day-ahead MAPE (baseline)"),
            "temperature": tr("Ambient temperature assumed"),
            "issued": tr("Forecast issued"),
        }
        for key, (title, _v) in self.cards.items():
            title.setText(titles[key])
        self.warn_title.setText(tr("Early warnings"))
        self.table.setHorizontalHeaderLabels(
            [tr("Detector"), tr("Value"), tr("State"), tr("Time"), tr("Reason")]
        )
        self.legend.clear()
        for c, name in (
            (self.c_actual, "Actual send-out"),
            (self.c_forecast, "Forecast"),
            (self.c_baseline, "Baseline (same hour last week)"),
            (self.c_temp, "Ambient temperature (°C)"),
        ):
            self.legend.addItem(c, tr(name))
        pi = self.plot.getPlotItem()
        pi.setLabel("left", tr("Send-out") + " (Sm³/h)")
        pi.setLabel("right", tr("Temperature") + " (°C)")
        self._texts()
        self._fill_warnings()

    def apply_theme(self, *_: Any) -> None:
        """Colors from the current theme."""
        try:
            c = theme_mod.colors()
        except RuntimeError:
            return
        self.plot.setBackground(c.color("trendBg"))
        for name in ("left", "bottom", "right"):
            ax = self.plot.getPlotItem().getAxis(name)
            ax.setPen(pg.mkPen(c.color("textDim")))
            ax.setTextPen(pg.mkPen(c.color("text")))
        self.c_actual.setPen(pg.mkPen(c.color("text"), width=2))
        self.c_forecast.setPen(pg.mkPen(c.color("trendPen1"), width=3))
        self.c_baseline.setPen(pg.mkPen(c.color("trendPen2"), width=2, style=Qt.PenStyle.DashLine))
        self.c_temp.setPen(pg.mkPen(c.color("trendPen3"), width=1, style=Qt.PenStyle.DotLine))
        self.now_line.setPen(pg.mkPen(c.color("textDim"), style=Qt.PenStyle.DashLine))
        self.legend.setLabelTextColor(c.color("text"))

    # ------------------------------------------------------------------ visibility
    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Poll while shown."""
        super().showEvent(event)
        self.poll()
        self.timer.start()

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Stop polling."""
        super().hideEvent(event)
        self.timer.stop()
