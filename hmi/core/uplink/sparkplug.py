"""Sparkplug B 3.0 edge node: births, data, death, commands (payloads: sparkplug_b.proto).

Topic namespace ``spBv1.0/<group_id>/<TYPE>/<edge_node>[/<device>]``. One Sparkplug
device per configured device, or per business route when ``uplink.routes`` is set, cut
into parts when its DBIRTH would exceed the payload cap (:mod:`hmi.core.uplink.units`);
DBIRTH metrics carry the tag metadata as properties (:mod:`hmi.core.uplink.meta`);
an aggregating route's metrics are ``<tag>/min`` ... ``<tag>/last``. Metric name = tag
name, alias = a stable integer kept in
the outbox file (so a host's alias table survives restarts). Node metrics, Sparkplug
metric naming, and the alarm and remote-acknowledgement metrics are documented in
``docs/UPLINK.md``.

Sequence numbers: NBIRTH carries seq 0; every later message of the node (DBIRTH, NDATA,
DDATA) carries the next seq, wrapping 255 -> 0. NDEATH carries none, only ``bdSeq``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import hmi
from hmi.config.schema import StationConfig, TagConfig
from hmi.core.uplink import sparkplug_b_pb2 as pb
from hmi.core.uplink.commands import Command, ack_from_json
from hmi.core.uplink.message import Message
from hmi.core.uplink.meta import config_hash, tag_properties
from hmi.core.uplink.outbox import KIND_ALARM, KIND_EVENT, KIND_REPLY, KIND_TELEMETRY, Row
from hmi.core.uplink.policy import loads, value_kind
from hmi.core.uplink.units import Unit, plan_units

log = logging.getLogger(__name__)

NAMESPACE = "spBv1.0"
INT32, INT64, UINT64, DOUBLE, BOOLEAN, STRING = (
    pb.Int32,
    pb.Int64,
    pb.UInt64,
    pb.Double,
    pb.Boolean,
    pb.String,
)
DATATYPE = {"float": DOUBLE, "int": INT64, "bool": BOOLEAN, "string": STRING}

# node metrics: fixed aliases below the persisted range (outbox.FIRST_ALIAS)
REBIRTH = "Node Control/Rebirth"
ALARM_ACK = "Alarms/Ack"
COMMAND_REPLY = "Commands/Reply"
ALARM_EVENT = "Alarms/Event"
EVENT = "Events/Event"
DIAG = {
    "outbox_depth": ("Diagnostics/Outbox Depth", UINT64),
    "oldest_age": ("Diagnostics/Outbox Oldest Age", DOUBLE),
    "dropped": ("Diagnostics/Dropped Messages", UINT64),
    "sent": ("Diagnostics/Sent Messages", UINT64),
    "broker": ("Diagnostics/Broker", STRING),
}
NODE_ALIAS = {REBIRTH: 1, ALARM_ACK: 2, COMMAND_REPLY: 3, ALARM_EVENT: 4, EVENT: 5}
NODE_ALIAS.update({name: 10 + i for i, (name, _t) in enumerate(DIAG.values())})
PROPS = {
    "Properties/Station Name": 20,
    "Properties/Software Version": 21,
    "Properties/Payload Mode": 22,
    "Properties/Config Hash": 23,
}
DEVICE_STATE, DEVICE_REASON = "Device Info/State", "Device Info/Reason"


class Sparkplug:
    """Encodes outbox rows as Sparkplug B messages and parses NCMD/DCMD/STATE."""

    mode = "sparkplug"

    def __init__(
        self, cfg: StationConfig, aliases: Callable[[Sequence[str]], dict[str, int]], qos: int = 1
    ) -> None:
        up = cfg.uplink
        self.group = up.group_id
        self.edge = up.edge_node or cfg.station.id
        self.primary_host = up.primary_host
        self.station_name = cfg.station.name.get("en")
        self.qos = qos
        self.devices = [d.id for d in cfg.devices]
        self.config_hash = config_hash(cfg)
        tags = [t for t in cfg.tags if t.uplink and t.device in self.devices]
        self.units: list[Unit] = plan_units(cfg, tags)
        self.unit_of: dict[str, Unit] = {t.name: u for u in self.units for t in u.tags}
        self.tag_type = {t.name: DATATYPE[value_kind(t)] for t in tags}
        self.tag_device = {n: u.id for n, u in self.unit_of.items()}
        self.props = {t.name: tag_properties(t, up.remote_commands) for t in tags}
        self.alarm_ids = [t.alarm_id(a) for t, a in cfg.alarms() if a.enabled]
        self.alarm_ids += [f"{d.id}.comm" for d in cfg.devices if d.comm_alarm.enabled]
        names = [
            n
            for u in self.units
            for t in u.tags
            for n in ([f"{t.name}/{st}" for st in u.stats] if u.stats else [t.name])
        ]
        names += [f"{d}/{m}" for d in self.devices for m in (DEVICE_STATE, DEVICE_REASON)]
        names += [f"Alarms/{a}/State" for a in self.alarm_ids]
        self.alias = aliases(names)
        self.alias_tag = {self.alias[n]: n for n in self.tag_type if n in self.alias}
        self.seq = 0
        self.alarm_state: dict[str, str] = {}
        self.device_state: dict[str, tuple[str, str]] = {}
        self.state_topic = f"{NAMESPACE}/STATE/{self.primary_host}" if self.primary_host else ""
        self._host_ts = 0

    def groups_of(self, tag: TagConfig) -> list[tuple[str, str | None]]:
        """The Sparkplug device (and route) a tag's values are published in (for the policy)."""
        u = self.unit_of.get(tag.name)
        if u is None:
            return []
        return [(u.id, u.route.name if u.route else None)]

    # ------------------------------------------------------------------ topics
    def topic(self, kind: str, device: str = "") -> str:
        """``spBv1.0/<group>/<kind>/<edge>[/<device>]``."""
        t = f"{NAMESPACE}/{self.group}/{kind}/{self.edge}"
        return f"{t}/{device}" if device else t

    def subscriptions(self) -> list[str]:
        """NCMD, DCMD of every device, and the primary host's STATE when gating."""
        subs = [self.topic("NCMD"), self.topic("DCMD") + "/+"]
        if self.state_topic:
            subs.append(self.state_topic)
        return subs

    def _next_seq(self) -> int:
        s = self.seq
        self.seq = (self.seq + 1) % 256
        return s

    def _payload(self, ts_ms: int, seq: bool = True) -> pb.Payload:
        p = pb.Payload()
        p.timestamp = ts_ms
        if seq:
            p.seq = self._next_seq()
        return p

    # ------------------------------------------------------------------ session messages
    def will(self, bdseq: int) -> Message:
        """NDEATH with this connection's bdSeq (registered as the MQTT Will)."""
        return self._death(bdseq, 0)

    def _death(self, bdseq: int, ts_ms: int) -> Message:
        p = pb.Payload()
        if ts_ms:
            p.timestamp = ts_ms
        _metric(p, "bdSeq", None, INT64, bdseq)
        return Message(self.topic("NDEATH"), p.SerializeToString(), 1, False)

    def offline(self, status: dict[str, Any], now: float, bdseq: int = 0) -> list[Message]:
        """NDEATH published before an intentional disconnect."""
        return [self._death(bdseq, _ms(now))]

    def online(
        self, bdseq: int, current: dict[str, list[list[Any]]], status: dict[str, Any], now: float
    ) -> list[Message]:
        """NBIRTH (seq 0) and one DBIRTH per device, with every metric and its alias."""
        ts = _ms(now)
        self.seq = 0
        nb = self._payload(ts)
        _metric(nb, "bdSeq", None, INT64, bdseq, ts)
        _metric(nb, REBIRTH, NODE_ALIAS[REBIRTH], BOOLEAN, False, ts)
        for name in (ALARM_ACK, COMMAND_REPLY, ALARM_EVENT, EVENT):
            _metric(nb, name, NODE_ALIAS[name], STRING, "", ts)
        self._diag_metrics(nb, status, ts, birth=True)
        props = (self.station_name, hmi.__version__, self.mode, self.config_hash)
        for (name, alias), value in zip(PROPS.items(), props, strict=True):
            _metric(nb, name, alias, STRING, value, ts)
        for a in self.alarm_ids:
            name = f"Alarms/{a}/State"
            _metric(nb, name, self.alias[name], STRING, self.alarm_state.get(a), ts)
        out = [Message(self.topic("NBIRTH"), nb.SerializeToString(), 0, False)]
        now_of = {e[0]: e for entries in current.values() for e in entries}
        for unit in self.units:
            out.append(self._dbirth(unit, now_of, ts))
        return out

    def _dbirth(self, unit: Unit, current: dict[str, list[Any]], ts: int) -> Message:
        """DBIRTH of one Sparkplug device: every metric with its alias, value and properties."""
        db = self._payload(ts)
        for t in unit.tags:
            name = t.name
            _n, value, q, t_ms, _reason = current.get(name, (name, None, 0, 0, ""))
            props = self.props[name]
            if not unit.stats:
                m = _metric(
                    db, name, self.alias[name], self.tag_type[name], value, t_ms or ts, quality=q
                )
                _birth_props(m, props)
                continue
            for st in unit.stats:  # an aggregating route: one metric per statistic
                mname = f"{name}/{st}"
                dtype = self.tag_type[name] if st == "last" else DOUBLE
                v = value if st == "last" else None
                m = _metric(db, mname, self.alias[mname], dtype, v, t_ms or ts, quality=q)
                _birth_props(m, props)
        dev = unit.device
        if dev:
            state, reason = self.device_state.get(dev, (None, None))
            _metric(db, DEVICE_STATE, self.alias[f"{dev}/{DEVICE_STATE}"], STRING, state, ts)
            _metric(db, DEVICE_REASON, self.alias[f"{dev}/{DEVICE_REASON}"], STRING, reason, ts)
        return Message(self.topic("DBIRTH", unit.id), db.SerializeToString(), 0, False)

    def diagnostics(self, status: dict[str, Any], now: float) -> list[Message]:
        """NDATA with the node diagnostics metrics (aliases only)."""
        ts = _ms(now)
        p = self._payload(ts)
        self._diag_metrics(p, status, ts, birth=False)
        return [Message(self.topic("NDATA"), p.SerializeToString(), self.qos, False)]

    def _diag_metrics(self, p: pb.Payload, status: dict[str, Any], ts: int, birth: bool) -> None:
        for key, (name, dtype) in DIAG.items():
            v = status.get(key)
            if dtype == UINT64:
                v = int(v or 0)
            _metric(
                p,
                name if birth else None,
                NODE_ALIAS[name],
                dtype if birth else None,
                v,
                ts,
                dtype_hint=dtype,
            )

    # ------------------------------------------------------------------ data
    def note(self, kind: int, body: Any) -> None:
        """Remember the latest alarm and device states (for the next births)."""
        if kind == KIND_ALARM and isinstance(body, dict) and "alarm_id" in body:
            self.alarm_state[str(body["alarm_id"])] = str(body.get("state", ""))
        elif kind == KIND_EVENT and isinstance(body, dict) and body.get("type") == "device_state":
            self.device_state[str(body.get("device"))] = (
                str(body.get("new", "")),
                str(body.get("reason", "")),
            )

    def qos_of(self, body: bytes) -> int:
        """The QoS of every data message (NDATA/DDATA) of this node."""
        return self.qos

    def encode(self, row: Row, historical: bool, now: float) -> Message | None:
        """DDATA/NDATA of one outbox row (None when nothing in it is known to the births)."""
        try:
            body = loads(row.body)
        except ValueError:
            return None
        ts = _ms(now)
        if row.kind == KIND_TELEMETRY and "a" in body:
            return self._aggregates(body, historical, ts)
        if row.kind == KIND_TELEMETRY:
            dev = body.get("d")
            entries = [e for e in body.get("v", []) if self.tag_device.get(e[0]) == dev]
            if not entries:
                return None
            p = self._payload(ts)
            for name, value, q, t_ms, _reason in entries:
                _metric(
                    p,
                    None,
                    self.alias[name],
                    None,
                    value,
                    t_ms,
                    quality=q,
                    historical=historical,
                    dtype_hint=self.tag_type[name],
                )
            return Message(self.topic("DDATA", dev), p.SerializeToString(), self.qos, False)
        if not isinstance(body, dict):
            return None
        ev_ts = _ms(float(body.get("ts") or row.created))
        if (
            row.kind == KIND_EVENT
            and body.get("type") == "device_state"
            and body.get("device") in self.devices
        ):
            dev = body["device"]
            p = self._payload(ts)
            _metric(
                p,
                None,
                self.alias[f"{dev}/{DEVICE_STATE}"],
                None,
                str(body.get("new", "")),
                ev_ts,
                historical=historical,
                dtype_hint=STRING,
            )
            _metric(
                p,
                None,
                self.alias[f"{dev}/{DEVICE_REASON}"],
                None,
                str(body.get("reason", "")),
                ev_ts,
                historical=historical,
                dtype_hint=STRING,
            )
            return Message(self.topic("DDATA", dev), p.SerializeToString(), self.qos, False)
        p = self._payload(ts)
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        if row.kind == KIND_ALARM:
            _metric(
                p,
                None,
                NODE_ALIAS[ALARM_EVENT],
                None,
                text,
                ev_ts,
                historical=historical,
                dtype_hint=STRING,
            )
            name = f"Alarms/{body.get('alarm_id')}/State"
            if name in self.alias:
                _metric(
                    p,
                    None,
                    self.alias[name],
                    None,
                    str(body.get("state", "")),
                    ev_ts,
                    historical=historical,
                    dtype_hint=STRING,
                )
        elif row.kind == KIND_REPLY:
            _metric(
                p,
                None,
                NODE_ALIAS[COMMAND_REPLY],
                None,
                text,
                ev_ts,
                historical=historical,
                dtype_hint=STRING,
            )
        else:
            _metric(
                p,
                None,
                NODE_ALIAS[EVENT],
                None,
                text,
                ev_ts,
                historical=historical,
                dtype_hint=STRING,
            )
        return Message(self.topic("NDATA"), p.SerializeToString(), self.qos, False)

    def _aggregates(self, body: dict[str, Any], historical: bool, ts: int) -> Message | None:
        """DDATA of one closed aggregation window (``<tag>/min`` ... at the window's end)."""
        dev = body.get("d")
        end_ms = _ms(float(body["w"]) + float(body["a"]))
        p = self._payload(ts)
        for name, mn, mx, avg, last, _c, _b, q, _t in body.get("v", []):
            unit = self.unit_of.get(name)
            if unit is None or unit.id != dev:
                continue
            for st, v in (("min", mn), ("max", mx), ("avg", avg), ("last", last)):
                if st not in unit.stats:
                    continue
                hint = self.tag_type[name] if st == "last" else DOUBLE
                alias = self.alias[f"{name}/{st}"]
                _metric(
                    p,
                    None,
                    alias,
                    None,
                    v,
                    end_ms,
                    quality=q,
                    historical=historical,
                    dtype_hint=hint,
                )
        if not p.metrics:
            return None
        return Message(self.topic("DDATA", str(dev)), p.SerializeToString(), self.qos, False)

    # ------------------------------------------------------------------ inbound
    def host_online(self, topic: str, payload: bytes) -> bool | None:
        """Primary host STATE: True/False, or None when the message is not a (newer) STATE."""
        if not self.state_topic or topic != self.state_topic:
            return None
        text = payload.decode("utf-8", "replace").strip()
        if text in ("ONLINE", "OFFLINE"):  # Sparkplug 2.2 hosts
            return text == "ONLINE"
        try:
            obj = json.loads(text)
            online, ts = bool(obj["online"]), int(obj.get("timestamp", 0))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed STATE message from %s", self.primary_host)
            return None
        if ts and ts < self._host_ts:
            return None  # an older STATE than the one already seen
        self._host_ts = ts
        return online

    def parse(self, topic: str, payload: bytes) -> list[Command]:
        """Commands in an NCMD or DCMD message."""
        parts = topic.split("/")
        if len(parts) < 4 or parts[2] not in ("NCMD", "DCMD"):
            return []
        try:
            p = pb.Payload.FromString(payload)
        except Exception as exc:  # protobuf raises DecodeError (a Message.Error subclass)
            return [Command("invalid", error=f"not a Sparkplug B payload: {exc}", source=topic)]
        out: list[Command] = []
        if parts[2] == "NCMD":
            for m in p.metrics:
                name = m.name or _node_name(m.alias)
                if name == REBIRTH and _value(m) is True:
                    out.append(Command("rebirth", source=topic))
                elif name == ALARM_ACK:
                    try:
                        obj = json.loads(str(_value(m)))
                    except ValueError as exc:
                        out.append(
                            Command("invalid", error=f"Alarms/Ack is not JSON: {exc}", source=topic)
                        )
                        continue
                    out.append(ack_from_json(obj, topic))
                else:
                    log.info("ignoring NCMD metric %r", name or m.alias)
            return out
        device = parts[4] if len(parts) > 4 else ""
        for m in p.metrics:
            name = m.name or self.alias_tag.get(m.alias, "")
            user = _property(m, "User") or f"sparkplug:{self.primary_host or 'host'}"
            if name not in self.tag_device or self.tag_device[name] != device:
                out.append(
                    Command(
                        "write",
                        tag=name or f"alias {m.alias}",
                        value=_value(m),
                        user=user,
                        source=topic,
                    )
                )
                continue
            value = _value(m)
            if value is None:
                out.append(Command("invalid", tag=name, error=f"no value for {name}", source=topic))
                continue
            out.append(Command("write", tag=name, value=value, user=user, source=topic))
        return out


