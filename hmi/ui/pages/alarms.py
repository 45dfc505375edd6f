"""Alarm summary page: active list (sortable, filterable), shelved, suppressed/out of service, journal."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from hmi.core.users import Action
from hmi.ui.actions import Actions
from hmi.ui.faceplates.dialogs import ReasonDialog, ShelveDialog
from hmi.ui.i18n import N_, i18n, tr
from hmi.ui.live import LiveData
from hmi.ui.pages.alarm_model import AlarmTableModel, export_time, export_views, set_tag_configs
from hmi.ui.pages.journal import JournalPanel
from hmi.ui.tasks import run_in_pool
from hmi.ui.texts import PRIORITY_TEXT, area_text

log = logging.getLogger(__name__)

ACTIVE_COLS = ("priority", "time", "state", "tag", "message", "value", "limit", "area", "ack")
SHELVED_COLS = ("priority", "time", "state", "tag", "message", "shelved", "reason")
SUPPRESSED_COLS = ("priority", "time", "state", "tag", "message", "area")
SINCE_CHOICES = (
    (0, N_("Any time")),
    (3600, N_("Last hour")),
    (8 * 3600, N_("Last 8 hours")),
    (24 * 3600, N_("Last 24 hours")),
)


def _is_active(v: Any) -> bool:
    return v.state != "NORMAL" and not (v.shelved or v.suppressed or v.out_of_service)


def _is_suppressed(v: Any) -> bool:
    return (v.suppressed or v.out_of_service) and not v.shelved


def _table(model: AlarmTableModel, parent: QWidget, name: str) -> QTableView:
    t = QTableView(parent)
    t.setObjectName(name)
    t.setModel(model)
    t.setSortingEnabled(True)
    t.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    t.setAlternatingRowColors(True)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setDefaultSectionSize(24)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    if "message" in model.column_keys():
        # the message takes what is left, so the list fits 1366 px without a scroll bar
        t.horizontalHeader().setSectionResizeMode(
            model.column_keys().index("message"), QHeaderView.ResizeMode.Stretch
        )
    else:
        t.horizontalHeader().setStretchLastSection(True)
    t.setWordWrap(False)
    return t


class AlarmsPage(QWidget):
    """The alarm summary."""

    actions: Actions  # type: ignore[assignment]  # shadows QWidget.actions(), unused here

    sigOpenFaceplate = Signal(str)

    def __init__(self, live: LiveData, actions: Actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "page")
        self.live = live
        self.actions = actions
        self._selected: set[str] = set()
        set_tag_configs(live.cfg.tag_map())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("alarmTabs")
        lay.addWidget(self.tabs)
        # ---- active
        active = QWidget(self)
        al = QVBoxLayout(active)
        filters = QHBoxLayout()
        self.f_prio = QComboBox(self)
        self.f_prio.setObjectName("filterPriority")
        self.f_area = QComboBox(self)
        self.f_area.setObjectName("filterArea")
        self.f_state = QComboBox(self)
        self.f_state.setObjectName("filterState")
        self.f_since = QComboBox(self)
        self.f_since.setObjectName("filterSince")
        self.f_text = QLineEdit(self)
        self.f_text.setObjectName("filterText")
        self.f_text.setClearButtonEnabled(True)
        self.l_filter = QLabel(self)
        filters.addWidget(self.l_filter)
        for w in (self.f_prio, self.f_area, self.f_state, self.f_since):
            filters.addWidget(w)
            w.currentIndexChanged.connect(self._filter_changed)
        filters.addWidget(self.f_text, 1)
        self.f_text.textChanged.connect(self._filter_changed)
        al.addLayout(filters)
        self.model = AlarmTableModel(ACTIVE_COLS, _is_active, self)
        self.table = _table(self.model, self, "activeAlarms")
        self.table.doubleClicked.connect(self._open_faceplate)
        al.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.b_ack = QPushButton(self)
        self.b_ack.setObjectName("ackSelected")
        self.b_ack.clicked.connect(self.ack_selected)
        self.b_ack_page = QPushButton(self)
        self.b_ack_page.setObjectName("ackPage")
        self.b_ack_page.clicked.connect(self.ack_page)
        self.b_shelve = QPushButton(self)
        self.b_shelve.setObjectName("shelveSelected")
        self.b_shelve.clicked.connect(self.shelve_selected)
        self.b_reset = QPushButton(self)
        self.b_reset.clicked.connect(self._reset_selected)
        self.b_oos = QPushButton(self)
        self.b_oos.setObjectName("outOfService")
        self.b_oos.clicked.connect(self.out_of_service_selected)
        self.b_face = QPushButton(self)
        self.b_face.clicked.connect(lambda: self._open_faceplate(self.table.currentIndex()))
        self.b_export = QPushButton(self)
        self.b_export.clicked.connect(self._export)
        self.count = QLabel(self)
        self.count.setObjectName("alarmCount")
        for b in (
            self.b_ack,
            self.b_ack_page,
            self.b_shelve,
            self.b_reset,
            self.b_oos,
            self.b_face,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.count)
        buttons.addWidget(self.b_export)
        al.addLayout(buttons)
        self.tabs.addTab(active, "")
        # ---- shelved
        shelved = QWidget(self)
        sl = QVBoxLayout(shelved)
        self.shelved_model = AlarmTableModel(SHELVED_COLS, lambda v: v.shelved, self)
        self.shelved_table = _table(self.shelved_model, self, "shelvedAlarms")
        sl.addWidget(self.shelved_table, 1)
        sb = QHBoxLayout()
        self.b_unshelve = QPushButton(self)
        self.b_unshelve.setObjectName("unshelveSelected")
        self.b_unshelve.clicked.connect(self._unshelve_selected)
        sb.addWidget(self.b_unshelve)
        sb.addStretch(1)
        sl.addLayout(sb)
        self.tabs.addTab(shelved, "")
        # ---- suppressed / out of service
        supp = QWidget(self)
        spl = QVBoxLayout(supp)
        self.supp_model = AlarmTableModel(SUPPRESSED_COLS, _is_suppressed, self)
        self.supp_table = _table(self.supp_model, self, "suppressedAlarms")
        spl.addWidget(self.supp_table, 1)
        ib = QHBoxLayout()
        self.b_ins = QPushButton(self)
        self.b_ins.setObjectName("inService")
        self.b_ins.clicked.connect(self.in_service_selected)
        ib.addWidget(self.b_ins)
        ib.addStretch(1)
        spl.addLayout(ib)
        self.tabs.addTab(supp, "")
        # ---- journal
        data_dir = getattr(live.runtime, "data_dir", None)
        self.journal = JournalPanel(Path(data_dir) / "alarms.db" if data_dir else None, self)
        self.tabs.addTab(self.journal, "")
        live.sigAlarms.connect(self.on_alarms)
        live.sigTick.connect(self.on_tick)
        i18n().sigLanguageChanged.connect(self.retranslate)
        actions.sigSessionChanged.connect(self._gate)
        self.retranslate()
        self.on_alarms(live.alarms)
        # value and limit carry rates (Sm³/h/min) and grouped totals; the 位号 is short
        for col, width in zip(range(9), (56, 150, 150, 110, 300, 150, 130, 120, 150), strict=True):
            if col != 4:
                self.table.setColumnWidth(col, width)

    # ------------------------------------------------------------------ texts
    def retranslate(self, *_: Any) -> None:
        """Texts in the current language (keeps the filter choices)."""
        self.tabs.setTabText(0, tr("Active alarms"))
        self.tabs.setTabText(1, tr("Shelved"))
        self.tabs.setTabText(2, tr("Suppressed / out of service"))
        self.tabs.setTabText(3, tr("Journal"))
        self.l_filter.setText(tr("Filter") + ":")
        self._fill_combo(
            self.f_prio,
            [(0, tr("All priorities"))] + [(p, tr(PRIORITY_TEXT[p])) for p in range(1, 5)],
        )
        areas = sorted(
            {a.area or t.area for t in self.live.cfg.tags for a in t.alarms if (a.area or t.area)}
        )
        self._fill_combo(self.f_area, [("", tr("All areas"))] + [(a, area_text(a)) for a in areas])
        self._fill_combo(
            self.f_state,
            [
                ("", tr("All states")),
                ("unack", tr("Unacknowledged")),
                ("ack", tr("Acknowledged")),
                ("rtn", tr("Returned, unacknowledged")),
            ],
        )
        self._fill_combo(self.f_since, [(s, tr(t)) for s, t in SINCE_CHOICES])
        self.f_text.setPlaceholderText(tr("Tag or message contains…"))
        self.b_ack.setText(tr("Acknowledge selected"))
        self.b_ack_page.setText(tr("Acknowledge page"))
        self.b_shelve.setText(tr("Shelve…"))
        self.b_reset.setText(tr("Reset latched"))
        self.b_face.setText(tr("Faceplate"))
        self.b_export.setText(tr("Export CSV…"))
        self.b_unshelve.setText(tr("Unshelve"))
        self.b_oos.setText(tr("Out of service…"))
        self.b_ins.setText(tr("Return to service…"))
        self._gate()
        self.journal.retranslate()
        for m in (self.model, self.shelved_model, self.supp_model):
            m.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, m.columnCount() - 1)
        if hasattr(self, "model"):
            self.on_alarms(self.live.alarms)  # cells hold translated state texts and messages

    def _gate(self, *_: Any) -> None:
        """Buttons the session may use; the lists stay live for viewers."""
        a = self.actions
        a.gate(self.b_ack, Action.ACKNOWLEDGE)
        a.gate(
            self.b_ack_page, Action.ACKNOWLEDGE, tr("Acknowledge every alarm visible on this page")
        )
        a.gate(self.b_shelve, Action.SHELVE)
        a.gate(self.b_unshelve, Action.SHELVE)
        a.gate(self.b_reset, Action.RESET)
        a.gate(
            self.b_oos,
            Action.MANAGE_ALARMS,
            tr("Take the selected alarm out of service (reason required)"),
        )
        a.gate(self.b_ins, Action.MANAGE_ALARMS, tr("Put the selected alarm back into service"))

    @staticmethod
    def _fill_combo(combo: QComboBox, items: list[tuple[Any, str]]) -> None:
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for data, text in items:
            combo.addItem(text, data)
        i = combo.findData(current)
        combo.setCurrentIndex(max(i, 0))
        combo.blockSignals(False)

    # ------------------------------------------------------------------ data
    def on_alarms(self, views: list[Any]) -> None:
        """New snapshot: refill the lists, keeping the selection (deferred while hidden:
        in a flood, sorting thousands of rows nobody looks at would only cost the display)."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        keep = self.selected_ids()
        for m in (self.model, self.shelved_model, self.supp_model):
            m.set_views(views)
        if keep:
            self._restore_selection(keep)
        self._update_count()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Catch up with the snapshots that arrived while hidden."""
        super().showEvent(event)
        if getattr(self, "_stale", True):
            self.on_alarms(self.live.alarms)

    def _restore_selection(self, ids: list[str]) -> None:
        sel = self.table.selectionModel()
        for aid in ids:
            r = self.model.row_of(aid)
            if r >= 0:
                sel.select(
                    self.model.index(r, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows
                )

    def _update_count(self) -> None:
        unack = sum(1 for v in self.model.rows if v.state in ("ACTIVE_UNACK", "RTN_UNACK"))
        self.count.setText(
            tr("{n} shown, {u} unacknowledged, {t} in total").format(
                n=len(self.model.rows), u=unack, t=len(self.model.all)
            )
        )

    def _filter_changed(self, *_: Any) -> None:
        f = self.model.filter
        f.priority = int(self.f_prio.currentData() or 0)
        f.area = str(self.f_area.currentData() or "")
        f.state = str(self.f_state.currentData() or "")
        since = int(self.f_since.currentData() or 0)
        f.since = time.time() - since if since else 0.0
        f.text = self.f_text.text().strip()
        self.model.refilter()
        self._update_count()

    def on_tick(self, n: int) -> None:
        """Blink the glyphs of unacknowledged rows (repaint only the priority column)."""
        on = (n // 2) % 2 == 0
        if on != self.model.blink_on and self.isVisible() and self.model.rows:
            self.model.blink_on = on
            self.model.dataChanged.emit(
                self.model.index(0, 0),
                self.model.index(len(self.model.rows) - 1, 0),
                [Qt.ItemDataRole.DecorationRole],
            )

    # ------------------------------------------------------------------ actions
    def selected_ids(self, table: QTableView | None = None) -> list[str]:
        """Alarm ids of the selected rows."""
        t = table or self.table
        model: AlarmTableModel = t.model()  # type: ignore[assignment]
        return [
            model.view_at(i.row()).alarm_id
            for i in t.selectionModel().selectedRows()
            if i.row() < len(model.rows)
        ]

    def page_ids(self) -> list[str]:
        """Alarm ids of the rows visible in the table's viewport (what 'acknowledge page' acts on)."""
        if not self.model.rows:
            return []
        first = max(self.table.rowAt(0), 0)
        last = self.table.rowAt(self.table.viewport().height() - 1)
        last = len(self.model.rows) - 1 if last < 0 else last
        return [
            v.alarm_id
            for v in self.model.rows[first : last + 1]
            if v.state in ("ACTIVE_UNACK", "RTN_UNACK")
        ]

    def ack_selected(self) -> None:
        """Acknowledge the selected alarms."""
        self.actions.ack(self.selected_ids())

    def ack_page(self) -> None:
        """Acknowledge the unacknowledged alarms visible on the page."""
        self.actions.ack(self.page_ids())

    def shelve_selected(self) -> None:
        """Shelve the selected alarm (reason and duration asked)."""
        ids = self.selected_ids()
        if len(ids) != 1:
            self.actions.sigMessage.emit(tr("Select one alarm to shelve"), False)
            return
        v = self.model.view_at(self.model.row_of(ids[0]))
        tag = self.live.cfg.tag_map().get(v.tag)
        max_s = None
        if tag is not None:
            max_s = next((a.max_shelve for a in tag.alarms if tag.alarm_id(a) == v.alarm_id), None)
        dlg = ShelveDialog(f"{v.alarm_id}\n{v.message(i18n().lang)}", max_s, self)
        if self.confirm(dlg):
            reason, duration = dlg.values()
            self.actions.shelve(v.alarm_id, reason, duration)

    @staticmethod
    def confirm(dialog: QDialog) -> bool:
        """Show a dialog modally (tests replace this)."""
        return dialog.exec() == QDialog.DialogCode.Accepted

    def _unshelve_selected(self) -> None:
        for aid in self.selected_ids(self.shelved_table):
            self.actions.unshelve(aid)

    def out_of_service_selected(self) -> None:
        """Take the selected alarm out of service (engineer; reason asked)."""
        self._service(self.selected_ids(), True)

    def in_service_selected(self) -> None:
        """Put the alarm selected on the suppressed / out-of-service tab back into service."""
        self._service(self.selected_ids(self.supp_table), False)

    def _service(self, ids: list[str], out: bool) -> None:
        if len(ids) != 1:
            self.actions.sigMessage.emit(tr("Select one alarm"), False)
            return
        if out:
            dlg = ReasonDialog(
                tr("Out of service…"),
                tr(
                    "Take {alarm} out of service? It is not annunciated until it is returned."
                ).format(alarm=ids[0]),
                tr("Out of service"),
                self,
            )
        else:
            dlg = ReasonDialog(
                tr("Return to service…"),
                tr("Put {alarm} back into service?").format(alarm=ids[0]),
                tr("Back in service"),
                self,
            )
        if self.confirm(dlg):
            self.actions.set_out_of_service(ids[0], dlg.value(), out)

    def _reset_selected(self) -> None:
        for aid in self.selected_ids():
            self.actions.reset(aid)

    def _open_faceplate(self, index: Any) -> None:
        if index is not None and index.isValid():
            self.sigOpenFaceplate.emit(self.model.view_at(index.row()).tag)

    def _export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, tr("Export CSV…"), f"alarms-{export_time()}.csv", "CSV (*.csv)"
        )
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> None:
        """Write the filtered active list to ``path`` off the GUI thread."""
        rows = list(self.model.rows)

        def done(n: Any, error: BaseException | None) -> None:
            if error is not None:
                self.actions.sigMessage.emit(f"{tr('Export failed')}: {error}", False)
            else:
                self.actions.sigMessage.emit(
                    tr("{n} rows written to {path}").format(n=n, path=path), True
                )

        run_in_pool(lambda: export_views(rows, path), done)
