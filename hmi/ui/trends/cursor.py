"""The trend cursor: a vertical line the user drags (or places with a click) whose time
the pen table reads every pen's value and quality at."""

from __future__ import annotations

import time

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor


def time_text(t: float, span: float) -> str:
    """Local time of ``t``, with the date when the visible span is a day or more."""
    lt = time.localtime(t)
    return time.strftime("%Y-%m-%d %H:%M:%S" if span >= 86400 else "%H:%M:%S", lt)


class Cursor(QObject):
    """A movable vertical line with its time as a label."""

    sigMoved = Signal(float)  # time (Unix s)

    def __init__(self, box: pg.ViewBox, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.box = box
        self.line = pg.InfiniteLine(angle=90, movable=True)
        self.line.setZValue(50)
        self.label = pg.InfLineLabel(self.line, text="", position=0.99, anchors=[(0, 0), (0, 0)])
        self.line.sigPositionChanged.connect(self._moved)
        self.line.setVisible(False)
        # the line stays in the view box for good (hidden when off): an item taken out of
        # a scene becomes Python's to delete, together with its label, which is fragile
        box.addItem(self.line, ignoreBounds=True)
        self.span = 3600.0

    @property
    def time(self) -> float:
        """Where the cursor is (Unix s)."""
        return float(self.line.value())

    @property
    def visible(self) -> bool:
        """True while the cursor is shown."""
        return bool(self.line.isVisible())

    def show(self, t: float) -> None:
        """Show the cursor at ``t``."""
        self.line.setVisible(True)
        self.line.setValue(t)
        self._moved()

    def hide(self) -> None:
        """Hide the cursor."""
        self.line.setVisible(False)

    def set_color(self, color: QColor, text: QColor, background: QColor) -> None:
        """Line and label colors (the time on a plate of the plot's background)."""
        self.line.setPen(pg.mkPen(color, width=1, style=Qt.PenStyle.SolidLine))
        self.line.setHoverPen(pg.mkPen(color, width=3))
        self.label.setColor(text)
        self.label.fill = pg.mkBrush(background)
        self.label.update()

    def _moved(self, *_: object) -> None:
        self.label.setText(" " + time_text(self.time, self.span))
        self.sigMoved.emit(self.time)
