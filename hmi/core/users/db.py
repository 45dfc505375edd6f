"""Layout of ``users.db`` (SQLAlchemy Core, SQLite WAL): users, the audit chain, meta.

One file holds both the user table and the audit trail so that a user change and
the audit row that records it live (and are backed up) together. Tables:

* ``users``  one row per local user: role, scrypt hash (never the password), enabled,
             failed-login counter and lockout, last login. Names are unique ignoring case.
* ``audit``  append-only, hash-chained (see :mod:`hmi.core.audit`).
* ``meta``   schema version, station id, the audit chain's head (seq + hash).

Times are integer milliseconds since the Unix epoch. Writes that read before they
write (the next audit hash, the failed-login counter) run in ``BEGIN IMMEDIATE``
transactions so that two processes (the HMI and ``gas-hmi users``) never interleave.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from hmi.core.sqlite import ensure_schema, open_sqlite

SCHEMA_VERSION = 1
FILE_NAME = "users.db"

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("name", String(collation="NOCASE"), primary_key=True),
    Column("role", String, nullable=False),
    Column("password_hash", String, nullable=False),
    Column("enabled", Integer, nullable=False, default=1),
    Column("created", BigInteger, nullable=False),
    Column("created_by", String, nullable=False, default=""),
    Column("password_changed", BigInteger, nullable=False),
    Column("last_login", BigInteger),
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", BigInteger),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=False),
    Column("user", String, nullable=False),
    Column("origin", String, nullable=False),
    Column("station", String, nullable=False),
    Column("action", String, nullable=False),
    Column("target", String, nullable=False),
    Column("result", String, nullable=False),
    Column("details", Text, nullable=False),
    Column("hash", String, nullable=False),
    Index("ix_audit_ts", "ts"),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)


class StoreError(Exception):
    """users.db cannot be opened or written; the message names the file and the cause."""


def db_path(data_dir_or_file: str | os.PathLike[str]) -> Path:
    """``DIR`` -> ``DIR/users.db``; a path ending in .db is taken as is."""
    p = Path(data_dir_or_file)
    return p if p.suffix == ".db" else p / FILE_NAME


def open_engine(
    path: str | os.PathLike[str], busy_timeout: float = 10.0, create: bool = True
) -> sa.Engine:
    """An engine on users.db (WAL, synchronous=FULL: audit rows survive a power cut).

    ``create=False`` refuses to create a missing file (read-only CLI commands).
    """
    path = db_path(path)
    engine = open_sqlite(
        path,
        busy_timeout=busy_timeout,
        synchronous="FULL",  # rare writes; every one must be durable
        explicit_begin=True,  # write_tx() needs BEGIN IMMEDIATE before the first read
        create=create,
        owner_only=True,  # the file holds password hashes
        pool_size=2,
        max_overflow=4,
        error=StoreError,
        label="user database",
    )
    mismatch = "user database {path} has schema version {found}; this gas-hmi reads {version}"
    ensure_schema(
        engine,
        metadata,
        meta,
        SCHEMA_VERSION,
        path=path,
        error=StoreError,
        label="user database",
        mismatch=mismatch,
    )
    return engine


@contextlib.contextmanager
def write_tx(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A ``BEGIN IMMEDIATE`` transaction: commits on success, rolls back on error."""
    with engine.connect() as conn:
        conn.execution_options(immediate=True)
        with conn.begin():
            yield conn


def get_meta(conn: sa.Connection, key: str) -> str | None:
    """One meta value (None when unset)."""
    row = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).first()
    return None if row is None else str(row[0])


def set_meta(conn: sa.Connection, key: str, value: str) -> None:
    """Insert or replace one meta value."""
    conn.execute(sa.delete(meta).where(meta.c.key == key))
    conn.execute(meta.insert().values(key=key, value=value))
