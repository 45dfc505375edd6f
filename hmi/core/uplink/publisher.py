"""Moves outbox rows onto one MQTT session: live rows at once, the backlog paced, deletes on PUBACK.

At the start of a session (:meth:`Publisher.begin`) every row already in the outbox is
*backlog*: it is replayed in id order (= creation order) at ``replay_rate`` messages/s
and encoded as historical. Rows stored after that are *live* and go out at once, so
live data keeps flowing while the backlog drains. At most :data:`MAX_INFLIGHT`
messages wait for their PUBACK; a row leaves the outbox only when its PUBACK arrived.
Each row is published at most once per session; rows still in flight when a session
ends become backlog of the next one (QoS 1: at least once).

The commit path is kept cheap for one message per read block: acknowledged rows are
deleted in one transaction every :data:`DELETE_EVERY` seconds (and at the end of a
session) rather than one per PUBACK batch, and live rows are handed over in memory
right after their commit (:meth:`Publisher.offer`) instead of being read back; the
outbox is queried for live rows only when some may be missing from memory (the
in-flight window was full, a send failed, the append dropped rows). A row acknowledged
but not yet deleted when the process dies is sent again after the restart, like one
whose PUBACK was lost (at least once).

QoS 0 telemetry while the session is up goes out from memory without being stored
(``Row.stored`` False; the uplink decides, see :meth:`Publisher.room`): at QoS 0 the
broker acknowledges nothing, so storing such a message only to delete it a millisecond
later would protect nothing but cost most of the uplink's CPU and ~70 GB of disk
writes a day at 10,000 values/s. The outbox is then the *spill* store: a memory row
that cannot go out now (the window is full, a send failed) or had not been written to
the socket when the session ended is handed back by :meth:`Publisher.take_spill` and
stored with its id, to go out in id order like any stored row. Only a process crash
can lose such rows: the ones of the last few milliseconds, not yet written out.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from hmi.core.uplink.connection import Connection
from hmi.core.uplink.message import Message
from hmi.core.uplink.outbox import Outbox, Row

log = logging.getLogger(__name__)

MAX_INFLIGHT = 500  # messages published and not yet acknowledged (our window, not paho's)
LOOP_TIMEOUT = 0.1  # s the network loop waits at most (new data wakes it at once, see Uplink._kick)
DELETE_EVERY = 0.25  # s between deletes of acknowledged rows
DELETE_MAX = 5000  # ... or as soon as this many are waiting


class Codec(Protocol):
    """What the publisher needs from a payload mode."""

    def encode(self, row: Row, historical: bool, now: float) -> Message | None: ...  # noqa: D102


class Publisher:
    """Per-session cursors, the in-flight window and the replay pacing."""

    def __init__(
        self,
        outbox: Outbox,
        codec: Codec,
        replay_rate: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.codec = codec
        self.replay_rate = float(replay_rate)
        self.clock = clock
        self.inflight: dict[int, int] = {}  # mid -> row id
        self._done: list[int] = []  # rows with nothing to publish (e.g. a tag no longer configured)
        self._live_cursor = self._replay_cursor = self._replay_upto = 0
        self._tokens = 0.0
        self._last_refill = 0.0
        self._to_delete: list[int] = []  # acknowledged rows not deleted yet
        self._next_delete = 0.0
        self._fresh: deque[Row] = deque()  # committed live rows handed over in memory
        self._need_read = True  # live rows may be in the outbox and not in _fresh
        self._read_at = -1  # outbox.appends at the last read of live rows
        self._memory: dict[int, Row] = {}  # mid -> unstored row published, not yet written out
        self._spill: list[Row] = []  # unstored rows that must be stored after all
        self.sent = self.acked = self.rejected = 0
        self.sent_unstored = 0  # of ``sent``: published from memory without being stored

    def begin(self) -> int:
        """Start a session: everything stored so far is backlog. Returns the backlog size."""
        self.flush()
        self.inflight.clear()
        self._fresh.clear()
        self._need_read = False  # everything stored so far is backlog
        self._replay_upto = self.outbox.max_id()
        self._live_cursor = self._replay_upto
        self._replay_cursor = 0
        self._tokens, self._last_refill = 0.0, time.monotonic()
        return self.outbox.depth

    def end(self) -> None:
        """The session is gone: forget what was in flight (it is still in the outbox).

        Unstored rows not yet written out are kept for :meth:`take_spill`.
        """
        self.flush()
        self._spill.extend(self._memory.values())
        self._memory.clear()
        self.inflight.clear()
        self._done.clear()
        self._drop_fresh()

    def room(self) -> int:
        """How many more rows may be handed over without being stored (0: store them).

        Only while every live row is in memory (nothing waits in the outbox to go out
        first) and the in-flight window has room for them.
        """
        if self._need_read:
            return 0
        return max(0, MAX_INFLIGHT - len(self.inflight) - len(self._fresh))

    def take_spill(self) -> list[Row]:
        """Unstored rows that could not go out (id order): the caller stores them now."""
        rows, self._spill = self._spill, []
        rows.sort(key=lambda r: r.id)
        return rows

    def _drop_fresh(self) -> None:
        """Live rows in memory are given up for the outbox: the stored ones are read back
        later, the unstored ones go to the spill."""
        self._spill.extend(r for r in self._fresh if not r.stored)
        self._fresh.clear()
        self._need_read = True

    def offer(self, rows: Sequence[Row], complete: bool = True) -> None:
        """Rows just committed to the outbox (in id order), to publish without reading them back.

        ``complete=False`` says the outbox changed in another way too (rows dropped):
        then the next pump reads the live rows from the outbox instead.
        """
        if not complete:
            self._drop_fresh()
        if self._need_read:  # the query from the live cursor returns the stored ones
            self._spill.extend(r for r in rows if not r.stored)
        else:
            self._fresh.extend(rows)

    def flush(self) -> None:
        """Delete the acknowledged rows now."""
        ids, self._to_delete = self._to_delete, []
        self._next_delete = time.monotonic() + DELETE_EVERY
        if ids and not self.outbox.closed:
            self.outbox.delete(ids)

    @property
    def replaying(self) -> bool:
        """True while backlog rows are left to replay."""
        return self._replay_cursor < self._replay_upto

    def loop_timeout(self) -> float:
        """How long the network loop may wait for input before the next pump.

        Zero while live rows wait and the window has room: the loop runs before the pump,
        so the last read block of a scan must not wait there for a timeout.
        """
        if len(self.inflight) >= MAX_INFLIGHT:
            return LOOP_TIMEOUT
        if self._fresh or (self._need_read and self.outbox.appends != self._read_at):
            return 0.0
        if self.replaying:
            return min(LOOP_TIMEOUT, 1.0 / self.replay_rate)
        return LOOP_TIMEOUT

    def pump(self, conn: Connection) -> None:
        """Publish live rows, then as much backlog as the pace and the window allow."""
        free = MAX_INFLIGHT - len(self.inflight)
        if free <= 0:
            if self._fresh:  # keep memory bounded while the window stays full
                self._drop_fresh()
            return
        if self._need_read:
            if self._spill:  # the caller has not stored these yet: read after that
                return
            self._read_at = self.outbox.appends
            rows = self.outbox.read(self._live_cursor, None, free)
            self._need_read = len(rows) >= free
            if self._need_read:  # more may be there: read again as soon as the window allows
                self._read_at = -1
            self._fresh.clear()
            for row in rows:
                if not self._send(conn, row, historical=False):
                    self._need_read = True
                    return
                self._live_cursor = row.id
        else:
            fresh = self._fresh
            while fresh and free > 0:
                row = fresh[0]
                if row.id > self._live_cursor:
                    if not self._send(conn, row, historical=False):
                        self._drop_fresh()
                        return
                    self._live_cursor = row.id
                    free -= 1
                fresh.popleft()
            if fresh:  # the window is full: the rest waits in the outbox
                self._drop_fresh()
        free = MAX_INFLIGHT - len(self.inflight)
        if not self.replaying or free <= 0:
            return
        now = time.monotonic()
        rate = self.replay_rate
        self._tokens = min(self._tokens + (now - self._last_refill) * rate, max(1.0, rate * 0.1))
        self._last_refill = now
        n = min(int(self._tokens), free)
        if n <= 0:
            return
        rows = self.outbox.read(self._replay_cursor, self._replay_upto, n)
        if not rows:
            self._replay_cursor = self._replay_upto
            log.info("uplink replay complete")
            return
        for row in rows:
            if not self._send(conn, row, historical=True):
                return
            self._replay_cursor = row.id
            self._tokens -= 1.0

    def _send(self, conn: Connection, row: Row, historical: bool) -> bool:
        msg = self.codec.encode(row, historical, self.clock())
        if msg is None:
            self._done.append(row.id)
            return True
        mid = conn.publish(msg)
        if mid is None:
            return False
        self.inflight[mid] = row.id
        if not row.stored:
            self._memory[mid] = row
            self.sent_unstored += 1
        self.sent += 1
        return True

    def collect(self, conn: Connection) -> int:
        """Delete the rows whose PUBACK arrived; returns how many the broker rejected (MQTT 5 only)."""
        ids = self._done
        self._done = []
        rejected = 0
        if conn.acked:
            mids, conn.acked = conn.acked, []
            memory = self._memory
            for mid in mids:
                rid = self.inflight.pop(mid, None)
                if rid is not None:
                    if memory.pop(mid, None) is None:  # stored: delete it
                        ids.append(rid)
                    self.acked += 1
        if conn.failed:
            mids, conn.failed = conn.failed, []
            for mid in mids:
                rid = self.inflight.pop(mid, None)
                if rid is not None:  # the broker will never take it: do not retry forever
                    if self._memory.pop(mid, None) is None:
                        ids.append(rid)
                    rejected += 1
            self.rejected += rejected
        if ids:
            self._to_delete.extend(ids)
        if self._to_delete and (
            len(self._to_delete) >= DELETE_MAX or time.monotonic() >= self._next_delete
        ):
            self.flush()
        return rejected
