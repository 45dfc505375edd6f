"""Table models for alarm lists, fed from the engine's snapshot.

Sorting and filtering happen in Python on the snapshot list (one ``sorted`` call) and
the model only answers ``data()`` for the rows on screen, so a flood of thousands of
alarms stays responsive (no per-row proxy-model comparisons).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QFont

from drivers.base import Quality
from hmi.ui import fmt
from hmi.ui import theme as theme_mod
from hmi.ui.i18n import N_, i18n, tr, tr_reason
from hmi.ui.texts import STATE_TEXT, area_text, instrument_text
from hmi.ui.widgets.glyph import glyph_pixmap

Index = QModelIndex | QPersistentModelIndex


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


_TAGS: dict[str, Any] = {}


def set_tag_configs(tags: dict[str, Any]) -> None:
    """Tag configs for value texts (discrete states instead of numbers)."""
    _TAGS.clear()
    _TAGS.update(tags)


def _value(v: Any) -> str:
    if v.value is None:  # no value to show (comm loss, instrument fault): not a lone unit
        return ""
    tag = _TAGS.get(v.tag)
    if tag is not None and v.value is not None:
        if v.kind == "roc":  # a rate-of-change alarm carries the rate
            return fmt.rate_text(tag, float(v.value))
        return fmt.value_text(tag, float(v.value), Quality.GOOD)
    return f"{_num(v.value)} {v.unit}".strip()


def _tag_text(v: Any) -> str:
    """The alarm's instrument number (位号, PT-501) when its tag has one, else the tag name."""
    return instrument_text(_TAGS.get(v.tag), v.tag)


def _limit(v: Any) -> str:
    if v.limit is None or v.kind in ("discrete", "fault", "comm"):
        return ""  # a discrete alarm's "limit" is its alarm state, already in the value
    tag = _TAGS.get(v.tag)
    if tag is not None and v.kind == "roc":
        return fmt.rate_text(tag, float(v.limit))
    if v.kind == "frozen":  # seconds without a change
        return f"{v.limit:g} s"
    if tag is not None:  # the tag's precision, totals digit-grouped
        return fmt.value_text(tag, float(v.limit), Quality.GOOD)
    return f"{_num(v.limit)} {v.unit}".strip()


#: (key, header, cell text, sort key) of every column
COLUMNS: list[tuple[str, str, Callable[[Any], str], Callable[[Any], Any]]] = [
    (
        "priority",
        N_("Pri."),
        lambda v: str(v.priority),
        lambda v: (v.priority, -(v.active_since or v.last_change)),
    ),
    (
        "time",
        N_("Time"),
        lambda v: fmt.clock(v.active_since or v.last_change),
        lambda v: v.active_since or v.last_change,
    ),
    (
        "state",
        N_("State"),
        lambda v: tr(STATE_TEXT.get(v.state, v.state)),
        lambda v: (v.state not in ("ACTIVE_UNACK", "RTN_UNACK"), v.state),
    ),
    ("tag", N_("Tag"), _tag_text, _tag_text),
    (
        "message",
        N_("Message"),
        lambda v: tr_reason(v.message(i18n().lang)),
        lambda v: tr_reason(v.message(i18n().lang)),
    ),
    (
        "value",
        N_("Value"),
        lambda v: _value(v),
        lambda v: v.value if v.value is not None else float("-inf"),
    ),
    (
        "limit",
        N_("Limit"),
        lambda v: _limit(v),
        lambda v: v.limit if v.limit is not None else float("-inf"),
    ),
    ("area", N_("Area"), lambda v: area_text(v.area), lambda v: v.area),
    (
        "ack",
        N_("Acknowledged by"),
        lambda v: f"{v.ack_user} {fmt.clock(v.ack_ts, date=False)}" if v.ack_user else "",
        lambda v: v.ack_ts,
    ),
    (
        "shelved",
        N_("Shelved until"),
        lambda v: (
            (tr("one-shot") if v.shelve_oneshot else fmt.clock(v.shelved_until))
            if v.shelved
            else ""
        ),
        lambda v: v.shelved_until,
    ),
    ("reason", N_("Shelve reason"), lambda v: v.shelve_reason, lambda v: v.shelve_reason),
]
COLUMN_KEYS = [c[0] for c in COLUMNS]


