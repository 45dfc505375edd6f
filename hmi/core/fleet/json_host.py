"""JSON-mode stations: ``<prefix>/<station>/{status,meta,telemetry,alarms,cmd/reply}``.

``status`` (retained) carries ``online``, ``version`` (or ``software``), ``config_hash``
and ``outbox_depth``; ``meta`` (retained) the per-tag properties — the same keys as the
Sparkplug DBIRTH property sets (``engUnit``, ``engLow``, ``engHigh``, ``Documentation``,
``Label/zh``, ``Area``, ``InstrumentTag``, ``Alarm/HH``, ``RemoteWrite``...), as
``{"tags": {name: {...}}}`` or ``{"tags": [{"tag": name, ...}]}``; a document larger than
the station's payload cap comes in parts (``meta``, ``meta/2`` ..., each with ``part`` and
``parts``). Remote acks go to ``cmd/ack``, remote writes to ``cmd/write``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from hmi.core.fleet.model import FleetModel
from hmi.core.fleet.station import LIMIT_KEYS, Metric, Station, precision_of, states_of

log = logging.getLogger(__name__)


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


class JsonHost:
    """Decodes JSON-mode station messages into the fleet model."""

    def __init__(self, model: FleetModel, prefix: str = "gas") -> None:
        self.model = model
        self.prefix = prefix.strip("/")

    def subscriptions(self) -> list[str]:
        """The up topics of every station under the prefix."""
        p = self.prefix
        # meta/# also matches meta itself: part 1 at meta, part k at meta/k
        return [f"{p}/+/{t}" for t in ("status", "meta/#", "telemetry", "alarms")] + [
            f"{p}/+/cmd/reply"
        ]

    def ack_topic(self, station_id: str) -> str:
        """Where a remote acknowledgement for ``station_id`` goes."""
        return f"{self.prefix}/{station_id}/cmd/ack"

    def write_topic(self, station_id: str) -> str:
        """Where a remote write for ``station_id`` goes."""
        return f"{self.prefix}/{station_id}/cmd/write"

    def handle(self, topic: str, payload: bytes, now: float) -> None:
        """One inbound message (a bad one is logged and dropped)."""
        parts = topic.split("/")
        if len(parts) < 3 or parts[0] != self.prefix:
            return
        sid, kind = parts[1], "/".join(parts[2:])
        if not payload:
            return  # a cleared retained message
        try:
            body = json.loads(payload)
        except ValueError:
            log.warning("dropping a %s message of %s that is not JSON", kind, sid)
            return
        if not isinstance(body, dict):
            return
        model = self.model
        with model.lock:
            st = model.station(sid)
            st.mode = "json"
            model.messages += 1
            if kind == "status":
                self._status(st, body, now)
                return
            st.last_seen = now
            ts = body.get("sent_ts")
            if isinstance(ts, int | float):
                model.delays.append(now - float(ts))
            if kind == "meta" or kind.startswith("meta/"):
                self._meta(st, body)
            elif kind == "telemetry":
                self._telemetry(st, body)
            elif kind == "alarms":
                model.on_alarm_event(sid, body)
            elif kind == "cmd/reply":
                model.on_reply(sid, body)

    def _status(self, st: Station, body: dict[str, Any], now: float) -> None:
        online = bool(body.get("online", body.get("state") == "online"))
        st.version = str(body.get("version") or body.get("software") or st.version)
        st.config_hash = str(body.get("config_hash") or st.config_hash)
        depth = body.get("outbox_depth")
        if isinstance(depth, int):
            st.metrics["Diagnostics/Outbox Depth"] = Metric("Diagnostics/Outbox Depth", value=depth)
        if online:
            st.last_seen = now
        self.model.set_online(st, online, "" if online else "status offline")

    def _meta(self, st: Station, body: dict[str, Any]) -> None:
        """One part of the meta document: its tags' metadata apply as they come (each tag
        is in one part); the parts of one config hash are counted to tell when it is whole."""
        part, parts = body.get("part", 1), body.get("parts", 1)
        digest = str(body.get("config_hash") or "")
        if digest != st.meta_hash or not isinstance(parts, int) or parts != st.meta_total:
            st.meta_parts = set()
        st.meta_hash = digest
        st.config_hash = digest or st.config_hash
        st.meta_total = parts if isinstance(parts, int) else 1
        if isinstance(part, int):
            st.meta_parts.add(part)
        tags = body.get("tags", {})
        items = (
            tags.items()
            if isinstance(tags, dict)
            else ((t.get("tag") or t.get("name"), t) for t in tags if isinstance(t, dict))
        )
        for name, props in items:
            if not isinstance(name, str) or not isinstance(props, dict):
                continue
            m = st.metrics.get(name) or Metric(name, device=str(props.get("device", "")) or "-")
            m.unit = str(props.get("engUnit", m.unit))
            m.low, m.high = _float(props.get("engLow")), _float(props.get("engHigh"))
            m.label_en = str(props.get("Documentation", m.label_en))
            m.label_zh = str(props.get("Label/zh", m.label_zh))
            m.area = str(props.get("Area", m.area))
            m.instrument = str(props.get("InstrumentTag", m.instrument))
            m.limits = {k[6:]: f for k in LIMIT_KEYS if (f := _float(props.get(k))) is not None}
            m.remote_write = props.get("RemoteWrite") is True
            m.precision = precision_of(props.get("formatString"))
            m.states = states_of(props)
            st.metrics[name] = m
        self.model.touched()

    def _telemetry(self, st: Station, body: dict[str, Any]) -> None:
        device = str(body.get("device", "")) or "-"
        st.devices_online.setdefault(device, True)
        for v in body.get("values", []):
            if not isinstance(v, dict) or not isinstance(v.get("tag"), str):
                continue
            m = st.metrics.get(v["tag"])
            if m is None:
                m = st.metrics[v["tag"]] = Metric(v["tag"], device=device)
            m.device = device
            m.value = v.get("value")
            m.quality = int(v.get("quality", 192))
            m.ts = float(v.get("ts") or 0.0)
        self.model.touched()
