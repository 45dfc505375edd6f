"""The store-and-forward outbox: every uplink message is a row here before it is published.

SQLite through SQLAlchemy Core, WAL journal, ``synchronous=NORMAL``: a committed row
survives a crash or kill of the process (it is in the WAL, which the OS writes out); a
power cut can lose the transactions committed since the last checkpoint (see
docs/UPLINK.md, *Store and forward*). Rows carry a stable, never reused sequence id
(``AUTOINCREMENT``); replay reads them in id order, so replay order is creation order.
A row is deleted only when the broker acknowledged its message (PUBACK).

Every uplink message takes its id from this one sequence (:meth:`Outbox.allocate`), also
the QoS 0 telemetry that goes straight to a connected broker without being stored (see
:mod:`hmi.core.uplink.publisher`): ids of such messages are reserved here in blocks of
:data:`ID_BLOCK` (one committed update of ``sqlite_sequence`` per block) before any of
them is published, so ``msg_id`` is never reused after a restart either.

The outbox is bounded by a byte budget. When an append takes it over the budget the
oldest *telemetry* rows are dropped first, then the oldest events; alarm transitions
and command replies are never dropped (the budget may then be exceeded, and a loud
log line says so). Every drop is counted (persisted in ``meta``).

The outbox also keeps the uplink's small persistent state: the Sparkplug ``bdSeq``
counter and the stable metric aliases.

Not thread-safe: one thread (the uplink worker) uses an :class:`Outbox` at a time.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from hmi.core.sqlite import open_sqlite

log = logging.getLogger(__name__)

KIND_TELEMETRY = 0  # tag values (report by exception, integrity)
KIND_EVENT = 1  # device state changes, outbox overflow notices
KIND_ALARM = 2  # alarm transitions (never dropped)
KIND_REPLY = 3  # answers to remote commands (never dropped)
KIND_NAMES = {
    KIND_TELEMETRY: "telemetry",
    KIND_EVENT: "event",
    KIND_ALARM: "alarm",
    KIND_REPLY: "reply",
}
DROPPABLE = (KIND_TELEMETRY, KIND_EVENT)  # in this order

ID_BLOCK = 100_000  # ids reserved at a time for messages published without being stored
ROW_OVERHEAD = 48  # bytes of SQLite bookkeeping per row, counted against the budget
FIRST_ALIAS = 1000  # persisted aliases start here; lower ones are fixed node metrics

_md = MetaData()
outbox_t = Table(
    "outbox",
    _md,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", Integer, nullable=False),
    Column("created_ms", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
    sqlite_autoincrement=True,  # ids are never reused, even after the table empties
)
meta_t = Table(
    "meta", _md, Column("key", String, primary_key=True), Column("value", String, nullable=False)
)
alias_t = Table(
    "aliases",
    _md,
    Column("name", String, primary_key=True),
    Column("alias", Integer, nullable=False, unique=True),
)


_INSERT = "INSERT INTO outbox (id, kind, created_ms, size, body) VALUES (?, ?, ?, ?, ?)"
_SEQ = "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'"
_READ = "SELECT id, kind, created_ms, body FROM outbox WHERE id > ? ORDER BY id LIMIT ?"
_READ_UPTO = (
    "SELECT id, kind, created_ms, body FROM outbox WHERE id > ? AND id <= ? ORDER BY id LIMIT ?"
)


class OutboxError(OSError):
    """The outbox file cannot be opened or written; the message says why."""


@dataclass(slots=True)
class Row:
    """One message with its id: stored in the outbox, or (``stored=False``) only in memory."""

    id: int
    kind: int
    created: float  # Unix s
    body: bytes
    stored: bool = True


class Outbox:
    """Disk-backed FIFO of uplink messages with a byte budget."""

    def __init__(self, path: Path, budget_bytes: int) -> None:
        self.path = Path(path)
        self.budget = int(budget_bytes)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._engine = open_sqlite(
                self.path,
                busy_timeout=10.0,
                # WAL + NORMAL: no fsync per commit (one per checkpoint); a committed row
                # survives a process kill, a power cut may lose the last ones (docs/UPLINK.md)
                synchronous="NORMAL",
                # one long-lived connection (self._conn) is all the outbox uses: a pool
                # would only keep a second handle on the file open after close()
                null_pool=True,
            )
            _md.create_all(self._engine)
            self._conn = self._engine.connect()
            self.depth = int(
                self._conn.execute(select(func.count()).select_from(outbox_t)).scalar_one()
            )
            self.total_bytes = int(
                self._conn.execute(select(func.coalesce(func.sum(outbox_t.c.size), 0))).scalar_one()
            )
            self.dropped = int(self.meta_get("dropped", "0"))
            #: ids up to this are taken (stored, published, or reserved in a block)
            self._reserved = int(self._conn.exec_driver_sql(_SEQ).scalar() or 0)
            self._conn.commit()
        except (SQLAlchemyError, OSError) as exc:
            raise OutboxError(
                f"cannot open the uplink outbox {self.path}: {_reason(exc)}"
            ) from None
        self._oldest_cache: tuple[float, float | None] = (0.0, None)
        #: why the last write failed (disk full, read-only); "" while writes succeed
        self.write_error = ""
        self.appends = 0  # committed append() calls so far
        self.stored = 0  # rows stored by this process
        self.last_rows: list[Row] = []  # the rows of the last successful append(), with ids
        self._next_id = self._reserved + 1  # the next id to hand out
        self._seq_upto = (
            self._reserved
        )  # sqlite_sequence is at least this: ids up to it are taken for good
        self._top = self._reserved  # no stored row has a higher id than this

    # ------------------------------------------------------------------ ids
    def allocate(self, n: int, stored: bool = True) -> int:
        """Take ``n`` consecutive ids of the message sequence; returns the first.

        ``stored=False``: the messages will be published without being stored, so their
        ids are first reserved on disk (a block of :data:`ID_BLOCK` at a time), so that no
        id is handed out twice, even after a crash. Raises :class:`OutboxError` when that
        reservation cannot be written.
        """
        first = self._next_id
        last = first + n - 1
        if not stored and last > self._seq_upto:
            upto = last + ID_BLOCK
            raw = self._conn.connection.dbapi_connection
            assert raw is not None
            try:
                cur = raw.execute(
                    "UPDATE sqlite_sequence SET seq = ? WHERE name = 'outbox'", (upto,)
                )
                if cur.rowcount == 0:
                    raw.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", (upto,)
                    )
                raw.commit()
            except sqlite3.Error as exc:
                raw.rollback()
                self._write_failed(_reason(exc))
                raise OutboxError(
                    f"cannot reserve uplink message ids in {self.path}: {_reason(exc)}"
                ) from None
            self._seq_upto = upto
        self._next_id = last + 1
        return first

    # ------------------------------------------------------------------ rows
    def append(self, items: Sequence[tuple[int, float, bytes]], protect: Iterable[int] = ()) -> int:
        """Store ``(kind, created, body)`` rows in one committed transaction.

        Returns how many older rows were dropped to stay within the budget. Raises
        :class:`OutboxError` when the rows cannot be stored (disk full, file not
        writable): then nothing new is stored and every stored row is kept. After a
        successful call :attr:`last_rows` holds the rows just committed, with their ids.
        """
        self.last_rows = []
        if not items:
            return 0
        first = self.allocate(len(items))
        return self.store([Row(first + j, k, c, b) for j, (k, c, b) in enumerate(items)], protect)

    def store(self, new: Sequence[Row], protect: Iterable[int] = ()) -> int:
        """Store rows that already have their ids (from :meth:`allocate`), in one transaction.

        Like :meth:`append`; the rows may come in any id order (a message that could not
        be published from memory is stored after rows with higher ids: reads are by id).
        """
        self.last_rows = []
        if not new:
            return 0
        rows = [
            (r.id, r.kind, int(r.created * 1000), len(r.body) + ROW_OVERHEAD, r.body) for r in new
        ]
        added = sum(r[3] for r in rows)
        dropped = 0
        # the DBAPI connection itself: this runs once per read block, and SQLAlchemy's
        # statement and result handling cost more than SQLite's insert (no SQLAlchemy
        # transaction is open here: every other method commits before it returns)
        raw = self._conn.connection.dbapi_connection
        assert raw is not None
        try:
            raw.executemany(_INSERT, rows)
            raw.commit()
        except sqlite3.Error as exc:
            raw.rollback()
            # disk full or read-only: keep every stored row (undelivered data), store nothing
            # new; the caller holds the new messages in memory and tries again
            self._write_failed(_reason(exc))
            raise OutboxError(
                f"cannot store uplink messages in {self.path}: {_reason(exc)}"
            ) from None
        self._write_ok()
        low = min(rows)
        if self.depth == 0:  # the oldest row is the first of these
            self._oldest_cache = (time.monotonic(), low[2] / 1000.0)
        elif low[0] < self._top:  # stored below a row already there: ask again
            self._oldest_cache = (0.0, None)
        self._top = max(self._top, max(r[0] for r in rows))
        self.appends += 1  # readers skip their query while nothing new was stored
        self.stored += len(rows)
        self.depth += len(rows)
        self.total_bytes += added
        self.last_rows = [Row(i, k, c / 1000.0, b) for i, k, c, _s, b in rows]
        if self.total_bytes > self.budget:
            dropped += self._drop(self.total_bytes - int(self.budget * 0.9), set(protect))
        return dropped

    def read(self, after_id: int, upto_id: int | None, limit: int) -> list[Row]:
        """Up to ``limit`` rows with ``after_id < id <= upto_id`` in id order."""
        if limit <= 0:
            return []
        if upto_id is None:
            res = self._conn.exec_driver_sql(_READ, (after_id, limit)).all()
        else:
            res = self._conn.exec_driver_sql(_READ_UPTO, (after_id, upto_id, limit)).all()
        self._conn.commit()  # end the read transaction so the WAL can be checkpointed
        return [Row(i, k, c / 1000.0, bytes(b)) for i, k, c, b in res]

    def delete(self, ids: Sequence[int]) -> int:
        """Delete acknowledged rows; returns how many existed."""
        if not ids:
            return 0
        n = 0
        freed = 0
        try:
            for chunk in _chunks(list(ids), 500):
                marks = ",".join("?" * len(chunk))
                res = self._conn.exec_driver_sql(
                    f"DELETE FROM outbox WHERE id IN ({marks}) RETURNING size",  # noqa: S608 - placeholders only
                    tuple(chunk),
                )
                sizes = [s for (s,) in res]
                n += len(sizes)
                freed += sum(sizes)
            self._conn.commit()
        except DBAPIError as exc:  # full disk: the rows stay (sent again later, never lost)
            self._conn.rollback()
            self._write_failed(_reason(exc))
            return 0
        self.total_bytes -= freed
        self.depth -= n
        # the oldest row may be gone: ask again (or nothing is left)
        self._oldest_cache = (time.monotonic(), None) if self.depth == 0 else (0.0, None)
        return n

    def _write_failed(self, cause: str) -> None:
        if not self.write_error:
            log.error(
                "uplink outbox %s cannot be written (%s): the %d stored message(s) are kept, "
                "new ones wait in memory; writing resumes by itself when it can",
                self.path,
                cause,
                self.depth,
            )
        self.write_error = cause

    def _write_ok(self) -> None:
        if self.write_error:
            log.warning("uplink outbox %s is written again (was: %s)", self.path, self.write_error)
            self.write_error = ""

    def max_id(self) -> int:
        """Highest id handed out so far (0 when none): the cursor for 'everything so far'."""
        return self._next_id - 1

    def oldest_created(self, max_age: float = 1.0) -> float | None:
        """Creation time of the oldest row (None when empty); cached for ``max_age`` s."""
        now = time.monotonic()
        if now - self._oldest_cache[0] < max_age:
            return self._oldest_cache[1]
        ms = self._conn.execute(
            select(outbox_t.c.created_ms).order_by(outbox_t.c.id).limit(1)
        ).scalar()
        self._conn.commit()
        value = None if ms is None else ms / 1000.0
        self._oldest_cache = (now, value)
        return value

    def _drop(self, nbytes: int, protect: set[int]) -> int:
        """Drop the oldest droppable rows until ``nbytes`` are freed; count them."""
        freed = dropped = 0
        for kind in DROPPABLE:
            while freed < nbytes:
                cand = self._conn.execute(
                    select(outbox_t.c.id, outbox_t.c.size)
                    .where(outbox_t.c.kind == kind)
                    .order_by(outbox_t.c.id)
                    .limit(2000)
                ).all()
                victims: list[int] = []
                for rid, size in cand:
                    if rid in protect:  # in flight: its PUBACK is on the way
                        continue
                    victims.append(rid)
                    freed += size
                    if freed >= nbytes:
                        break
                if not victims:
                    break
                for chunk in _chunks(victims, 500):
                    self._conn.execute(outbox_t.delete().where(outbox_t.c.id.in_(chunk)))
                dropped += len(victims)
        if dropped:
            self.depth -= dropped
            self.total_bytes -= freed
            self.dropped += dropped
            self._meta_put("dropped", str(self.dropped))
        self._conn.commit()
        if freed < nbytes:
            log.error(
                "uplink outbox over its budget with only alarms and replies left (%d bytes, budget %d): keeping them",
                self.total_bytes,
                self.budget,
            )
        return dropped

    # ------------------------------------------------------------------ small persistent state
    def meta_get(self, key: str, default: str = "") -> str:
        """A value of the meta table."""
        v = self._conn.execute(select(meta_t.c.value).where(meta_t.c.key == key)).scalar()
        self._conn.commit()
        return default if v is None else str(v)

    def meta_set(self, key: str, value: str) -> None:
        """Store a meta value (committed)."""
        self._meta_put(key, value)
        self._conn.commit()

    def _meta_put(self, key: str, value: str) -> None:
        self._conn.exec_driver_sql(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)
        )

    def aliases(self, names: Sequence[str]) -> dict[str, int]:
        """Stable alias of every name; new names get the next free alias (persisted)."""
        known = {
            n: int(a) for n, a in self._conn.execute(select(alias_t.c.name, alias_t.c.alias)).all()
        }
        new = [n for n in dict.fromkeys(names) if n not in known]
        if new:
            nxt = max([FIRST_ALIAS - 1, *known.values()]) + 1
            assigned = {n: nxt + i for i, n in enumerate(new)}
            self._conn.execute(
                alias_t.insert(), [{"name": n, "alias": a} for n, a in assigned.items()]
            )
            known.update(assigned)
        self._conn.commit()
        return {n: known[n] for n in names}

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._conn is None

    def close(self) -> None:
        """Close the file (idempotent)."""
        conn, self._conn = self._conn, None  # type: ignore[assignment]
        if conn is not None:
            try:
                conn.close()
            finally:
                self._engine.dispose()


def _chunks(seq: list[int], n: int) -> Iterable[list[int]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc)
