"""The alarm banner: always visible, most important unacknowledged alarms first.

Each row codes the priority three ways (glyph shape, number, color) and blinks while
unacknowledged. Beside the rows: counts per priority, how many more alarms there are,
Acknowledge (the selected row, else the top one) and Silence horn.
"""

from __future__ import annotations

import heapq
from collections import Counter
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from drivers.base import Quality
from hmi.core.users import Action
from hmi.ui import fmt
from hmi.ui.actions import Actions
from hmi.ui.i18n import i18n, tr, tr_reason
from hmi.ui.live import LiveData
from hmi.ui.texts import PRIORITY_TEXT, STATE_TEXT, UNACKED, instrument_text
from hmi.ui.theme import restyle
from hmi.ui.widgets.glyph import GlyphWidget

ROWS = 3


def visible(views: list[Any]) -> list[Any]:
    """Annunciated alarms (not shelved/suppressed/out of service, not NORMAL)."""
    return [
        v
        for v in views
        if v.state != "NORMAL" and not (v.shelved or v.suppressed or v.out_of_service)
    ]


def _banner_key(v: Any) -> tuple[bool, int, bool, float]:
    return (
        v.state not in UNACKED,
        v.priority,
        v.state == "RTN_UNACK",
        -(v.active_since or v.last_change),
    )


def banner_order(views: list[Any], top: int | None = None) -> list[Any]:
    """Unacknowledged first, then priority, then active before returned, newest first
    (only the first ``top`` when given: a flood of thousands needs no full sort)."""
    shown = visible(views)
    if top is not None and len(shown) > 4 * top:
        return heapq.nsmallest(top, shown, key=_banner_key)
    return sorted(shown, key=_banner_key)


def alarm_value_text(view: Any, tag: Any) -> str:
    """The value an alarm carries, as the tag shows it (state text for discrete tags)."""
    if view.value is None:
        return ""
    if tag is not None:
        if view.kind == "roc":  # the value at activation is the rate, not the value
            return fmt.rate_text(tag, float(view.value))
        return fmt.value_text(tag, float(view.value), Quality.GOOD)
    return f"{view.value:.{3 if abs(view.value) < 10 else 1}f} {view.unit}".strip()


def live_and_alarm_text(live_text: str, at_alarm: str) -> str:
    """Live value first, then the value at activation marked as such (either may be empty)."""
    if live_text and at_alarm and live_text != at_alarm:
        return tr("{live} (at alarm {then})").format(live=live_text, then=at_alarm)
    return live_text or at_alarm


