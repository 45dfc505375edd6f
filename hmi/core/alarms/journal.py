"""The alarm journal and the persisted alarm state, in ``<data_dir>/alarms.db`` (SQLite, WAL).

``alarm_journal`` is append-only: one row per transition (the event dict of the runtime
contract, times in integer ms). ``alarm_state`` holds the current state of every alarm
that has ever left NORMAL (upserted), which is what a restart reloads.

The acquisition thread never writes to SQLite: it hands events to :meth:`AlarmJournal.put`
(an unbounded in-memory queue, O(1)) and the writer thread "alarm-journal" drains the
queue in batches, one transaction per batch. During a flood a batch holds thousands of
rows; if the disk refuses a write (full, locked) the batch is kept and retried, so
nothing is dropped.
"""

from __future__ import annotations

import logging
import operator
import queue
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from hmi.core.sqlite import open_sqlite

log = logging.getLogger(__name__)

metadata = MetaData()

alarm_journal = Table(
    "alarm_journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", Integer, nullable=False),
    Column("ts_ms", Integer, nullable=False),
    Column("alarm_id", String, nullable=False),
    Column("tag", String, nullable=False, default=""),
    Column("kind", String, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("state", String, nullable=False),
    Column("prev_state", String, nullable=False),
    Column("transition", String, nullable=False),
    Column("shelved", Integer, nullable=False, default=0),
    Column("suppressed", Integer, nullable=False, default=0),
    Column("out_of_service", Integer, nullable=False, default=0),
    Column("latched", Integer, nullable=False, default=0),
    Column("value", Float),
    Column("limit_value", Float),
    Column("user", String, nullable=False, default=""),
    Column("comment", String, nullable=False, default=""),
    Column("remote", Integer, nullable=False, default=0),
    Column("message_en", String, nullable=False, default=""),
    Column("message_zh", String, nullable=False, default=""),
    Column("area", String, nullable=False, default=""),
    Index("ix_alarm_journal_ts", "ts_ms"),
    Index("ix_alarm_journal_alarm", "alarm_id", "ts_ms"),
)

alarm_state = Table(
    "alarm_state",
    metadata,
    Column("alarm_id", String, primary_key=True),
    Column("tag", String, nullable=False, default=""),
    Column("kind", String, nullable=False, default=""),
    Column("priority", Integer, nullable=False, default=3),
    Column("state", String, nullable=False),
    Column("condition", Integer, nullable=False, default=0),
    Column("latched", Integer, nullable=False, default=0),
    Column("active_since_ms", Integer, nullable=False, default=0),
    Column("last_change_ms", Integer, nullable=False, default=0),
    Column("ack_ts_ms", Integer, nullable=False, default=0),
    Column("ack_user", String, nullable=False, default=""),
    Column("ack_comment", String, nullable=False, default=""),
    Column("value", Float),
    Column("limit_value", Float),
    Column("shelved", Integer, nullable=False, default=0),
    Column("shelve_until_ms", Integer, nullable=False, default=0),
    Column("shelve_oneshot", Integer, nullable=False, default=0),
    Column("shelve_user", String, nullable=False, default=""),
    Column("shelve_reason", String, nullable=False, default=""),
    Column("suppressed", Integer, nullable=False, default=0),
    Column("out_of_service", Integer, nullable=False, default=0),
    Column("oos_user", String, nullable=False, default=""),
    Column("oos_reason", String, nullable=False, default=""),
    Column("reason", String, nullable=False, default=""),
    Column("message_en", String, nullable=False, default=""),
    Column("message_zh", String, nullable=False, default=""),
    Column("area", String, nullable=False, default=""),
)

_STATE_COLS = [c.name for c in alarm_state.columns if c.name != "alarm_id"]
_JOURNAL_COLS = [c.name for c in alarm_journal.columns if c.name != "id"]
_ALL_STATE_COLS = [c.name for c in alarm_state.columns]


def _q(name: str) -> str:
    return '"' + name + '"'


# The hot path (a flood writes thousands of rows) runs these two statements, generated
# from the Core tables above, as executemany of plain tuples: SQLAlchemy's per-row
# parameter dicts cost more than SQLite's own work here (see docs/PERFORMANCE.md).
_JOURNAL_SQL = "INSERT INTO alarm_journal ({}) VALUES ({})".format(
    ", ".join(map(_q, _JOURNAL_COLS)), ", ".join("?" * len(_JOURNAL_COLS))
)
_STATE_SQL = (
    "INSERT INTO alarm_state ({}) VALUES ({}) ON CONFLICT (alarm_id) DO UPDATE SET {}".format(
        ", ".join(map(_q, _ALL_STATE_COLS)),
        ", ".join("?" * len(_ALL_STATE_COLS)),
        ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in _STATE_COLS),
    )
)
_state_tuple = operator.itemgetter(*_ALL_STATE_COLS)
_STOP = object()


