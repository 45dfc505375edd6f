"""Drill spans shaded on trend plots: history recorded during a drill is training data.

Each drill kept in ``<data dir>/training/`` (:func:`hmi.core.training.training_periods`)
becomes a vertical yellow region on the plot's time axis, labelled 培训 TRAINING; a
running drill's region grows with the clock. The regions do not move the plot's range.
"""

from __future__ import annotations

import time
from typing import Any

import pyqtgraph as pg
from PySide6.QtGui import QColor

from hmi.ui.training.marking import WORD

FILL = QColor(255, 212, 0, 70)
EDGE = QColor(200, 160, 0, 200)


class DrillSpans:
    """The drill regions of one trend plot."""

    def __init__(self, plot: Any) -> None:
        self.plot = plot
        self.regions: list[tuple[pg.LinearRegionItem, pg.TextItem, float | None]] = []

    def show(self, periods: list[tuple[float, float | None, str]]) -> None:
        """Replace the regions by ``periods`` ((start, end or None, drill id))."""
        pi = self.plot.plotItem
        for region, label, _end in self.regions:
            pi.removeItem(region)
            pi.removeItem(label)
        self.regions = []
        now = time.time()
        for start, end, drill_id in periods:
            region = pg.LinearRegionItem(
                values=(start, end if end is not None else now),
                orientation="vertical",
                movable=False,
                brush=FILL,
                pen=pg.mkPen(EDGE, width=1),
            )
            region.setZValue(-20)
            region.setToolTip(f"{WORD}: {drill_id}")
            label = pg.TextItem(WORD, color=(0, 0, 0), fill=pg.mkBrush(255, 212, 0), anchor=(0, 0))
            label.setParentItem(region)
            pi.addItem(region, ignoreBounds=True)
            pi.addItem(label, ignoreBounds=True)
            self.regions.append((region, label, end))
        self.place_labels()

    def place_labels(self) -> None:
        """Labels at the top of the visible value range; running regions reach now."""
        vb = self.plot.plotItem.vb
        (_x0, _x1), (_y0, y1) = vb.viewRange()
        now = time.time()
        for region, label, end in self.regions:
            if end is None:
                region.setRegion((region.getRegion()[0], now))
            label.setPos(region.getRegion()[0], y1)
