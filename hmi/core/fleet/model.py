"""The fleet model: every station the dispatch has heard of, their alarms and remote acks.

Written by the dispatch's MQTT thread (through :class:`~hmi.core.fleet.sparkplug_host.
SparkplugHost` and :class:`~hmi.core.fleet.json_host.JsonHost`), read by the GUI's timer
and the housekeeping: every access holds :attr:`FleetModel.lock`; :attr:`version` grows
with every change so a reader can skip an unchanged model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from hmi.core.fleet.keyfigures import Figure, key_figures
from hmi.core.fleet.station import ActiveAlarm, Station

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AckRequest:
    """A remote acknowledgement sent to one or more stations, and their confirmations."""

    request_id: str
    user: str
    comment: str
    sent: float
    targets: dict[str, list[str]]
    #: station -> (confirmed at, ok, message)
    replies: dict[str, tuple[float, bool, str]] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """Every station answered."""
        return set(self.replies) >= set(self.targets)


@dataclass(slots=True)
class WriteRequest:
    """A remote write sent to one station, and the station's answer."""

    request_id: str
    station: str
    tag: str
    value: Any
    user: str
    sent: float
    confirmed: float | None = None  # when the station's reply arrived
    ok: bool = False
    message: str = ""

    @property
    def done(self) -> bool:
        """The station answered."""
        return self.confirmed is not None


@dataclass(slots=True, frozen=True)
class StationSummary:
    """What a tile, the network view and ``gas-hmi fleet`` show of one station."""

    station_id: str
    name: str
    mode: str
    online: bool
    stale: bool
    last_seen: float
    version: str
    config_hash: str
    figures: dict[str, Figure]
    alarms_by_priority: dict[int, int]
    unacked: int
    devices_up: int
    devices: int
    outbox_depth: int | None

    @property
    def severity(self) -> tuple[int, int, int, str]:
        """Sort key: offline/stale first, then by highest alarm priority, unacked, id."""
        top = min((p for p, n in self.alarms_by_priority.items() if n), default=5)
        state = 0 if not self.online else (1 if self.stale else 2)
        return (state, top, -self.unacked, self.station_id)


