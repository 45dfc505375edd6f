"""MimicView: an SVG screen with live values, driven by :class:`~hmi.ui.live.LiveData`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QResizeEvent
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView, QWidget

from drivers.base import Quality
from hmi.core.tagtable import TagUpdate
from hmi.ui import theme as theme_mod
from hmi.ui.i18n import i18n
from hmi.ui.live import LiveData
from hmi.ui.mimic.items import BackgroundItem, BarItem, BoundItem, LinkItem, SymbolItem, ValueItem
from hmi.ui.mimic.screen import SYMBOL_KINDS, ScreenDef
from hmi.ui.mimic.states import symbol_state

log = logging.getLogger(__name__)


class MimicView(QGraphicsView):
    """Shows one :class:`ScreenDef`; clicks open faceplates or navigate."""

    screen: ScreenDef  # type: ignore[assignment]  # shadows QWidget.screen(), unused here

    sigOpenFaceplate = Signal(str)  # tag name
    sigNavigate = Signal(str)  # screen id

    def __init__(self, screen: ScreenDef, live: LiveData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mimic")
        self.screen = screen
        self.live = live
        self.cfg_tags = live.cfg.tag_map()
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing
            | QPainter.RenderHint.TextAntialiasing
            | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.items_: list[BoundItem] = []
        self.by_index: dict[int, list[BoundItem]] = {}
        self.by_tag: dict[str, list[BoundItem]] = {}
        self._build()
        self._mask = np.zeros(live.tags.n, dtype=bool)
        if self.by_index:
            self._mask[np.fromiter(self.by_index.keys(), dtype=np.int64)] = True
        live.sigTags.connect(self.on_tags)
        live.sigAlarms.connect(self.on_alarms)
        live.sigTick.connect(self.on_tick)
        theme_mod.theme().sigThemeChanged.connect(self.on_theme)
        i18n().sigLanguageChanged.connect(self.on_theme)
        self.on_tags(live.current())
        self.on_alarms(live.alarms)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        css, defs = theme_mod.theme().svg_css, theme_mod.svg_defs()
        doc = self.screen.doc
        geometry = QSvgRenderer(QByteArray(self.screen.svg_text.encode("utf-8")))
        viewbox = geometry.viewBoxF()
        hidden = {b.element for b in self.screen.bindings if b.kind != "link"}
        self.background = BackgroundItem(
            doc.background(hidden, css, defs, self._texts(), self.screen.label_texts(i18n().lang))
        )
        self._scene.addItem(self.background)
        self._scene.setSceneRect(viewbox)
        tags = self.live.tags
        for b in self.screen.bindings:
            rect = geometry.transformForElement(b.element).mapRect(
                geometry.boundsOnElement(b.element)
            )
            item: BoundItem
            if b.kind in SYMBOL_KINDS:
                item = SymbolItem(b, doc, rect, viewbox, css, defs)
            elif b.kind == "bar":
                item = BarItem(b, self.cfg_tags[b.tag], rect)
            elif b.kind in ("value", "state_text"):
                item = ValueItem(b, self.cfg_tags[b.tag], rect)
            else:
                item = LinkItem(b, rect)
            item.setZValue(1 if b.kind == "link" else 0)
            self._scene.addItem(item)
            self.items_.append(item)
            for name in b.tag_names():
                self.by_index.setdefault(int(tags.index[name]), []).append(item)
                self.by_tag.setdefault(name, []).append(item)
            if b.faceplate_tag:
                self.by_tag.setdefault(b.faceplate_tag, [])
                if item not in self.by_tag[b.faceplate_tag]:
                    self.by_tag[b.faceplate_tag].append(item)

    def _texts(self) -> dict[str, str]:
        return self.screen.translator(i18n().lang)

    def item_for(self, element_id: str) -> BoundItem | None:
        """The item bound to an SVG element id."""
        for it in self.items_:
            if it.binding.element == element_id:
                return it
        return None

    # ------------------------------------------------------------------ live updates
    def on_tags(self, upd: TagUpdate) -> None:
        """Apply the changed tags that this screen shows."""
        if not len(upd):
            return
        sel = self._mask[upd.indices]
        if not sel.any():
            return
        tags = self.live.tags
        touched: set[int] = set()
        for k in np.nonzero(sel)[0].tolist():
            i = int(upd.indices[k])
            value: Any = float(upd.values[k])
            if tags.is_string[i]:
                value = tags.get(tags.names[i])[0]
            q, ts, reason = int(upd.quality[k]), float(upd.ts[k]), upd.reasons[k]
            for item in self.by_index.get(i, ()):
                if isinstance(item, ValueItem | BarItem) and item.binding.tag == tags.names[i]:
                    item.set_value(value, q, ts, reason)
                elif isinstance(item, ValueItem) and item.binding.opt("fault_tag") == tags.names[i]:
                    item.set_fault(q == Quality.GOOD and value >= 0.5)
                elif isinstance(item, SymbolItem):
                    touched.add(id(item))
        if touched:
            get = self._getter()
            for item in self.items_:
                if id(item) in touched and isinstance(item, SymbolItem):
                    item.set_state(*symbol_state(item.binding, get, self.cfg_tags))

    def _getter(self) -> Callable[[str], tuple[float, int]]:
        tags = self.live.tags

        def get(name: str) -> tuple[float, int]:
            v, q, _ts, _r = tags.get(name)
            return (float(v) if not isinstance(v, str) else float("nan")), int(q)

        return get

    def on_alarms(self, _views: Any = None) -> None:
        """Alarm markers from the live alarm summary (per tag: most urgent priority)."""
        for item in self.items_:
            if item.binding.kind == "link":
                continue
            prio, unack = 0, False
            for name in [item.binding.faceplate_tag, *item.binding.tag_names()]:
                p, u = self.live.alarm_of(name)
                if p and (not prio or p < prio):
                    prio = p
                unack = unack or u
            item.set_alarm(prio, unack if prio else False)

    def on_tick(self, n: int) -> None:
        """Blink unacknowledged alarm markers (about 1 Hz)."""
        on = (n // 2) % 2 == 0
        for item in self.items_:
            item.set_blink(on)

    def on_theme(self, _name: str) -> None:
        """Re-render the SVG with the new theme's CSS (or language's texts)."""
        css, defs = theme_mod.theme().svg_css, theme_mod.svg_defs()
        hidden = {b.element for b in self.screen.bindings if b.kind != "link"}
        self.background.set_svg(
            self.screen.doc.background(
                hidden, css, defs, self._texts(), self.screen.label_texts(i18n().lang)
            )
        )
        for item in self.items_:
            if isinstance(item, SymbolItem):
                item.set_css(css, defs)
            elif isinstance(item, ValueItem | BarItem):
                # state texts and BAD are language dependent: redo the text from the table
                v, q, ts, reason = self.live.tags.get(item.binding.tag)
                item.set_value(v, int(q), ts, reason)
            item.update()

    # ------------------------------------------------------------------ interaction
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        """Click on a bound item: faceplate or navigation."""
        if event.button() == Qt.MouseButton.LeftButton:
            item = self.bound_item_at(event.position().toPoint())
            if item is not None:
                self.activate(item)
                event.accept()
                return
        super().mousePressEvent(event)

    def bound_item_at(self, pos: Any) -> BoundItem | None:
        """Topmost bound item under a viewport position."""
        scene_pos = self.mapToScene(pos)
        for it in self._scene.items(scene_pos):
            if isinstance(it, BoundItem) and it.rect.adjusted(-3, -3, 3, 3).contains(scene_pos):
                return it
        return None

    def activate(self, item: BoundItem) -> None:
        """Do what clicking ``item`` does."""
        b = item.binding
        if b.kind == "link" and b.opt("screen"):
            self.sigNavigate.emit(str(b.opt("screen")))
        elif b.faceplate_tag:
            self.sigOpenFaceplate.emit(b.faceplate_tag)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        """Keep the whole screen in view."""
        super().resizeEvent(event)
        self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Fit when first shown."""
        super().showEvent(event)
        self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def scene_rect(self) -> QRectF:
        """The screen's view box."""
        return self._scene.sceneRect()