def open_db(db_path: Path, readonly: bool = False) -> Engine:
    """SQLAlchemy engine on alarms.db (WAL). Read-only opens never create or change the file."""
    return open_sqlite(db_path, busy_timeout=5.0, synchronous="NORMAL", readonly=readonly)


def event_row(ev: dict[str, Any]) -> dict[str, Any]:
    """An event dict (runtime contract) as an ``alarm_journal`` row."""
    msg = ev["message"]
    return {
        "seq": ev["seq"],
        "ts_ms": int(round(ev["ts"] * 1000)),
        "alarm_id": ev["alarm_id"],
        "tag": ev["tag"],
        "kind": ev["kind"],
        "priority": ev["priority"],
        "state": ev["state"],
        "prev_state": ev["prev_state"],
        "transition": ev["transition"],
        "shelved": int(ev["shelved"]),
        "suppressed": int(ev["suppressed"]),
        "out_of_service": int(ev["out_of_service"]),
        "latched": int(ev["latched"]),
        "value": ev["value"],
        "limit_value": ev["limit"],
        "user": ev["user"],
        "comment": ev["comment"],
        "remote": int(ev["remote"]),
        "message_en": msg.get("en", ""),
        "message_zh": msg.get("zh", ""),
        "area": ev["area"],
    }


def event_tuple(ev: dict[str, Any]) -> tuple[Any, ...]:
    """An event dict as an ``alarm_journal`` row tuple (columns in table order, without id)."""
    msg = ev["message"]
    return (
        ev["seq"],
        int(round(ev["ts"] * 1000)),
        ev["alarm_id"],
        ev["tag"],
        ev["kind"],
        ev["priority"],
        ev["state"],
        ev["prev_state"],
        ev["transition"],
        int(ev["shelved"]),
        int(ev["suppressed"]),
        int(ev["out_of_service"]),
        int(ev["latched"]),
        ev["value"],
        ev["limit"],
        ev["user"],
        ev["comment"],
        int(ev["remote"]),
        msg.get("en", ""),
        msg.get("zh", ""),
        ev["area"],
    )


def journal_event(row: Any) -> dict[str, Any]:
    """An ``alarm_journal`` row back as an event dict (plus its ``id``)."""
    m = row._mapping
    return {
        "id": m["id"],
        "seq": m["seq"],
        "alarm_id": m["alarm_id"],
        "tag": m["tag"],
        "kind": m["kind"],
        "priority": m["priority"],
        "state": m["state"],
        "prev_state": m["prev_state"],
        "transition": m["transition"],
        "shelved": bool(m["shelved"]),
        "suppressed": bool(m["suppressed"]),
        "out_of_service": bool(m["out_of_service"]),
        "latched": bool(m["latched"]),
        "ts": m["ts_ms"] / 1000.0,
        "value": m["value"],
        "limit": m["limit_value"],
        "user": m["user"],
        "comment": m["comment"],
        "remote": bool(m["remote"]),
        "message": {"en": m["message_en"], "zh": m["message_zh"]},
        "area": m["area"],
    }


