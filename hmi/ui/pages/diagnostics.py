"""Level-4 diagnostics: every device's link state and counters; runtime, historian, uplink, GUI."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.core.stats import RuntimeStats
from hmi.ui import fmt
from hmi.ui import theme as theme_mod
from hmi.ui.i18n import N_, i18n, tr, tr_reason
from hmi.ui.live import LiveData

DEVICE_COLS = (
    ("device_id", N_("Device")),
    ("protocol", N_("Protocol")),
    ("endpoint", N_("Endpoint")),
    ("state", N_("State")),
    ("state_since", N_("Since")),
    ("rtt_last_ms", N_("RTT ms")),
    ("rtt_avg_ms", N_("RTT avg ms")),
    ("requests", N_("Requests")),
    ("errors", N_("Errors")),
    ("timeouts", N_("Timeouts")),
    ("consecutive_failures", N_("Failures in a row")),
    ("reconnects", N_("Reconnects")),
    ("scan_overruns", N_("Scan overruns")),
    ("last_error", N_("Last error")),
)


#: protocol ids of the config as their standards spell them
PROTOCOL_TEXT = {
    "modbus_tcp": "Modbus TCP",
    "modbus_rtu": "Modbus RTU",
    "modbus_rtu_over_tcp": "Modbus RTU over TCP",
    "opcua": "OPC UA",
    "s7": "S7",
    "iec104": "IEC 104",
    "calc": N_("calculated"),
    "system": N_("HMI system"),
}


def _cell(key: str, d: dict[str, Any], labels: dict[str, str] | None = None) -> str:
    v = d.get(key)
    if key == "device_id" and labels and labels.get(str(v)):
        return labels[str(v)]  # the device as the station names it; the id in the tooltip
    if key == "protocol" and str(v) in PROTOCOL_TEXT:
        return tr(PROTOCOL_TEXT[str(v)])
    if key in ("state_since", "last_error_ts"):
        return fmt.clock(float(v or 0), date=False)
    if key == "state":
        return tr(str(v))
    if key == "last_error":
        when = fmt.clock(float(d.get("last_error_ts") or 0), date=False)
        return f"{when}  {tr_reason(str(v))}" if v else ""
    if isinstance(v, float):
        return f"{v:.1f}"
    return "" if v is None else str(v)


class DiagnosticsPage(QWidget):
    """Devices table plus runtime/historian/uplink/alarm/GUI figures."""

    def __init__(self, live: LiveData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "page")
        self.live = live
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        self.dev_box = QGroupBox(self)
        dl = QVBoxLayout(self.dev_box)
        self.table = QTableWidget(0, len(DEVICE_COLS), self)
        self.table.setObjectName("deviceTable")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        dl.addWidget(self.table)
        lay.addWidget(self.dev_box, 3)
        row = QHBoxLayout()
        self.boxes: dict[str, tuple[QGroupBox, QFormLayout]] = {}
        for key in ("runtime", "historian", "uplink", "alarms", "gui"):
            box = QGroupBox(self)
            form = QFormLayout(box)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            self.boxes[key] = (box, form)
            row.addWidget(box, 1)
        lay.addLayout(row, 2)
        self.fields: dict[tuple[str, str], QLabel] = {}
        live.sigDiagnostics.connect(self.on_diagnostics)
        i18n().sigLanguageChanged.connect(self.retranslate)
        self.retranslate()

    def retranslate(self, *_: Any) -> None:
        """Texts."""
        self.dev_box.setTitle(tr("Devices"))
        self.table.setHorizontalHeaderLabels([tr(t) for _k, t in DEVICE_COLS])
        titles = {
            "runtime": N_("Runtime"),
            "historian": N_("Historian"),
            "uplink": N_("Uplink"),
            "alarms": N_("Alarm system"),
            "gui": N_("Operator display"),
        }
        for key, (box, form) in self.boxes.items():
            box.setTitle(tr(titles[key]))
            while form.rowCount():
                form.removeRow(0)
        self.fields.clear()
        self.on_diagnostics(self.live.devices, self.live.stats)

    def _set(self, box: str, label: str, text: str, bad: bool = False) -> None:
        key = (box, label)
        w = self.fields.get(key)
        if w is None:
            w = QLabel(self)
            w.setProperty("role", "state")
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.boxes[box][1].addRow(tr(label) + ":", w)
            self.fields[key] = w
        w.setText(text)
        w.setProperty("state", "bad" if bad else "")
        w.style().unpolish(w)
        w.style().polish(w)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        """Fresh figures when the page is shown."""
        super().showEvent(event)
        self.on_diagnostics(self.live.devices, self.live.stats)

    def on_diagnostics(self, devices: list[dict[str, Any]], stats: RuntimeStats) -> None:
        """Refresh every figure (only while the page is shown)."""
        if not self.isVisible() and self.fields:
            return
        c = theme_mod.colors()
        labels = {dev.id: dev.label.get(i18n().lang) for dev in self.live.cfg.devices}
        self.table.setRowCount(len(devices))
        for r, d in enumerate(devices):
            bad = d.get("state") != "up"
            for col, (key, _t) in enumerate(DEVICE_COLS):
                item = self.table.item(r, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(r, col, item)
                item.setText(_cell(key, d, labels))
                if key == "device_id":
                    item.setToolTip(str(d.get("device_id", "")))
                if key in ("state", "last_error"):
                    item.setForeground(QBrush(c.color("bad") if bad else c.color("text")))
                    f = item.font()
                    f.setBold(bad)
                    item.setFont(f)
        # fit the columns again when a state or an error text changes (not on every refresh)
        shape = tuple((d.get("state"), d.get("last_error")) for d in devices)
        if devices and shape != getattr(self, "_sized", None):
            self.table.resizeColumnsToContents()
            self._sized = shape
        self._runtime(stats)

    def _runtime(self, s: RuntimeStats) -> None:
        known = bool(s.ts)  # False before the first snapshot
        up = s.uptime_s
        self._set("runtime", N_("Uptime"), fmt.duration(up) if up else "-")
        self._set("runtime", N_("Batches"), str(s.batches) if known else "-")
        self._set("runtime", N_("Samples"), str(s.samples) if known else "-")
        self._set(
            "runtime",
            N_("Scan overruns"),
            str(s.scan_overruns) if known else "-",
            bool(s.scan_overruns),
        )
        self._set(
            "runtime",
            N_("Housekeeping overruns"),
            str(s.housekeeping_overruns) if known else "-",
        )
        disk = s.disk
        if disk is not None:
            pct = 100.0 * disk.used / max(disk.total, 1)
            self._set(
                "runtime",
                N_("Disk used"),
                f"{pct:.0f} %  ({tr('free')} {fmt.bytes_text(disk.free)})",
                pct > 90,
            )
        elif "disk" in s.errors:
            self._set("runtime", N_("Disk used"), s.errors["disk"], True)
        self._historian(s)
        self._uplink(s)
        self._alarms(s)
        self._set("gui", N_("Refresh period"), f"{self.live.period_ms} ms")
        self._set("gui", N_("Last pull"), f"{self.live.last_pull_ms:.1f} ms")
        self._set("gui", N_("Tags"), str(self.live.tags.n))
        self._set("gui", N_("Updated"), time.strftime("%H:%M:%S"))

    def _historian(self, s: RuntimeStats) -> None:
        h = s.historian
        self._set("historian", N_("Queue"), str(h.get("queue_depth", "-")), bool(h.get("failing")))
        self._set("historian", N_("Rows written"), str(h.get("rows", h.get("rows_written", "-"))))
        self._set(
            "historian",
            N_("Database size"),
            fmt.bytes_text(float(h.get("db_bytes") or 0)) if h else "-",
        )
        self._set(
            "historian", N_("Dropped samples"), str(h.get("dropped", "-")), bool(h.get("dropped"))
        )
        last = h.get("last_flush_ts") or h.get("last_flush")
        self._set(
            "historian",
            N_("Last flush"),
            fmt.clock(float(last), date=False) if isinstance(last, int | float) and last else "-",
        )
        if h.get("last_error"):
            self._set("historian", N_("Last error"), tr_reason(str(h.get("last_error"))), True)

    def _uplink(self, s: RuntimeStats) -> None:
        u = s.uplink
        if not u.get("enabled"):
            self._set("uplink", N_("State"), tr("disabled"))
        else:
            self._set(
                "uplink",
                N_("State"),
                tr(str(u.get("state") or ("online" if u.get("connected") else "offline"))),
                not u.get("connected"),
            )
            self._set("uplink", N_("Broker"), str(u.get("broker") or "-"))
            self._set("uplink", N_("Mode"), str(u.get("mode") or "-"))
            self._set("uplink", N_("Queued"), str(u.get("outbox_depth", 0)))
            age = u.get("oldest_age")
            self._set("uplink", N_("Oldest queued"), fmt.duration(age) if age else "-")
            self._set(
                "uplink", N_("Sent / acknowledged"), f"{u.get('sent', 0)} / {u.get('acked', 0)}"
            )
            self._set("uplink", N_("Dropped"), str(u.get("dropped", 0)), bool(u.get("dropped")))
            if u.get("last_error"):
                self._set("uplink", N_("Last error"), tr_reason(str(u.get("last_error"))), True)

    def _alarms(self, s: RuntimeStats) -> None:
        a = s.alarms
        self._set("alarms", N_("Configured"), str(a.get("alarms", "-")))
        self._set("alarms", N_("Active"), str(a.get("active", "-")))
        self._set("alarms", N_("Unacknowledged"), str(a.get("unacked", "-")))
        self._set("alarms", N_("Shelved"), str(a.get("shelved", "-")))
        self._set("alarms", N_("Suppressed"), str(a.get("suppressed", "-")))
        j = a.get("journal") or {}
        if j:
            self._set(
                "alarms", N_("Journal queue"), str(j.get("queue_depth", j.get("queued", "-")))
            )
