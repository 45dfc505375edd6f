"""Level-1 overview: KPI cards, alarms by priority, device health, the process at a glance."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from drivers.base import Quality
from hmi.config.loader import screens_root
from hmi.config.schema import Text
from hmi.core.tagtable import TagUpdate
from hmi.ui import fmt
from hmi.ui.i18n import i18n, tr
from hmi.ui.live import LiveData
from hmi.ui.mimic.screen import ScreenDef, ScreenError, load_screen
from hmi.ui.mimic.view import MimicView
from hmi.ui.pages.pid import make_view
from hmi.ui.pages.safety_card import SafetyCard
from hmi.ui.theme import restyle
from hmi.ui.widgets.analog_bar import AnalogBar
from hmi.ui.widgets.glyph import GlyphWidget
from hmi.ui.widgets.trend import TrendPlot

log = logging.getLogger(__name__)
OVERVIEW_TREND_S = 900.0  # the overview trend shows the last 15 minutes


def _card(parent: QWidget) -> tuple[QFrame, QVBoxLayout, QLabel]:
    card = QFrame(parent)
    card.setProperty("role", "card")
    lay = QVBoxLayout(card)
    lay.setContentsMargins(12, 8, 12, 8)
    lay.setSpacing(4)
    title = QLabel(card)
    title.setProperty("role", "cardTitle")
    lay.addWidget(title)
    return card, lay, title


class KpiCard(QFrame):
    """One KPI: title, big value with quality/alarm coding, optional analog bar and detail lines."""

    def __init__(self, spec: dict[str, Any], live: LiveData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        self.spec = spec
        self.live = live
        self.tag = live.cfg.tag(spec["tag"])
        self.title_text = Text.model_validate(spec.get("title") or self.tag.label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.setSpacing(2)
        self.title = QLabel(self)
        self.title.setProperty("role", "cardTitle")
        lay.addWidget(self.title)
        row = QHBoxLayout()
        self.value = QLabel(self)
        self.value.setObjectName(f"kpi_{self.tag.name}")
        self.value.setProperty("role", "kpi")
        self.unit = QLabel(self.tag.unit, self)
        self.unit.setProperty("role", "kpiUnit")
        row.addWidget(self.value)
        row.addWidget(self.unit, 0, Qt.AlignmentFlag.AlignBottom)
        row.addStretch(1)
        lay.addLayout(row)
        self.bar = AnalogBar(self.tag, self) if spec.get("bar") else None
        if self.bar is not None:
            lay.addWidget(self.bar)
        self.details: list[tuple[str, QLabel, QLabel]] = []
        for name in spec.get("detail") or []:
            line = QHBoxLayout()
            lab, val = QLabel(self), QLabel(self)
            lab.setProperty("role", "dim")
            val.setProperty("role", "value")
            val.setAlignment(Qt.AlignmentFlag.AlignRight)
            line.addWidget(lab)
            line.addWidget(val, 1)
            lay.addLayout(line)
            self.details.append((name, lab, val))
        lay.addStretch(1)
        self.names = [self.tag.name] + [d[0] for d in self.details]
        self.indices = np.array([live.index_of(n) for n in self.names])
        self.retranslate()

    def retranslate(self) -> None:
        """Texts."""
        self.title.setText(fmt.text(self.title_text))
        for name, lab, _val in self.details:
            lab.setText(fmt.label(self.live.cfg.tag(name)))
        self.refresh()

    def touches(self, upd: TagUpdate) -> bool:
        """True when the update has one of this card's tags."""
        return bool(np.isin(upd.indices, self.indices).any())

    def refresh(self) -> None:
        """Read the card's tags now."""
        v, q, ts, reason = self.live.value(self.tag.name)
        prio, _ = self.live.alarm_of(self.tag.name)
        self.value.setText(fmt.value_text(self.tag, v, q, unit=False))
        self.value.setToolTip(fmt.quality_tooltip(self.tag, q, reason, ts))
        restyle(self.value, quality=fmt.quality_name(q), alarm=str(prio))
        restyle(self, alarm=str(prio))
        if self.bar is not None and not isinstance(v, str):
            self.bar.set_value(float(v), q, prio)
        for name, _lab, val in self.details:
            t = self.live.cfg.tag(name)
            dv, dq, dts, dr = self.live.value(name)
            val.setText(fmt.value_text(t, dv, dq))
            val.setToolTip(fmt.quality_tooltip(t, dq, dr, dts))
            restyle(val, quality=fmt.quality_name(dq))


