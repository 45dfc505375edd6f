"""Training marks: while a drill runs, every screen says so.

* a yellow-and-black band at the top of the main window ("培训 TRAINING — simulated, not
  live", scenario, instructor, elapsed time) and a yellow frame round its content;
* a "培训 TRAINING" tag beside the alarm banner's rows, and in the top-right corner of
  the trend plots (trends page, overview) and of every open faceplate;
* the window titles start with "[培训 TRAINING]".

The words 培训 / TRAINING are shown in both languages whatever the HMI language is.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QWidget

from hmi.ui.i18n import tr
from hmi.ui.theme import restyle

#: the fixed bilingual word on every mark
WORD = "培训 TRAINING"
TITLE_PREFIX = f"[{WORD}] "
#: width of the yellow frame round the window's content (pixels; the QSS border)
FRAME = 5


class CornerTag(QLabel):
    """A "培训 TRAINING" tag kept in the top-right corner of its parent widget."""

    def __init__(self, parent: QWidget, inline: bool = False, centred: bool = False) -> None:
        super().__init__(WORD.replace(" ", "\n") if inline else WORD, parent)
        self.setObjectName("trainingTag")
        self.setProperty("role", "trainingTag")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setToolTip(tr("Training drill: simulated values, not live data"))
        self.inline = inline  # in the parent's layout (the alarm banner), not floating
        self.centred = centred  # top centre (pages: their top-right corner holds buttons)
        self.hide()
        if not inline:
            self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            parent.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Follow the parent's size."""
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show) and self.isVisible():
            self.place()
        return False

    def place(self) -> None:
        """Top-right corner, above the parent's children."""
        parent = self.parentWidget()
        if self.inline:
            return
        self.adjustSize()
        if parent is not None:
            x = parent.width() - self.width() - 6
            if self.centred:
                x = (parent.width() - self.width()) // 2
            self.move(max(0, x), 4)
        self.raise_()


class TrainingMarks(QObject):
    """The band, the frame, the corner tags and the title prefix of one main window."""

    def __init__(self, win: Any) -> None:
        super().__init__(win)
        self.win = win
        self.info: Any = None
        central = win.centralWidget()
        central.setObjectName("central")
        central.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.band = QLabel(central)
        self.band.setObjectName("trainingBand")
        self.band.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.band.hide()
        central.layout().insertWidget(0, self.band)
        self.tags: dict[int, CornerTag] = {}
        # the banner's tag sits left of its rows (a floating one would cover its buttons)
        banner_tag = CornerTag(win.banner, inline=True)
        win.banner.layout().insertWidget(0, banner_tag)
        self.tags[id(win.banner)] = banner_tag
        # the pages are inside the band and the frame; the trend plots get their own tag
        # (a floating tag on a page would cover its content)
        self.targets: list[QWidget] = [
            w
            for w in (getattr(win.trends, "plot", None), getattr(win.overview, "trend", None))
            if isinstance(w, QWidget)
        ]
        for w in self.targets:
            self.mark(w)
        win.live.sigTick.connect(self._tick)

    @property
    def active(self) -> bool:
        """True while a drill runs."""
        return self.info is not None

    def mark(self, widget: QWidget, centred: bool = False) -> CornerTag:
        """Give ``widget`` a corner tag (shown while a drill runs); faceplates call this on open."""
        tag = self.tags.get(id(widget))
        if tag is None:
            tag = CornerTag(widget, centred=centred)
            key = id(widget)
            self.tags[key] = tag
            widget.destroyed.connect(lambda _=None, k=key: self.tags.pop(k, None))
            if widget.isWindow():
                self._title(widget)
                widget.windowTitleChanged.connect(lambda _t, w=widget: self._title(w))
        tag.setVisible(self.active)
        if self.active:
            tag.place()
        return tag

    def set_drill(self, info: Any) -> None:
        """Show the marks for drill ``info`` (a DrillInfo), or hide them (None)."""
        self.info = info
        central = self.win.centralWidget()
        restyle(central, training="1" if info is not None else "0")
        frame = FRAME if info is not None else 0  # room for the yellow frame
        central.layout().setContentsMargins(frame, 0, frame, frame)
        self.band.setVisible(info is not None)
        for tag in list(self.tags.values()):
            tag.setVisible(info is not None)
            if info is not None:
                tag.place()
        self._title(self.win)
        for tag in list(self.tags.values()):
            w = tag.parentWidget()
            if w is not None and w.isWindow():
                self._title(w)
        self.retranslate()

    def _title(self, w: QWidget) -> None:
        title = w.windowTitle()
        bare = title[len(TITLE_PREFIX) :] if title.startswith(TITLE_PREFIX) else title
        want = TITLE_PREFIX + bare if self.active else bare
        if want != title:
            w.setWindowTitle(want)

    def retranslate(self, *_: Any) -> None:
        """Band text in the current language (the word itself stays bilingual)."""
        self._title(self.win)
        info = self.info
        if info is None:
            return
        elapsed = max(0, int(time.time() - info.started_at))
        self.band.setText(
            f"{WORD} — "
            + tr("simulated station, not live data")
            + " · "
            + tr("Scenario: {name}").format(name=info.scenario)
            + " · "
            + tr("Instructor: {user}").format(user=info.instructor)
            + f" · {elapsed // 60:02d}:{elapsed % 60:02d}"
        )
        for tag in self.tags.values():
            tag.setToolTip(tr("Training drill: simulated values, not live data"))

    def _tick(self, _n: int) -> None:
        if self.info is not None:
            self.retranslate()
