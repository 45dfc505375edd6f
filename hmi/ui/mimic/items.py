"""Graphics items of a mimic screen: SVG background, restyled symbols, values, bars, links.

Scene coordinates are the SVG's user coordinates. Colors are read from the theme at
paint time, so a theme switch only needs a repaint. Every item bound to a tag carries
its :class:`~hmi.ui.mimic.screen.Binding`; the view turns a click into a faceplate or
a navigation.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QByteArray, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from hmi.config.schema import TagConfig
from hmi.ui import fmt
from hmi.ui import theme as theme_mod
from hmi.ui.i18n import tr
from hmi.ui.mimic.screen import Binding
from hmi.ui.mimic.svgdoc import SvgDoc
from hmi.ui.widgets.glyph import paint_glyph


class BackgroundItem(QGraphicsItem):
    """The static part of the SVG (bound elements removed), drawn into its view box."""

    def __init__(self, svg: bytes) -> None:
        super().__init__()
        self.renderer = QSvgRenderer(QByteArray(svg))
        self.rect = self.renderer.viewBoxF()
        self.setZValue(-10)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_svg(self, svg: bytes) -> None:
        """Replace the drawing (theme switch)."""
        self.renderer.load(QByteArray(svg))
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        """The view box."""
        return self.rect

    def paint(self, p: QPainter, _o: QStyleOptionGraphicsItem, _w: QWidget | None = None) -> None:
        """Render the SVG."""
        self.renderer.render(p, self.rect)


class BoundItem(QGraphicsItem):
    """Base of items bound to tags: binding, alarm marker, hover highlight."""

    def __init__(self, binding: Binding, rect: QRectF) -> None:
        super().__init__()
        self.binding = binding
        self.rect = QRectF(rect)
        self.alarm = 0  # most urgent priority of the bound tag's alarms, 0: none
        self.unack = False
        self.blink_on = True
        self.hover = False
        self.setAcceptHoverEvents(True)
        if binding.faceplate_tag or binding.kind == "link":
            self.setCursor(Qt.CursorShape.PointingHandCursor)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        """Rect plus room for the alarm marker and the hover frame."""
        m = self._marker_size() + 4
        return self.rect.adjusted(-m - 2, -m * 0.5 - 2, m * 0.5 + 2, m * 0.5 + 2)

    def _marker_size(self) -> float:
        return max(10.0, min(22.0, min(self.rect.height(), self.rect.width()) * 0.9))

    def set_alarm(self, priority: int, unack: bool) -> bool:
        """Show the alarm marker; True when it changed."""
        if (priority, unack) == (self.alarm, self.unack):
            return False
        self.alarm, self.unack = priority, unack
        self.update()
        return True

    def set_blink(self, on: bool) -> None:
        """Blink phase for unacknowledged alarms."""
        if self.alarm and self.unack and on != self.blink_on:
            self.blink_on = on
            self.update()
        else:
            self.blink_on = on

    def tooltip_text(self) -> str:
        """Tag, quality, reason and time of the shown value ('' for items without one)."""
        tag = getattr(self, "tag", None)
        info = getattr(self, "info", None)
        return fmt.quality_tooltip(tag, *info) if tag is not None and info is not None else ""

    def hoverEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Highlight the clickable area; the tooltip is built now, not on every update."""
        text = self.tooltip_text()
        if text:
            self.setToolTip(text)
        self.hover = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Remove the highlight."""
        self.hover = False
        self.update()
        super().hoverLeaveEvent(event)

    def paint_marker(self, p: QPainter) -> None:
        """Alarm glyph (shape + number + color) beside the item; outlined in the blink-off phase."""
        if not self.alarm or self.binding.opt("alarm_marker") == "none":
            return
        s = self._marker_size()
        where = self.binding.opt(
            "alarm_marker",
            "left" if self.binding.kind in ("value", "bar", "state_text") else "corner",
        )
        if where == "left":
            r = QRectF(self.rect.left() - s - 3, self.rect.center().y() - s / 2, s, s)
        else:
            r = QRectF(self.rect.right() - s * 0.5, self.rect.top() - s * 0.5, s, s)
        paint_glyph(p, r, self.alarm, filled=(not self.unack) or self.blink_on)

    def paint_hover(self, p: QPainter) -> None:
        """Thin frame while the mouse is over a clickable item."""
        if self.hover:
            pen = QPen(theme_mod.colors().color("selection"), 1.5, Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(self.rect.adjusted(-2, -2, 2, 2))


class SymbolItem(BoundItem):
    """A bound SVG element drawn from a per-state document (CSS state classes)."""

    def __init__(
        self, binding: Binding, doc: SvgDoc, rect: QRectF, viewbox: QRectF, css: str, defs: str
    ) -> None:
        super().__init__(binding, rect)
        self.doc = doc
        self.viewbox = viewbox
        self.css = css
        self.defs = defs
        self.state = ""
        self.qcls = ""
        self._renderers: dict[tuple[str, str], QSvgRenderer] = {}
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.set_state("unknown", "q-bad")

    def set_css(self, css: str, defs: str) -> None:
        """New theme CSS: drop cached documents."""
        self.css, self.defs = css, defs
        self._renderers.clear()
        self.update()

    def set_state(self, state: str, qcls: str) -> bool:
        """Show ``state``; True when it changed."""
        if (state, qcls) == (self.state, self.qcls):
            return False
        self.state, self.qcls = state, qcls
        self.update()
        return True

    def _renderer(self) -> QSvgRenderer:
        key = (self.state, self.qcls)
        r = self._renderers.get(key)
        if r is None:
            classes = f"st-{self.state} {self.qcls}".strip()
            r = QSvgRenderer(
                QByteArray(self.doc.element_doc(self.binding.element, classes, self.css, self.defs))
            )
            self._renderers[key] = r
        return r

    def paint(self, p: QPainter, _o: QStyleOptionGraphicsItem, _w: QWidget | None = None) -> None:
        """The symbol in its state, the quality frame, the alarm marker."""
        self._renderer().render(p, self.viewbox)
        c = theme_mod.colors()
        if self.qcls:
            bad = self.qcls == "q-bad"
            pen = QPen(c.color("bad" if bad else "uncertain"), 1.5, Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(self.rect.adjusted(-1, -1, 1, 1))
            f = QFont(p.font())
            f.setBold(True)
            f.setPixelSize(12)
            p.setFont(f)
            p.setPen(c.color("bad" if bad else "uncertain"))
            p.drawText(
                QRectF(self.rect.left(), self.rect.bottom() - 14, 14, 14),
                Qt.AlignmentFlag.AlignCenter,
                "?",
            )
        self.paint_hover(p)
        self.paint_marker(p)


class ValueItem(BoundItem):
    """Live value text in a placeholder rectangle (value, unit, quality, alarm)."""

    def __init__(self, binding: Binding, tag: TagConfig, rect: QRectF) -> None:
        super().__init__(binding, rect)
        self.tag = tag
        self.text = ""
        self.quality = "bad"
        self.tooltip = ""
        self.fault = False  # the instrument reports a fault (fault_tag): shown as Fault
        self.last: tuple[float | str, int, float, str] = (math.nan, 0, 0.0, "")
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_fault(self, fault: bool) -> bool:
        """The instrument's own fault flag: while set the item shows 故障/Fault, never a number."""
        if fault == self.fault:
            return False
        self.fault = fault
        return self.set_value(*self.last)

    def set_value(self, value: float | str, quality: int, ts: float, reason: str) -> bool:
        """Update text and quality; True when what is shown changed."""
        self.last = (value, quality, ts, reason)
        unit = bool(self.binding.opt("unit", True)) and self.binding.kind == "value"
        text = fmt.value_text(self.tag, value, quality, self.binding.opt("precision"), unit=unit)
        q = fmt.quality_name(quality)
        if self.fault:
            text, q = tr("Fault"), "bad"
        self.info = (quality, reason, ts)
        if (text, q) == (self.text, self.quality):
            return False
        self.text, self.quality = text, q
        self.update()
        return True

    def paint(self, p: QPainter, _o: QStyleOptionGraphicsItem, _w: QWidget | None = None) -> None:
        """Box, text, quality coding, alarm coding."""
        c = theme_mod.colors()
        r = self.rect
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        frame = QColor(c.color("border"))
        width = 1.0
        style = Qt.PenStyle.SolidLine
        fill: QBrush | QColor = c.color("panel")
        color = c.color("value")
        if self.quality == "bad":
            frame, style, width = c.color("bad"), Qt.PenStyle.SolidLine, 1.5
            fill = QBrush(c.color("bad"), Qt.BrushStyle.BDiagPattern)
            color = c.color("bad")
        elif self.quality == "uncertain":
            frame, style, width = c.color("uncertain"), Qt.PenStyle.DashLine, 1.5
            color = c.color("uncertain")
        if self.alarm:
            frame, width, style = c.alarm(self.alarm), 2.5, Qt.PenStyle.SolidLine
        p.setPen(QPen(frame, width, style))
        p.setBrush(c.color("panel"))
        p.drawRect(r)
        if isinstance(fill, QBrush):
            p.setBrush(fill)
            p.setPen(Qt.PenStyle.NoPen)
            p.drawRect(r)
        f = QFont(p.font())
        f.setPixelSize(max(7, int(r.height() * 0.68)))
        f.setBold(self.quality != "good" or bool(self.alarm))
        fm = QFontMetricsF(f)
        inner = r.adjusted(3, 0, -3, 0)
        while fm.horizontalAdvance(self.text) > inner.width() and f.pixelSize() > 7:
            f.setPixelSize(f.pixelSize() - 1)
            fm = QFontMetricsF(f)
        p.setFont(f)
        p.setPen(color)
        align = {"left": Qt.AlignmentFlag.AlignLeft, "center": Qt.AlignmentFlag.AlignHCenter}.get(
            self.binding.opt("align", ""), Qt.AlignmentFlag.AlignRight
        )
        p.drawText(inner, align | Qt.AlignmentFlag.AlignVCenter, self.text)
        self.paint_hover(p)
        self.paint_marker(p)


