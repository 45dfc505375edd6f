"""The dispatch host application: one MQTT session, the fleet model, fleet.db and commands.

As Sparkplug B 3.0 primary host it registers the Will ``spBv1.0/STATE/<host-id>`` =
``{"online": false, "timestamp": T}`` (QoS 1, retained), subscribes, then publishes
``{"online": true, "timestamp": T}`` retained — stations with ``uplink.primary_host``
release their births only after that. The MQTT session is the uplink's
:class:`~hmi.core.uplink.connection.Connection` (the one place paho is used), driven by
the host's own thread, which also runs the housekeeping once a second: stale check,
key-figure samples and alarm events into ``fleet.db``, retention.

Commands (remote acknowledgement, rebirth request, remote write) check the session's role
and are audited in the dispatch's ``users.db`` before anything is sent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from hmi.config.schema import UplinkConfig
from hmi.core.audit import AuditTrail
from hmi.core.fleet.json_host import JsonHost
from hmi.core.fleet.model import AckRequest, FleetModel, WriteRequest
from hmi.core.fleet.sparkplug_host import NAMESPACE, SparkplugHost, dcmd_payload, ncmd_payload
from hmi.core.fleet.store import FleetStore
from hmi.core.uplink import sparkplug_b_pb2 as pb
from hmi.core.uplink.connection import ConnectError, Connection
from hmi.core.uplink.message import Message
from hmi.core.uplink.policy import override_uplink
from hmi.core.users import Action, Role, Session

log = logging.getLogger(__name__)


class DispatchHost:
    """Sparkplug host application + JSON listener feeding a :class:`FleetModel`."""

    def __init__(
        self,
        broker_url: str,
        data_dir: str | Path,
        host_id: str = "gas-dispatch",
        *,
        keepalive: int = 10,
        stale_after: float = 120.0,
        figure_period: float = 60.0,
        retention_days: float = 90.0,
        json_prefix: str = "gas",
        password: str | None = None,
        ca_file: str = "",
        audit: AuditTrail | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg: UplinkConfig = override_uplink(
            UplinkConfig.model_validate({"ca_file": ca_file, "keepalive": keepalive}),
            broker_url,
            None,
        )
        self.broker = self.cfg.brokers[0]
        self.host_id = host_id
        self.data_dir = Path(data_dir)
        self.password = password
        self.clock = clock
        self.model = FleetModel(stale_after, clock)
        self.store = FleetStore(self.data_dir / "fleet.db", retention_days)
        self.audit = audit
        self.sparkplug = SparkplugHost(self.model, self._publish)
        self.json = JsonHost(self.model, json_prefix)
        self.figure_period = figure_period
        self.state_topic = f"{NAMESPACE}/STATE/{host_id}"
        self.connected = False
        self.last_error = ""
        self._conn: Connection | None = None
        self._outq: list[Message] = []
        self._outq_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._house: threading.Thread | None = None
        self._state_ts = 0
        self._next_figures = 0.0
        self._next_prune = 0.0
        self._written_version = -1

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Start the session thread (connects in the background, reconnects on loss)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dispatch-mqtt", daemon=True)
        self._thread.start()
        # fleet.db writes on their own thread: a slow disk never delays the live data
        self._house = threading.Thread(target=self._house_loop, name="dispatch-store", daemon=True)
        self._house.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Publish STATE offline, disconnect, write fleet.db one last time."""
        self._stop.set()
        for t in (self._thread, self._house):
            if t is not None:
                t.join(timeout)
        self._thread = self._house = None
        try:
            self._housekeeping(self.clock(), force=True)
        finally:
            self.store.close()

    def _state(self, online: bool) -> Message:
        body = json.dumps({"online": online, "timestamp": self._state_ts})
        return Message(self.state_topic, body.encode(), 1, True)

    def _connect(self) -> Connection | None:
        self._state_ts = int(self.clock() * 1000)
        try:
            conn = Connection(
                self.broker,
                self.cfg,
                f"{self.host_id}-{uuid.uuid4().hex[:8]}",
                self._state(False),
                self.password,
            )
            conn.set_keepalive(self.cfg.keepalive)
            conn.open()
        except ConnectError as exc:
            self._error(str(exc))
            return None
        deadline = time.monotonic() + 10.0
        while not conn.connected and not conn.refused and not conn.lost:
            conn.loop(0.05)
            if time.monotonic() > deadline or self._stop.is_set():
                conn.lost = conn.lost or "no CONNACK within 10 s"
        if not conn.alive:
            self._error(conn.refused or conn.lost)
            conn.close(clean=False)
            return None
        subs = [self.state_topic, *self.sparkplug.subscriptions(), *self.json.subscriptions()]
        conn.subscribe(subs, qos=1)
        conn.publish(self._state(True))
        log.info("dispatch %s online at %s (primary host STATE published)", self.host_id, conn.name)
        self.last_error = ""
        self.connected = True
        return conn

    def _error(self, message: str) -> None:
        if message != self.last_error:
            log.warning("dispatch: %s", message)
        self.last_error = message
        self.connected = False

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            conn = self._connect()
            if conn is None:
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.5
            self._conn = conn
            try:
                self._session(conn)
            finally:
                self._conn = None
                self.connected = False
                if self._stop.is_set():
                    conn.publish(self._state(False))
                conn.close(clean=self._stop.is_set())

    def _session(self, conn: Connection) -> None:
        while not self._stop.is_set() and conn.alive:
            conn.loop(0.02)
            if conn.inbound:
                msgs, conn.inbound = conn.inbound, []
                now = self.clock()
                for topic, payload in msgs:
                    self._dispatch(conn, topic, payload, now)
            with self._outq_lock:
                out, self._outq = self._outq, []
            for msg in out:
                conn.publish(msg)
            conn.acked.clear()
        if conn.lost:
            self._error(conn.lost)

    def _dispatch(self, conn: Connection, topic: str, payload: bytes, now: float) -> None:
        if topic == self.state_topic:
            try:
                obj = json.loads(payload)
                if not obj.get("online") and self.connected:
                    conn.publish(self._state(True))  # spec: a host re-asserts its own STATE
            except (ValueError, AttributeError):
                pass
        elif topic.startswith(NAMESPACE + "/"):
            self.sparkplug.handle(topic, payload, now)
        else:
            self.json.handle(topic, payload, now)

    def _publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """Queue a message for the session thread (thread-safe)."""
        with self._outq_lock:
            self._outq.append(Message(topic, payload, qos, retain))

    # ------------------------------------------------------------------ housekeeping
    def _house_loop(self) -> None:
        while not self._stop.wait(1.0):
            self._housekeeping(self.clock())

    def _housekeeping(self, now: float, force: bool = False) -> None:
        m = self.model
        with m.lock:
            m.check_stale(now)
            changed = m.version != self._written_version
            self._written_version = m.version
            stations = (
                [
                    {
                        "station": st.station_id,
                        "name": st.name,
                        "mode": st.mode,
                        "online": int(st.online),
                        "stale": int(st.stale),
                        "last_seen": int(st.last_seen * 1000),
                        "version": st.version,
                        "config_hash": st.config_hash,
                    }
                    for st in m.stations.values()
                ]
                if changed or force
                else []
            )
            active = list(m.alarms.values()) if m.alarms_dirty else None
            m.alarms_dirty = False
            events, m.pending_events = m.pending_events, []
            figures: list[tuple[str, str, float, float | None]] = []
            if now >= self._next_figures or force:
                self._next_figures = now + self.figure_period
                for st in m.stations.values():
                    if st.online:
                        for key, f in m.summary(st).figures.items():
                            figures.append((st.station_id, key, now, f.value))
        try:
            if stations or active is not None or events or figures:
                self.store.write(stations, active, events, figures)
            if now >= self._next_prune:
                self._next_prune = now + 3600.0
                self.store.prune(now)
        except Exception as exc:  # fleet.db trouble must not stop the live view
            self._error(f"fleet history not written: {exc}")

    # ------------------------------------------------------------------ commands
    def _audit(
        self, session: Session, action: str, target: str, result: str, details: dict[str, Any]
    ) -> None:
        if self.audit is not None:
            self.audit.append(
                action,
                user=session.user or "viewer",
                origin="local",
                target=target,
                result=result,
                details=details,
            )

    def acknowledge(
        self, session: Session, alarms: Sequence[tuple[str, str]], comment: str = ""
    ) -> AckRequest:
        """Send a remote acknowledgement of ``alarms`` ((station, alarm id)) to their stations."""
        if not session.can(Action.ACKNOWLEDGE):
            self._audit(session, "remote_ack", ",".join(a for _s, a in alarms), "denied", {})
            raise PermissionError("acknowledging needs an operator login")
        targets: dict[str, list[str]] = {}
        for sid, aid in alarms:
            targets.setdefault(sid, []).append(aid)
        now = self.clock()
        req = AckRequest(f"dispatch-{uuid.uuid4().hex[:12]}", session.user, comment, now, targets)
        with self.model.lock:
            self.model.add_ack(req)
            modes = {s: self.model.station(s) for s in targets}
        for sid, ids in targets.items():
            body = json.dumps(
                {
                    "id": req.request_id,
                    "alarm_ids": ids,
                    "user": f"dispatch:{session.user}",
                    "comment": comment,
                }
            )
            self._audit(
                session,
                "remote_ack",
                sid,
                "sent",
                {"request": req.request_id, "alarm_ids": ids, "comment": comment},
            )
            st = modes[sid]
            if st.mode == "json":
                self._publish(self.json.ack_topic(sid), body.encode(), 1, False)
            else:
                payload = ncmd_payload(now, "Alarms/Ack", pb.String, body)
                self._publish(self.sparkplug.rebirth_topic(st), payload, 1, False)
        return req

    def request_rebirth(self, session: Session, station_id: str) -> bool:
        """NCMD ``Node Control/Rebirth`` to one station (engineers only)."""
        if session.effective_role() < Role.ENGINEER:
            self._audit(session, "rebirth_request", station_id, "denied", {})
            raise PermissionError("a rebirth request needs an engineer login")
        self._audit(session, "rebirth_request", station_id, "sent", {})
        return self.sparkplug.request_rebirth(station_id, self.clock())

    def write(self, session: Session, station_id: str, tag: str, value: Any) -> WriteRequest:
        """A remote write; only to a tag whose birth (or meta) says ``RemoteWrite``.

        Sparkplug stations get a DCMD (the tag by name and alias, the value in the field
        of the metric's datatype, the user as property ``User``), JSON stations a
        ``cmd/write``. The returned request is completed by the station's reply.
        """
        target = f"{station_id}/{tag}"
        if not session.can(Action.WRITE_SETPOINT):
            self._audit(session, "remote_write", target, "denied", {"value": value})
            raise PermissionError("a remote write needs an operator login")
        with self.model.lock:
            st = self.model.stations.get(station_id)
            metric = replace(st.metrics[tag]) if st and tag in st.metrics else None
        if st is None or metric is None or not metric.remote_write:
            self._audit(session, "remote_write", target, "denied", {"value": value})
            raise PermissionError(f"station {station_id} does not allow remote writes of {tag}")
        now = self.clock()
        req = WriteRequest(
            f"dispatch-{uuid.uuid4().hex[:12]}", station_id, tag, value, session.user, now
        )
        self._audit(
            session, "remote_write", target, "sent", {"value": value, "request": req.request_id}
        )
        with self.model.lock:
            self.model.add_write(req)
        user = f"dispatch:{session.user}"
        if st.mode == "json":
            body = {"id": req.request_id, "tag": tag, "value": value, "user": user}
            self._publish(self.json.write_topic(station_id), json.dumps(body).encode(), 1, False)
        else:
            topic = f"{NAMESPACE}/{st.group}/DCMD/{station_id}/{metric.device}"
            self._publish(topic, dcmd_payload(now, metric, value, user), 1, False)
        return req