# ---------------------------------------------------------------------- metric helpers
def _ms(t: float) -> int:
    return int(round(t * 1000))


def _metric(
    p: pb.Payload,
    name: str | None,
    alias: int | None,
    dtype: int | None,
    value: Any,
    ts_ms: int = 0,
    *,
    quality: int | None = None,
    historical: bool = False,
    dtype_hint: int | None = None,
) -> pb.Payload.Metric:
    m: pb.Payload.Metric = p.metrics.add()
    if name is not None:
        m.name = name
    if alias is not None:
        m.alias = alias
    if ts_ms:
        m.timestamp = ts_ms
    if dtype is not None:
        m.datatype = dtype
    if historical:
        m.is_historical = True
    if quality is not None:
        m.properties.CopyFrom(_quality_property(int(quality)))
    t = dtype if dtype is not None else dtype_hint
    if value is None:
        m.is_null = True
    elif t == BOOLEAN:
        m.boolean_value = bool(value)
    elif t in (INT64, UINT64):
        m.long_value = int(value) & 0xFFFFFFFFFFFFFFFF  # two's complement, per the spec
    elif t == INT32:
        m.int_value = int(value) & 0xFFFFFFFF
    elif t == STRING:
        m.string_value = str(value)
    else:
        m.double_value = float(value)
    return m


