"""JSON payload mode, for rule engines (EMQX rules, Node-RED, a historian's MQTT input).

Topics under ``<topic_prefix>/<station>/`` (schemas in ``docs/schemas/``, described in
``docs/UPLINK.md``):

``telemetry``  tag values of one device (report by exception / integrity)
``alarms``     one alarm transition
``events``     device state changes, outbox overflow notices
``status``     retained; ``online`` on connect (with diagnostics), Will ``offline``
``meta``       retained tag metadata (units, ranges, labels, areas, limits); parts
               ``meta/2`` ... when it exceeds ``max_payload_kb``
``<route>``    tag values of one business route (``uplink.routes``): every change or
               windowed aggregates, at the route's QoS
``cmd/ack``    inbound: remote alarm acknowledgement
``cmd/write``  inbound: remote write (only where the station allows it)
``cmd/reply``  the answer to either
"""

from __future__ import annotations

import json
from typing import Any

import hmi
from hmi.config.schema import StationConfig
from hmi.core.uplink.commands import Command, ack_from_json, write_from_json
from hmi.core.uplink.message import Message
from hmi.core.uplink.meta import config_hash, meta_documents
from hmi.core.uplink.outbox import KIND_ALARM, KIND_EVENT, KIND_REPLY, KIND_TELEMETRY, Row
from hmi.core.uplink.policy import dumps, loads, wire_values

_DEVICE_ROW = b'{"device":'  # telemetry rows in the message's shape (PublishPolicy wire=True)
_ROUTE_ROW = b'{"route":'

_TOPIC_OF = {
    KIND_TELEMETRY: "telemetry",
    KIND_ALARM: "alarms",
    KIND_EVENT: "events",
    KIND_REPLY: "cmd/reply",
}


