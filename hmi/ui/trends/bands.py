"""Alarm limits of one pen drawn as bands: light beyond H / L, stronger beyond HH / LL.

Each limit is also a dashed line labelled with its kind. The bands do not pull the value
axis' automatic scale (the data decides it); with ``in_range`` the limit lines do, so a
single-tag trend (the faceplate) always shows how far the value is from its limits.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from hmi.config.schema import TagConfig

LIMIT_KINDS = ("HH", "H", "L", "LL")


def limit_regions(tag: TagConfig) -> list[tuple[float, float, int, str]]:
    """(low, high, priority, kind) of every band of ``tag``: beyond each limit up to the
    next limit or to the edge of the tag's range."""
    lim = {
        a.kind: (float(a.limit), a.priority)
        for a in tag.alarms
        if a.limit is not None and a.kind in LIMIT_KINDS
    }
    lo_edge, hi_edge = tag.range
    out: list[tuple[float, float, int, str]] = []
    if "H" in lim:
        top = lim["HH"][0] if "HH" in lim else max(hi_edge, lim["H"][0])
        out.append((lim["H"][0], top, lim["H"][1], "H"))
    if "HH" in lim:
        out.append((lim["HH"][0], max(hi_edge, lim["HH"][0]), lim["HH"][1], "HH"))
    if "L" in lim:
        bottom = lim["LL"][0] if "LL" in lim else min(lo_edge, lim["L"][0])
        out.append((bottom, lim["L"][0], lim["L"][1], "L"))
    if "LL" in lim:
        out.append((min(lo_edge, lim["LL"][0]), lim["LL"][0], lim["LL"][1], "LL"))
    return [r for r in out if r[1] > r[0] or r[3] in ("HH", "LL")]


class LimitBands:
    """The bands and limit lines of one tag in one view box."""

    def __init__(self, tag: TagConfig, box: pg.ViewBox, in_range: bool = False) -> None:
        self.tag = tag
        self.box = box
        self.regions: list[tuple[pg.LinearRegionItem, int, str]] = []
        self.lines: list[tuple[pg.InfiniteLine, int]] = []
        for lo, hi, prio, kind in limit_regions(tag):
            if hi <= lo:
                continue
            reg = pg.LinearRegionItem(
                (lo, hi), orientation="horizontal", movable=False, pen=pg.mkPen(None)
            )
            reg.setZValue(-20)
            box.addItem(reg, ignoreBounds=True)
            self.regions.append((reg, prio, kind))
        for a in tag.alarms:
            if a.limit is None or a.kind not in LIMIT_KINDS:
                continue
            # the label inside the band: above a high limit, below a low one (and so out of
            # sight with its line when the limit is beyond the visible values)
            anchor = (0, 1) if a.kind in ("H", "HH") else (0, 0)
            line = pg.InfiniteLine(
                pos=float(a.limit),
                angle=0,
                label=a.kind,
                labelOpts={"position": 0.02, "anchors": [anchor, anchor]},
            )
            line.setZValue(-15)
            box.addItem(line, ignoreBounds=not in_range)
            self.lines.append((line, a.priority))

    @property
    def limits(self) -> list[float]:
        """Positions of the limit lines."""
        return [float(line.value()) for line, _p in self.lines]

    def apply_colors(self, alarm_color: object) -> None:
        """Colors of each priority (``alarm_color(priority) -> QColor``)."""
        for reg, prio, kind in self.regions:
            c = QColor(alarm_color(prio))  # type: ignore[operator]
            c.setAlpha(45 if kind in ("HH", "LL") else 25)  # stronger beyond the trip limits
            reg.setBrush(pg.mkBrush(c))
            reg.setHoverBrush(pg.mkBrush(c))
        for line, prio in self.lines:
            c = QColor(alarm_color(prio))  # type: ignore[operator]
            line.setPen(pg.mkPen(c, width=1, style=Qt.PenStyle.DashLine))
            line.label.setColor(c)

    def remove(self) -> None:
        """Take everything out of the view box and delete it.

        Deleted by Qt right away (``deleteLater``) rather than left to Python's garbage
        collector: a line and its label refer to each other, and a cycle of Qt items
        collected by Python can crash the interpreter."""
        for item in [reg for reg, _p, _k in self.regions] + [line for line, _p in self.lines]:
            self.box.removeItem(item)
            item.deleteLater()
        self.regions, self.lines = [], []
