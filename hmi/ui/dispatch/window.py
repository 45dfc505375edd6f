"""The dispatch console's main window: overview, alarms, station page, network view.

A 500 ms timer pulls the fleet model (skipped while its version is unchanged) — the GUI
never runs on the MQTT thread. Commands go through :class:`~hmi.core.fleet.DispatchHost`,
which checks the logged-in role and audits.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from hmi.core.fleet import DispatchHost
from hmi.core.fleet.config import DispatchConfig
from hmi.core.users import Console, Role
from hmi.ui.dispatch.alarm_list import FleetAlarmList
from hmi.ui.dispatch.network import NetworkView
from hmi.ui.dispatch.overview import FleetOverview
from hmi.ui.dispatch.station_page import StationPage
from hmi.ui.i18n import i18n, tr
from hmi.ui.login import LoginDialog
from hmi.ui.theme import restyle

log = logging.getLogger(__name__)


class DispatchWindow(QMainWindow):
    """Every station on one screen."""

    def __init__(self, host: DispatchHost, console: Console, cfg: DispatchConfig) -> None:
        super().__init__()
        self.setObjectName("dispatchWindow")
        self.host, self.console, self.cfg = host, console, cfg
        central = QWidget(self)
        lay = QVBoxLayout(central)
        head = QHBoxLayout()
        self.title = QLabel(self)
        self.title.setProperty("role", "title")
        self.link = QLabel(self)
        self.link.setObjectName("brokerState")
        self.link.setProperty("role", "chip")
        self.user = QPushButton(self)
        self.user.setObjectName("userButton")
        self.lang = QPushButton(self)
        self.lang.setObjectName("languageButton")
        head.addWidget(self.title, 1)
        head.addWidget(self.link)
        head.addWidget(self.lang)
        head.addWidget(self.user)
        lay.addLayout(head)
        self.tabs = QTabWidget(self)
        self.overview = FleetOverview(self)
        self.alarms = FleetAlarmList(self)
        self.station = StationPage(self)
        self.network = NetworkView(cfg, self)
        for w in (self.overview, self.alarms, self.station, self.network):
            self.tabs.addTab(w, "")
        lay.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.overview.sigOpen.connect(self.open_station)
        self.network.sigOpen.connect(self.open_station)
        self.alarms.sigAcknowledge.connect(self.acknowledge)
        self.station.sigRebirth.connect(self.rebirth)
        self.station.sigWrite.connect(self.write)
        self.user.clicked.connect(self._user_clicked)
        self.lang.clicked.connect(lambda: i18n().set_language("en" if i18n().is_zh else "zh_CN"))
        i18n().sigLanguageChanged.connect(self._language_changed)
        self._version = -1
        self.timer = QTimer(self)
        self.timer.setInterval(500)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.retranslate()

    def _language_changed(self, _lang: str) -> None:
        self.retranslate()

    def retranslate(self) -> None:
        """Texts in the current language."""
        self.setWindowTitle(tr("gas-hmi dispatch"))
        self.title.setText(tr("Dispatch centre — all stations"))
        for i, text in enumerate(
            (tr("Fleet overview"), tr("Alarms"), tr("Station page"), tr("Network"))
        ):
            self.tabs.setTabText(i, text)
        self.lang.setText("English" if i18n().is_zh else "中文")
        self.alarms.retranslate()
        self.station.retranslate()
        self._version = -1
        self.refresh()

    # ------------------------------------------------------------------ refresh
    def refresh(self) -> None:
        """Pull the model when it changed."""
        self.console.check_idle()
        s = self.console.session
        self.user.setText(s.display_name if s.logged_in else tr("Log in"))
        role = s.effective_role()
        connected = self.host.connected
        self.link.setText(tr("broker connected") if connected else tr("broker lost"))
        restyle(self.link, state="ok" if connected else "bad")
        model = self.host.model
        if model.version == self._version:
            self.station.set_permissions(role >= Role.ENGINEER, role >= Role.OPERATOR)
            return
        self._version = model.version
        lang = i18n().lang  # names from the dispatch config, in the screen's language
        summaries = [
            replace(s, name=self.cfg.display_name(s.station_id, lang, s.name))
            for s in model.summaries()
        ]
        self.overview.refresh(summaries)
        self.network.refresh(summaries)
        ids = sorted(s.station_id for s in summaries)
        alarms = model.active_alarms()
        # from the births of the alarms' tags: state texts (a discrete alarm reads "Fault")
        # and display precision (a count reads 2, not 2.000)
        states: dict[tuple[str, str], dict[int, tuple[str, str]]] = {}
        digits: dict[tuple[str, str], int] = {}
        with model.lock:
            for a in alarms:
                st = model.stations.get(a.station)
                m = st.metrics.get(a.tag) if st is not None else None
                if m is None:
                    continue
                if m.states:
                    states[(a.station, a.tag)] = m.states
                if m.precision is not None:
                    digits[(a.station, a.tag)] = m.precision
        self.alarms.refresh(alarms, ids, model.ack_requests(), states, digits)
        self.station.set_stations(ids)
        sid = self.station.station_id
        with model.lock:
            st = model.stations.get(sid)
            metrics = [m for m in st.tag_metrics()] if st else []
            metrics = [replace(m) for m in metrics]
            info = (
                f"{self.cfg.display_name(sid, lang, st.name)}  {tr('version')} {st.version or '—'}  {tr('config')} "
                f"{st.config_hash or '—'}  bdSeq {st.bdseq}"
                if st
                else ""
            )
        self.station.refresh(metrics, info)
        self.station.show_writes(model.write_requests(sid) if sid else [])
        self.station.set_permissions(role >= Role.ENGINEER, role >= Role.OPERATOR)

    def open_station(self, station_id: str) -> None:
        """Drill down into one station."""
        self.station.show_station(station_id)
        self.tabs.setCurrentWidget(self.station)
        self._version = -1
        self.refresh()

    # ------------------------------------------------------------------ commands
    def _refused(self, exc: Exception) -> None:
        QMessageBox.warning(self, tr("Not allowed"), str(exc))

    def acknowledge(self, keys: list[Any], comment: str) -> None:
        """Remote acknowledgement of the selected alarms."""
        try:
            self.host.acknowledge(self.console.session, [tuple(k) for k in keys], comment)
        except PermissionError as exc:
            self._refused(exc)

    def rebirth(self, station_id: str) -> None:
        """Rebirth request (engineers)."""
        try:
            self.host.request_rebirth(self.console.session, station_id)
        except PermissionError as exc:
            self._refused(exc)

    def write(self, station_id: str, tag: str, value: float) -> None:
        """Remote write (confirmed twice already)."""
        try:
            self.host.write(self.console.session, station_id, tag, value)
        except PermissionError as exc:
            self._refused(exc)

    def _user_clicked(self) -> None:
        if self.console.session.logged_in:
            self.console.logout()
        else:
            LoginDialog(self.console, parent=self).open()
        self.refresh()
