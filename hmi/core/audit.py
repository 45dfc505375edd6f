"""The audit trail: an append-only, hash-chained record of every action, in users.db.

Each row stores ``hash = sha256(previous row's hash + canonical(row))`` (the first row
chains from 64 zeros), and ``meta`` keeps the head of the chain (last seq and hash).
:meth:`AuditTrail.verify` recomputes the chain and names the first row that does not
fit: a modified row breaks its own hash, a deleted row leaves a gap in ``seq`` and
breaks the next hash, an inserted row breaks its hash or the sequence, and a cut-off
tail no longer reaches the recorded head.

A plain hash chain proves integrity against edits that do not recompute it; someone
who can rewrite the whole file and the chain is outside what a local file can prove
(docs/SECURITY.md: forward the head to the platform, back up users.db).

Appends are rare (logins, writes, acks), so each one is its own durable transaction
(``BEGIN IMMEDIATE`` + synchronous=FULL), serialized by a lock inside the process and
by SQLite's write lock between processes (the HMI and the CLI).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from hmi.core.users import db
from hmi.core.users.db import StoreError

log = logging.getLogger(__name__)

GENESIS = "0" * 64
ORIGINS = ("local", "remote", "cli", "system", "opcua")  # opcua: the northbound OPC UA server


class AuditError(StoreError):
    """The audit trail cannot be written or read; the message names the file and the cause."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One row of the audit trail."""

    seq: int
    ts: float  # Unix seconds
    user: str
    origin: str  # local | remote | cli | system
    station: str
    action: str  # login, login_failed, lockout, logout, write, ack, shelve, reset, config_load, user_*, ...
    target: str  # tag, alarm id(s) or user name the action was about
    result: str  # ok, denied, success, rejected, timeout, ...
    details: dict[str, Any] = field(default_factory=dict)
    hash: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON / CSV export."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "user": self.user,
            "origin": self.origin,
            "station": self.station,
            "action": self.action,
            "target": self.target,
            "result": self.result,
            "details": self.details,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of :meth:`AuditTrail.verify`."""

    ok: bool
    checked: int
    first_bad: int | None = None  # seq of the first row that does not fit the chain
    reason: str = ""


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, tuples -> lists, unknown objects -> str."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return _clean(value.item())
    if hasattr(value, "value") and isinstance(value.value, (str, int)):  # enum
        return value.value
    return str(value)


def details_text(details: Mapping[str, Any] | None) -> str:
    """Canonical JSON of a details dict (sorted keys, no spaces): the exact text that is hashed."""
    return json.dumps(
        _clean(dict(details or {})), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )


def row_hash(
    prev_hash: str,
    seq: int,
    ts_ms: int,
    user: str,
    origin: str,
    station: str,
    action: str,
    target: str,
    result: str,
    details: str,
) -> str:
    """sha256(prev_hash + canonical row), hex."""
    canonical = json.dumps(
        [seq, ts_ms, user, origin, station, action, target, result, details],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


class AuditTrail:
    """Append-only audit records in ``<data_dir>/users.db``; safe to share between threads."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        station_id: str = "",
        *,
        create: bool = True,
        clock: Any = time.time,
        busy_timeout: float = 10.0,
    ) -> None:
        self.path = db.db_path(path)
        self._engine = db.open_engine(self.path, busy_timeout=busy_timeout, create=create)
        self._lock = threading.Lock()
        self._clock = clock
        with self._engine.begin() as conn:
            stored = db.get_meta(conn, "station_id")
        if station_id and stored != station_id:
            with db.write_tx(self._engine) as conn:
                db.set_meta(conn, "station_id", station_id)
        # the default data dir is .../gas-hmi/<station id>: a good guess for a bare CLI
        self.station_id = station_id or stored or self.path.parent.name

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    # ------------------------------------------------------------------ writing
    def append(
        self,
        action: str,
        *,
        user: str,
        origin: str = "local",
        target: str = "",
        result: str = "ok",
        details: Mapping[str, Any] | None = None,
        ts: float | None = None,
    ) -> AuditRecord:
        """Append one record (durable when this returns); raise :class:`AuditError` on failure."""
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {', '.join(ORIGINS)}")
        when = self._clock() if ts is None else ts
        ts_ms = int(round(when * 1000))
        text = details_text(details)
        with self._lock:
            try:
                with db.write_tx(self._engine) as conn:
                    last = conn.execute(
                        sa.select(db.audit.c.seq, db.audit.c.hash)
                        .order_by(db.audit.c.seq.desc())
                        .limit(1)
                    ).first()
                    seq, prev = (1, GENESIS) if last is None else (int(last[0]) + 1, str(last[1]))
                    digest = row_hash(
                        prev,
                        seq,
                        ts_ms,
                        user,
                        origin,
                        self.station_id,
                        action,
                        target,
                        result,
                        text,
                    )
                    conn.execute(
                        db.audit.insert().values(
                            seq=seq,
                            ts=ts_ms,
                            user=user,
                            origin=origin,
                            station=self.station_id,
                            action=action,
                            target=target,
                            result=result,
                            details=text,
                            hash=digest,
                        )
                    )
                    db.set_meta(conn, "audit_head", f"{seq}:{digest}")
            except sa.exc.DBAPIError as exc:
                log.error(
                    "audit record %s %s by %s NOT written: %s", action, target, user, exc.orig
                )
                raise AuditError(
                    f"cannot write the audit trail in {self.path}: {exc.orig}"
                ) from None
        return AuditRecord(
            seq,
            ts_ms / 1000.0,
            user,
            origin,
            self.station_id,
            action,
            target,
            result,
            json.loads(text),
            digest,
        )

    def record_config_load(
        self, cfg: Any, user: str = "system", origin: str = "system"
    ) -> AuditRecord:
        """Audit that a station config was loaded: its id, folder, size and a fingerprint of its files."""
        source = getattr(cfg, "source_dir", "") or ""
        details = {
            "source_dir": source,
            "tags": len(getattr(cfg, "tags", [])),
            "devices": len(getattr(cfg, "devices", [])),
            "sha256": config_fingerprint(source) if source else "",
        }
        return self.append(
            "config_load", user=user, origin=origin, target=cfg.station.id, details=details
        )

    # ------------------------------------------------------------------ reading
    def records(
        self,
        since: float | None = None,
        until: float | None = None,
        *,
        user: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Records in seq order, optionally filtered (times are Unix seconds)."""
        a = db.audit.c
        q = sa.select(db.audit).order_by(a.seq)
        if since is not None:
            q = q.where(a.ts >= int(since * 1000))
        if until is not None:
            q = q.where(a.ts <= int(until * 1000))
        if user:
            q = q.where(a.user == user)
        if action:
            q = q.where(a.action == action)
        if limit is not None:
            # the newest ``limit`` rows, still returned oldest first
            q = sa.select(q.order_by(None).order_by(a.seq.desc()).limit(limit).subquery()).order_by(
                sa.text("seq")
            )
        try:
            with self._engine.connect() as conn:
                return [_record(r) for r in conn.execute(q).mappings()]
        except sa.exc.DBAPIError as exc:
            raise AuditError(f"cannot read the audit trail in {self.path}: {exc.orig}") from None

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest record as recorded in meta; (0, GENESIS) when empty."""
        with self._engine.connect() as conn:
            raw = db.get_meta(conn, "audit_head")
        if not raw:
            return 0, GENESIS
        seq, _, digest = raw.partition(":")
        return int(seq), digest

    def count(self) -> int:
        """Number of rows."""
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(db.audit)).scalar_one())

    def _iter_rows(self) -> Iterator[sa.RowMapping]:
        with self._engine.connect() as conn:
            yield from conn.execute(sa.select(db.audit).order_by(db.audit.c.seq)).mappings()

    def verify(self) -> VerifyReport:
        """Recompute the chain; report the first row that does not fit (or ok)."""
        prev = GENESIS
        expected = 1
        checked = 0
        try:
            head_seq, head_hash = self.head()
            for r in self._iter_rows():
                seq = int(r["seq"])
                if seq != expected:
                    what = (
                        f"row(s) {expected}-{seq - 1} missing"
                        if seq > expected
                        else f"unexpected seq {seq}"
                    )
                    return VerifyReport(
                        False, checked, seq, f"sequence broken at seq {seq}: {what}"
                    )
                digest = row_hash(
                    prev,
                    seq,
                    int(r["ts"]),
                    r["user"],
                    r["origin"],
                    r["station"],
                    r["action"],
                    r["target"],
                    r["result"],
                    r["details"],
                )
                if digest != r["hash"]:
                    return VerifyReport(
                        False,
                        checked,
                        seq,
                        f"row seq {seq} does not match its hash (modified, or rows before it changed)",
                    )
                prev = digest
                expected += 1
                checked += 1
        except sa.exc.DBAPIError as exc:
            raise AuditError(f"cannot read the audit trail in {self.path}: {exc.orig}") from None
        last = expected - 1
        if head_seq > last:
            return VerifyReport(
                False,
                checked,
                last + 1,
                f"rows {last + 1}-{head_seq} missing: the chain head recorded seq {head_seq}",
            )
        if head_seq < last or (last and head_hash != prev):
            return VerifyReport(
                False,
                checked,
                head_seq + 1 if head_seq < last else last,
                "rows after the recorded chain head were added or changed outside gas-hmi",
            )
        return VerifyReport(True, checked)


def _record(r: sa.RowMapping) -> AuditRecord:
    try:
        details = json.loads(r["details"])
    except ValueError:
        details = {"unreadable": r["details"]}
    return AuditRecord(
        int(r["seq"]),
        int(r["ts"]) / 1000.0,
        r["user"],
        r["origin"],
        r["station"],
        r["action"],
        r["target"],
        r["result"],
        details,
        r["hash"],
    )


def config_fingerprint(folder: str | os.PathLike[str]) -> str:
    """sha256 over the YAML files of a config folder (names and bytes, in name order)."""
    h = hashlib.sha256()
    root = Path(folder)
    for path in sorted(list(root.rglob("*.yaml")) + list(root.rglob("*.yml"))):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        h.update(str(path.relative_to(root)).encode("utf-8") + b"\0" + data + b"\0")
    return h.hexdigest()


def open_trail(data_dir: str | os.PathLike[str], station_id: str = "") -> AuditTrail:
    """Open an existing trail for reading (StoreError when there is no users.db)."""
    return AuditTrail(Path(data_dir), station_id, create=False)
