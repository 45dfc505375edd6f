"""Pick tags to add as pens: a search field over tag names and labels (both languages)."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.config.schema import TagConfig
from hmi.ui import fmt
from hmi.ui.i18n import tr


def trendable(tags: Iterable[TagConfig]) -> list[TagConfig]:
    """Tags that can be drawn (numeric: not strings)."""
    return [t for t in tags if t.type != "string"]


def matches(tag: TagConfig, words: list[str]) -> bool:
    """True when every word occurs in the tag's name, labels, unit or area."""
    hay = " ".join([tag.name, tag.unit, tag.area, *tag.label.model_dump().values()]).lower()
    return all(w in hay for w in words)


class TagPicker(QDialog):
    """Search and select one or more tags."""

    def __init__(
        self,
        tags: Iterable[TagConfig],
        exclude: Iterable[str] = (),
        room: int = 12,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("tagPicker")
        self.setWindowTitle(tr("Add pens"))
        skip = set(exclude)
        self.tags = [t for t in trendable(tags) if t.name not in skip]
        self.room = room
        lay = QVBoxLayout(self)
        self.search = QLineEdit(self)
        self.search.setObjectName("tagSearch")
        self.search.setPlaceholderText(tr("Search tag name, label, unit or area"))
        self.search.textChanged.connect(self.filter)
        self.list = QListWidget(self)
        self.list.setObjectName("tagList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.itemDoubleClicked.connect(lambda _i: self.accept())
        self.hint = QLabel(tr("Up to {n} more pens").format(n=room), self)
        self.hint.setProperty("role", "dim")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(tr("Add"))
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancel"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        for w in (self.search, self.list, self.hint, buttons):
            lay.addWidget(w)
        for t in self.tags:
            unit = f" [{t.unit}]" if t.unit else ""
            item = QListWidgetItem(f"{fmt.label(t)} — {t.name}{unit}", self.list)
            item.setData(Qt.ItemDataRole.UserRole, t.name)
        self.resize(520, 560)

    def filter(self, text: str) -> int:
        """Show the tags matching ``text``; returns how many are shown."""
        words = text.lower().split()
        shown = 0
        for i, t in enumerate(self.tags):
            ok = matches(t, words)
            self.list.item(i).setHidden(not ok)
            shown += ok
        return shown

    def shown(self) -> list[str]:
        """Names of the tags listed now."""
        return [
            self.tags[i].name for i in range(self.list.count()) if not self.list.item(i).isHidden()
        ]

    def select(self, names: Iterable[str]) -> None:
        """Select tags by name (tests, keyboard-less use)."""
        want = set(names)
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setSelected(item.data(Qt.ItemDataRole.UserRole) in want)

    def chosen(self) -> list[str]:
        """Selected tag names (at most ``room``), in list order."""
        names = [
            str(self.list.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.list.count())
            if self.list.item(i).isSelected()
        ]
        return names[: self.room]