def _birth_props(m: pb.Payload.Metric, props: Mapping[str, tuple[str, str | float]]) -> None:
    """Add the tag metadata properties (and the English label as metadata description)."""
    ps = m.properties
    for key, (typ, value) in props.items():
        ps.keys.append(key)
        pv = ps.values.add()
        if typ == "Double":
            pv.type = DOUBLE
            pv.double_value = float(value)
        elif typ == "Boolean":
            pv.type = BOOLEAN
            pv.boolean_value = bool(value)
        else:
            pv.type = STRING
            pv.string_value = str(value)
    doc = props.get("Documentation")
    if doc and doc[1]:
        m.metadata.description = str(doc[1])


_QUALITY: dict[int, pb.Payload.PropertySet] = {}


def _quality_property(q: int) -> pb.Payload.PropertySet:
    """The ``Quality`` property set (Int32 192/64/0), built once per code."""
    ps = _QUALITY.get(q)
    if ps is None:
        ps = pb.Payload.PropertySet()
        ps.keys.append("Quality")
        pv = ps.values.add()
        pv.type = INT32
        pv.int_value = q
        _QUALITY[q] = ps
    return ps


def _value(m: pb.Payload.Metric) -> Any:
    which = m.WhichOneof("value")
    if which is None or m.is_null:
        return None
    v = getattr(m, which)
    if which == "long_value" and m.datatype == INT64 and v >= 1 << 63:
        v -= 1 << 64
    elif which == "int_value" and m.datatype in (pb.Int8, pb.Int16, INT32) and v >= 1 << 31:
        v -= 1 << 32
    return v


def _property(m: pb.Payload.Metric, key: str) -> str:
    for k, v in zip(m.properties.keys, m.properties.values, strict=False):
        if k == key and v.WhichOneof("value") == "string_value":
            return v.string_value
    return ""


def _node_name(alias: int) -> str:
    for name, a in NODE_ALIAS.items():
        if a == alias:
            return name
    return ""
