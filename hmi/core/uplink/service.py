"""The uplink service: outbox in, MQTT out, commands back — on its own thread.

Threads and crossings:

* the runtime calls ``on_changes`` / ``on_alarm`` / ``on_device_state`` on the
  acquisition thread; they only append to an in-memory deque (never block) and wake
  the ``uplink`` thread (one byte on paho's wake-up socket: no polling while data flows);
* the ``uplink`` thread stores that deque into the outbox (one committed transaction
  per pass: *commit before publish*), runs the MQTT session (paho driven with
  ``Connection.loop`` on this thread), publishes live rows at once and the backlog
  paced at ``replay_rate``, deletes rows on PUBACK, and fails over between brokers;
* remote acknowledgements and writes are handed to the runtime's handlers on the
  ``uplink`` thread; the handlers return futures at once (the command runs on the
  acquisition loop), and the reply is queued like any other message when its future
  completes -- no thread waits for a command.

Delivery: at least once (MQTT QoS 1). A row is published once per session; a row
whose PUBACK did not arrive before the connection or the process died is published
again (``is_historical`` / ``"historical": true``) after the next connect. Live
values are never published twice otherwise.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hmi.config.schema import StationConfig
from hmi.core.secrets import SecretError, get_secret
from hmi.core.tagtable import TagTable, TagUpdate
from hmi.core.uplink.commands import AckHandler, Command, CommandHandler, Commands
from hmi.core.uplink.connection import ConnectError, Connection
from hmi.core.uplink.jsonmode import JsonMode
from hmi.core.uplink.outbox import (
    KIND_ALARM,
    KIND_EVENT,
    KIND_REPLY,
    KIND_TELEMETRY,
    Outbox,
    OutboxError,
    Row,
)
from hmi.core.uplink.policy import PublishPolicy, dumps
from hmi.core.uplink.publisher import LOOP_TIMEOUT, Publisher
from hmi.core.uplink.sparkplug import Sparkplug

log = logging.getLogger(__name__)

MAX_PENDING = (
    200_000  # items waiting in memory for the outbox (disk trouble): then telemetry is dropped
)
CONNACK_TIMEOUT = 15.0
BACKOFF_MAX = 15.0
DIAG_INTERVAL = 30.0  # node diagnostics publish (Sparkplug NDATA / JSON status)
# s: what arrives within this shares one outbox transaction (also its added latency)
COMMIT_EVERY = 0.010
STOP_DRAIN = (
    3.0  # s to wait for in-flight PUBACKs on a clean stop (avoids duplicates at the next start)
)


class Uplink:
    """Store-and-forward MQTT uplink of one station (Sparkplug B or JSON)."""

    def __init__(
        self,
        cfg: StationConfig,
        data_dir: Path,
        tags: TagTable,
        *,
        ack_handler: AckHandler | None = None,
        command_handler: CommandHandler | None = None,
        clock: Callable[[], float] = time.time,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.up = cfg.uplink
        self.tags = tags
        self.clock = clock
        self.on_event = on_event
        self.data_dir = Path(data_dir)
        self.outbox = Outbox(
            self.data_dir / "outbox.db", int(self.up.outbox_budget_mb * 1024 * 1024)
        )
        self.codec: Sparkplug | JsonMode = (
            Sparkplug(cfg, self.outbox.aliases, self.up.qos)
            if self.up.mode == "sparkplug"
            else JsonMode(cfg, self.up.qos)
        )
        if isinstance(self.codec, JsonMode):  # retained meta parts of the last run (to clear)
            self.codec.meta_parts = int(self.outbox.meta_get("meta_parts", "1"))
        groups = self.codec.groups_of if isinstance(self.codec, Sparkplug) else None
        self.policy = PublishPolicy(cfg, tags, groups, wire=isinstance(self.codec, JsonMode))
        self.commands = Commands(cfg, ack_handler, command_handler, clock, on_refused=self._refused)
        self.publisher = Publisher(self.outbox, self.codec, self.up.replay_rate, clock)
        self.client_id = self.up.client_id or f"gas-hmi-{cfg.station.id}"
        self._pending: deque[tuple[str, float, Any]] = deque()
        self._pending_dropped = 0
        self._stop_evt = threading.Event()
        self._wake = threading.Event()
        self._kicked = False  # a wake-up is on its way (the next store clears it)
        self._next_store = 0.0  # monotonic time of the next outbox transaction
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # session state (uplink thread only)
        self._conn: Connection | None = None
        self._subscribed = False
        self._online = False
        self._host_online = not (self.up.mode == "sparkplug" and self.up.primary_host)
        self._broker_i = 0
        self._fails_in_round = 0
        self._backoff = 1.0
        self._next_attempt = 0.0
        self._connack_deadline = 0.0
        self._next_integrity = 0.0
        self._next_diag = 0.0
        self._password: str | None = None
        self._password_ok = not (self.up.username and self.up.password_secret)
        self._bdseq = int(self.outbox.meta_get("bdseq_next", "0")) % 256
        self._session_bdseq = self._bdseq
        self._last_error, self._last_error_ts = "", 0.0
        self._broker = ""
        self._state = "stopped"
        self._status: dict[str, Any] = {}
        self._refresh_status(force=True)

    # ------------------------------------------------------------------ runtime listeners (acquisition thread)
    def on_changes(self, update: TagUpdate) -> None:
        """Tag values beyond deadband / quality changes: queue them (report by exception)."""
        if len(update):
            if len(self._pending) >= MAX_PENDING:
                self._pending_dropped += 1  # disk trouble: keep memory bounded, count the loss
                return
            self._pending.append(("changes", self.clock(), update))
            self._kick()

    def on_alarm(self, event: dict[str, Any]) -> None:
        """One alarm transition (raise, clear, ack, shelve...): queue it (never dropped)."""
        self._pending.append(("alarm", self.clock(), dict(event)))
        self._kick()

    def on_report(self, report: dict[str, Any]) -> None:
        """A metering report (daily): queued as an event, never dropped as telemetry would be."""
        self._pending.append(
            ("event", self.clock(), {"type": "daily_report", "report": dict(report)})
        )
        self._kick()

    def on_device_state(self, device_id: str, old: Any, new: Any, reason: str) -> None:
        """A device changed state: queue an event."""
        body = {
            "type": "device_state",
            "device": device_id,
            "old": _text(old),
            "new": _text(new),
            "reason": reason,
        }
        self._pending.append(("event", self.clock(), body))
        self._kick()

    def _kick(self) -> None:
        """Wake the uplink thread: out of its network loop, or out of its offline wait.

        Once per store: while a wake-up is on its way, more data only joins the queue.
        """
        if self._kicked:
            return
        self._kicked = True
        conn = self._conn  # read once: the uplink thread may replace it meanwhile
        if conn is not None:
            conn.wake()
        self._wake.set()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the uplink thread (idempotent)."""
        if self._thread is not None:
            return
        self._stop_evt.clear()
        self._state = "connecting" if self.up.brokers else "no broker"
        self._thread = threading.Thread(target=self._run, name="uplink", daemon=True)
        self._thread.start()
        log.info(
            "uplink started (%s mode, %d broker(s), outbox %d messages)",
            self.codec.mode,
            len(self.up.brokers),
            self.outbox.depth,
        )

    def stop(self, timeout: float = 20.0) -> None:
        """Store what is queued, say goodbye (NDEATH / offline status), close. Idempotent."""
        if self._thread is not None:
            self._stop_evt.set()
            self._wake.set()
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("uplink thread did not stop within %.0f s", timeout)
                return
            self._thread = None
        else:
            self._store_pending()
            self.outbox.close()
        self._state = "stopped"
        self._refresh_status(force=True)

    def _refused(self, cmd: Any, message: str) -> None:
        """A remote command refused by the station's policy: reported so it is audited."""
        if self.on_event is not None:
            self.on_event(
                {
                    "type": "remote_refused",
                    "cmd": cmd.kind,
                    "user": cmd.user,
                    "tag": cmd.tag,
                    "alarm_ids": list(cmd.alarm_ids),
                    "message": message,
                    "source": cmd.source,
                    "ts": self.clock(),
                }
            )

    def status(self) -> dict[str, Any]:
        """Connected broker, mode, outbox depth and oldest age, sent/acked/dropped, last error (any thread)."""
        with self._lock:
            return dict(self._status)

    # ------------------------------------------------------------------ uplink thread
    def _run(self) -> None:
        try:
            while not self._stop_evt.is_set():
                try:
                    self._iteration()
                except (
                    Exception
                ) as exc:  # a bug must not end forwarding for good: new session, go on
                    log.exception("uplink: unexpected error; restarting the session")
                    self._error(f"internal error: {exc}")
                    if self._conn is not None:
                        self._end_session(f"internal error: {exc}", connected=True)
                    self._stop_evt.wait(1.0)
        finally:
            self._shutdown()

    def _iteration(self) -> None:
        if time.monotonic() >= self._next_store:  # also closes due aggregation windows
            self._store_pending()
        if self._conn is None:
            self._maybe_connect()
            if self._conn is None:
                self._refresh_status()
                self._wake.wait(self._wait(min(0.5, self._next_attempt - time.monotonic())))
                self._wake.clear()
                return
        self._step(self._conn)
        self._refresh_status()

    def _step(self, conn: Connection) -> None:
        # new data cuts the wait short (_kick); queued data is stored when its batch is due
        conn.loop(self._wait(self.publisher.loop_timeout() if self._online else LOOP_TIMEOUT))
        self._collect_acks(conn)
        if conn.refused or conn.lost:
            self._end_session(conn.refused or conn.lost, connected=conn.connected)
            return
        if not conn.connected:
            if time.monotonic() > self._connack_deadline:
                self._end_session(f"no CONNACK from {conn.name}", connected=False)
            return
        if not self._subscribed:
            conn.subscribe(self.codec.subscriptions())
            self._subscribed = True
            self._fails_in_round, self._backoff = 0, 1.0
            if not self._host_online:
                self._state = "waiting for primary host"
                log.info(
                    "uplink connected to %s; waiting for primary host %s",
                    conn.name,
                    self.up.primary_host,
                )
        self._handle_inbound(conn)
        if self._conn is None:
            return
        if not self._online and self._host_online:
            self._go_online(conn)
        if self._online:
            self._pump(conn)
            self._timers(conn)

    # ------------------------------------------------------------------ connection management
    def _maybe_connect(self) -> None:
        now = time.monotonic()
        if now < self._next_attempt or not self.up.brokers:
            if not self.up.brokers:
                self._error("no broker configured (uplink.brokers is empty)")
                self._next_attempt = now + 60.0
            return
        if not self._password_ok:
            try:
                self._password = get_secret(self.cfg.station.id, self.up.password_secret)
                self._password_ok = True
            except SecretError as exc:
                self._error(f"uplink password: {exc}")
                self._next_attempt = now + 60.0
                return
        broker = self.up.brokers[self._broker_i % len(self.up.brokers)]
        bdseq = self._bdseq
        base = Path(self.cfg.source_dir) if self.cfg.source_dir else None
        try:
            conn = Connection(
                broker, self.up, self.client_id, self.codec.will(bdseq), self._password, base
            )
            conn.set_keepalive(self.up.keepalive)
            self._state, self._broker = "connecting", conn.name
            conn.open()
        except ConnectError as exc:
            self._connect_failed(str(exc))
            return
        # a CONNECT carrying this bdSeq in its Will went out: the next one must use the next number
        self._session_bdseq = bdseq
        self._bdseq = (bdseq + 1) % 256
        self.outbox.meta_set("bdseq_next", str(self._bdseq))
        self._conn = conn
        self._subscribed = False
        self._connack_deadline = time.monotonic() + CONNACK_TIMEOUT

    def _connect_failed(self, reason: str) -> None:
        self._error(reason)
        self._broker_i += 1
        self._fails_in_round += 1
        if self._fails_in_round >= len(self.up.brokers):  # every broker tried: back off
            self._fails_in_round = 0
            self._next_attempt = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2.0, BACKOFF_MAX)
        self._state = "offline"

    def _end_session(self, reason: str, connected: bool, clean: bool = False) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close(clean=clean)
        was_online = self._online
        self._online = False
        self.publisher.end()
        self._store_spill()
        self._subscribed = False
        self._host_online = not (self.up.mode == "sparkplug" and self.up.primary_host)
        if connected:
            self._error(f"offline: {reason}" if was_online else reason)
            self._broker_i += 1 if clean else 0  # a host going away moves us to the next broker
            self._next_attempt = time.monotonic() + (0.0 if clean else 1.0)
            self._state = "offline"
        else:
            self._connect_failed(reason)

    def _go_online(self, conn: Connection) -> None:
        self._store_pending()
        now = self.clock()
        backlog = self.publisher.begin()
        for msg in self.codec.online(self._session_bdseq, self.policy.current(), self._status, now):
            conn.publish(msg)
        if isinstance(
            self.codec, JsonMode
        ):  # JSON has no births: current values go as an integrity message
            self.outbox.meta_set("meta_parts", str(self.codec.meta_parts))
            self._append([(KIND_TELEMETRY, now, b) for b in self.policy.integrity()])
        self._online = True
        self._state, self._broker = "online", conn.name
        interval = self.up.integrity_interval
        self._next_integrity = time.monotonic() + interval if interval > 0 else math.inf
        self._next_diag = time.monotonic() + DIAG_INTERVAL
        log.info(
            "uplink online at %s (%s, bdSeq %d); %d stored message(s) to replay",
            conn.name,
            self.codec.mode,
            self._session_bdseq,
            backlog,
        )

    def _handle_inbound(self, conn: Connection) -> None:
        if not conn.inbound:
            return
        msgs, conn.inbound = conn.inbound, []
        for topic, payload in msgs:
            host = self.codec.host_online(topic, payload)
            if host is not None:
                self._host_online_changed(conn, host)
                if self._conn is None:
                    return
                continue
            for cmd in self.codec.parse(topic, payload):
                if cmd.kind == "rebirth":
                    if self._online:
                        log.info("uplink rebirth requested by the host")
                        for msg in self.codec.online(
                            self._session_bdseq, self.policy.current(), self._status, self.clock()
                        ):
                            conn.publish(msg)
                else:
                    self._command(cmd)

    def _host_online_changed(self, conn: Connection, online: bool) -> None:
        if online and not self._host_online:
            log.info("primary host %s is online", self.up.primary_host)
        self._host_online = online
        if not online and self._online:
            # Sparkplug 3.0: the primary host went away -> NDEATH, disconnect, try the next server
            log.warning("primary host %s went offline: disconnecting", self.up.primary_host)
            for msg in self.codec.offline(self._status, self.clock(), self._session_bdseq):
                conn.publish(msg)
            self._end_session(
                f"primary host {self.up.primary_host} offline", connected=True, clean=True
            )
        elif not online:
            self._state = "waiting for primary host"

    # ------------------------------------------------------------------ publishing
    def _pump(self, conn: Connection) -> None:
        self.publisher.pump(conn)
        self._store_spill()

    def _collect_acks(self, conn: Connection) -> None:
        if self.publisher.collect(conn):
            self._error("the broker rejected messages (not authorised for the topic?)")

    def _timers(self, conn: Connection) -> None:
        now = time.monotonic()
        if now >= self._next_integrity:
            self._next_integrity = now + self.up.integrity_interval
            self._append([(KIND_TELEMETRY, self.clock(), b) for b in self.policy.integrity()])
        if now >= self._next_diag:
            self._next_diag = now + DIAG_INTERVAL
            self._refresh_status(force=True)
            for msg in self.codec.diagnostics(self._status, self.clock()):
                conn.publish(msg)

    def _wait(self, timeout: float) -> float:
        """``timeout``, or less when queued data is due for the outbox sooner."""
        if self._pending:
            timeout = min(timeout, self._next_store - time.monotonic())
        return max(0.0, timeout)

    # ------------------------------------------------------------------ outbox
    def _store_pending(self) -> None:
        """Commit what is queued (one transaction); then it may be published."""
        self._kicked = False  # first: data queued from now on sends a new wake-up
        self._next_store = time.monotonic() + COMMIT_EVERY
        items: list[tuple[int, float, bytes]] = []
        pending = self._pending
        while pending:
            what, ts, data = pending.popleft()
            if what == "raw":  # a row that could not be stored last time
                items.append(data)
                continue
            if what == "changes":
                items.extend((KIND_TELEMETRY, ts, b) for b in self.policy.telemetry(data, now=ts))
                continue
            kind = {"alarm": KIND_ALARM, "event": KIND_EVENT, "reply": KIND_REPLY}[what]
            data.setdefault("ts", ts)
            self.codec.note(kind, data)
            items.append((kind, ts, dumps(_finite(data))))
        now = self.clock()
        items.extend((KIND_TELEMETRY, now, b) for b in self.policy.due(now))  # closed windows
        if self._pending_dropped:
            n, self._pending_dropped = self._pending_dropped, 0
            self._dropped(n, "in memory while the outbox could not be written")
        self._append(items)

    def _append(self, items: list[tuple[int, float, bytes]]) -> None:
        """Commit ``items`` to the outbox and hand them to the publisher.

        While online, QoS 0 telemetry the in-flight window has room for is handed over
        without being stored (see :mod:`hmi.core.uplink.publisher`); alarms, events and
        replies, and every QoS 1 message, are committed before they are published.
        """
        if not items:
            return
        room = self.publisher.room() if self._online else 0
        unstored = [
            room > j and kind == KIND_TELEMETRY and self.codec.qos_of(body) == 0
            for j, (kind, _ts, body) in enumerate(items)
        ]
        try:
            first = self.outbox.allocate(len(items), stored=not any(unstored))
            rows = [
                Row(first + j, kind, ts, body, not unstored[j])
                for j, (kind, ts, body) in enumerate(items)
            ]
            dropped = self.outbox.store(
                [r for r in rows if r.stored], protect=self.publisher.inflight.values()
            )
        except OutboxError as exc:
            self._error(str(exc))
            # keep them in memory and try again on the next pass (bounded by MAX_PENDING)
            self._pending.extendleft(reversed([("raw", it[1], it) for it in items]))
            return
        self.publisher.offer(rows, complete=not dropped)
        if dropped:
            self._dropped(dropped, "the outbox reached its budget")

    def _store_spill(self) -> None:
        """Store the unstored rows the publisher could not send (they keep their ids)."""
        rows = self.publisher.take_spill()
        if not rows:
            return
        for r in rows:
            r.stored = True
        try:
            dropped = self.outbox.store(rows, protect=self.publisher.inflight.values())
        except OutboxError as exc:
            self._error(str(exc))
            # new ids on the next pass: order among these telemetry rows is kept
            self._pending.extendleft(
                reversed([("raw", r.created, (r.kind, r.created, r.body)) for r in rows])
            )
            return
        if dropped:
            self._dropped(dropped, "the outbox reached its budget")

    def _dropped(self, n: int, why: str) -> None:
        log.error("uplink dropped %d telemetry message(s): %s", n, why)
        event = {
            "type": "outbox_overflow",
            "dropped": n,
            "total_dropped": self.outbox.dropped,
            "reason": why,
            "ts": self.clock(),
        }
        self._pending.append(("event", self.clock(), event))
        self._next_diag = 0.0
        if self.on_event is not None:
            try:
                self.on_event(dict(event))
            except Exception:
                log.exception("uplink event handler failed")

    # ------------------------------------------------------------------ commands (uplink thread)
    def _command(self, cmd: Command) -> None:
        """Hand a command on; its reply is queued when done (on whichever thread finishes it)."""
        self.commands.execute(cmd).add_done_callback(self._queue_reply)

    def _queue_reply(self, fut: Any) -> None:
        self._pending.append(("reply", self.clock(), fut.result()))
        self._kick()

    # ------------------------------------------------------------------ status and shutdown
    def _error(self, message: str) -> None:
        if message != self._last_error:
            log.warning("uplink: %s", message)
        self._last_error, self._last_error_ts = message, self.clock()

    def _refresh_status(self, force: bool = False) -> None:
        oldest = None if self.outbox.closed else self.outbox.oldest_created(0.0 if force else 1.0)
        st = {
            "enabled": True,
            "mode": self.codec.mode,
            "state": self._state,
            "connected": self._online,
            "broker": self._broker if self._online else "",
            "client_id": self.client_id,
            "outbox_depth": self.outbox.depth,
            "oldest_age": None if oldest is None else max(0.0, self.clock() - oldest),
            "outbox_bytes": self.outbox.total_bytes,
            "replaying": self._online and self.publisher.replaying,
            "inflight": len(self.publisher.inflight),
            "sent": self.publisher.sent,
            "sent_unstored": self.publisher.sent_unstored,
            "acked": self.publisher.acked,
            "dropped": self.outbox.dropped,
            "rejected": self.publisher.rejected,
            "bdseq": self._session_bdseq,
            "last_error": self._last_error,
            "last_error_ts": self._last_error_ts,
        }
        with self._lock:
            self._status = st

    def _shutdown(self) -> None:
        try:
            self._store_pending()
            conn = self._conn
            if conn is not None and conn.alive and self._online:
                deadline = time.monotonic() + STOP_DRAIN
                while self.publisher.inflight and conn.alive and time.monotonic() < deadline:
                    conn.loop(0.05)
                    self._collect_acks(conn)
                self._refresh_status(force=True)
                for msg in self.codec.offline(self._status, self.clock(), self._session_bdseq):
                    conn.publish(msg)
            if conn is not None:
                conn.close(clean=True)
            self._conn = None
            self._online = False
            self.publisher.end()
            self._store_spill()
        except Exception:
            log.exception("uplink shutdown")
        finally:
            self._state = "stopped"
            self._refresh_status(force=True)
            self.outbox.close()


def _text(state: Any) -> str:
    return str(getattr(state, "value", state))


def _finite(obj: Any) -> Any:
    """Non-finite floats become None (JSON has no NaN)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj
