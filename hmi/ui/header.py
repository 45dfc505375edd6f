"""The header bar: station, display navigation, uplink and device health, user, clock."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from hmi.core.stats import RuntimeStats
from hmi.ui import fmt
from hmi.ui import theme as theme_mod
from hmi.ui.actions import role_text
from hmi.ui.i18n import N_, i18n, tr, tr_reason
from hmi.ui.live import LiveData
from hmi.ui.theme import restyle

#: (page id, English label, shortcut) in display-hierarchy order
NAV_PAGES = (
    ("overview", N_("Overview"), "F2"),
    ("pid", N_("P&ID"), "F3"),
    ("alarms", N_("Alarms"), "F4"),
    ("trends", N_("Trends"), "F5"),
    ("diagnostics", N_("Diagnostics"), "F6"),
)


def uplink_chip(stats: RuntimeStats) -> tuple[str, str, str]:
    """(text, state, tooltip) of the uplink chip from the runtime's statistics snapshot."""
    up = stats.uplink
    if not up or not up.get("enabled"):
        return tr("Uplink off"), "off", tr("Forwarding to the cloud platform is disabled")
    depth = int(up.get("outbox_depth") or 0)
    tip = f"{tr('Broker')}: {up.get('broker') or '-'}\n{tr('Queued')}: {depth}"
    if up.get("last_error"):
        tip += f"\n{tr('Last error')}: {tr_reason(str(up.get('last_error')))}"
    if up.get("connected"):
        if up.get("replaying") or depth > 100:
            return f"{tr('Uplink')}: {tr('catching up')} ({depth})", "warn", tip
        return f"{tr('Uplink')}: {tr('online')}", "ok", tip
    return f"{tr('Uplink')}: {tr('offline')} ({depth})", "warn", tip


def devices_chip(devices: list[dict[str, Any]]) -> tuple[str, str, str]:
    """(text, state, tooltip) of the device-health chip."""
    if not devices:
        return tr("Devices") + ": -", "off", ""
    up = [d for d in devices if d.get("state") == "up"]
    lines = [
        f"{d.get('device_id')}: {tr(str(d.get('state', '')))}"
        + (
            f" — {tr_reason(str(d.get('last_error')))}"
            if d.get("state") != "up" and d.get("last_error")
            else ""
        )
        for d in devices
    ]
    state = "ok" if len(up) == len(devices) else "bad"
    return f"{tr('Devices')} {len(up)}/{len(devices)}", state, "\n".join(lines)


class HeaderBar(QFrame):
    """Top bar of the main window."""

    sigNavigate = Signal(str)
    sigLanguage = Signal()
    sigTheme = Signal()
    sigUser = Signal()

    def __init__(self, live: LiveData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("header")
        self.live = live
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 0, 10, 0)
        lay.setSpacing(8)
        self.station = QLabel(self)
        self.station.setObjectName("stationName")
        self.station.setMaximumWidth(300)
        self.station.setMinimumWidth(80)
        self.station.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        lay.addWidget(self.station)
        self.nav_group = QButtonGroup(self)
        self.nav_group.setExclusive(True)
        self.nav: dict[str, QToolButton] = {}
        for page, _label, key in NAV_PAGES:
            b = QToolButton(self)
            b.setProperty("role", "nav")
            b.setCheckable(True)
            b.setObjectName(f"nav_{page}")
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.clicked.connect(lambda _=False, p=page: self.sigNavigate.emit(p))
            self.nav_group.addButton(b)
            self.nav[page] = b
            lay.addWidget(b, 0, Qt.AlignmentFlag.AlignBottom)
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(lambda p=page: self.sigNavigate.emit(p))
        lay.addStretch(1)
        self.uplink = self._chip("uplinkChip")
        self.devices = self._chip("devicesChip")
        lay.addWidget(self.uplink)
        lay.addWidget(self.devices)
        self.user = QToolButton(self)
        self.user.setObjectName("userButton")
        self.user.setProperty("role", "tool")
        self.user.clicked.connect(self.sigUser)
        lay.addWidget(self.user)
        self.lang = QToolButton(self)
        self.lang.setObjectName("langButton")
        self.lang.setProperty("role", "tool")
        self.lang.clicked.connect(self.sigLanguage)
        lay.addWidget(self.lang)
        self.theme = QToolButton(self)
        self.theme.setObjectName("themeButton")
        self.theme.setProperty("role", "tool")
        self.theme.clicked.connect(self.sigTheme)
        lay.addWidget(self.theme)
        self.clock = QLabel(self)
        self.clock.setObjectName("clock")
        self.clock.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.clock)
        self.setFixedHeight(50)
        self._last_second = -1
        self._user_name = ""
        self._session: Any = None
        live.sigTick.connect(self._tick)
        live.sigDiagnostics.connect(self._diagnostics)
        i18n().sigLanguageChanged.connect(self.retranslate)
        theme_mod.theme().sigThemeChanged.connect(self.retranslate)
        self.retranslate()
        self._tick(0)

    def _chip(self, name: str) -> QLabel:
        chip = QLabel(self)
        chip.setObjectName(name)
        chip.setProperty("role", "chip")
        chip.setProperty("state", "off")
        return chip

    def set_page(self, page: str) -> None:
        """Check the navigation button of ``page``."""
        b = self.nav.get(page)
        if b is not None:
            b.setChecked(True)

    def set_user(self, user: str) -> None:
        """Show a plain user text (older callers; :meth:`set_session` shows name and role)."""
        self._session = None
        self._user_name = user
        self.user.setText(user)
        self.user.setToolTip(f"{tr('User')}: {user}")

    def set_session(self, session: Any) -> None:
        """Show who is logged in and with which role; logged out: the viewer and 'Log in'."""
        self._session = session
        if session is None or not session.logged_in or session.expired():
            self.user.setText(tr("Log in"))
            self.user.setToolTip(
                tr(
                    "Nobody is logged in: the screens stay live, nothing can be operated. Click to log in."
                )
            )
            restyle(self.user, state="off")
            return
        self.user.setText(f"{session.user} · {role_text(session.role)}")
        tip = tr("Logged in: {user} ({role})").format(
            user=session.user, role=role_text(session.role)
        )
        if session.idle_timeout > 0:
            tip += "\n" + tr("Automatic logout after {n} min without input").format(
                n=f"{session.idle_timeout / 60:g}"
            )
        self.user.setToolTip(tip + "\n" + tr("Click: change password, log out"))
        restyle(self.user, state="ok")

    def retranslate(self, *_: Any) -> None:
        """Re-read every text in the current language."""
        name = fmt.text(self.live.cfg.station.name)
        fm = self.station.fontMetrics()
        self.station.setText(fm.elidedText(name, Qt.TextElideMode.ElideRight, 300))
        self.station.setToolTip(name)
        for page, label, key in NAV_PAGES:
            self.nav[page].setText(tr(label).replace("&", "&&"))  # '&' is not a mnemonic here
            self.nav[page].setToolTip(f"{tr(label)} ({key})")
        self.lang.setText("EN" if i18n().is_zh else "中文")
        self.lang.setToolTip(tr("Switch language"))
        dark = theme_mod.theme().name == "dark"
        self.theme.setText("☀" if dark else "☾")
        self.theme.setToolTip(tr("Light theme") if dark else tr("Dark theme"))
        if self._session is not None:
            self.set_session(self._session)
        else:
            self.set_user(self._user_name)
        self._diagnostics(self.live.devices, self.live.stats)

    def _tick(self, _n: int) -> None:
        now = time.time()
        if int(now) != self._last_second:
            self._last_second = int(now)
            lt = time.localtime(now)
            self.clock.setText(time.strftime("%H:%M:%S", lt) + "\n" + time.strftime("%Y-%m-%d", lt))
            self.clock.setToolTip(time.strftime("%Y-%m-%d %H:%M:%S %Z", lt))

    def _diagnostics(self, devices: list[dict[str, Any]], stats: RuntimeStats) -> None:
        text, state, tip = uplink_chip(stats)
        self.uplink.setText(text)
        self.uplink.setToolTip(tip)
        restyle(self.uplink, state=state)
        text, state, tip = devices_chip(devices)
        self.devices.setText(text)
        self.devices.setToolTip(tip)
        restyle(self.devices, state=state)
