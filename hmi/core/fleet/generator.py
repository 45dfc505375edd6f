"""Synthetic Sparkplug edge nodes for the fleet benchmark, the tests and the fleet demo.

:class:`EdgeNodeSim` builds the messages a station's uplink publishes — NBIRTH with the
``Properties/...`` metrics, one DBIRTH whose tag metrics carry the metadata property sets
(``engUnit``, ``engLow``/``engHigh``, ``Documentation``, ``Label/zh``, ``Area``,
``InstrumentTag``, ``Alarm/HH``...), DDATA by alias, ``Alarms/Event`` NDATA and NDEATH — as
``(topic, payload bytes)`` pairs; the caller publishes them with any MQTT client.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from hmi.core.uplink import sparkplug_b_pb2 as pb

NS = "spBv1.0"
FIRST_ALIAS = 1000

#: (name suffix, area, unit, instrument prefix, low, high, nominal, limits) of the first tags
_TEMPLATE: list[tuple[str, str, str, str, float, float, float, dict[str, float]]] = [
    ("inlet.pressure", "inlet", "MPa", "PT", 0.0, 6.0, 4.0, {"H": 4.8, "HH": 5.2, "L": 2.5}),
    (
        "outlet.pressure",
        "outlet",
        "MPa",
        "PT",
        0.0,
        1.6,
        0.4,
        {"H": 0.44, "HH": 0.46, "L": 0.34, "LL": 0.3},
    ),
    ("outlet.flow", "outlet", "Sm³/h", "FT", 0.0, 30000.0, 12000.0, {"H": 27000.0}),
    ("outlet.temperature", "outlet", "°C", "TT", -20.0, 60.0, 8.0, {"L": 0.0, "LL": -5.0}),
    ("m1.flow.std", "metering", "Sm³/h", "FT", 0.0, 15000.0, 6000.0, {}),
    ("m2.flow.std", "metering", "Sm³/h", "FT", 0.0, 15000.0, 6000.0, {}),
]


ZH_LABELS = {
    "inlet.pressure": "进站压力",
    "outlet.pressure": "出站压力",
    "outlet.flow": "出站流量",
    "outlet.temperature": "出站温度",
    "m1.flow.std": "1#计量标况流量",
    "m2.flow.std": "2#计量标况流量",
}


def _prop(ps: Any, key: str, value: Any) -> None:
    ps.keys.append(key)
    pv = ps.values.add()
    if isinstance(value, str):
        pv.type, pv.string_value = pb.String, value
    elif isinstance(value, bool):
        pv.type, pv.boolean_value = pb.Boolean, value
    elif isinstance(value, int):
        pv.type, pv.int_value = pb.Int32, value
    else:
        pv.type, pv.double_value = pb.Double, float(value)


@dataclass
class TagSpec:
    """One synthetic tag and its metadata."""

    name: str
    alias: int
    area: str
    unit: str
    instrument: str
    low: float
    high: float
    nominal: float
    limits: dict[str, float]


class EdgeNodeSim:
    """One synthetic station (edge node ``edge`` with one device ``plc``)."""

    def __init__(
        self,
        edge: str,
        n_tags: int = 200,
        group: str = "gas-stations",
        name: str = "",
        remote_write: tuple[str, ...] = (),
    ) -> None:
        self.edge, self.group, self.name = edge, group, name or edge
        self.device = "plc"
        self.remote_write = set(remote_write)  # tags whose birth says RemoteWrite = true
        self.seq = 0
        self.bdseq = 0
        self.tags: list[TagSpec] = []
        for i in range(n_tags):
            if i < len(_TEMPLATE):
                n, area, unit, ip, lo, hi, nom, lim = _TEMPLATE[i]
            else:
                n, area, unit, ip, lo, hi, nom, lim = (
                    f"aux{i:03d}.value",
                    "utilities",
                    "%",
                    "XI",
                    0.0,
                    100.0,
                    50.0,
                    {},
                )
            self.tags.append(
                TagSpec(n, FIRST_ALIAS + i, area, unit, f"{ip}-{100 + i}", lo, hi, nom, lim)
            )

    def topic(self, kind: str, device: str = "") -> str:
        """Sparkplug topic of this node."""
        t = f"{NS}/{self.group}/{kind}/{self.edge}"
        return f"{t}/{device}" if device else t

    def _payload(self, ts_ms: int, seq: bool = True) -> Any:
        p = pb.Payload()
        p.timestamp = ts_ms
        if seq:
            p.seq = self.seq
            self.seq = (self.seq + 1) % 256
        return p

    def value(self, tag: TagSpec, t: float) -> float:
        """A plausible slowly varying value."""
        span = tag.high - tag.low
        return tag.nominal + 0.01 * span * math.sin(t / 30.0 + tag.alias)

    def births(self, t: float, config_hash: str = "cafe0001") -> list[tuple[str, bytes]]:
        """NBIRTH (seq 0) and the DBIRTH with every tag and its metadata."""
        ts = int(t * 1000)
        self.seq = 0
        nb = self._payload(ts)
        m = nb.metrics.add()
        m.name, m.datatype, m.long_value = "bdSeq", pb.Int64, self.bdseq
        node: list[tuple[str, int, int, bool | str | int]] = [
            ("Node Control/Rebirth", 1, pb.Boolean, False),
            ("Alarms/Ack", 2, pb.String, ""),
            ("Commands/Reply", 3, pb.String, ""),
            ("Alarms/Event", 4, pb.String, ""),
            ("Diagnostics/Outbox Depth", 10, pb.UInt64, 0),
            ("Properties/Station Name", 20, pb.String, self.name),
            ("Properties/Software Version", 21, pb.String, "fleetgen"),
            ("Properties/Config Hash", 23, pb.String, config_hash),
        ]
        for name, alias, dt, v in node:
            m = nb.metrics.add()
            m.name, m.alias, m.datatype, m.timestamp = name, alias, dt, ts
            if dt == pb.Boolean:
                m.boolean_value = bool(v)
            elif dt == pb.String:
                m.string_value = str(v)
            else:
                m.long_value = int(v)
        db = self._payload(ts)
        for tag in self.tags:
            m = db.metrics.add()
            m.name, m.alias, m.datatype, m.timestamp = tag.name, tag.alias, pb.Double, ts
            m.double_value = self.value(tag, t)
            ps = m.properties
            _prop(ps, "Quality", 192)
            _prop(ps, "engUnit", tag.unit)
            _prop(ps, "engLow", tag.low)
            _prop(ps, "engHigh", tag.high)
            _prop(ps, "Documentation", tag.name.replace(".", " ").capitalize())
            _prop(ps, "Label/zh", ZH_LABELS.get(tag.name, f"辅助量 {tag.alias - FIRST_ALIAS:03d}"))
            _prop(ps, "Area", tag.area)
            _prop(ps, "InstrumentTag", tag.instrument)
            for key, limit in tag.limits.items():
                _prop(ps, f"Alarm/{key}", limit)
            if tag.name in self.remote_write:
                _prop(ps, "RemoteWrite", True)
        m = db.metrics.add()
        m.name, m.alias, m.datatype, m.string_value = "Device Info/State", 900, pb.String, "up"
        return [
            (self.topic("NBIRTH"), nb.SerializeToString()),
            (self.topic("DBIRTH", self.device), db.SerializeToString()),
        ]

    def data(self, t: float, values: dict[str, float] | None = None) -> tuple[str, bytes]:
        """One DDATA with every tag (by alias), or only ``values`` when given."""
        ts = int(t * 1000)
        p = self._payload(ts)
        quality = pb.Payload.PropertySet()
        _prop(quality, "Quality", 192)
        for tag in self.tags:
            if values is not None and tag.name not in values:
                continue
            m = p.metrics.add()
            m.alias, m.timestamp = tag.alias, ts
            m.double_value = values[tag.name] if values is not None else self.value(tag, t)
            m.properties.CopyFrom(quality)
        return self.topic("DDATA", self.device), p.SerializeToString()

    def alarm(self, t: float, event: dict[str, Any]) -> tuple[str, bytes]:
        """NDATA with ``Alarms/Event`` (alias 4) = the event as JSON."""
        p = self._payload(int(t * 1000))
        m = p.metrics.add()
        m.alias, m.timestamp, m.string_value = 4, int(t * 1000), json.dumps(event)
        return self.topic("NDATA"), p.SerializeToString()

    def death(self) -> tuple[str, bytes]:
        """NDEATH with this session's bdSeq."""
        p = pb.Payload()
        m = p.metrics.add()
        m.name, m.datatype, m.long_value = "bdSeq", pb.Int64, self.bdseq
        return self.topic("NDEATH"), p.SerializeToString()
