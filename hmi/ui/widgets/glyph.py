"""The alarm-priority glyph: shape + number + color, the same everywhere.

Priority 1 critical = square, 2 high = triangle, 3 medium = inverted triangle,
4 low = diamond (ISA-101 redundant coding: readable without color). An unacknowledged
alarm blinks between filled and outlined.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QWidget

from hmi.ui import theme as theme_mod


def glyph_path(rect: QRectF, priority: int) -> QPainterPath:
    """Outline of the glyph for ``priority`` inside ``rect``."""
    path = QPainterPath()
    x, y, w, h = rect.x(), rect.y(), rect.width(), rect.height()
    if priority == 1:
        path.addRect(rect.adjusted(w * 0.06, h * 0.06, -w * 0.06, -h * 0.06))
    elif priority == 2:
        path.addPolygon(
            QPolygonF(
                [
                    QPointF(x + w / 2, y),
                    QPointF(x + w, y + h),
                    QPointF(x, y + h),
                    QPointF(x + w / 2, y),
                ]
            )
        )
    elif priority == 3:
        path.addPolygon(
            QPolygonF([QPointF(x, y), QPointF(x + w, y), QPointF(x + w / 2, y + h), QPointF(x, y)])
        )
    else:
        path.addPolygon(
            QPolygonF(
                [
                    QPointF(x + w / 2, y),
                    QPointF(x + w, y + h / 2),
                    QPointF(x + w / 2, y + h),
                    QPointF(x, y + h / 2),
                    QPointF(x + w / 2, y),
                ]
            )
        )
    return path


def paint_glyph(
    p: QPainter, rect: QRectF, priority: int, filled: bool = True, colors: Any = None
) -> None:
    """Paint the glyph of ``priority`` (1-4) in ``rect``; outlined when ``filled`` is False."""
    c = colors or theme_mod.colors()
    color: QColor = c.alarm(priority)
    # white numbers on red/blue, black on orange/yellow: readable on every fill
    text_color = QColor("#ffffff") if priority in (1, 4) else QColor("#000000")
    edge: QColor = c.color("alarmText")
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    path = glyph_path(rect, priority)
    pen = QPen(edge if filled else color, max(1.0, rect.width() * 0.07))
    pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
    p.setPen(pen)
    p.setBrush(color if filled else Qt.BrushStyle.NoBrush)
    p.drawPath(path)
    f = QFont(p.font())
    f.setBold(True)
    f.setPixelSize(max(6, int(rect.height() * (0.52 if priority in (2, 3) else 0.62))))
    p.setFont(f)
    p.setPen(text_color if filled else color)
    tr = QRectF(rect)
    if priority == 2:
        tr.adjust(0, rect.height() * 0.25, 0, 0)
    elif priority == 3:
        tr.adjust(0, 0, 0, -rect.height() * 0.3)
    p.drawText(tr, Qt.AlignmentFlag.AlignCenter, str(priority))
    p.restore()


def glyph_pixmap(priority: int, size: int = 16, filled: bool = True) -> QPixmap:
    """The glyph as a pixmap (table cells, tabs)."""
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    paint_glyph(p, QRectF(0.5, 0.5, size - 1, size - 1), priority, filled)
    p.end()
    return pm


class GlyphWidget(QWidget):
    """A small widget showing one priority glyph (banner rows, counters)."""

    def __init__(self, priority: int = 0, size: int = 22, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.priority = priority
        self.filled = True
        self._size = size
        self.setFixedSize(QSize(size, size))

    def set_state(self, priority: int, filled: bool) -> None:
        """Show ``priority`` (0 hides the glyph), filled or outlined."""
        if (priority, filled) != (self.priority, self.filled):
            self.priority, self.filled = priority, filled
            self.update()

    def paintEvent(self, _event: object) -> None:  # noqa: N802 - Qt override
        """Paint the glyph."""
        if not self.priority:
            return
        p = QPainter(self)
        paint_glyph(p, QRectF(1, 1, self._size - 2, self._size - 2), self.priority, self.filled)
        p.end()
