"""Trends page: trend groups (station config + saved by users), pens, live and history."""

from __future__ import annotations

import logging
import time
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hmi.ui.i18n import i18n, tr
from hmi.ui.live import LiveData
from hmi.ui.trends.groups import Group, GroupStore
from hmi.ui.trends.picker import TagPicker
from hmi.ui.trends.ranges import parse_range, range_text
from hmi.ui.trends.view import TrendView
from hmi.ui.widgets.trend import MAX_PENS, TrendPlot

log = logging.getLogger(__name__)


class TrendsPage(QWidget):
    """Pick or save a trend group, add and remove pens; the trend itself is a TrendView."""

    def __init__(self, live: LiveData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "page")
        self.live = live
        self.store = GroupStore(
            list(live.cfg.trend_groups), getattr(live.runtime, "data_dir", None)
        )
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        bar = QHBoxLayout()
        self.l_group = QLabel(self)
        self.group = QComboBox(self)
        self.group.setObjectName("trendGroup")
        self.group.setMinimumContentsLength(18)
        self.b_save = QPushButton(self)
        self.b_save.setObjectName("trendSaveGroup")
        self.b_delete = QPushButton(self)
        self.b_delete.setObjectName("trendDeleteGroup")
        self.b_add = QPushButton(self)
        self.b_add.setObjectName("trendAddPen")
        self.b_remove = QPushButton(self)
        self.b_remove.setObjectName("trendRemovePen")
        self.b_csv = QPushButton(self)
        self.b_csv.setObjectName("trendExportCsv")
        self.b_png = QPushButton(self)
        self.b_png.setObjectName("trendExportPng")
        for w in (self.l_group, self.group, self.b_save, self.b_delete):
            bar.addWidget(w)
        bar.addSpacing(24)
        bar.addWidget(self.b_add)
        bar.addWidget(self.b_remove)
        bar.addStretch(1)
        bar.addWidget(self.b_csv)
        bar.addWidget(self.b_png)
        lay.addLayout(bar)
        first = self.store.groups()[0] if self.store.groups() else None
        tags = self._tags(first.pens) if first else []
        self.view = TrendView(live, tags, parse_range(first.range) if first else 3600.0, self)
        lay.addWidget(self.view, 1)
        self.group.activated.connect(lambda i: self.show_group(str(self.group.itemData(i))))
        self.b_save.clicked.connect(self._ask_save)
        self.b_delete.clicked.connect(lambda: self.delete_group(self.current_group()))
        self.b_add.clicked.connect(self._ask_add)
        self.b_remove.clicked.connect(self._remove_selected)
        self.b_csv.clicked.connect(self._ask_csv)
        self.b_png.clicked.connect(self._ask_png)
        self.view.sigPensChanged.connect(self._update_buttons)
        i18n().sigLanguageChanged.connect(self.retranslate)
        self.retranslate()
        if self.store.error:
            self.view.show_message(self.store.error, False)
        elif not self.store.groups():
            self.view.show_message(tr("The station config defines no trend groups"), True)

    @property
    def plot(self) -> TrendPlot:
        """The plot (the main window re-colors it on a theme switch)."""
        return self.view.plot

    def _tags(self, names: list[str]) -> list[Any]:
        cfg = self.live.cfg.tag_map()
        missing = [n for n in names if n not in cfg]
        if missing:
            log.warning("trend group pens not in the station config: %s", ", ".join(missing))
        return [cfg[n] for n in names if n in cfg]

    # ------------------------------------------------------------------ groups
    def current_group(self) -> str:
        """Name of the group chosen in the list ('' when none)."""
        data = self.group.currentData()
        return str(data) if data else ""

    def _title(self, g: Group) -> str:
        if not g.user:
            return (
                (g.title.get("zh") if i18n().is_zh else g.title.get("en"))
                or g.title.get("en")
                or g.name
            )
        return f"{g.name} ({tr('saved')})"

    def _fill_groups(self, select: str = "") -> None:
        select = select or self.current_group()
        self.group.blockSignals(True)
        self.group.clear()
        for g in self.store.groups():
            self.group.addItem(self._title(g), g.name)
        i = self.group.findData(select)
        self.group.setCurrentIndex(max(i, 0))
        self.group.blockSignals(False)
        self._update_buttons()

    def show_group(self, name: str) -> bool:
        """Show a group's pens over its range (live)."""
        g = self.store.get(name)
        if g is None:
            return False
        i = self.group.findData(name)
        if i >= 0 and i != self.group.currentIndex():
            self.group.setCurrentIndex(i)
        self.view.set_pens(self._tags(g.pens))
        self.view.plot.resume()
        self.view.set_span(parse_range(g.range))
        self._update_buttons()
        return True

    def save_group(self, name: str) -> bool:
        """Save the current pens and span as a user group ``name``."""
        try:
            g = self.store.save(name, self.view.names, range_text(self.view.plot.window))
        except (ValueError, OSError) as exc:
            self.view.show_message(tr("Cannot save the trend group") + f": {exc}", False)
            return False
        self._fill_groups(g.name)
        self.view.show_message(tr("Trend group saved") + f": {g.name}", True)
        return True

    def delete_group(self, name: str) -> bool:
        """Delete a user group."""
        g = self.store.get(name)
        if g is None or not g.user:
            return False
        try:
            self.store.delete(name)
        except OSError as exc:
            self.view.show_message(tr("Cannot save the trend group") + f": {exc}", False)
            return False
        self._fill_groups()
        self.view.show_message(tr("Trend group deleted") + f": {name}", True)
        return True

    def _ask_save(self) -> None:
        current = self.store.get(self.current_group())
        default = current.name if current is not None and current.user else ""
        name, ok = QInputDialog.getText(
            self, tr("Save trend group"), tr("Name of the group:"), text=default
        )
        if ok and name.strip():
            self.save_group(name)

    # ------------------------------------------------------------------ pens
    def _ask_add(self) -> None:
        dlg = TagPicker(self.live.cfg.tags, self.view.names, MAX_PENS - len(self.view.names), self)
        if dlg.exec():
            self.view.add_pens(dlg.chosen())

    def _remove_selected(self) -> None:
        table = self.view.table
        name = table.selected_name() if table is not None else ""
        if name:
            self.view.remove_pen(name)

    def _update_buttons(self) -> None:
        g = self.store.get(self.current_group())
        self.b_delete.setEnabled(g is not None and g.user)
        self.b_save.setEnabled(self.store.writable and bool(self.view.names))
        self.b_add.setEnabled(len(self.view.names) < MAX_PENS)
        self.b_remove.setEnabled(bool(self.view.names))

    # ------------------------------------------------------------------ export
    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, tr("Export CSV…"), f"trend-{time.strftime('%Y%m%d-%H%M%S')}.csv", "CSV (*.csv)"
        )
        if not path:
            return
        try:
            n = self.view.export_csv(path)
        except OSError as exc:
            self.view.show_message(tr("Export failed") + f": {exc}", False)
            return
        self.view.show_message(tr("{n} rows written to {path}").format(n=n, path=path), True)

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, tr("Export PNG…"), f"trend-{time.strftime('%Y%m%d-%H%M%S')}.png", "PNG (*.png)"
        )
        if not path:
            return
        ok = self.view.export_png(path)
        self.view.show_message(
            (tr("Picture saved to {path}") if ok else tr("Cannot write {path}")).format(path=path),
            ok,
        )

    # ------------------------------------------------------------------ texts
    def retranslate(self, *_: Any) -> None:
        """Texts in the current language."""
        self.l_group.setText(tr("Trend group") + ":")
        self.b_save.setText(tr("Save group…"))
        self.b_delete.setText(tr("Delete group"))
        self.b_add.setText(tr("Add pen…"))
        self.b_remove.setText(tr("Remove pen"))
        self.b_csv.setText(tr("Export CSV…"))
        self.b_png.setText(tr("Export PNG…"))
        self._fill_groups()
