"""Alarm journal search: time range + text, read from alarms.db on the thread pool."""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QDateTime, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateTimeEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from hmi.ui import fmt
from hmi.ui.i18n import N_, i18n, tr
from hmi.ui.tasks import run_in_pool
from hmi.ui.widgets.glyph import glyph_pixmap

log = logging.getLogger(__name__)
MAX_ROWS = 20000  # newest rows of one search

JCOLS = (
    (N_("Time"), lambda e: fmt.clock(e["ts"])),
    (N_("Pri."), lambda e: str(e["priority"])),
    (N_("Tag"), lambda e: e["tag"]),
    (N_("Event"), lambda e: e["transition"] + (" · 培训 TRAINING" if e.get("training") else "")),
    (N_("State"), lambda e: e["state"]),
    (N_("User"), lambda e: e["user"] + (" (remote)" if e.get("remote") else "")),
    (N_("Comment"), lambda e: e["comment"]),
    (N_("Value"), lambda e: "" if e["value"] is None else f"{e['value']:.4g}"),
    (
        N_("Message"),
        lambda e: (e["message"].get("zh") if i18n().is_zh else e["message"].get("en")) or "",
    ),
)


def search_journal(
    db_path: Path, since: float, until: float, text: str = "", limit: int = MAX_ROWS
) -> list[dict[str, Any]]:
    """Journal events in [since, until] matching ``text`` (tag, alarm id, user, message), newest first."""
    from hmi.core.alarms.journal import open_db, read_journal

    if not Path(db_path).is_file():
        raise FileNotFoundError(f"no alarm journal at {db_path}")
    eng = open_db(Path(db_path), readonly=True)
    try:
        events = read_journal(eng, since, until, limit=limit)
    finally:
        eng.dispose()
    from hmi.core.training import in_training, training_periods

    periods = training_periods(Path(db_path).parent)  # a drill's events: by its time span
    for e in events:
        e["training"] = in_training(e["ts"], periods) if periods else ""
    t = text.strip().lower()
    if t:
        events = [
            e
            for e in events
            if t in e["tag"].lower()
            or t in e["alarm_id"].lower()
            or t in (e["user"] or "").lower()
            or t in (e["message"].get("en") or "").lower()
            or t in (e["message"].get("zh") or "")
            or t in (e["comment"] or "").lower()
        ]
    events.reverse()
    return events


class JournalModel(QAbstractTableModel):
    """Rows = journal events."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def set_events(self, events: list[dict[str, Any]]) -> None:
        """Show a search result."""
        self.beginResetModel()
        self.events = events
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        """Rows."""
        return 0 if parent.isValid() else len(self.events)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        """Columns."""
        return 0 if parent.isValid() else len(JCOLS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:  # noqa: N802
        """Titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return tr(JCOLS[section][0])
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Cells."""
        if not index.isValid():
            return None
        e = self.events[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return JCOLS[index.column()][1](e)
        if role == Qt.ItemDataRole.DecorationRole and index.column() == 1:
            return glyph_pixmap(int(e["priority"]), 14)
        return None

    def export_csv(self, path: str) -> int:
        """Write the shown events as CSV; row count."""
        with open(path, "w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            keys = [
                "ts",
                "alarm_id",
                "tag",
                "kind",
                "priority",
                "transition",
                "state",
                "prev_state",
                "user",
                "comment",
                "remote",
                "value",
                "limit",
                "area",
                "training",
            ]
            w.writerow(["time", *keys, "message_en", "message_zh"])
            for e in self.events:
                w.writerow(
                    [
                        fmt.clock(e["ts"]),
                        *[e.get(k) for k in keys],
                        e["message"].get("en"),
                        e["message"].get("zh"),
                    ]
                )
        return len(self.events)


class JournalPanel(QWidget):
    """Search form + result table + CSV export."""

    def __init__(self, db_path: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db_path = db_path
        lay = QVBoxLayout(self)
        form = QHBoxLayout()
        self.l_from, self.l_to = QLabel(self), QLabel(self)
        now = QDateTime.currentDateTime()
        self.since = QDateTimeEdit(now.addSecs(-24 * 3600), self)
        self.until = QDateTimeEdit(now.addSecs(3600), self)
        for w in (self.since, self.until):
            w.setCalendarPopup(True)
            w.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.text = QLineEdit(self)
        self.text.setObjectName("journalText")
        self.text.returnPressed.connect(self.search)
        self.b_search = QPushButton(self)
        self.b_search.setObjectName("journalSearch")
        self.b_search.clicked.connect(self.search)
        self.b_export = QPushButton(self)
        self.b_export.clicked.connect(self._export)
        for widget in (
            self.l_from,
            self.since,
            self.l_to,
            self.until,
            self.text,
            self.b_search,
            self.b_export,
        ):
            form.addWidget(widget)
        form.setStretchFactor(self.text, 1)
        lay.addLayout(form)
        self.model = JournalModel()
        self.table = QTableView(self)
        self.table.setObjectName("journalTable")
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        lay.addWidget(self.table, 1)
        self.status = QLabel(self)
        self.status.setObjectName("journalStatus")
        lay.addWidget(self.status)
        self.searching = False
        self.retranslate()

    def retranslate(self) -> None:
        """Texts."""
        self.l_from.setText(tr("From"))
        self.l_to.setText(tr("To"))
        self.text.setPlaceholderText(tr("Tag, alarm, user or message contains…"))
        self.b_search.setText(tr("Search"))
        self.b_export.setText(tr("Export CSV…"))
        self.model.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(JCOLS) - 1)

    def search(self) -> None:
        """Run the search on the thread pool."""
        if self.db_path is None:
            self.status.setText(tr("No alarm journal at this station"))
            return
        since = self.since.dateTime().toSecsSinceEpoch()
        until = self.until.dateTime().toSecsSinceEpoch() + 59
        text = self.text.text()
        path = self.db_path
        self.searching = True
        self.status.setText(tr("Searching…"))
        t0 = time.perf_counter()

        def done(result: Any, error: BaseException | None) -> None:
            self.searching = False
            if error is not None:
                self.status.setText(f"{tr('Search failed')}: {error}")
                return
            self.model.set_events(result)
            self.table.resizeColumnsToContents()
            self.status.setText(
                tr("{n} events ({ms} ms)").format(
                    n=len(result), ms=int((time.perf_counter() - t0) * 1000)
                )
            )

        run_in_pool(lambda: search_journal(path, float(since), float(until), text), done)

    def _export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            tr("Export CSV…"),
            f"alarm-journal-{time.strftime('%Y%m%d-%H%M%S')}.csv",
            "CSV (*.csv)",
        )
        if path:
            n = self.model.export_csv(path)
            self.status.setText(tr("{n} rows written to {path}").format(n=n, path=path))
