"""Layout of ``history.db`` (SQLAlchemy Core) and the connection set-up.

Tables:

* ``tags``        stable integer id per tag name (ids survive restarts and config changes);
* ``samples``     narrow raw history, ``PRIMARY KEY (tag_id, ts)`` ``WITHOUT ROWID``: the key
                  *is* the (tag, time) index, so a time-range read of one tag is one B-tree
                  range scan and no separate index has to be kept up to date. One sample per
                  tag and millisecond: the first one written wins (see :mod:`.store`);
                  BAD samples are stored with a NULL value;
* ``samples_text``  the same for the rare string tags;
* ``rollup_1m``, ``rollup_1h``  per tag and bucket: min, max, sum and count of the usable
                  values (GOOD/UNCERTAIN), count of all samples, of non-GOOD and of BAD
                  samples, and the last sample (value, quality, time). Kept up to date
                  incrementally by the writer (see :mod:`.rollup`);
* ``current``     latest value per tag (what ``gas-hmi snapshot`` prints);
* ``meta``        schema version.

Timestamps are integer milliseconds since the Unix epoch.

The schema is declared with SQLAlchemy Core; the hot paths (bulk inserts, range reads)
run their SQL on the DBAPI connection checked out of the SQLAlchemy pool, which keeps
Python overhead per row at the level of a bare ``sqlite3`` ``executemany``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

from hmi.core.historian.model import HistorianError
from hmi.core.sqlite import ensure_schema, open_sqlite

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

metadata = MetaData()

tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("created", BigInteger, nullable=False),
)

samples = Table(
    "samples",
    metadata,
    Column("tag_id", Integer, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Float),
    Column("quality", SmallInteger, nullable=False),
    sqlite_with_rowid=False,
)

samples_text = Table(
    "samples_text",
    metadata,
    Column("tag_id", Integer, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Text),
    Column("quality", SmallInteger, nullable=False),
    sqlite_with_rowid=False,
)


def _rollup_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("tag_id", Integer, primary_key=True, autoincrement=False),
        Column("bucket", BigInteger, primary_key=True, autoincrement=False),  # bucket start, ms
        Column("vmin", Float),  # NULL when the bucket has no usable value
        Column("vmax", Float),
        Column("vsum", Float, nullable=False),
        Column("nval", Integer, nullable=False),  # usable values (GOOD or UNCERTAIN, not NaN)
        Column("n", Integer, nullable=False),  # all samples
        Column("nongood", Integer, nullable=False),  # UNCERTAIN or BAD samples
        Column("nbad", Integer, nullable=False),  # BAD samples
        Column("vlast", Float),  # value of the last sample (NULL when BAD)
        Column("qlast", SmallInteger, nullable=False),
        Column("tlast", BigInteger, nullable=False),  # ms
        sqlite_with_rowid=False,
    )


rollup_1m = _rollup_table("rollup_1m")
rollup_1h = _rollup_table("rollup_1h")

#: (bucket width in ms, table name, label), finest first
ROLLUPS: tuple[tuple[int, str, str], ...] = (
    (60_000, "rollup_1m", "1min"),
    (3_600_000, "rollup_1h", "1h"),
)

current = Table(
    "current",
    metadata,
    Column("tag_id", Integer, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=False),
    Column("value", Float),
    Column("text", Text),
    Column("quality", SmallInteger, nullable=False),
    Column("reason", Text, nullable=False, default=""),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)


def open_engine(path: Path, busy_timeout: float = 5.0) -> sa.Engine:
    """An engine on ``path`` (WAL, synchronous=NORMAL); creates the tables on first use.

    Raises :class:`HistorianError` naming the file when it cannot be opened or is not
    a history database of this version.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HistorianError(
            f"cannot create the folder of history database {path}: {exc.strerror or exc}"
        ) from None
    engine = open_sqlite(
        path,
        busy_timeout=busy_timeout,
        synchronous="NORMAL",  # WAL: durable on checkpoint, no fsync per commit
        extra_pragmas=(
            "cache_size=-4000",
        ),  # 4 MB page cache per connection (the OS caches the file too)
        # the store's write connection sets isolation_level itself (see store.py)
        explicit_begin=False,
        pool_size=4,
        max_overflow=8,
    )
    mismatch = "history database {path} has schema version {found}, this version of gas-hmi reads {version}"
    ensure_schema(
        engine,
        metadata,
        meta,
        SCHEMA_VERSION,
        path=path,
        error=HistorianError,
        label="history database",
        mismatch=mismatch,
    )
    return engine


def db_bytes(path: Path) -> int:
    """Size on disk of the database and its WAL file, in bytes."""
    total = 0
    for p in (Path(path), Path(f"{path}-wal")):
        try:
            total += p.stat().st_size
        except OSError:
            pass
    return total