class ForecastCard(QFrame):
    """Send-out forecast of the next 24 h and the day-ahead MAPE (model vs baseline), from ``runtime.analytics``."""

    def __init__(self, analytics: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        self.setObjectName("forecastCard")
        self.analytics = analytics
        self.result: Any = None
        self._busy = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.setSpacing(2)
        self.title = QLabel(self)
        self.title.setProperty("role", "cardTitle")
        self.value = QLabel("-", self)
        self.value.setObjectName("forecastNext24")
        self.value.setProperty("role", "kpiSmall")
        self.mape = QLabel(self)
        self.mape.setObjectName("forecastMape")
        self.mape.setProperty("role", "dim")
        self.mape.setWordWrap(True)
        for w in (self.title, self.value, self.mape):
            lay.addWidget(w)
        lay.addStretch(1)
        self.poll()

    def on_tick(self, n: int) -> None:
        """Poll every 5 s (20 ticks) while visible."""
        if n % 20 == 0 and self.isVisible():
            self.poll()

    def poll(self) -> None:
        """Fetch the latest forecast off the GUI thread."""
        if self._busy:
            return
        self._busy = True
        from hmi.ui.tasks import run_in_pool

        run_in_pool(self.analytics.forecast, self._fetched)

    def _fetched(self, result: Any, error: BaseException | None) -> None:
        self._busy = False
        if error is None and result is not self.result:
            self.result = result
            self.retranslate()

    def retranslate(self) -> None:
        """Texts."""
        self.title.setText(tr("Send-out forecast, next 24 h"))
        res = self.result
        if res is None or len(res.forecast) < 25:
            self.value.setText("-")
            self.mape.setText(tr("No forecast yet"))
            return
        n24 = float(np.sum(res.forecast[1:25]))
        self.value.setText(f"{n24:,.0f} Sm³" if np.isfinite(n24) else "-")
        m, b = res.mape.get("regression"), res.mape.get("seasonal_naive")
        if not np.isfinite(n24):  # too little history even for the baseline
            self.mape.setText(tr(res.note) if res.note else tr("No forecast yet"))
        elif m is None or not np.isfinite(m):
            self.mape.setText(tr("Day-ahead MAPE: not scored yet"))
        else:
            base = f"{b:.1f} %" if b is not None and np.isfinite(b) else "-"
            self.mape.setText(
                tr("Day-ahead MAPE {m} (baseline {b})").format(m=f"{m:.1f} %", b=base)
            )


class OverviewPage(QWidget):
    """Display level 1."""

    screen: ScreenDef | None  # type: ignore[assignment]  # shadows QWidget.screen(), unused here

    sigNavigate = Signal(str)
    sigOpenFaceplate = Signal(str)
    sigShowAlarms = Signal()
    sigShowDiagnostics = Signal()
    sigShowForecast = Signal()

    def __init__(self, live: LiveData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "page")
        self.live = live
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(8)
        cards = QHBoxLayout()
        cards.setSpacing(8)
        refs = [s for s in live.cfg.screens if s.level == 1]
        self.screen: ScreenDef | None = None
        folder = screens_root(live.cfg)
        if refs and folder is not None:
            try:
                self.screen = load_screen(
                    folder, refs[0].source, live.cfg, {s.id for s in live.cfg.screens}
                )
            except ScreenError as exc:
                log.error("overview screen: %s", exc)
        self.kpis = [KpiCard(k, live, self) for k in (self.screen.kpis if self.screen else [])]
        for k in self.kpis:
            cards.addWidget(k, 3)
        # alarms by priority
        self.alarm_card, al, self.alarm_title = _card(self)
        grid = QGridLayout()
        self.prio: dict[int, QLabel] = {}
        for p in range(1, 5):
            grid.addWidget(
                GlyphWidget(p, 24, self.alarm_card), 0, p - 1, Qt.AlignmentFlag.AlignHCenter
            )
            n = QLabel("0", self.alarm_card)
            n.setObjectName(f"alarmCount{p}")
            n.setProperty("role", "kpiSmall")
            n.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(n, 1, p - 1)
            self.prio[p] = n
        al.addLayout(grid)
        self.alarm_detail = QLabel(self.alarm_card)
        self.alarm_detail.setProperty("role", "dim")
        self.alarm_detail.setWordWrap(True)
        al.addWidget(self.alarm_detail)
        al.addStretch(1)
        self.alarm_card.mousePressEvent = lambda _e: self.sigShowAlarms.emit()  # type: ignore[method-assign]
        cards.addWidget(self.alarm_card, 2)
        # device health
        self.dev_card, dl, self.dev_title = _card(self)
        self.dev_summary = QLabel(self.dev_card)
        self.dev_summary.setObjectName("deviceSummary")
        self.dev_summary.setProperty("role", "kpiSmall")
        dl.addWidget(self.dev_summary)
        self.dev_list = QLabel(self.dev_card)
        self.dev_list.setWordWrap(True)
        self.dev_list.setTextFormat(Qt.TextFormat.PlainText)
        dl.addWidget(self.dev_list)
        dl.addStretch(1)
        self.dev_card.mousePressEvent = lambda _e: self.sigShowDiagnostics.emit()  # type: ignore[method-assign]
        cards.addWidget(self.dev_card, 2)
        # gas detection, ESD and slam-shuts, power / UPS
        self.safety_card = SafetyCard(live, self)
        self.safety_card.mousePressEvent = lambda _e: self.sigNavigate.emit("pid")  # type: ignore[method-assign]
        cards.addWidget(self.safety_card, 3)
        # send-out forecast (only with analytics)
        self.forecast_card: ForecastCard | None = None
        if getattr(live.runtime, "analytics", None) is not None:
            self.forecast_card = ForecastCard(live.runtime.analytics, self)
            self.forecast_card.mousePressEvent = lambda _e: self.sigShowForecast.emit()  # type: ignore[method-assign]
            live.sigTick.connect(self.forecast_card.on_tick)
            cards.addWidget(self.forecast_card, 2)
        lay.addLayout(cards)
        # process at a glance + trend
        self.view: QWidget | None = None
        if refs:
            self.view = make_view(live.cfg, refs[0], live, self)
            if isinstance(self.view, MimicView):
                self.view.sigNavigate.connect(self.sigNavigate)
                self.view.sigOpenFaceplate.connect(self.sigOpenFaceplate)
            lay.addWidget(self.view, 5)
        self.trend: TrendPlot | None = None
        self.trend_names: list[str] = []
        groups = live.cfg.trend_groups
        # the "overview" group (pens of different units, each on its own axis), else the first
        group = next((g for g in groups if g.name == "overview"), groups[0] if groups else None)
        if group is not None:
            tags = [live.cfg.tag(p) for p in group.pens[:4]]
            self.trend = TrendPlot(tags, OVERVIEW_TREND_S, self, limits=False)
            self.trend_names = [t.name for t in tags]
            lay.addWidget(self.trend, 4)
            self.trend.load_history(getattr(live.runtime, "historian", None), points=360)
        live.sigTags.connect(self.on_tags)
        live.sigAlarms.connect(self.on_alarms)
        live.sigDiagnostics.connect(self.on_diagnostics)
        live.sigTick.connect(self.on_tick)
        i18n().sigLanguageChanged.connect(self.retranslate)
        self.retranslate()

    def retranslate(self, *_: Any) -> None:
        """Texts."""
        self.alarm_title.setText(tr("Alarms by priority"))
        self.dev_title.setText(tr("Device health"))
        if self.forecast_card is not None:
            self.forecast_card.retranslate()
        for k in self.kpis:
            k.retranslate()
        self.safety_card.refresh()
        self.on_alarms(self.live.alarms)
        self.on_diagnostics(self.live.devices, self.live.stats)

    def on_tags(self, upd: TagUpdate) -> None:
        """Refresh the KPI cards whose tags changed."""
        for k in self.kpis:
            if k.touches(upd):
                k.refresh()

    def on_alarms(self, views: list[Any]) -> None:
        """Counts per priority (annunciated alarms), unacknowledged and shelved."""
        if not self.isVisible() and self.alarm_detail.text():
            self._stale = True  # counted again when the page is shown
            return
        self._stale = False
        shown = [
            v
            for v in views
            if v.state != "NORMAL" and not (v.shelved or v.suppressed or v.out_of_service)
        ]
        worst = 0
        for p in range(1, 5):
            n = sum(1 for v in shown if v.priority == p)
            self.prio[p].setText(str(n))
            if n and not worst:
                worst = p
        restyle(self.alarm_card, alarm=str(worst))
        unack = sum(1 for v in shown if v.state in ("ACTIVE_UNACK", "RTN_UNACK"))
        shelved = sum(1 for v in views if v.shelved)
        self.alarm_detail.setText(tr("{u} unacknowledged · {s} shelved").format(u=unack, s=shelved))
        for k in self.kpis:
            k.refresh()

    def on_diagnostics(self, devices: list[dict[str, Any]], _stats: Any) -> None:
        """Devices up / total and the ones that are not."""
        if not devices:
            self.dev_summary.setText("-")
            self.dev_list.setText("")
            return
        up = [d for d in devices if d.get("state") == "up"]
        self.dev_summary.setText(tr("{up} of {n} up").format(up=len(up), n=len(devices)))
        restyle(self.dev_summary, quality="good" if len(up) == len(devices) else "bad")
        lines = [
            f"{d.get('device_id')}: {tr(str(d.get('state')))}"
            for d in devices
            if d.get("state") != "up"
        ]
        self.dev_list.setText("\n".join(lines) if lines else tr("All devices communicating"))
        restyle(self.dev_card, alarm="2" if lines else "0")

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Reload the trend's history when the page is shown again."""
        super().showEvent(event)
        if getattr(self, "_stale", False):
            self.on_alarms(self.live.alarms)
        if self.trend is not None:
            self.trend.load_history(getattr(self.live.runtime, "historian", None), points=360)

    def on_tick(self, n: int) -> None:
        """Feed the overview trend once a second."""
        if self.trend is None or n % 4 or not self.isVisible():
            return
        import time

        now = time.time()
        for name in self.trend_names:
            v, q, _ts, _r = self.live.value(name)
            self.trend.add_point(
                name, now, float(v) if not isinstance(v, str) else float("nan"), q >= Quality.GOOD
            )
        self.trend.redraw()
