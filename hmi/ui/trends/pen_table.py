"""The pens of a trend as a table: color, label, tag, current value, and the value and
quality at the cursor. Selecting a row shows that pen's alarm limits as bands."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from hmi.config.schema import TagConfig
from hmi.ui import fmt
from hmi.ui.i18n import N_, i18n, tr
from hmi.ui.texts import QUALITY_TEXT
from hmi.ui.trends.series import Readout

COLUMNS = (N_("Pen"), N_("Tag"), N_("Value now"), N_("At cursor"), N_("Quality at cursor"))
COL_PEN, COL_TAG, COL_NOW, COL_CURSOR, COL_QUALITY = range(5)


def swatch(color: QColor, style: Qt.PenStyle = Qt.PenStyle.SolidLine, size: int = 18) -> QIcon:
    """A short line in the pen's color and style."""
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    pen = QPen(color, 3)
    pen.setStyle(style)
    p.setPen(pen)
    p.drawLine(1, size // 2, size - 1, size // 2)
    p.end()
    return QIcon(pm)


def readout_text(tag: TagConfig, r: Readout | None) -> tuple[str, str]:
    """(value text, quality text) of a cursor reading; a bucket shows its min … max."""
    if r is None:
        return "", tr("no data")
    q = fmt.quality_name(r.quality)
    if math.isnan(r.value):
        return tr("BAD"), tr("BAD")
    text = fmt.state_text(tag, r.value) or fmt.number(tag, r.value)
    lo, hi = fmt.number(tag, r.vmin), fmt.number(tag, r.vmax)
    if r.bucket > 0 and r.count > 1 and lo != hi and not tag.states:
        text += f" ({lo} … {hi})"  # the bucket's envelope
    if tag.unit and not tag.states:
        text += f" {tag.unit}"
    qtext = tr("BAD in part") if r.partly_bad else tr(QUALITY_TEXT[q])
    return text, qtext


class PenTable(QTableWidget):
    """One row per pen."""

    sigSelected = Signal(str)  # pen tag name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("trendPens")
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(COL_PEN, QHeaderView.ResizeMode.Stretch)
        for c in (COL_TAG, COL_NOW, COL_CURSOR, COL_QUALITY):
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.tags: list[TagConfig] = []
        self.itemSelectionChanged.connect(self._selected)
        i18n().sigLanguageChanged.connect(self.retranslate)
        self.retranslate()

    def retranslate(self, *_: Any) -> None:
        """Headers and labels in the current language."""
        self.setHorizontalHeaderLabels([tr(c) for c in COLUMNS])
        for r, t in enumerate(self.tags):
            item = self.item(r, COL_PEN)
            if item is not None:
                item.setText(fmt.label(t))

    def set_pens(
        self, tags: list[TagConfig], colors: list[tuple[QColor, Qt.PenStyle]], selected: str = ""
    ) -> None:
        """Rows for ``tags`` with their colors; ``selected`` is highlighted."""
        self.blockSignals(True)
        self.tags = list(tags)
        self.setRowCount(len(tags))
        for r, (t, (color, style)) in enumerate(zip(tags, colors, strict=True)):
            item = QTableWidgetItem(swatch(color, style), fmt.label(t))
            item.setData(Qt.ItemDataRole.UserRole, t.name)
            self.setItem(r, COL_PEN, item)
            self.setItem(r, COL_TAG, QTableWidgetItem(t.name))
            for c in (COL_NOW, COL_CURSOR, COL_QUALITY):
                self.setItem(r, c, QTableWidgetItem(""))
            if t.name == selected:
                self.selectRow(r)
        self.blockSignals(False)

    def fit_rows(self, most: int) -> None:
        """Be as tall as the rows (at most ``most`` of them, then scroll)."""
        rows = max(1, min(self.rowCount(), most))
        h = (
            self.horizontalHeader().sizeHint().height()
            + rows * self.verticalHeader().defaultSectionSize()
            + 2 * self.frameWidth()
        )
        self.setFixedHeight(h)

    def selected_name(self) -> str:
        """Tag name of the selected row ('' when none)."""
        rows = self.selectionModel().selectedRows()
        if not rows:
            return ""
        item = self.item(rows[0].row(), COL_PEN)
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def set_current(self, name: str, text: str) -> None:
        """The pen's live value as the operator sees it (BAD / stale marked by the text)."""
        r = self._row(name)
        if r is None:
            return
        item = self._cell(r, COL_NOW)
        if item.text() != text:
            item.setText(text)

    def set_readout(self, readings: dict[str, Readout | None] | None) -> None:
        """Cursor columns (cleared with None)."""
        for r, t in enumerate(self.tags):
            value, quality = ("", "") if readings is None else readout_text(t, readings.get(t.name))
            self._cell(r, COL_CURSOR).setText(value)
            self._cell(r, COL_QUALITY).setText(quality)

    def cursor_texts(self) -> dict[str, tuple[str, str]]:
        """Pen -> (value, quality) shown in the cursor columns."""
        return {
            t.name: (self._cell(r, COL_CURSOR).text(), self._cell(r, COL_QUALITY).text())
            for r, t in enumerate(self.tags)
        }

    def _cell(self, r: int, c: int) -> QTableWidgetItem:
        item = self.item(r, c)
        if item is None:  # every cell is filled by set_pens
            item = QTableWidgetItem("")
            self.setItem(r, c, item)
        return item

    def _row(self, name: str) -> int | None:
        for r, t in enumerate(self.tags):
            if t.name == name:
                return r
        return None

    def _selected(self) -> None:
        name = self.selected_name()
        if name:
            self.sigSelected.emit(name)
