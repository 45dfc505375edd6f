"""The ``system`` device: the station's own health as ordinary tags.

A device with ``protocol: system`` is not a piece of field equipment: the runtime reads
its tags from itself (host load, disk, clock, device availability, historian and
uplink queues) and from the analytics service (early-warning figures, the send-out
forecast). Its tags are historized, alarmed and sent upstream like any other tag.

This module holds the address grammar so that the loader can check addresses when the
config loads (``hmi.config`` never imports ``hmi.core``); the driver lives in
:mod:`hmi.core.system_tags`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hmi.config.schema import StationConfig

#: fixed addresses -> (unit, description)
FIXED: dict[str, tuple[str, str]] = {
    "host.cpu": ("%", "CPU load of the station computer"),
    "host.memory": ("%", "memory in use"),
    "host.disk_free": ("%", "free space on the data directory's disk"),
    "host.disk_free_mb": ("MB", "free space on the data directory's disk"),
    "host.clock_offset": ("s", "clock offset against the configured NTP server"),
    "host.uptime": ("h", "time since the computer started"),
    "runtime.uptime": ("h", "time since the runtime started"),
    "runtime.scan_overruns": ("", "poll cycles that overran their period (all devices)"),
    "historian.queue": ("", "samples waiting to be written"),
    "historian.size_mb": ("MB", "size of the history database"),
    "historian.dropped": ("", "samples dropped because the database could not be written"),
    "uplink.connected": ("", "1 while connected to the MQTT broker"),
    "uplink.outbox_depth": ("", "messages waiting in the outbox"),
    "uplink.outbox_oldest_age": ("s", "age of the oldest message in the outbox"),
    "uplink.dropped": ("", "messages dropped because the outbox was full"),
    "alarms.active": ("", "active alarms"),
    "alarms.unacked": ("", "unacknowledged alarms"),
    "forecast.next_hour": ("Sm³", "forecast station send-out over the next hour"),
    "forecast.next_24h": ("Sm³", "forecast station send-out over the next 24 h"),
    "forecast.mape": ("%", "day-ahead forecast error (MAPE) over the last 7 days"),
    "forecast.baseline_mape": ("%", "day-ahead error of the seasonal-naive baseline"),
}

#: per-device figures: device.<id>.<field>
DEVICE_FIELDS: dict[str, tuple[str, str]] = {
    "availability": ("%", "share of the last 24 h the device answered every poll"),
    "rtt": ("ms", "average request round trip"),
    "up": ("", "1 while the device answers"),
}

_DEVICE = re.compile(r"^device\.(?P<id>[A-Za-z][A-Za-z0-9_\-]*)\.(?P<field>[a-z_]+)$")
_WARNING = re.compile(r"^warning\.(?P<id>[A-Za-z][A-Za-z0-9_\-]*)$")


@dataclass(frozen=True, slots=True)
class SystemAddress:
    """A parsed system address: ``kind`` is "fixed", "device" or "warning"."""

    text: str
    kind: str
    ref: str = ""  # device id or warning id
    field: str = ""  # device field


def parse_address(text: str) -> SystemAddress:
    """Parse a system-tag address; ValueError naming the valid forms otherwise."""
    text = str(text).strip()
    if text in FIXED:
        return SystemAddress(text, "fixed")
    m = _DEVICE.match(text)
    if m:
        if m.group("field") not in DEVICE_FIELDS:
            raise ValueError(
                f"system address {text!r}: unknown device field {m.group('field')!r} "
                f"(use one of: {', '.join(DEVICE_FIELDS)})"
            )
        return SystemAddress(text, "device", m.group("id"), m.group("field"))
    m = _WARNING.match(text)
    if m:
        return SystemAddress(text, "warning", m.group("id"))
    raise ValueError(
        f"unknown system address {text!r} (use one of {', '.join(sorted(FIXED))}, "
        f"device.<id>.{{{','.join(DEVICE_FIELDS)}}} or warning.<detector id>)"
    )


def address_problem(cfg: StationConfig, device_id: str, text: str) -> str | None:
    """Why a system address cannot work in this station (None when it can)."""
    try:
        a = parse_address(text)
    except ValueError as exc:
        return str(exc)
    if a.kind == "device":
        known = [d.id for d in cfg.devices if d.protocol != "system"]
        if a.ref not in known:
            return f"{text}: unknown device {a.ref!r} (have: {', '.join(known) or 'none'})"
    elif a.kind == "warning":
        ids = [w.id for w in cfg.analytics.warnings]
        if a.ref not in ids:
            return f"{text}: no early-warning detector {a.ref!r} in analytics.warnings (have: {', '.join(ids) or 'none'})"
    elif a.text == "host.clock_offset":
        dev = cfg.device(device_id)
        if not getattr(dev, "ntp_server", ""):
            return "host.clock_offset needs the system device's ntp_server (a reference clock)"
    elif a.text.startswith("forecast.") and cfg.analytics.forecast is None:
        return f"{text} needs an analytics.forecast section"
    return None
