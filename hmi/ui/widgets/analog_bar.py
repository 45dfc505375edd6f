"""AnalogBar: the ISA-101 moving analog indicator as a widget (faceplate, overview)."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QFont, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from hmi.config.schema import TagConfig
from hmi.ui import fmt
from hmi.ui import theme as theme_mod


class AnalogBar(QWidget):
    """Horizontal bar: range, normal band, alarm zones, limit ticks, value pointer, scale labels."""

    def __init__(
        self,
        tag: TagConfig,
        parent: QWidget | None = None,
        normal: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(parent)
        self.tag = tag
        self.lo, self.hi = tag.range
        self.limits = {
            a.kind: float(a.limit)
            for a in tag.alarms
            if a.limit is not None and a.enabled and a.kind in ("HH", "H", "L", "LL")
        }
        self.normal = normal or (
            self.limits.get("L", self.limits.get("LL", self.lo)),
            self.limits.get("H", self.limits.get("HH", self.hi)),
        )
        self.value = math.nan
        self.quality = "bad"
        self.alarm = 0
        self.setMinimumHeight(46)
        self.setMaximumHeight(46)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Default size."""
        return QSize(300, 46)

    def set_value(self, value: float, quality: int, alarm: int = 0) -> None:
        """Move the pointer."""
        q = fmt.quality_name(quality)
        if (value, q, alarm) != (self.value, self.quality, self.alarm):
            self.value, self.quality, self.alarm = value, q, alarm
            self.update()

    def _x(self, v: float, r: QRectF) -> float:
        return (
            r.left() + (min(max(v, self.lo), self.hi) - self.lo) / (self.hi - self.lo) * r.width()
        )

    def paintEvent(self, _event: object) -> None:  # noqa: N802 - Qt override
        """Paint the bar."""
        c = theme_mod.colors()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        r = QRectF(8, 13, self.width() - 16, 15)
        p.setPen(QPen(c.color("border"), 1))
        p.setBrush(c.color("barTrack"))
        p.drawRect(r)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(c.color("barNormal"))
        a, b = self._x(self.normal[0], r), self._x(self.normal[1], r)
        p.drawRect(QRectF(a, r.top(), b - a, r.height()))
        p.setBrush(c.color("barAlarm"))
        hi_lim = min([self.limits[k] for k in ("H", "HH") if k in self.limits], default=None)
        lo_lim = max([self.limits[k] for k in ("L", "LL") if k in self.limits], default=None)
        if hi_lim is not None:
            x = self._x(hi_lim, r)
            p.drawRect(QRectF(x, r.top(), r.right() - x, r.height()))
        if lo_lim is not None:
            x = self._x(lo_lim, r)
            p.drawRect(QRectF(r.left(), r.top(), x - r.left(), r.height()))
        f = QFont(self.font())
        f.setPixelSize(10)
        p.setFont(f)
        p.setPen(QPen(c.color("limit"), 1))
        for lim in self.limits.values():
            x = self._x(lim, r)
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        p.setPen(c.color("textDim"))
        p.drawText(
            QRectF(r.left(), r.bottom() + 2, 80, 14), Qt.AlignmentFlag.AlignLeft, f"{self.lo:g}"
        )
        p.drawText(
            QRectF(r.right() - 80, r.bottom() + 2, 80, 14),
            Qt.AlignmentFlag.AlignRight,
            f"{self.hi:g} {self.tag.unit}",
        )
        for k, lim in self.limits.items():  # limit names above the bar, range below: no overlap
            x = self._x(lim, r)
            p.drawText(QRectF(x - 15, 0, 30, 12), Qt.AlignmentFlag.AlignCenter, k)
        if self.quality == "bad" or math.isnan(self.value):
            p.setPen(QPen(c.color("bad"), 1.5))
            p.setBrush(QBrush(c.color("bad"), Qt.BrushStyle.BDiagPattern))
            p.drawRect(r)
        else:
            x = self._x(self.value, r)
            color = (
                c.alarm(self.alarm)
                if self.alarm
                else (
                    c.color("uncertain") if self.quality == "uncertain" else c.color("barPointer")
                )
            )
            p.setPen(QPen(color, 3))
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            p.setPen(QPen(c.color("text"), 0.8))
            p.setBrush(color)
            p.drawPolygon(
                QPolygonF(
                    [
                        QPointF(x - 6, r.top() - 4),
                        QPointF(x + 6, r.top() - 4),
                        QPointF(x, r.top() + 4),
                    ]
                )
            )
        p.end()