class BannerRow(QFrame):
    """One alarm line of the banner."""

    sigClicked = Signal(object)
    sigDoubleClicked = Signal(object)

    def __init__(
        self,
        parent: QWidget | None = None,
        cfg_tags: dict[str, Any] | None = None,
        live: LiveData | None = None,
    ) -> None:
        super().__init__(parent)
        self.setProperty("role", "bannerRow")
        self.view: Any = None
        self.cfg_tags = cfg_tags
        self.live = live
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 1, 4, 1)
        lay.setSpacing(10)
        self.glyph = GlyphWidget(0, 20, self)
        self.time = QLabel(self)
        self.time.setProperty("role", "bannerTime")
        self.tag = QLabel(self)
        self.tag.setProperty("role", "dim")
        self.tag.setMinimumWidth(80)
        self.msg = QLabel(self)
        self.msg.setProperty("role", "bannerMsg")
        self.msg.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.value = QLabel(self)
        self.value.setProperty("role", "value")
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.value.setMinimumWidth(200)
        self.state = QLabel(self)
        self.state.setProperty("role", "bannerState")
        self.state.setMinimumWidth(150)
        for w, stretch in (
            (self.glyph, 0),
            (self.time, 0),
            (self.tag, 0),
            (self.msg, 1),
            (self.value, 0),
            (self.state, 0),
        ):
            lay.addWidget(w, stretch)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFixedHeight(26)

    def _value_text(self, view: Any) -> str:
        tag = self.cfg_tags.get(view.tag) if self.cfg_tags is not None else None
        at_alarm = alarm_value_text(view, tag) if self.cfg_tags is not None else ""
        live_text = ""
        if self.live is not None and tag is not None:
            v, q, _ts, _r = self.live.value(tag.name)
            live_text = fmt.value_text(tag, v, q)
        return live_and_alarm_text(live_text, at_alarm)

    def show_view(self, view: Any, blink_on: bool, selected: bool) -> None:
        """Fill the row (None: empty row)."""
        self.view = view
        if view is None:
            self.glyph.set_state(0, True)
            for w in (self.time, self.tag, self.msg, self.value, self.state):
                w.setText("")
            restyle(self, unack="0", selected="0")
            self.setToolTip("")
            return
        unack = view.state in ("ACTIVE_UNACK", "RTN_UNACK")
        self.glyph.set_state(view.priority, blink_on or not unack)
        self.time.setText(fmt.clock(view.active_since or view.last_change, date=False))
        tag = self.cfg_tags.get(view.tag) if self.cfg_tags is not None else None
        self.tag.setText(instrument_text(tag, view.tag))  # 位号 PT-501 beside the description
        self.msg.setText(tr_reason(view.message(i18n().lang)))
        self.value.setText(self._value_text(view))
        self.state.setText(tr(STATE_TEXT.get(view.state, view.state)))
        restyle(self.state, unack="1" if unack else "0")
        restyle(self, unack="1" if unack else "0", selected="1" if selected else "0")
        self.setToolTip(
            f"{view.alarm_id}\n{tr_reason(view.message(i18n().lang))}\n{view.response(i18n().lang)}".strip()
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        """Select this row."""
        if self.view is not None:
            self.sigClicked.emit(self.view)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        """Open the tag's faceplate."""
        if self.view is not None:
            self.sigDoubleClicked.emit(self.view)
        super().mouseDoubleClickEvent(event)


class AlarmBanner(QFrame):
    """Always-visible alarm banner under the header."""

    actions: Actions  # type: ignore[assignment]  # shadows QWidget.actions(), unused here

    sigOpenFaceplate = Signal(str)
    sigShowAlarms = Signal()

    def __init__(self, live: LiveData, actions: Actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alarmBanner")
        self.live = live
        self.actions = actions
        self.selected_id = ""
        self.ordered: list[Any] = []
        self.blink_on = True
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(12)
        rows = QVBoxLayout()
        rows.setSpacing(1)
        self.rows = [BannerRow(self, live.cfg.tag_map(), live) for _ in range(ROWS)]
        for r in self.rows:
            r.sigClicked.connect(self._select)
            r.sigDoubleClicked.connect(lambda v: self.sigOpenFaceplate.emit(v.tag))
            rows.addWidget(r)
        outer.addLayout(rows, 1)
        side = QGridLayout()
        side.setHorizontalSpacing(6)
        side.setVerticalSpacing(2)
        self.counts: dict[int, tuple[GlyphWidget, QLabel]] = {}
        for p in range(1, 5):
            g = GlyphWidget(p, 18, self)
            n = QLabel("0", self)
            n.setProperty("role", "prioCount")
            self.counts[p] = (g, n)
            side.addWidget(g, 0, (p - 1) * 2)
            side.addWidget(n, 0, (p - 1) * 2 + 1)
        self.more = QLabel(self)
        self.more.setObjectName("bannerCount")
        side.addWidget(self.more, 1, 0, 1, 8)
        self.list_button = QPushButton(self)
        self.list_button.setObjectName("alarmListButton")
        self.list_button.clicked.connect(self.sigShowAlarms)
        side.addWidget(self.list_button, 2, 0, 1, 8)
        outer.addLayout(side)
        buttons = QVBoxLayout()
        buttons.setSpacing(4)
        self.ack = QPushButton(self)
        self.ack.setObjectName("ackButton")
        self.ack.clicked.connect(self.acknowledge)
        self.silence = QPushButton(self)
        self.silence.setObjectName("silenceButton")
        self.silence.clicked.connect(lambda: self.actions.silence())
        buttons.addWidget(self.ack)
        buttons.addWidget(self.silence)
        outer.addLayout(buttons)
        live.sigAlarms.connect(self.on_alarms)
        live.sigTick.connect(self.on_tick)
        live.sigAnnunciation.connect(self.on_annunciation)
        i18n().sigLanguageChanged.connect(self.retranslate)
        actions.sigSessionChanged.connect(self._gate)
        self.retranslate()
        self.on_alarms(live.alarms)

    def _gate(self, *_: Any) -> None:
        """Acknowledge needs a login with that right (the list itself stays live for viewers)."""
        self.actions.gate(
            self.ack,
            Action.ACKNOWLEDGE,
            tr("Acknowledge the selected alarm (the top one when none is selected)"),
            enabled=any(v.state in UNACKED for v in self.ordered),
        )

    def retranslate(self, *_: Any) -> None:
        """Re-read texts."""
        self.ack.setText(tr("Acknowledge"))
        self.silence.setText(tr("Silence horn"))
        self.list_button.setText(tr("Alarm list") + " (F4)")
        self.on_alarms(self.live.alarms)

    def on_alarms(self, views: list[Any]) -> None:
        """New alarm snapshot."""
        shown = visible(views)
        self.ordered = banner_order(shown, top=ROWS)
        counts = Counter(v.priority for v in shown)
        for p in range(1, 5):
            self.counts[p][1].setText(str(counts.get(p, 0)))
            self.counts[p][0].setToolTip(tr(PRIORITY_TEXT[p]))
        if self.selected_id and not any(v.alarm_id == self.selected_id for v in self.ordered):
            self.selected_id = ""
        extra = len(shown) - ROWS
        unacked = sum(1 for v in shown if v.state in UNACKED) - sum(
            1 for v in self.ordered[:ROWS] if v.state in UNACKED
        )
        if not shown:
            self.more.setText(tr("No active alarms"))
        elif extra > 0:
            self.more.setText(tr("+{n} more ({u} unacknowledged)").format(n=extra, u=unacked))
        else:
            self.more.setText(tr("{n} active").format(n=len(shown)))
        self._paint_rows()
        self._gate()

    def _paint_rows(self) -> None:
        for i, row in enumerate(self.rows):
            v = self.ordered[i] if i < len(self.ordered) else None
            row.show_view(v, self.blink_on, v is not None and v.alarm_id == self.selected_id)
        if not self.ordered:  # same height with or without alarms: the layout never jumps
            self.rows[0].msg.setText(tr("No active alarms"))

    def on_tick(self, n: int) -> None:
        """Blink unacknowledged rows."""
        on = (n // 2) % 2 == 0
        if on != self.blink_on:
            self.blink_on = on
            if any(v.state in ("ACTIVE_UNACK", "RTN_UNACK") for v in self.ordered[:ROWS]):
                self._paint_rows()
                return
        if n % 4 == 0 and self.ordered:  # the live values beside the alarms, about 1 Hz
            self._paint_rows()

    def on_annunciation(self, ann: Any) -> None:
        """Highlight the silence button while the horn sounds."""
        horn = bool(getattr(ann, "horn", False))
        restyle(self.silence, horn="1" if horn else "0")
        self.silence.setEnabled(horn)

    def _select(self, view: Any) -> None:
        self.selected_id = view.alarm_id
        self._paint_rows()

    def target(self) -> Any:
        """The alarm Acknowledge acts on: the selected row, else the top unacknowledged one."""
        for v in self.ordered:
            if v.alarm_id == self.selected_id:
                return v
        for v in self.ordered:
            if v.state in ("ACTIVE_UNACK", "RTN_UNACK"):
                return v
        return None

    def acknowledge(self) -> None:
        """Acknowledge the target alarm."""
        v = self.target()
        if v is not None:
            self.actions.ack([v.alarm_id])
            self.selected_id = ""
