"""The time bar of a trend: live/history state, presets, step back/forward, pause/resume,
a from/to range picker and the cursor switch."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QDateTime, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDateTimeEdit,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QWidget,
)

from hmi.ui.i18n import i18n, tr
from hmi.ui.theme import restyle
from hmi.ui.trends.ranges import PRESETS

_DT_FORMAT = "yyyy-MM-dd HH:mm"


class RangeBar(QWidget):
    """Controls of the visible time; ``compact`` (faceplates) uses a preset menu and two rows."""

    sigPreset = Signal(float)  # span (s)
    sigStep = Signal(int)  # -1 back, +1 forward
    sigFollow = Signal(bool)  # True: live, False: pause
    sigRange = Signal(float, float)  # from/to picked
    sigCursor = Signal(bool)
    sigMessage = Signal(str, bool)  # text, ok

    def __init__(self, parent: QWidget | None = None, compact: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("trendRangeBar")
        self.compact = compact
        self.follow = True
        self.state = QLabel(self)
        self.state.setObjectName("trendMode")
        self.state.setProperty("role", "state")
        self.preset_buttons: list[QPushButton] = []
        self.preset_group = QButtonGroup(self)
        self.preset_group.setExclusive(True)
        self.preset_combo: QComboBox | None = None
        if compact:
            self.preset_combo = QComboBox(self)
            self.preset_combo.setObjectName("trendPreset")
            self.preset_combo.activated.connect(
                lambda i: self.sigPreset.emit(float(self.preset_combo.itemData(i)))
            )
        else:
            for i, (seconds, _text, _key) in enumerate(PRESETS):
                b = QPushButton(self)
                b.setCheckable(True)
                b.setObjectName(f"trendPreset_{_key}")
                b.clicked.connect(lambda _=False, s=seconds: self.sigPreset.emit(s))
                self.preset_group.addButton(b, i)
                self.preset_buttons.append(b)
        self.back, self.forward = QPushButton(self), QPushButton(self)
        self.back.setObjectName("trendBack")
        self.forward.setObjectName("trendForward")
        self.back.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_ArrowLeft))
        self.forward.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_ArrowRight))
        self.back.clicked.connect(lambda: self.sigStep.emit(-1))
        self.forward.clicked.connect(lambda: self.sigStep.emit(+1))
        self.pause = QPushButton(self)
        self.pause.setObjectName("trendPause")
        self.pause.clicked.connect(lambda: self.sigFollow.emit(not self.follow))
        self.l_from, self.l_to = QLabel(self), QLabel(self)
        self.from_edit, self.to_edit = QDateTimeEdit(self), QDateTimeEdit(self)
        for e in (self.from_edit, self.to_edit):
            e.setCalendarPopup(True)
            e.setDisplayFormat(_DT_FORMAT)
        self.show_button = QPushButton(self)
        self.show_button.setObjectName("trendShowRange")
        self.show_button.clicked.connect(self._picked)
        self.cursor_button = QPushButton(self)
        self.cursor_button.setObjectName("trendCursor")
        self.cursor_button.setCheckable(True)
        self.cursor_button.toggled.connect(self.sigCursor)
        self._build()
        i18n().sigLanguageChanged.connect(self.retranslate)
        self.retranslate()
        self.set_follow(True)

    def _build(self) -> None:
        if self.compact and self.preset_combo is not None:
            grid = QGridLayout(self)
            grid.setContentsMargins(0, 0, 0, 0)
            row = QHBoxLayout()
            first: list[QWidget] = [
                self.state,
                self.preset_combo,
                self.back,
                self.forward,
                self.pause,
                self.cursor_button,
            ]
            for w in first:
                row.addWidget(w)
            row.addStretch(1)
            grid.addLayout(row, 0, 0)
            row2 = QHBoxLayout()
            for w2 in (self.l_from, self.from_edit, self.l_to, self.to_edit, self.show_button):
                row2.addWidget(w2)
            row2.addStretch(1)
            grid.addLayout(row2, 1, 0)
            return
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.state)
        for b in self.preset_buttons:
            row.addWidget(b)
        for b in (self.back, self.forward, self.pause):
            row.addWidget(b)
        row.addSpacing(16)
        for w in (
            self.l_from,
            self.from_edit,
            self.l_to,
            self.to_edit,
            self.show_button,
            self.cursor_button,
        ):
            row.addWidget(w)
        row.addStretch(1)

    def retranslate(self, *_: Any) -> None:
        """Texts in the current language."""
        for b, (_s, text, _k) in zip(
            self.preset_buttons, PRESETS, strict=False
        ):  # none when compact
            b.setText(tr(text))
        if self.preset_combo is not None:
            i = self.preset_combo.currentIndex()
            self.preset_combo.clear()
            for seconds, text, _k in PRESETS:
                self.preset_combo.addItem(tr(text), seconds)
            self.preset_combo.setCurrentIndex(max(i, 0))
        self.back.setToolTip(tr("Back one span"))
        self.forward.setToolTip(tr("Forward one span"))
        self.l_from.setText(tr("From"))
        self.l_to.setText(tr("To"))
        self.show_button.setText(tr("Show"))
        self.cursor_button.setText(tr("Cursor"))
        self.cursor_button.setToolTip(
            tr("Read every pen's value and quality at a time (double-click the plot to place it)")
        )
        self.set_follow(self.follow)

    # ------------------------------------------------------------------ state from the plot
    def set_follow(self, follow: bool) -> None:
        """Show live / history."""
        self.follow = follow
        self.state.setText(tr("LIVE") if follow else tr("HISTORY"))
        restyle(self.state, state="ok" if follow else "warn")
        self.pause.setText(tr("Pause") if follow else tr("Resume live"))
        self.forward.setEnabled(not follow)

    def set_span(self, seconds: float) -> None:
        """Check the preset that matches ``seconds`` (none when it is another span)."""
        match = [
            i for i, (s, _t, _k) in enumerate(PRESETS) if abs(s - seconds) <= max(1.0, s * 0.002)
        ]
        if self.preset_combo is not None:
            if match:
                self.preset_combo.setCurrentIndex(match[0])
            return
        self.preset_group.setExclusive(False)
        for i, b in enumerate(self.preset_buttons):
            b.setChecked(bool(match) and i == match[0])
        self.preset_group.setExclusive(True)

    def set_view(self, x0: float, x1: float) -> None:
        """Show the visible range in the from/to editors."""
        for e, t in ((self.from_edit, x0), (self.to_edit, x1)):
            e.blockSignals(True)
            e.setDateTime(QDateTime.fromSecsSinceEpoch(int(round(t))))
            e.blockSignals(False)

    def _picked(self) -> None:
        start = self.from_edit.dateTime().toSecsSinceEpoch()
        end = self.to_edit.dateTime().toSecsSinceEpoch()
        if end > start:
            self.sigRange.emit(float(start), float(end))
        else:
            self.sigMessage.emit(tr("The range must end after it starts"), False)
