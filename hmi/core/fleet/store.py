"""``fleet.db``: the dispatch's local record of its stations, key figures and alarm events.

Tables: ``stations`` (the latest known state of each station, what ``gas-hmi fleet``
prints), ``active_alarms`` (alarms not back to NORMAL), ``figures`` (key-figure samples,
one per station and figure per sampling period) and ``alarm_events`` (every alarm
transition the dispatch received). ``figures`` and ``alarm_events`` are pruned to
``retention_days``. Timestamps are integer milliseconds.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hmi.core.fleet.station import ActiveAlarm
from hmi.core.sqlite import ensure_schema, open_sqlite

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_md = sa.MetaData()
_meta = sa.Table(
    "meta", _md, sa.Column("key", sa.Text, primary_key=True), sa.Column("value", sa.Text)
)
_stations = sa.Table(
    "stations",
    _md,
    sa.Column("station", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, default=""),
    sa.Column("mode", sa.Text, nullable=False, default=""),
    sa.Column("online", sa.Integer, nullable=False),
    sa.Column("stale", sa.Integer, nullable=False, default=0),
    sa.Column("last_seen", sa.Integer, nullable=False),
    sa.Column("version", sa.Text, nullable=False, default=""),
    sa.Column("config_hash", sa.Text, nullable=False, default=""),
)
_active = sa.Table(
    "active_alarms",
    _md,
    sa.Column("station", sa.Text, primary_key=True),
    sa.Column("alarm_id", sa.Text, primary_key=True),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("ts", sa.Integer, nullable=False),
    sa.Column("message", sa.Text, nullable=False, default=""),
)
_figures = sa.Table(
    "figures",
    _md,
    sa.Column("station", sa.Text, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("ts", sa.Integer, nullable=False),
    sa.Column("value", sa.Float),
    sa.Index("ix_figures", "station", "key", "ts"),
)
_events = sa.Table(
    "alarm_events",
    _md,
    sa.Column("station", sa.Text, nullable=False),
    sa.Column("alarm_id", sa.Text, nullable=False),
    sa.Column("ts", sa.Integer, nullable=False),
    sa.Column("transition", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index("ix_alarm_events", "ts"),
)


class FleetStoreError(Exception):
    """fleet.db cannot be opened or written; the message names the file."""


def _ms(t: float) -> int:
    return int(round(t * 1000))


class FleetStore:
    """The dispatch's SQLite file (one writer: the dispatch; readers: ``gas-hmi fleet``)."""

    def __init__(
        self, path: str | os.PathLike[str], retention_days: float = 90.0, create: bool = True
    ) -> None:
        self.path = Path(path)
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention_days = retention_days
        self._engine = open_sqlite(
            self.path, create=create, error=FleetStoreError, label="fleet database"
        )
        ensure_schema(
            self._engine,
            _md,
            _meta,
            SCHEMA_VERSION,
            path=self.path,
            error=FleetStoreError,
            label="fleet database",
            mismatch="{path} has schema version {found}, this version of gas-hmi reads "
            "{version}: move it aside and let the dispatch build a new one",
        )

    def close(self) -> None:
        """Release the connections."""
        self._engine.dispose()

    # ------------------------------------------------------------------ writing
    def write(
        self,
        stations: Iterable[dict[str, Any]],
        active: Iterable[ActiveAlarm] | None,
        events: Iterable[tuple[str, dict[str, Any]]],
        figures: Iterable[tuple[str, str, float, float | None]],
    ) -> None:
        """One transaction: upsert stations, replace active alarms (when given), append rows."""
        st_rows = list(stations)
        ev_rows = [
            {
                "station": s,
                "alarm_id": str(e.get("alarm_id", "")),
                "ts": _ms(float(e.get("ts") or 0.0)),
                "transition": str(e.get("transition", "")),
                "state": str(e.get("state", "")),
                "priority": int(e.get("priority") or 4),
                "body": json.dumps(e, ensure_ascii=False, default=str),
            }
            for s, e in events
        ]
        fig_rows = [{"station": s, "key": k, "ts": _ms(t), "value": v} for s, k, t, v in figures]
        try:
            with self._engine.begin() as conn:
                for row in st_rows:
                    ins = sqlite_insert(_stations).values(**row)
                    conn.execute(
                        ins.on_conflict_do_update(
                            index_elements=["station"],
                            set_={k: ins.excluded[k] for k in row if k != "station"},
                        )
                    )
                if active is not None:
                    conn.execute(_active.delete())
                    rows = [
                        {
                            "station": a.station,
                            "alarm_id": a.alarm_id,
                            "priority": a.priority,
                            "state": a.state,
                            "ts": _ms(a.ts),
                            "message": a.message_en,
                        }
                        for a in active
                    ]
                    if rows:
                        conn.execute(_active.insert(), rows)
                if ev_rows:
                    conn.execute(_events.insert(), ev_rows)
                if fig_rows:
                    conn.execute(_figures.insert(), fig_rows)
        except sa.exc.DBAPIError as exc:
            raise FleetStoreError(f"cannot write fleet database {self.path}: {exc.orig}") from None

    def prune(self, now: float | None = None) -> int:
        """Delete figures and alarm events older than the retention; rows deleted."""
        cutoff = _ms((time.time() if now is None else now) - self.retention_days * 86400.0)
        with self._engine.begin() as conn:
            n = conn.execute(_figures.delete().where(_figures.c.ts < cutoff)).rowcount
            n += conn.execute(_events.delete().where(_events.c.ts < cutoff)).rowcount
        if n:
            log.info("fleet history: pruned %d rows older than %.0f days", n, self.retention_days)
        return int(n)

    # ------------------------------------------------------------------ reading
    def stations(self) -> list[dict[str, Any]]:
        """Every known station with its active alarms by priority (``gas-hmi fleet``)."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(_stations).order_by(_stations.c.station)).mappings()
            out = [dict(r) for r in rows]
            counts: dict[str, dict[str, int]] = {}
            q = sa.select(_active.c.station, _active.c.priority, sa.func.count()).group_by(
                _active.c.station, _active.c.priority
            )
            for st, prio, n in conn.execute(q):
                counts.setdefault(st, {})[str(prio)] = int(n)
        for r in out:
            r["online"] = bool(r["online"])
            r["stale"] = bool(r["stale"])
            r["last_seen"] = r["last_seen"] / 1000.0
            r["active_alarms"] = {p: counts.get(r["station"], {}).get(p, 0) for p in "1234"}
        return out

    def figures(self, station: str, key: str, since: float = 0.0) -> list[tuple[float, float]]:
        """Key-figure samples (ts s, value) of one station since ``since``."""
        q = (
            sa.select(_figures.c.ts, _figures.c.value)
            .where(_figures.c.station == station, _figures.c.key == key)
            .where(_figures.c.ts >= _ms(since))
            .order_by(_figures.c.ts)
        )
        with self._engine.connect() as conn:
            return [(t / 1000.0, v) for t, v in conn.execute(q)]

    def alarm_events(self, station: str = "", limit: int = 1000) -> list[dict[str, Any]]:
        """The latest alarm events (newest first), of one station or of all."""
        q = sa.select(_events.c.station, _events.c.body).order_by(_events.c.ts.desc())
        if station:
            q = q.where(_events.c.station == station)
        with self._engine.connect() as conn:
            rows = conn.execute(q.limit(limit)).all()
        return [{"station": s, **json.loads(b)} for s, b in rows]