def read_journal(
    eng: Engine, since: float = 0.0, until: float | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Journal events with since <= ts <= until, oldest first (the newest ``limit`` when given)."""
    q = select(alarm_journal).where(alarm_journal.c.ts_ms >= int(round(since * 1000)))
    if until is not None:
        q = q.where(alarm_journal.c.ts_ms <= int(round(until * 1000)))
    if limit:
        q = q.order_by(alarm_journal.c.id.desc()).limit(limit)
        with eng.connect() as conn:
            return [journal_event(r) for r in reversed(conn.execute(q).fetchall())]
    with eng.connect() as conn:
        return [journal_event(r) for r in conn.execute(q.order_by(alarm_journal.c.id)).fetchall()]


def read_states(eng: Engine) -> dict[str, dict[str, Any]]:
    """Every ``alarm_state`` row by alarm id."""
    with eng.connect() as conn:
        return {r._mapping["alarm_id"]: dict(r._mapping) for r in conn.execute(select(alarm_state))}


class AlarmStoreError(Exception):
    """alarms.db cannot be opened or created (the message names the file and the reason)."""


class AlarmJournal:
    """Append-only journal + state store with a batching writer thread ("alarm-journal")."""

    def __init__(self, db_path: Path, retry_max: float = 10.0) -> None:
        self.db_path = Path(db_path)
        self.engine = self._open()
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._queued = 0
        self._written = 0
        self._failures = 0
        self._last_error = ""
        self._retry_max = retry_max
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ start-up
    def _open(self) -> Engine:
        """Open (or create) alarms.db; a corrupt file is moved aside, never deleted."""
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AlarmStoreError(
                f"cannot create the data directory {self.db_path.parent}: {exc}"
            ) from None
        for attempt in (1, 2):
            eng = open_db(self.db_path)
            try:
                metadata.create_all(eng)
                with eng.connect() as conn:  # touch both tables: a damaged file fails here
                    conn.execute(select(func.count()).select_from(alarm_state)).scalar()
                    conn.execute(select(func.max(alarm_journal.c.seq))).scalar()
                return eng
            except SQLAlchemyError as exc:
                eng.dispose()
                why = str(getattr(exc, "orig", exc))
                damaged = "not a database" in why or "malformed" in why
                if not damaged or attempt == 2:
                    raise AlarmStoreError(
                        f"cannot open the alarm database {self.db_path}: {why}"
                    ) from None
                aside = self.db_path.with_name(
                    f"{self.db_path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
                )
                log.error(
                    "alarm database %s is damaged (%s): moved to %s, starting a new one",
                    self.db_path,
                    why,
                    aside,
                )
                for suffix in ("", "-wal", "-shm"):
                    src = Path(str(self.db_path) + suffix)
                    if src.exists():
                        src.replace(Path(str(aside) + suffix))
        raise AssertionError("unreachable")  # pragma: no cover

    def load(self) -> tuple[dict[str, dict[str, Any]], int]:
        """(state rows by alarm id, last journal seq) — read once before the writer starts."""
        states = read_states(self.engine)
        with self.engine.connect() as conn:
            last = conn.execute(select(func.max(alarm_journal.c.seq))).scalar() or 0
        return states, int(last)

    def start(self) -> None:
        """Start the writer thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="alarm-journal", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ producer side (any thread, O(1))
    def put(self, event_dict: dict[str, Any] | None, state: dict[str, Any] | None) -> None:
        """Queue one journal event and/or one state row."""
        with self._cond:
            self._queued += 1
        self._q.put((event_dict, state))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is committed; False on timeout."""
        with self._cond:
            target = self._queued
            return self._cond.wait_for(lambda: self._written >= target, timeout)

    def stats(self) -> dict[str, Any]:
        """Queue depth and write counters (runtime statistics)."""
        with self._cond:
            return {
                "queued": self._queued - self._written,
                "written": self._written,
                "write_failures": self._failures,
                "last_error": self._last_error,
            }

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, stop the writer thread, dispose the engine."""
        if self._thread is not None:
            self._q.put(_STOP)
            self._wake.set()
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("alarm journal writer did not finish within %.0f s", timeout)
            self._thread = None
        self.engine.dispose()

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._q.get()
            batch = []
            while True:
                if item is _STOP:
                    stop = True
                else:
                    batch.append(item)
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write_until_done(batch, stopping=stop)

    def _write_until_done(self, batch: list[tuple[Any, Any]], stopping: bool) -> None:
        delay = 0.5
        attempts = 0
        while True:
            attempts += 1
            try:
                self._write(batch)
            except SQLAlchemyError as exc:
                with self._cond:
                    self._failures += 1
                    first = not self._last_error
                    self._last_error = str(exc.orig if hasattr(exc, "orig") else exc)
                if first:
                    log.error(
                        "alarm journal write failed (%s); keeping %d entries in memory and retrying",
                        self._last_error,
                        len(batch),
                    )
                if stopping and attempts >= 3:
                    log.error(
                        "alarm journal: giving up at shutdown, %d entries not written", len(batch)
                    )
                    return
                self._wake.wait(delay)
                self._wake.clear()
                delay = min(delay * 2, self._retry_max)
                # merge what arrived meanwhile so that a recovered disk gets one big batch
                while True:
                    try:
                        more = self._q.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        stopping = True
                        self._q.put(_STOP)  # let _run see it after this batch
                        break
                    batch.append(more)
                continue
            with self._cond:
                if self._last_error:
                    log.info("alarm journal writable again (%d entries written)", len(batch))
                    self._last_error = ""
                self._written += len(batch)
                self._cond.notify_all()
            return

    def _write(self, batch: list[tuple[Any, Any]]) -> None:
        events = [event_tuple(e) for e, _ in batch if e is not None]
        states: dict[str, dict[str, Any]] = {}
        for _, st in batch:
            if st is not None:
                states[st["alarm_id"]] = st  # the latest state of each alarm wins
        with self.engine.begin() as conn:
            if events:
                conn.exec_driver_sql(_JOURNAL_SQL, events)
            if states:
                conn.exec_driver_sql(_STATE_SQL, [_state_tuple(st) for st in states.values()])
