"""Level-2 page: the station's mimic screens (one tab per screen when there are several)."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QTabBar, QVBoxLayout, QWidget

from hmi.config.loader import screens_root
from hmi.config.schema import ScreenRef, StationConfig
from hmi.ui import fmt
from hmi.ui.i18n import i18n, tr
from hmi.ui.live import LiveData
from hmi.ui.mimic.screen import ScreenError, load_screen
from hmi.ui.mimic.view import MimicView

log = logging.getLogger(__name__)


def screen_refs(cfg: StationConfig, level: int | None = None) -> list[ScreenRef]:
    """The station's screens (all, or of one display level)."""
    return [s for s in cfg.screens if level is None or s.level == level]


def make_view(
    cfg: StationConfig, ref: ScreenRef, live: LiveData, parent: QWidget | None = None
) -> QWidget:
    """A MimicView for ``ref``, or a label listing why it cannot be shown."""
    folder = screens_root(cfg)
    ids = {s.id for s in cfg.screens}
    if folder is None:
        return _error_label([tr("No screens folder found")], parent)
    try:
        screen = load_screen(folder, ref.source, cfg, ids)
    except ScreenError as exc:
        for p in exc.problems:
            log.error("screen %s: %s", ref.id, p)
        return _error_label(exc.problems, parent)
    return MimicView(screen, live, parent)


def _error_label(problems: list[str], parent: QWidget | None) -> QLabel:
    label = QLabel(tr("This screen cannot be shown:") + "\n\n" + "\n".join(problems), parent)
    label.setObjectName("screenError")
    label.setWordWrap(True)
    label.setProperty("quality", "bad")
    return label


class PidPage(QWidget):
    """Tabs of level-2 (and deeper) screens."""

    sigOpenFaceplate = Signal(str)
    sigNavigate = Signal(str)

    def __init__(self, live: LiveData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "page")
        self.live = live
        self.refs = [s for s in live.cfg.screens if s.level >= 2]
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.tabs = QTabBar(self)
        self.tabs.setObjectName("screenTabs")
        self.stack = QStackedWidget(self)
        self.views: dict[str, QWidget] = {}
        for ref in self.refs:
            view = make_view(live.cfg, ref, live, self)
            if isinstance(view, MimicView):
                view.sigOpenFaceplate.connect(self.sigOpenFaceplate)
                view.sigNavigate.connect(self.sigNavigate)
            self.views[ref.id] = view
            self.stack.addWidget(view)
            self.tabs.addTab(ref.id)
        if not self.refs:
            self.stack.addWidget(
                _error_label([tr("The station config lists no level-2 screens")], self)
            )
        self.tabs.setVisible(len(self.refs) > 1)
        self.tabs.currentChanged.connect(self.stack.setCurrentIndex)
        lay.addWidget(self.tabs)
        lay.addWidget(self.stack, 1)
        i18n().sigLanguageChanged.connect(self.retranslate)
        self.retranslate()

    def retranslate(self, *_: Any) -> None:
        """Tab titles in the current language."""
        for i, ref in enumerate(self.refs):
            self.tabs.setTabText(i, fmt.text(ref.title) or ref.id)

    def show_screen(self, screen_id: str) -> bool:
        """Bring a screen to front; False when this page does not have it."""
        for i, ref in enumerate(self.refs):
            if ref.id == screen_id:
                self.tabs.setCurrentIndex(i)
                self.stack.setCurrentIndex(i)
                return True
        return False

    def current_view(self) -> QWidget | None:
        """The visible screen widget."""
        return self.stack.currentWidget()
