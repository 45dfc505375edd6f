"""Cross-station alarm list: filter, sort, acknowledge selected (remote ack) with a comment.

Below the list, every remote acknowledgement sent from this console with the time each
station confirmed it (the ``Commands/Reply`` round trip).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.core.fleet import AckRequest
from hmi.core.fleet.station import ActiveAlarm, state_text
from hmi.ui.dispatch.fmt import area_text, stamp, value_text
from hmi.ui.i18n import N_, i18n, tr, tr_reason
from hmi.ui.texts import PRIORITY_TEXT, STATE_TEXT
from hmi.ui.theme import colors

COLUMNS = (
    N_("Time"),
    N_("Station ID"),
    N_("Priority"),
    N_("Area"),
    N_("Alarm"),
    N_("Value"),
    N_("State"),
)


class FleetAlarmList(QWidget):
    """Every active alarm of every station."""

    #: [(station, alarm id)], comment
    sigAcknowledge = Signal(list, str)

    #: asks for the comment (tests replace it): (parent, n alarms) -> (comment, ok)
    ask_comment: Callable[[QWidget, int], tuple[str, bool]] = staticmethod(
        lambda parent, n: QInputDialog.getText(
            parent,
            tr("Acknowledge at the stations"),
            tr("Comment for the {n} selected alarms:").format(n=n),
        )
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fleetAlarms")
        self.setProperty("role", "page")
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.station = QComboBox(self)
        self.station.setObjectName("filterStation")
        self.priority = QComboBox(self)
        self.priority.setObjectName("filterPriority")
        self.area = QLineEdit(self)
        self.area.setObjectName("filterArea")
        self.ack = QPushButton(self)
        self.ack.setObjectName("ackSelected")
        self.ack.setProperty("role", "command")
        for w in (self.station, self.priority, self.area):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.ack)
        lay.addLayout(bar)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("fleetAlarmTable")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().setVisible(False)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table, 3)
        self.acks_title = QLabel(self)
        self.acks_title.setProperty("role", "section")
        lay.addWidget(self.acks_title)
        self.acks = QTableWidget(0, 4, self)
        self.acks.setObjectName("ackRequests")
        self.acks.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.acks.verticalHeader().setVisible(False)
        self.acks.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.acks.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.acks, 1)
        self.alarms: list[ActiveAlarm] = []
        self.states: dict[tuple[str, str], dict[int, tuple[str, str]]] = {}
        self.precision: dict[tuple[str, str], int] = {}
        self.station.currentIndexChanged.connect(lambda _i: self._fill())
        self.priority.currentIndexChanged.connect(lambda _i: self._fill())
        self.area.textChanged.connect(lambda _t: self._fill())
        self.ack.clicked.connect(self._ack_clicked)
        self.retranslate()

    def retranslate(self) -> None:
        """Texts in the current language."""
        self.table.setHorizontalHeaderLabels([tr(c) for c in COLUMNS])
        self.acks.setHorizontalHeaderLabels(
            [tr("Sent"), tr("User"), tr("Comment"), tr("Confirmed by the stations")]
        )
        self.acks_title.setText(tr("Remote acknowledgements"))
        self.ack.setText(tr("Acknowledge selected"))
        self.area.setPlaceholderText(tr("Area"))
        cur = self.priority.currentIndex()
        self.priority.blockSignals(True)
        self.priority.clear()
        self.priority.addItem(tr("All priorities"), 0)
        for p, text in PRIORITY_TEXT.items():
            self.priority.addItem(tr(text), p)
        self.priority.setCurrentIndex(max(cur, 0))
        self.priority.blockSignals(False)

    def refresh(
        self,
        alarms: list[ActiveAlarm],
        stations: list[str],
        acks: list[AckRequest],
        states: dict[tuple[str, str], dict[int, tuple[str, str]]] | None = None,
        precision: dict[tuple[str, str], int] | None = None,
    ) -> None:
        """New alarm list, station names for the filter, ack requests, the state texts
        of discrete tags ((station, tag) -> value -> (English, Chinese)) and the display
        precision of the tags ((station, tag) -> digits) from their births."""
        self.alarms = alarms
        self.states = states or {}
        self.precision = precision or {}
        current = self.station.currentData()
        self.station.blockSignals(True)
        self.station.clear()
        self.station.addItem(tr("All stations"), "")
        for sid in stations:
            self.station.addItem(sid, sid)
        idx = self.station.findData(current) if current else 0
        self.station.setCurrentIndex(max(idx, 0))
        self.station.blockSignals(False)
        self._fill()
        self._fill_acks(acks)

    def _visible(self) -> list[ActiveAlarm]:
        sid, prio = self.station.currentData(), self.priority.currentData()
        area = self.area.text().strip().lower()
        return [
            a
            for a in self.alarms
            if (not sid or a.station == sid)
            and (not prio or a.priority == prio)
            and (not area or area in a.area.lower() or area in area_text(a.area).lower())
        ]

    def _fill(self) -> None:
        selected = set(self.selected())
        lang = i18n().lang
        t = self.table
        t.setSortingEnabled(False)
        rows = self._visible()
        t.setRowCount(len(rows))
        for r, a in enumerate(rows):
            cells = (
                stamp(a.ts),
                a.station,
                f"P{a.priority}",
                area_text(a.area) if a.area else "",
                tr_reason(a.message(lang)),
                state_text(self.states.get((a.station, a.tag), {}), a.value, lang)
                or value_text(a.value, self.precision.get((a.station, a.tag))),
                tr(STATE_TEXT.get(a.state, a.state)),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, a.key)
                if a.unacked:
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                if c == 2:  # the priority cell in the alarm color of its priority (ISA-101)
                    item.setBackground(colors().alarm(a.priority))
                    item.setForeground(colors().color("alarmText"))
                t.setItem(r, c, item)
            if a.key in selected:
                t.selectRow(r)
        t.setSortingEnabled(True)

    def _fill_acks(self, acks: list[AckRequest]) -> None:
        self.acks.setRowCount(len(acks))
        for r, req in enumerate(acks):
            parts = []
            for sid in req.targets:
                rep = req.replies.get(sid)
                if rep is None:
                    parts.append(f"{sid}: {tr('waiting')}")
                else:
                    when, ok, msg = rep
                    verdict = tr("confirmed") if ok else f"{tr('refused')} ({msg})"
                    parts.append(f"{sid}: {verdict} {stamp(when)} (+{when - req.sent:.2f} s)")
            for c, text in enumerate((stamp(req.sent), req.user, req.comment, "; ".join(parts))):
                self.acks.setItem(r, c, QTableWidgetItem(text))

    def selected(self) -> list[tuple[str, str]]:
        """(station, alarm id) of the selected rows."""
        keys = []
        for idx in self.table.selectionModel().selectedRows():
            item = self.table.item(idx.row(), 0)
            if item is not None:
                keys.append(tuple(item.data(Qt.ItemDataRole.UserRole)))
        return keys

    def _ack_clicked(self) -> None:
        keys = self.selected()
        if not keys:
            return
        comment, ok = self.ask_comment(self, len(keys))
        if ok:
            self.sigAcknowledge.emit(keys, comment)
