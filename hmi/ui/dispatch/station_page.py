"""One station's live values by area, with units and labels from its births.

Engineers may request a rebirth; a remote write is offered only for metrics whose birth
says ``RemoteWrite`` and needs two confirmations (value, then "write now").
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.core.fleet.model import WriteRequest
from hmi.core.fleet.station import Metric
from hmi.ui.dispatch.fmt import area_text, clock, value_text
from hmi.ui.i18n import i18n, tr, tr_reason
from hmi.ui.texts import QUALITY_TEXT
from hmi.ui.theme import restyle

QUALITY = {192: "good", 64: "uncertain"}


def _confirm(parent: QWidget, text: str) -> bool:
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        tr("Remote write"),
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        parent,
    )
    return box.exec() == QMessageBox.StandardButton.Yes


class StationPage(QWidget):
    """Live values of the chosen station, grouped by area."""

    sigRebirth = Signal(str)
    sigWrite = Signal(str, str, float)  # station, tag, value

    #: second confirmation step (tests replace it)
    confirm: Callable[[QWidget, str], bool] = staticmethod(_confirm)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stationPage")
        self.setProperty("role", "page")
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.chooser = QComboBox(self)
        self.chooser.setObjectName("stationChooser")
        self.info = QLabel(self)
        self.info.setProperty("role", "dim")
        self.rebirth = QPushButton(self)
        self.rebirth.setObjectName("rebirthButton")
        self.write = QPushButton(self)
        self.write.setObjectName("writeButton")
        bar.addWidget(self.chooser)
        bar.addWidget(self.info, 1)
        bar.addWidget(self.write)
        bar.addWidget(self.rebirth)
        lay.addLayout(bar)
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("stationValues")
        self.tree.setColumnCount(7)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.tree, 1)
        self.write_state = QLabel(self)  # the latest remote writes and the station's answers
        self.write_state.setObjectName("writeState")
        self.write_state.setProperty("role", "state")
        self.write_state.hide()
        lay.addWidget(self.write_state)
        self.writes: list[WriteRequest] = []
        self.items: dict[str, QTreeWidgetItem] = {}
        self.areas: dict[str, QTreeWidgetItem] = {}
        self.station_id = ""
        self.metrics: dict[str, Metric] = {}
        self.rebirth.clicked.connect(lambda: self.sigRebirth.emit(self.station_id))
        self.write.clicked.connect(self._write_clicked)
        self.chooser.currentIndexChanged.connect(self._chosen)
        self.retranslate()

    def retranslate(self) -> None:
        """Texts in the current language."""
        for area, parent in self.areas.items():
            parent.setText(0, area_text(area))
        self.tree.setHeaderLabels(
            [
                tr("Tag"),
                tr("Instrument"),
                tr("Label"),
                tr("Value"),
                tr("Unit"),
                tr("Quality"),
                tr("Time"),
            ]
        )
        self.rebirth.setText(tr("Request rebirth"))
        self.write.setText(tr("Remote write…"))
        self.show_writes(self.writes)

    def set_permissions(self, engineer: bool, operator: bool) -> None:
        """Rebirth for engineers; writes for operators, and only where the station allows."""
        self.rebirth.setEnabled(engineer and bool(self.station_id))
        writable = any(m.remote_write for m in self.metrics.values())
        self.write.setEnabled(operator and writable)
        self.write.setToolTip("" if writable else tr("This station allows no remote writes"))

    def set_stations(self, ids: list[str]) -> None:
        """The chooser's list."""
        if [self.chooser.itemData(i) for i in range(self.chooser.count())] == ids:
            return
        self.chooser.blockSignals(True)
        self.chooser.clear()
        for sid in ids:
            self.chooser.addItem(sid, sid)
        idx = self.chooser.findData(self.station_id)
        self.chooser.setCurrentIndex(max(idx, 0))
        self.chooser.blockSignals(False)
        if not self.station_id and ids:
            self.show_station(ids[0])

    def _chosen(self, _i: int) -> None:
        sid = self.chooser.currentData()
        if sid and sid != self.station_id:
            self.show_station(sid)

    def show_station(self, station_id: str) -> None:
        """Switch to another station (values fill in on the next refresh)."""
        self.station_id = station_id
        self.tree.clear()
        self.items.clear()
        self.areas.clear()
        idx = self.chooser.findData(station_id)
        if idx >= 0:
            self.chooser.setCurrentIndex(idx)

    def refresh(self, metrics: list[Metric], info: str) -> None:
        """The station's current metrics (copies)."""
        self.info.setText(info)
        self.metrics = {m.name: m for m in metrics}
        lang = i18n().lang
        for m in sorted(metrics, key=lambda m: (m.area or "~", m.name)):
            item = self.items.get(m.name)
            if item is None:
                area = m.area
                parent = self.areas.get(area)
                if parent is None:  # area ids have catalog entries (the station's own screens)
                    parent = self.areas[area] = QTreeWidgetItem(self.tree, [area_text(m.area)])
                    parent.setExpanded(True)
                    f = parent.font(0)
                    f.setBold(True)
                    parent.setFont(0, f)
                item = self.items[m.name] = QTreeWidgetItem(parent, [m.name])
            q = QUALITY.get(m.quality, "bad")
            bad = q != "good"
            item.setText(1, m.instrument)  # ISA number from the birth (InstrumentTag)
            item.setText(2, m.label(lang))
            shown = m.state_text(lang) or value_text(m.value, m.precision)  # discrete: its state
            item.setText(3, "—" if bad and m.quality == 0 else shown)
            item.setText(4, m.unit)
            item.setText(5, tr(QUALITY_TEXT[q]))
            item.setText(6, clock(m.ts))
            limit = m.limit_state()
            item.setText(0, m.name + (f"  [{limit}]" if limit else ""))
            for c in (3, 5):
                item.setForeground(c, Qt.GlobalColor.darkMagenta if bad else Qt.GlobalColor.black)

    def _write_clicked(self) -> None:
        names = sorted(n for n, m in self.metrics.items() if m.remote_write)
        if not names:
            return
        tag, ok = QInputDialog.getItem(self, tr("Remote write"), tr("Tag"), names, 0, False)
        if not ok:
            return
        m = self.metrics[tag]  # the value is kept inside the tag's engineering range
        low = m.low if m.low is not None else -1e12
        high = m.high if m.high is not None else 1e12
        current = m.value if isinstance(m.value, int | float) else low
        value, ok = QInputDialog.getDouble(
            self,
            tr("Remote write"),
            f"{m.label(i18n().lang)} ({m.unit})" if m.unit else m.label(i18n().lang),
            min(max(float(current), low), high),
            low,
            high,
            4,
        )
        if not ok:
            return
        text = tr("Write {value} to {tag} at station {station}?").format(
            value=value, tag=tag, station=self.station_id
        )
        if self.confirm(self, text):
            self.sigWrite.emit(self.station_id, tag, value)

    def show_writes(self, writes: list[WriteRequest]) -> None:
        """The latest remote writes to this station (newest first) and their answers."""
        self.writes = writes
        lines = []
        for w in writes[:3]:
            m = self.metrics.get(w.tag)
            shown = value_text(w.value, m.precision if m is not None else None)
            head = f"{clock(w.sent)}  {w.tag} ← {shown}"
            if not w.done:
                lines.append(tr("{write}: waiting for the station…").format(write=head))
            elif w.ok:
                seconds = f"{(w.confirmed or w.sent) - w.sent:.2f}"
                text = tr("{write}: confirmed by the station after {seconds} s")
                lines.append(text.format(write=head, seconds=seconds))
            else:
                text = tr("{write}: refused by the station: {message}")
                lines.append(text.format(write=head, message=tr_reason(w.message)))
        self.write_state.setText("\n".join(lines))
        self.write_state.setVisible(bool(lines))
        refused = bool(writes) and writes[0].done and not writes[0].ok
        restyle(self.write_state, state="bad" if refused else "")
