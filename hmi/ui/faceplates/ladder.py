"""The over-pressure protection ladder beside an outlet-pressure value (faceplate).

One column per regulator run: active, monitor, relief and slam-shut set points from the
station config (``protection:``), the tag's H / HH alarm limits between them, and the live
value as a pointer, so an operator sees how far the pressure is from the next device.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from hmi.config.protection import RegulatorRunProtection
from hmi.config.schema import StationConfig, TagConfig
from hmi.ui import fmt
from hmi.ui import theme as theme_mod
from hmi.ui.i18n import N_, tr
from hmi.ui.texts import run_title

#: rung -> (English label for tr(), colour role)
RUN_TEXT = N_("Run {n}")
RUNG_TEXT = {
    "active": N_("Active regulator"),
    "monitor": N_("Monitor"),
    "relief": N_("Relief"),
    "slam_shut": N_("Slam-shut"),
}


def runs_for(cfg: StationConfig, tag: TagConfig) -> list[RegulatorRunProtection]:
    """Regulator runs whose ladder belongs beside ``tag`` (its outlet pressure)."""
    prot = cfg.protection
    return [r for r in prot.for_tag(tag.name) if tag.name in (r.tag("outlet"), prot.outlet_tag)]


def spread(ys: list[float], gap: float) -> list[float]:
    """Label positions near ``ys`` (screen y, larger is lower) at least ``gap`` apart."""
    order = sorted(range(len(ys)), key=lambda i: -ys[i])  # bottom (lowest value) first
    out = list(ys)
    last = math.inf
    for i in order:
        out[i] = min(ys[i], last - gap)
        last = out[i]
    return out


class ProtectionLadder(QWidget):
    """Vertical scale with each run's protection set points, the alarm limits and the value."""

    def __init__(
        self, tag: TagConfig, runs: list[RegulatorRunProtection], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("protectionLadder")
        self.tag = tag
        self.runs = runs
        self.limits = [
            (a.kind, float(a.limit))
            for a in tag.alarms
            if a.enabled and a.limit is not None and a.kind in ("H", "HH")
        ]
        points = [v for r in runs for _n, v in r.ladder()] + [v for _k, v in self.limits]
        span = max(points) - min(points)
        self.lo = min(points) - 0.25 * span
        self.hi = max(points) + 0.15 * span
        self.value = math.nan
        self.quality = "bad"
        self.setMinimumHeight(170)  # with the trend, fits a 768 px screen
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Room for the set points of every run."""
        return QSize(560, 200)

    def set_value(self, value: float, quality: str) -> None:
        """Move the pointer."""
        if (value, quality) != (self.value, self.quality):
            self.value, self.quality = value, quality
            self.update()

    def _y(self, v: float, r: QRectF) -> float:
        return r.bottom() - (v - self.lo) / (self.hi - self.lo) * r.height()

    def paintEvent(self, _event: object) -> None:  # noqa: N802 - Qt override
        """Scale, rungs per run, alarm limits and the value pointer."""
        c = theme_mod.colors()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        f = QFont(self.font())
        f.setPixelSize(11)
        p.setFont(f)
        r = QRectF(70, 24, self.width() - 80, self.height() - 34)
        p.setPen(QPen(c.color("border"), 1))
        p.drawLine(QPointF(r.left(), r.top()), QPointF(r.left(), r.bottom()))
        unit = self.tag.unit
        # alarm limits across the whole width
        for kind, v in self.limits:
            y = self._y(v, r)
            p.setPen(QPen(c.alarm(1 if kind == "HH" else 3), 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
            p.drawText(
                QRectF(0, y - 8, 66, 16),
                Qt.AlignmentFlag.AlignRight,
                f"{kind} {fmt.number(self.tag, v)}",
            )
        col = r.width() / max(len(self.runs), 1)
        for i, run in enumerate(self.runs):
            x0 = r.left() + i * col + 8
            p.setPen(c.color("value"))
            p.drawText(QRectF(x0, 2, col - 12, 14), Qt.AlignmentFlag.AlignLeft, run_title(run.id))
            rungs = run.ladder()
            ys = [self._y(v, r) for _n, v in rungs]
            text_ys = spread(ys, 13.0)
            for (rung, v), y, ty in zip(rungs, ys, text_ys, strict=True):
                pen = QPen(c.color("bad") if rung == "slam_shut" else c.color("value"), 2)
                p.setPen(pen)
                p.drawLine(QPointF(x0, y), QPointF(x0 + 26, y))
                p.setPen(QPen(c.color("border"), 1))
                p.drawLine(QPointF(x0 + 26, y), QPointF(x0 + 34, ty))
                p.setPen(c.color("bad") if rung == "slam_shut" else c.color("value"))
                p.drawText(
                    QRectF(x0 + 36, ty - 8, col - 44, 16),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    f"{tr(RUNG_TEXT[rung])} {fmt.number(self.tag, v)} {unit}",
                )
        if math.isfinite(self.value) and self.quality != "bad":
            y = self._y(min(max(self.value, self.lo), self.hi), r)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(c.color("uncertain") if self.quality == "uncertain" else c.color("value"))
            p.drawPolygon(
                QPolygonF(
                    [
                        QPointF(r.left(), y),
                        QPointF(r.left() - 9, y - 6),
                        QPointF(r.left() - 9, y + 6),
                    ]
                )
            )
        p.end()