class FleetModel:
    """Thread-safe state of the fleet."""

    def __init__(self, stale_after: float = 120.0, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.stale_after = stale_after
        self.clock = clock
        self.stations: dict[str, Station] = {}
        self.alarms: dict[tuple[str, str], ActiveAlarm] = {}
        self.acks: dict[str, AckRequest] = {}
        self.writes: dict[str, WriteRequest] = {}
        self.version = 0
        #: alarm events not yet written to fleet.db: (station, event)
        self.pending_events: list[tuple[str, dict[str, Any]]] = []
        self.alarms_dirty = True
        #: publish -> model delays (s) of the latest messages (bench and diagnostics)
        self.delays: deque[float] = deque(maxlen=20000)
        self.messages = 0

    # ------------------------------------------------------------------ writers (hold lock)
    def station(self, station_id: str) -> Station:
        """The station, created on first sight."""
        st = self.stations.get(station_id)
        if st is None:
            st = self.stations[station_id] = Station(station_id)
            log.info("new station %s", station_id)
        return st

    def touched(self) -> None:
        """Something changed."""
        self.version += 1

    def set_online(self, st: Station, online: bool, reason: str = "") -> None:
        """Online/offline transition (logged once)."""
        now = self.clock()
        if online and not st.online:
            log.info("station %s online", st.station_id)
            st.online_since = now
        elif not online and st.online:
            log.warning("station %s offline: %s", st.station_id, reason or "death")
        st.online = online
        st.stale = False
        st.offline_reason = "" if online else reason
        if not online:
            for dev in st.devices_online:
                st.devices_online[dev] = False
        self.touched()

    def on_alarm_event(self, station_id: str, event: dict[str, Any]) -> None:
        """One alarm transition from a station (``Alarms/Event`` or JSON ``alarms``)."""
        aid = str(event.get("alarm_id", ""))
        if not aid:
            return
        key = (station_id, aid)
        state = str(event.get("state", ""))
        msg = event.get("message") if isinstance(event.get("message"), dict) else {}
        assert isinstance(msg, dict)
        if state in ("", "NORMAL"):
            self.alarms.pop(key, None)
        else:
            self.alarms[key] = ActiveAlarm(
                station=station_id,
                alarm_id=aid,
                tag=str(event.get("tag", "")),
                kind=str(event.get("kind", "")),
                priority=int(event.get("priority") or 4),
                state=state,
                ts=float(event.get("ts") or self.clock()),
                message_en=str(msg.get("en", "")),
                message_zh=str(msg.get("zh", "")),
                area=str(event.get("area", "")),
                value=event.get("value"),
                user=str(event.get("user", "")),
                comment=str(event.get("comment", "")),
            )
        self.pending_events.append((station_id, dict(event)))
        self.alarms_dirty = True
        self.touched()

    def on_alarm_state(self, station_id: str, alarm_id: str, state: str) -> None:
        """``Alarms/<id>/State`` from a birth: drop alarms the station reports NORMAL."""
        if state in ("", "NORMAL") and (station_id, alarm_id) in self.alarms:
            del self.alarms[(station_id, alarm_id)]
            self.alarms_dirty = True
            self.touched()

    def on_reply(self, station_id: str, reply: dict[str, Any]) -> None:
        """A ``Commands/Reply``: confirms a remote acknowledgement or write sent from here."""
        if reply.get("cmd") == "write":
            self._write_reply(station_id, reply)
            return
        req = self.acks.get(str(reply.get("id", "")))
        if req is None or station_id not in req.targets:
            return
        req.replies[station_id] = (self.clock(), bool(reply.get("ok")), str(reply.get("message")))
        log.info("station %s answered ack %s: %s", station_id, req.request_id, reply.get("message"))
        self.touched()

    def _write_reply(self, station_id: str, reply: dict[str, Any]) -> None:
        """Match a write reply by its id, else (a DCMD carries none) the oldest open write
        of that station, tag and user."""
        req = self.writes.get(str(reply.get("id") or ""))
        if req is None:
            req = next(
                (
                    w
                    for w in self.writes.values()
                    if not w.done
                    and w.station == station_id
                    and w.tag == reply.get("tag")
                    and f"dispatch:{w.user}" == reply.get("user")
                ),
                None,
            )
        if req is None or req.station != station_id or req.done:
            return
        req.confirmed = self.clock()
        req.ok, req.message = bool(reply.get("ok")), str(reply.get("message", ""))
        log.info("station %s answered write %s: %s", station_id, req.tag, req.message)
        self.touched()

    def add_write(self, req: WriteRequest) -> None:
        """Remember a remote write just sent (the station's reply completes it)."""
        self.writes[req.request_id] = req
        while len(self.writes) > 200:
            self.writes.pop(next(iter(self.writes)))
        self.touched()

    def add_ack(self, req: AckRequest) -> None:
        """Remember a remote acknowledgement just sent (the replies complete it)."""
        self.acks[req.request_id] = req
        while len(self.acks) > 500:
            self.acks.pop(next(iter(self.acks)))
        self.touched()

    def check_stale(self, now: float | None = None) -> list[str]:
        """Flag online stations silent for longer than ``stale_after``; ids newly flagged."""
        now = self.clock() if now is None else now
        flagged = []
        for st in self.stations.values():
            stale = st.online and now - st.last_seen > self.stale_after
            if stale and not st.stale:
                log.warning(
                    "station %s stale: silent for %.0f s", st.station_id, now - st.last_seen
                )
                flagged.append(st.station_id)
            if stale != st.stale:
                st.stale = stale
                self.touched()
        return flagged

    # ------------------------------------------------------------------ readers
    def summary(self, st: Station) -> StationSummary:
        """The tile figures of one station (call with the lock held)."""
        by_prio = {p: 0 for p in (1, 2, 3, 4)}
        unacked = 0
        for (sid, _aid), a in self.alarms.items():
            if sid == st.station_id:
                by_prio[a.priority] = by_prio.get(a.priority, 0) + 1
                unacked += a.unacked
        up, n = st.device_availability()
        depth = st.metrics.get("Diagnostics/Outbox Depth")
        return StationSummary(
            station_id=st.station_id,
            name=st.name or st.station_id,
            mode=st.mode,
            online=st.online,
            stale=st.stale,
            last_seen=st.last_seen,
            version=st.version,
            config_hash=st.config_hash,
            figures=key_figures(st),
            alarms_by_priority=by_prio,
            unacked=unacked,
            devices_up=up,
            devices=n,
            outbox_depth=int(depth.value) if depth and isinstance(depth.value, int) else None,
        )

    def summaries(self) -> list[StationSummary]:
        """Every station, most severe first."""
        with self.lock:
            out = [self.summary(st) for st in self.stations.values()]
        return sorted(out, key=lambda s: s.severity)

    def active_alarms(self) -> list[ActiveAlarm]:
        """Every active alarm of every station (copies), highest priority, newest first."""
        with self.lock:
            alarms = list(self.alarms.values())
        return sorted(alarms, key=lambda a: (a.priority, -a.ts))

    def write_requests(self, station_id: str = "") -> list[WriteRequest]:
        """The remote writes sent (to ``station_id`` when given), newest first (copies)."""
        with self.lock:
            out = [
                replace(w)
                for w in self.writes.values()
                if not station_id or w.station == station_id
            ]
        return sorted(out, key=lambda w: -w.sent)

    def ack_requests(self) -> list[AckRequest]:
        """The remote acknowledgements sent, newest first."""
        with self.lock:
            return sorted(self.acks.values(), key=lambda r: -r.sent)
