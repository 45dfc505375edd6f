"""One way to open the project's SQLite files through SQLAlchemy.

``history.db``, ``alarms.db``, ``outbox.db`` and ``users.db`` share their set-up:
WAL journal (readers never block the writer), a busy timeout (the HMI and the CLI
tools open the same files), ``check_same_thread=False`` (engines are used from the
writer threads), and the schema-version row in ``meta``. What differs between them is
an argument here: durability (``synchronous``), the pool, owner-only creation, extra
pragmas and whether SQLAlchemy emits ``BEGIN`` itself.

Failures raise the *caller's* error class (``error=``) with a message built from the
caller's ``label`` (e.g. ``"user database"``), so each store keeps its own wording.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

__all__ = ["ensure_schema", "open_sqlite"]


def open_sqlite(
    path: str | os.PathLike[str],
    *,
    busy_timeout: float = 5.0,
    synchronous: str = "NORMAL",
    extra_pragmas: Sequence[str] = (),
    explicit_begin: bool = False,
    create: bool = True,
    owner_only: bool = False,
    readonly: bool = False,
    null_pool: bool = False,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    error: type[Exception] = OSError,
    label: str = "database",
) -> sa.Engine:
    """A SQLAlchemy engine on the SQLite file ``path``.

    Every connection gets ``PRAGMA journal_mode=WAL``, ``synchronous`` and
    ``busy_timeout`` (s), then each of ``extra_pragmas`` (``"cache_size=-16000"``).

    ``explicit_begin`` applies the pysqlite transaction fix: the driver's own
    transaction handling is switched off (it defers ``BEGIN`` to the first write, so a
    read-then-write is not one transaction) and SQLAlchemy emits ``BEGIN`` itself, or
    ``BEGIN IMMEDIATE`` on a connection with the execution option ``immediate=True``.
    Leave it off for an engine whose users manage ``isolation_level`` on the raw
    connection themselves (the historian's writer).

    ``create=False`` refuses a missing file (``error("no <label> at <path>")``);
    ``owner_only`` creates a missing file (and its folder) with mode 0o600 before
    SQLite touches it, for files that hold secrets; otherwise SQLite creates the file
    and the caller makes its folder. ``readonly`` opens with ``mode=ro``: the file is
    never created or changed, and only the busy timeout is set (the journal mode is
    the writer's business). ``null_pool`` opens a fresh DBAPI connection per checkout
    and really closes it on release; else a queue pool of ``pool_size`` +
    ``max_overflow`` (SQLAlchemy's defaults when None).
    """
    path = Path(path)
    if not path.exists():
        if not create:
            raise error(f"no {label} at {path}")
        if owner_only and not readonly:
            _create_owner_only(path, error, label)
    if readonly:
        url = f"sqlite:///file:{path.as_posix()}?mode=ro&uri=true"
    else:
        url = f"sqlite:///{path.as_posix()}"
    kwargs: dict[str, Any] = {}
    if null_pool:
        kwargs["poolclass"] = NullPool
    if pool_size is not None:
        kwargs["pool_size"] = pool_size
    if max_overflow is not None:
        kwargs["max_overflow"] = max_overflow
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False, "timeout": busy_timeout}, **kwargs
    )
    pragmas = [f"busy_timeout={int(busy_timeout * 1000)}"]
    if not readonly:
        pragmas = ["journal_mode=WAL", f"synchronous={synchronous}", *pragmas, *extra_pragmas]

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        if explicit_begin:
            dbapi_conn.isolation_level = None  # the "begin" listener below emits BEGIN
        cur = dbapi_conn.cursor()
        for pragma in pragmas:
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    if explicit_begin:

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            immediate = conn.get_execution_options().get("immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _create_owner_only(path: Path, error: type[Exception], label: str) -> None:
    """Create an empty file readable by its owner only (and its folder)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # owner-only from the first byte: no window in which others could open it
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise error(f"cannot create {label} {path}: {exc.strerror or exc}") from None


def ensure_schema(
    engine: sa.Engine,
    metadata: sa.MetaData,
    meta: sa.Table,
    version: int,
    *,
    path: str | os.PathLike[str],
    error: type[Exception],
    label: str,
    mismatch: str,
) -> None:
    """Create missing tables and record ``version`` in ``meta`` (key ``schema_version``).

    A file of another version raises ``error(mismatch.format(path=, found=, version=))``;
    a SQLite failure raises ``error("cannot open <label> <path>: <cause>")``. Either
    way the engine is disposed first.
    """
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            row = conn.execute(
                sa.select(meta.c.value).where(meta.c.key == "schema_version")
            ).first()
            if row is None:
                conn.execute(meta.insert().values(key="schema_version", value=str(version)))
                return
            found = row[0]
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise error(f"cannot open {label} {path}: {exc.orig}") from None
    if int(found) != version:
        engine.dispose()
        raise error(mismatch.format(path=path, found=found, version=version))