class AlarmFilter:
    """What the operator filters the list by."""

    def __init__(self) -> None:
        self.priority = 0  # 0: all
        self.area = ""
        self.state = ""  # "", "unack", "ack", "rtn"
        self.text = ""
        self.since = 0.0  # Unix s; 0: any time

    def match(self, v: Any) -> bool:
        """True when the alarm passes every filter."""
        if self.priority and v.priority != self.priority:
            return False
        if self.area and v.area != self.area:
            return False
        if self.state == "unack" and v.state not in ("ACTIVE_UNACK", "RTN_UNACK"):
            return False
        if self.state == "ack" and v.state != "ACTIVE_ACK":
            return False
        if self.state == "rtn" and v.state != "RTN_UNACK":
            return False
        if self.since and (v.active_since or v.last_change) < self.since:
            return False
        if self.text:
            t = self.text.lower()
            if (
                t not in v.tag.lower()
                and t not in _tag_text(v).lower()
                and t not in v.message_en.lower()
                and t not in v.message_zh.lower()
                and t not in v.alarm_id.lower()
            ):
                return False
        return True


class AlarmTableModel(QAbstractTableModel):
    """Rows = alarm views that pass ``select`` and the filter, in the chosen order."""

    def __init__(
        self, columns: Sequence[str], select: Callable[[Any], bool], parent: Any = None
    ) -> None:
        super().__init__(parent)
        self.columns = [c for c in COLUMNS if c[0] in columns]
        self.select = select
        self.filter = AlarmFilter()
        self.all: list[Any] = []
        self.rows: list[Any] = []
        self.sort_column = 0
        self.sort_order = Qt.SortOrder.AscendingOrder
        self.blink_on = True

    # ------------------------------------------------------------------ feeding
    def set_views(self, views: list[Any]) -> None:
        """New snapshot: select, filter, sort, reset."""
        self.all = [v for v in views if self.select(v)]
        self._rebuild()

    def refilter(self) -> None:
        """Apply a changed filter."""
        self._rebuild()

    def _rebuild(self) -> None:
        key = self.columns[self.sort_column][3]
        rows = [v for v in self.all if self.filter.match(v)]
        rows.sort(key=key, reverse=self.sort_order == Qt.SortOrder.DescendingOrder)
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:  # noqa: D102 - Qt override
        self.sort_column, self.sort_order = column, order
        self._rebuild()

    def column_keys(self) -> list[str]:
        """Keys of the shown columns."""
        return [c[0] for c in self.columns]

    def view_at(self, row: int) -> Any:
        """The alarm view shown in ``row``."""
        return self.rows[row]

    def row_of(self, alarm_id: str) -> int:
        """Row of an alarm id, -1 when not shown."""
        for i, v in enumerate(self.rows):
            if v.alarm_id == alarm_id:
                return i
        return -1

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt override
        """Rows shown."""
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt override
        """Columns shown."""
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:  # noqa: N802
        """Translated column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return tr(self.columns[section][1])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell text, glyph icon, bold for unacknowledged, priority color bar."""
        if not index.isValid():
            return None
        v = self.rows[index.row()]
        key = self.columns[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[index.column()][2](v)
        unack = v.state in ("ACTIVE_UNACK", "RTN_UNACK")
        if role == Qt.ItemDataRole.DecorationRole and key == "priority":
            return glyph_pixmap(v.priority, 16, filled=(not unack) or self.blink_on)
        if role == Qt.ItemDataRole.FontRole and unack:
            f = QFont()
            f.setBold(True)
            return f
        if role == Qt.ItemDataRole.ForegroundRole and key == "state" and v.state == "RTN_UNACK":
            return QBrush(theme_mod.colors().color("textDim"))
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{v.alarm_id}\n{tr_reason(v.message(i18n().lang))}\n{v.response(i18n().lang)}".strip()
        if role == Qt.ItemDataRole.UserRole:
            return v.alarm_id
        return None

    # ------------------------------------------------------------------ export
    def export_csv(self, path: str) -> int:
        """Write the shown rows as CSV; row count."""
        return export_views(list(self.rows), path)


def export_views(rows: Sequence[Any], path: str) -> int:
    """Write alarm views (all columns) as UTF-8 CSV with a BOM (opens in Excel); row count."""
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["alarm_id", *[c[0] for c in COLUMNS]])
        for v in rows:
            w.writerow([v.alarm_id, *[c[2](v) for c in COLUMNS]])
    return len(rows)


def export_time() -> str:
    """Timestamp for export file names."""
    return time.strftime("%Y%m%d-%H%M%S")