class BarItem(BoundItem):
    """ISA-101 moving analog indicator: range, normal band, alarm zones, value pointer."""

    def __init__(self, binding: Binding, tag: TagConfig, rect: QRectF) -> None:
        super().__init__(binding, rect)
        self.tag = tag
        self.value = math.nan
        self.quality = "bad"
        self.lo, self.hi = tag.range
        limits = {a.kind: a.limit for a in tag.alarms if a.limit is not None and a.enabled}
        self.limits = limits
        normal = binding.opt("normal")
        if normal:
            self.normal = (float(normal[0]), float(normal[1]))
        else:
            self.normal = (
                limits.get("L", limits.get("LL", self.lo)),
                limits.get("H", limits.get("HH", self.hi)),
            )
        self.vertical = (
            binding.opt(
                "orientation", "vertical" if rect.height() >= rect.width() else "horizontal"
            )
            == "vertical"
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_value(self, value: float | str, quality: int, ts: float, reason: str) -> bool:
        """Move the pointer; True when it moved visibly."""
        v = float(value) if not isinstance(value, str) else math.nan
        q = fmt.quality_name(quality)
        self.info = (quality, reason, ts)
        span = self.hi - self.lo
        if (
            q == self.quality
            and not math.isnan(v)
            and not math.isnan(self.value)
            and abs(v - self.value) < span * 0.002
        ):
            return False
        self.value, self.quality = v, q
        self.update()
        return True

    def _pos(self, v: float) -> float:
        frac = (min(max(v, self.lo), self.hi) - self.lo) / (self.hi - self.lo)
        r = self.rect
        return r.bottom() - frac * r.height() if self.vertical else r.left() + frac * r.width()

    def _band(self, a: float, b: float) -> QRectF:
        r = self.rect
        pa, pb = self._pos(a), self._pos(b)
        if self.vertical:
            return QRectF(r.left(), min(pa, pb), r.width(), abs(pa - pb))
        return QRectF(min(pa, pb), r.top(), abs(pa - pb), r.height())

    def paint(self, p: QPainter, _o: QStyleOptionGraphicsItem, _w: QWidget | None = None) -> None:
        """Track, zones, pointer."""
        c = theme_mod.colors()
        r = self.rect
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(c.color("border"), 1))
        p.setBrush(c.color("barTrack"))
        p.drawRect(r)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(c.color("barNormal"))
        p.drawRect(self._band(*self.normal))
        zone = QColor(c.color("barAlarm"))
        p.setBrush(zone)
        if "H" in self.limits or "HH" in self.limits:
            p.drawRect(
                self._band(
                    min(self.limits.get("H", math.inf), self.limits.get("HH", math.inf)), self.hi
                )
            )
        if "L" in self.limits or "LL" in self.limits:
            p.drawRect(
                self._band(
                    self.lo, max(self.limits.get("L", -math.inf), self.limits.get("LL", -math.inf))
                )
            )
        # limit ticks
        p.setPen(QPen(c.color("limit"), 1))
        for k in ("HH", "H", "L", "LL"):
            if k in self.limits:
                pos = self._pos(self.limits[k])
                if self.vertical:
                    p.drawLine(QPointF(r.left(), pos), QPointF(r.right(), pos))
                else:
                    p.drawLine(QPointF(pos, r.top()), QPointF(pos, r.bottom()))
        if self.quality == "bad" or math.isnan(self.value):
            p.setPen(QPen(c.color("bad"), 1.5))
            p.setBrush(QBrush(c.color("bad"), Qt.BrushStyle.BDiagPattern))
            p.drawRect(r)
        else:
            pos = self._pos(self.value)
            s = max(5.0, (r.width() if self.vertical else r.height()) * 0.6)
            color = c.alarm(self.alarm) if self.alarm else c.color("barPointer")
            if self.quality == "uncertain":
                color = c.color("uncertain")
            if self.vertical:
                tri = QPolygonF(
                    [
                        QPointF(r.right() + s, pos - s / 1.6),
                        QPointF(r.right(), pos),
                        QPointF(r.right() + s, pos + s / 1.6),
                    ]
                )
                line = (QPointF(r.left(), pos), QPointF(r.right(), pos))
            else:
                tri = QPolygonF(
                    [
                        QPointF(pos - s / 1.6, r.bottom() + s),
                        QPointF(pos, r.bottom()),
                        QPointF(pos + s / 1.6, r.bottom() + s),
                    ]
                )
                line = (QPointF(pos, r.top()), QPointF(pos, r.bottom()))
            p.setPen(QPen(color, 2.5))
            p.drawLine(*line)
            p.setPen(QPen(c.color("text"), 0.8))
            p.setBrush(color)
            p.drawPolygon(tri)
        self.paint_hover(p)
        self.paint_marker(p)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        """Room for the pointer beside the track."""
        return (
            super()
            .boundingRect()
            .adjusted(0, 0, self.rect.width() * 0.8 + 6, self.rect.height() * 0.8 + 6)
        )


class LinkItem(BoundItem):
    """A clickable area over an SVG element (navigation or faceplate)."""

    def paint(self, p: QPainter, _o: QStyleOptionGraphicsItem, _w: QWidget | None = None) -> None:
        """Only the hover frame: the link's look is in the SVG."""
        self.paint_hover(p)
