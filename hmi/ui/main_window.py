"""The operator's main window: header, alarm banner, pages of the display hierarchy, faceplates."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QStackedWidget,
    QStatusBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from hmi.core.ports import Station
from hmi.ui import theme as theme_mod
from hmi.ui.actions import Actions
from hmi.ui.banner import AlarmBanner
from hmi.ui.faceplates.faceplate import Faceplate
from hmi.ui.header import HeaderBar
from hmi.ui.horn import Horn
from hmi.ui.i18n import N_, i18n, tr
from hmi.ui.live import LiveData
from hmi.ui.pages.alarms import AlarmsPage
from hmi.ui.pages.diagnostics import DiagnosticsPage
from hmi.ui.pages.forecast import ForecastPage
from hmi.ui.pages.overview import OverviewPage
from hmi.ui.pages.pid import PidPage
from hmi.ui.pages.report import ReportPage
from hmi.ui.pages.trends import TrendsPage

log = logging.getLogger(__name__)
#: analytics pages after the header's own (page id, English label, shortcut)
ANALYTICS_PAGES = (("forecast", N_("Forecast"), "F7"), ("report", N_("Daily report"), "F8"))


class MainWindow(QMainWindow):
    """Everything the operator sees."""

    actions: Actions  # type: ignore[assignment]  # shadows QWidget.actions(), unused here

    def __init__(
        self, runtime: Station, console: Any = None, period_ms: int = 250, horn: bool = True
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.runtime = runtime
        self.live = LiveData(runtime, period_ms, self)
        self.actions = Actions(runtime, console)  # console None: logged out, on runtime.users
        self.horn = Horn(self, enabled=horn)
        self.faceplates: dict[str, Faceplate] = {}
        #: the training mode (hmi.ui.training.install_training), None when not installed
        self.training: Any = None
        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.header = HeaderBar(self.live, central)
        self.banner = AlarmBanner(self.live, self.actions, central)
        self.pages = QStackedWidget(central)
        self.pages.setObjectName("pages")
        lay.addWidget(self.header)
        lay.addWidget(self.banner)
        lay.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.overview = OverviewPage(self.live, self.pages)
        self.pid = PidPage(self.live, self.pages)
        self.alarms = AlarmsPage(self.live, self.actions, self.pages)
        self.trends = TrendsPage(self.live, self.pages)
        self.diagnostics = DiagnosticsPage(self.live, self.pages)
        self.forecast = ForecastPage(self.live, self.pages)
        self.report = ReportPage(self.live, self.pages)
        self.page_ids = {
            "overview": self.overview,
            "pid": self.pid,
            "alarms": self.alarms,
            "trends": self.trends,
            "diagnostics": self.diagnostics,
            "forecast": self.forecast,
            "report": self.report,
        }
        for page_id, _label, key in ANALYTICS_PAGES:
            self._add_nav(page_id, key)
        for page in self.page_ids.values():
            self.pages.addWidget(page)
        self.status = QStatusBar(self)
        self.status.setObjectName("statusBar")
        self.status_label = QLabel(self.status)
        self.status.addWidget(self.status_label, 1)
        self.setStatusBar(self.status)
        # wiring
        self.header.sigNavigate.connect(self.navigate)
        self.header.sigLanguage.connect(self.toggle_language)
        self.header.sigTheme.connect(self.toggle_theme)
        self.header.set_session(self.actions.session)  # hmi.ui.login.Login keeps it current
        self.actions.sigMessage.connect(self.show_message)
        for page in (self.overview, self.pid, self.alarms):
            page.sigOpenFaceplate.connect(self.open_faceplate)
        self.banner.sigOpenFaceplate.connect(self.open_faceplate)
        self.banner.sigShowAlarms.connect(lambda: self.navigate("alarms"))
        self.overview.sigNavigate.connect(self.navigate)
        self.overview.sigShowAlarms.connect(lambda: self.navigate("alarms"))
        self.overview.sigShowDiagnostics.connect(lambda: self.navigate("diagnostics"))
        self.overview.sigShowForecast.connect(lambda: self.navigate("forecast"))
        self.pid.sigNavigate.connect(self.navigate)
        self.live.sigAnnunciation.connect(self.horn.on_annunciation)
        i18n().sigLanguageChanged.connect(self.retranslate)
        self.retranslate()
        self.navigate("overview")
        self.resize(1920, 1080)

    # ------------------------------------------------------------------ navigation
    def _add_nav(self, page: str, key: str) -> None:
        """A header navigation button (after the last one) and a shortcut for an analytics page."""
        hdr = self.header
        hl = hdr.layout()
        if page in hdr.nav or hl is None:
            return
        b = QToolButton(hdr)
        b.setProperty("role", "nav")
        b.setCheckable(True)
        b.setObjectName(f"nav_{page}")
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        b.clicked.connect(lambda _=False, p=page: self.navigate(p))
        hdr.nav_group.addButton(b)
        last = list(hdr.nav.values())[-1]
        hl.insertWidget(hl.indexOf(last) + 1, b, 0, Qt.AlignmentFlag.AlignBottom)  # type: ignore[attr-defined]
        hdr.nav[page] = b
        QShortcut(QKeySequence(key), self).activated.connect(lambda p=page: self.navigate(p))

    def navigate(self, target: str) -> None:
        """Show a page ('overview', 'pid', 'alarms', 'trends', 'diagnostics', 'forecast', 'report') or a screen id."""
        page = self.page_ids.get(target)
        if page is None:
            if self.pid.show_screen(target):
                target, page = "pid", self.pid
            elif target in {s.id for s in self.live.cfg.screens if s.level == 1}:
                target, page = "overview", self.overview
            else:
                log.warning("no page or screen %r", target)
                return
        self.pages.setCurrentWidget(page)
        self.header.set_page(target)
        self.current_page = target

    def open_faceplate(self, tag: str) -> Faceplate | None:
        """Open (or raise) the faceplate of ``tag``."""
        fp = self.faceplates.get(tag)
        if fp is None:
            cfg_tag = self.live.cfg.tag_map().get(tag)
            if cfg_tag is None:
                self.show_message(tr("Unknown tag") + f": {tag}", False)
                return None
            fp = Faceplate(cfg_tag, self.live, self.actions, self)
            fp.finished.connect(lambda _r, t=tag: self.faceplates.pop(t, None))
            self.faceplates[tag] = fp
            if self.training is not None:
                self.training.faceplate_opened(fp)
        fp.show()
        fp.raise_()
        fp.activateWindow()
        return fp

    # ------------------------------------------------------------------ settings
    def toggle_language(self) -> None:
        """zh_CN <-> en."""
        i18n().set_language("en" if i18n().is_zh else "zh_CN")

    def toggle_theme(self) -> None:
        """light <-> dark."""
        tm = theme_mod.theme()
        tm.set_theme("light" if tm.name == "dark" else "dark")
        for w in [self.overview.trend, getattr(self.trends, "plot", None)] + [
            f.trend for f in self.faceplates.values()
        ]:
            if w is not None:
                w.apply_theme()

    def retranslate(self, *_: Any) -> None:
        """Window title."""
        name = self.live.cfg.station.name.get(i18n().lang)
        self.setWindowTitle(f"{name} — {tr('gas-hmi operator station')}")
        for page_id, label, key in ANALYTICS_PAGES:
            b = self.header.nav.get(page_id)
            if b is not None:
                b.setText(tr(label))
                b.setToolTip(f"{tr(label)} ({key})")

    def show_message(self, text: str, ok: bool = True) -> None:
        """Status line (errors stay longer)."""
        self.status_label.setText(text)
        self.status_label.setProperty("role", "state")
        self.status_label.setProperty("state", "ok" if ok else "bad")
        self.status_label.style().unpolish(self.status_label)
        self.status_label.style().polish(self.status_label)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the refresh timer."""
        self.live.start()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Stop refreshing and close faceplates."""
        self.live.stop()
        self.horn.set_state(False)
        if self.training is not None:
            self.training.close()
        for fp in list(self.faceplates.values()):
            fp.close()
        super().closeEvent(event)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Escape returns to the overview."""
        if event.key() == Qt.Key.Key_Escape:
            self.navigate("overview")
            return
        super().keyPressEvent(event)
