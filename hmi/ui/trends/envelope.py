"""The min/max envelope of decimated trend data: a translucent bar per bucket.

Each bucket of a decimated history holds the minimum and maximum of its samples; drawn
as a bar from min to max over the bucket's time, a spike that the average line hides
stays visible, and a bucket without usable values (a BAD period) has no bar.

How it is drawn matters on a long range (one bar per pixel column): one filled polygon
along the maxima and back costs Qt's rasterizer 0.5-0.8 s per pen, translucent bars
~90 ms per pen (Qt blends a translucent brush span by span); opaque bars painted into an
image that is then blended once cost ~3-4 ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QTransform
from PySide6.QtWidgets import QGraphicsItem


class EnvelopeItem(pg.GraphicsObject):
    """Translucent min/max bars in view coordinates."""

    def __init__(self, color: QColor | None = None) -> None:
        super().__init__()
        self.setFlag(
            QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption
        )  # a real exposedRect
        self._rects: list[QRectF] = []
        self._start = self._end = self._x = self._lo = self._hi = np.empty(0)
        self._bounds = QRectF()
        self._color = QColor(128, 128, 128)
        self._alpha = 0.25
        if color is not None:
            self.set_color(color)

    def set_color(self, color: QColor, alpha: int = 70) -> None:
        """Fill color (the pen's color) and how opaque the bars are (0-255)."""
        self._color = QColor(color)
        self._color.setAlpha(255)
        self._alpha = alpha / 255.0
        self.update()

    def set_data(
        self, start: np.ndarray, width: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> None:
        """Buckets [start, start + width) (sorted) with their min and max (finite)."""
        self.prepareGeometryChange()
        self._start, self._end = start, start + width
        self._x, self._lo, self._hi = start + width / 2.0, lo, hi
        self._rects = [
            QRectF(s, a, w, b - a)
            for s, w, a, b in zip(
                start.tolist(), width.tolist(), lo.tolist(), hi.tolist(), strict=True
            )
        ]
        if len(start):
            self._bounds = QRectF(
                float(start[0]),
                float(lo.min()),
                float(self._end[-1] - start[0]),
                float(hi.max() - lo.min()),
            )
        else:
            self._bounds = QRectF()
        self.update()

    @property
    def points(self) -> int:
        """Buckets drawn."""
        return len(self._rects)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        """Bounds of the bars."""
        return self._bounds

    def dataBounds(
        self, ax: int, frac: float = 1.0, orthoRange: tuple[float, float] | None = None
    ) -> tuple[float, float] | None:  # noqa: N802, N803 - pyqtgraph API
        """Data range along ``ax`` (0: x, 1: y), within ``orthoRange`` of the other axis (auto range)."""
        x, lo, hi = self._x, self._lo, self._hi
        if not len(x):
            return None
        if ax == 0:
            return self._bounds.left(), self._bounds.right()
        if orthoRange is not None:
            a, b = (
                np.searchsorted(x, orthoRange[0]),
                np.searchsorted(x, orthoRange[1], side="right"),
            )
            lo, hi = lo[a:b], hi[a:b]
        if not len(lo):
            return None
        return float(lo.min()), float(hi.max())

    def paint(self, p: QPainter, option: Any, *_: object) -> None:
        """Paint the exposed bars opaque into an image, then blend the image once."""
        if not self._rects:
            return
        ex = option.exposedRect
        a = int(np.searchsorted(self._end, ex.left()))
        b = int(np.searchsorted(self._start, ex.right(), side="right"))
        if b <= a:
            return
        tr = p.transform()
        dev = p.device()
        area = tr.mapRect(ex).toAlignedRect() & QRect(0, 0, dev.width(), dev.height())
        if area.isEmpty():
            return
        ratio = dev.devicePixelRatioF()
        img = QImage(area.size() * ratio, QImage.Format.Format_ARGB32_Premultiplied)
        img.setDevicePixelRatio(ratio)
        img.fill(Qt.GlobalColor.transparent)
        q = QPainter(img)
        q.setTransform(tr * QTransform.fromTranslate(-area.x(), -area.y()))
        q.setPen(Qt.PenStyle.NoPen)
        q.setBrush(self._color)
        q.drawRects(self._rects[a:b])
        q.end()
        p.save()
        p.resetTransform()
        p.setOpacity(p.opacity() * self._alpha)
        p.drawImage(area.topLeft(), img)
        p.restore()
