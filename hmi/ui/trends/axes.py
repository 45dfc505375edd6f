"""One value axis per unit: pens with the same unit share an axis and its scale.

The first unit uses the plot's own view box and left axis; every further unit gets a view
box stacked on the plot's (linked in time) and an axis on the right. Each box scales its
own values to what is visible. The stacked boxes lie *under* the plot's box so that mouse
drags, the wheel and the cursor line are handled by the plot's box; time is linked, so
every box pans and zooms together. The axes lie under all boxes, so their (opaque) grid
lines are drawn first and never hide a curve.
"""

from __future__ import annotations

import copy
from typing import Any

import pyqtgraph as pg

#: axes (and so their grid lines) lie under every view box: the grid never hides a curve
GRID_Z = -1000


class AxisSet:
    """The value axes of a :class:`pyqtgraph.PlotItem`, keyed by unit."""

    def __init__(self, plot_item: pg.PlotItem, mouse: bool = True) -> None:
        self.pi = plot_item
        self.mouse = mouse  # pan / zoom time with the mouse
        self.units: list[str] = []
        self.boxes: list[pg.ViewBox] = [plot_item.vb]
        self.axes: list[pg.AxisItem] = [plot_item.getAxis("left")]
        self._pool: list[tuple[pg.ViewBox, pg.AxisItem]] = []  # extra boxes with their axes
        self._setup(plot_item.vb)
        plot_item.vb.sigResized.connect(self._sync)

    def _setup(self, vb: pg.ViewBox) -> None:
        vb.setMouseEnabled(x=self.mouse, y=False)
        vb.enableAutoRange(axis=pg.ViewBox.YAxis, enable=True)
        vb.setAutoVisible(y=True)

    def set_units(self, units: list[str]) -> None:
        """Lay out one axis per unit (in this order). Items must be taken out of the
        boxes first and added again with :meth:`box` afterwards.

        Extra boxes and axes are created once and then shown or hidden, never taken out of
        the scene: an item removed from a scene becomes Python's to delete, and a box full
        of children deleted that way is fragile."""
        units = list(dict.fromkeys(units)) or [""]
        while len(self._pool) < len(units) - 1:
            k = len(self._pool)
            vb = pg.ViewBox(enableMenu=False)
            self._setup(vb)
            vb.setParentItem(self.pi)
            vb.setZValue(self.pi.vb.zValue() - 10 - k)  # under the plot's box: it gets the mouse
            vb.setXLink(self.pi.vb)
            if k == 0:
                ax = self.pi.getAxis("right")
            else:
                ax = ValueAxis("right")
                self.pi.layout.addItem(ax, 2, 2 + k)
            ax.linkToView(vb)
            ax.enableAutoSIPrefix(False)
            self._pool.append((vb, ax))
        self.units = units
        used = len(units) - 1
        for k, (vb, ax) in enumerate(self._pool):
            vb.setVisible(k < used)
            ax.setVisible(k < used)
        if used:
            self.pi.showAxis("right")
        else:
            self.pi.hideAxis("right")
        self.boxes = [self.pi.vb] + [vb for vb, _ax in self._pool[:used]]
        self.axes = [self.pi.getAxis("left")] + [ax for _vb, ax in self._pool[:used]]
        self.pi.getAxis("left").enableAutoSIPrefix(False)  # engineering units as configured
        for ax in [self.pi.getAxis(n) for n in ("left", "bottom", "right")] + [
            a for _v, a in self._pool
        ]:
            ax.setZValue(GRID_Z)
        for ax, unit in zip(self.axes, units, strict=True):
            ax.setLabel(unit)
        self._sync()

    def box(self, unit: str) -> pg.ViewBox:
        """The view box of ``unit``."""
        return self.boxes[self.units.index(unit)] if unit in self.units else self.pi.vb

    def axis(self, unit: str) -> pg.AxisItem:
        """The axis of ``unit``."""
        return self.axes[self.units.index(unit)] if unit in self.units else self.axes[0]

    def _sync(self, *_: Any) -> None:
        """Keep the stacked boxes exactly over the plot's box."""
        rect = self.pi.vb.geometry()
        for vb, _ax in self._pool:
            vb.setGeometry(rect)
            vb.linkedViewChanged(self.pi.vb, vb.XAxis)


class ValueAxis(pg.AxisItem):
    """Value axis with digit groups (``12,000``, not ``12000``), as values read elsewhere
    on screen (flows in Sm³/h and totals run into the thousands)."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802 - pyqtgraph's name
        out = []
        for v, text in zip(values, super().tickStrings(values, scale, spacing), strict=True):
            if abs(v * scale) < 1000 or "e" in text:
                out.append(text)
                continue
            places = len(text.split(".")[1]) if "." in text else 0
            out.append(f"{v * scale:,.{places}f}")
        return out


class TimeAxis(pg.DateAxisItem):
    """Time axis with numeric dates (``11-24``, ``2026-11``) instead of English weekday and
    month names, so that it reads the same in both languages."""

    _FORMATS = {"%a %d": "%m-%d", "%b": "%Y-%m"}
    zoomLevels: Any  # noqa: N815 - pyqtgraph's attribute

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        levels = {}
        for key, level in self.zoomLevels.items():
            level = copy.copy(level)  # the levels are shared by every date axis: copy first
            level.tickSpecs = [copy.copy(spec) for spec in level.tickSpecs]
            for spec in level.tickSpecs:
                spec.format = self._FORMATS.get(spec.format, spec.format)
            levels[key] = level
        self.zoomLevels = type(self.zoomLevels)(levels)