class JsonMode:
    """Encodes outbox rows as documented JSON messages and parses inbound commands."""

    mode = "json"

    def __init__(self, cfg: StationConfig, qos: int = 1) -> None:
        self.cfg = cfg
        self.station = cfg.station.id
        self.qos = qos
        self.config_hash = config_hash(cfg)
        self.route_qos = {r.name: int(r.qos) for r in cfg.uplink.routes}
        self.route_stats = {r.name: list(r.aggregates) for r in cfg.uplink.routes}
        self.base = f"{cfg.uplink.topic_prefix.strip('/')}/{self.station}"
        self._telemetry_topic = f"{self.base}/telemetry"
        self._station_json = dumps(self.station)
        self.meta_topic = f"{self.base}/meta"
        self.meta_parts = 1  # parts published in this process (stale ones are cleared)
        self.status_topic = f"{self.base}/status"
        self.ack_topic = f"{self.base}/cmd/ack"
        self.write_topic = f"{self.base}/cmd/write"

    # ------------------------------------------------------------------ session messages
    def subscriptions(self) -> list[str]:
        """Topics to subscribe to after connecting."""
        return [self.ack_topic, self.write_topic]

    def will(self, bdseq: int) -> Message:
        """Retained ``offline`` status, published by the broker if the link dies."""
        return Message(
            self.status_topic,
            dumps({"station": self.station, "state": "offline", "online": False}),
            1,
            True,
        )

    def online(
        self, bdseq: int, current: dict[str, list[list[Any]]], status: dict[str, Any], now: float
    ) -> list[Message]:
        """Once connected: the retained ``online`` status and meta document (values follow as integrity rows)."""
        return [self._status(True, status, now), *self.meta(now)]

    def meta(self, now: float) -> list[Message]:
        """The retained meta document (parts ``meta``, ``meta/2``, ...; stale parts cleared)."""
        tags = [t for t in self.cfg.tags if t.uplink]
        docs = meta_documents(self.cfg, tags, self.cfg.uplink.max_payload_kb * 1024, now)
        out = [
            Message(self.meta_topic if k == 0 else f"{self.meta_topic}/{k + 1}", dumps(d), 1, True)
            for k, d in enumerate(docs)
        ]
        for k in range(len(docs), self.meta_parts):  # an empty retained message clears a part
            out.append(Message(f"{self.meta_topic}/{k + 1}", b"", 1, True))
        self.meta_parts = len(docs)
        return out

    def diagnostics(self, status: dict[str, Any], now: float) -> list[Message]:
        """Periodic refresh of the retained status (outbox depth, drops, ...)."""
        return [self._status(True, status, now)]

    def offline(self, status: dict[str, Any], now: float, bdseq: int = 0) -> list[Message]:
        """Published before an intentional disconnect."""
        return [self._status(False, status, now)]

    def _status(self, online: bool, st: dict[str, Any], now: float) -> Message:
        body = {
            "station": self.station,
            "state": "online" if online else "offline",
            "online": online,
            "ts": now,
            "mode": self.mode,
            "software": hmi.__version__,
            "version": hmi.__version__,
            "config_hash": self.config_hash,
            "outbox_depth": int(st.get("outbox_depth", 0)),
            "oldest_age": st.get("oldest_age"),
            "dropped": int(st.get("dropped", 0)),
            "sent": int(st.get("sent", 0)),
            "acked": int(st.get("acked", 0)),
        }
        return Message(self.status_topic, dumps(body), 1, True)

    # ------------------------------------------------------------------ data
    def note(self, kind: int, body: Any) -> None:
        """Nothing to remember in JSON mode (Sparkplug tracks states for its births)."""

    def qos_of(self, body: bytes) -> int:
        """The QoS a telemetry row's message will be published with (its route's, if any)."""
        if body.startswith(_DEVICE_ROW):
            return self.qos
        if body.startswith(_ROUTE_ROW):
            start = len(_ROUTE_ROW) + 1
        else:  # {"d":..,"i":..,"r":"name",...} and the aggregation windows {"d":..,"r":"name",..}
            at = body.find(b'"r":"', 0, 200)
            if at < 0:
                return self.qos
            start = at + 5
        route = body[start : body.find(b'"', start)].decode()  # [a-z0-9_-]: no escapes
        return self.route_qos.get(route, self.qos)

    def encode(self, row: Row, historical: bool, now: float) -> Message | None:
        """The message of one outbox row (None if the row is unreadable)."""
        if row.kind == KIND_TELEMETRY:
            body_bytes = row.body
            if body_bytes.startswith(_DEVICE_ROW):
                return Message(self._telemetry_topic, self._splice(row, historical, now), self.qos)
            if body_bytes.startswith(_ROUTE_ROW) and b'"integrity"' in body_bytes[:80]:
                end = body_bytes.index(b'"', len(_ROUTE_ROW) + 1)
                route = body_bytes[len(_ROUTE_ROW) + 1 : end].decode()  # [a-z0-9_-]: no escapes
                qos = self.route_qos.get(route, self.qos)
                return Message(f"{self.base}/{route}", self._splice(row, historical, now), qos)
        try:
            body = loads(row.body)
        except ValueError:
            return None
        env: dict[str, Any] = {
            "station": self.station,
            "msg_id": row.id,
            "created": row.created,
            "sent_ts": now,
            "historical": historical,
        }
        if row.kind == KIND_TELEMETRY and "r" in body:
            return self._route(body, env)
        if row.kind == KIND_TELEMETRY:
            env["device"] = body["d"]
            env["integrity"] = bool(body.get("i"))
            env["values"] = wire_values(body["v"])
        elif isinstance(body, dict):
            env.update({k: v for k, v in body.items() if k not in env})
        else:
            return None
        return Message(f"{self.base}/{_TOPIC_OF[row.kind]}", dumps(env), self.qos, False)

    def _splice(self, row: Row, historical: bool, now: float) -> bytes:
        """The envelope in front of a row that is already the message's JSON (no re-encode)."""
        env = b'{"station":%s,"msg_id":%d,"created":%s,"sent_ts":%s,"historical":%s,' % (
            self._station_json,
            row.id,
            dumps(row.created),
            dumps(now),
            b"true" if historical else b"false",
        )
        return env + row.body[1:]

    def _route(self, body: dict[str, Any], env: dict[str, Any]) -> Message:
        route = str(body["r"])
        env["route"] = route
        if "a" in body:  # a closed aggregation window
            env["window"] = float(body["a"])
            env["window_start"] = float(body["w"])
            stats = self.route_stats.get(route, ["min", "max", "avg", "last"])
            env["values"] = [
                {
                    "tag": n,
                    **{
                        k: v
                        for k, v in (("min", mn), ("max", mx), ("avg", avg), ("last", last))
                        if k in stats
                    },
                    "count": c,
                    "bad": b,
                    "quality": q,
                    "ts": t / 1000.0 if t else None,
                }
                for n, mn, mx, avg, last, c, b, q, t in body["v"]
            ]
        else:
            env["integrity"] = bool(body.get("i"))
            env["values"] = wire_values(body["v"])
        qos = self.route_qos.get(route, self.qos)
        return Message(f"{self.base}/{route}", dumps(env), qos, False)

    # ------------------------------------------------------------------ inbound
    def parse(self, topic: str, payload: bytes) -> list[Command]:
        """Commands in one inbound message (an 'invalid' command if it cannot be read)."""
        try:
            obj = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return [Command("invalid", error=f"not JSON: {exc}", source=topic)]
        if topic == self.ack_topic:
            return [ack_from_json(obj, topic)]
        if topic == self.write_topic:
            return [write_from_json(obj, topic)]
        return []

    def host_online(self, topic: str, payload: bytes) -> bool | None:
        """No primary-host gating in JSON mode."""
        return None
