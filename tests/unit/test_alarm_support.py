"""Shared helpers for the alarm tests: a station builder, an injected clock, updates, engines.

No test functions here; the alarm test modules import what they need. The clock is
injected (no sleeps); the journal is a real SQLite file in tmp_path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from drivers.base import Quality
from hmi.config.schema import StationConfig
from hmi.core.alarms import AlarmEngine
from hmi.core.alarms.journal import open_db, read_journal
from hmi.core.tagtable import TagUpdate

T0 = 1_700_000_000.0


class Clock:
    """A settable clock for the engine (Unix seconds)."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> float:
        """Move forward ``dt`` seconds; return the new time."""
        self.t += dt
        return self.t


def tag(name: str, *alarms: dict[str, Any], device: str = "plc", **kw: Any) -> dict[str, Any]:
    """A tag dict with alarms."""
    return {"name": name, "device": device, "address": "hr:0:f32", "alarms": list(alarms), **kw}


def station(*tags: dict[str, Any], devices: list[dict[str, Any]] | None = None) -> StationConfig:
    """A StationConfig with one Modbus device 'plc' (comm alarm after 5 s) unless given."""
    devices = devices or [
        {"id": "plc", "protocol": "modbus_tcp", "label": {"en": "Station PLC", "zh": "站控PLC"}}
    ]
    return StationConfig.model_validate(
        {"station": {"id": "st1", "name": "Test"}, "devices": devices, "tags": list(tags)}
    )


def upd(
    cfg: StationConfig, values: dict[str, float], quality: int = int(Quality.GOOD), ts: float = T0
) -> TagUpdate:
    """A scan update of some tags by name (one quality for all)."""
    index = {t.name: i for i, t in enumerate(cfg.tags)}
    idx = np.array([index[n] for n in values], dtype=np.int32)
    vals = np.array([float(v) for v in values.values()], dtype=np.float64)
    n = len(idx)
    return TagUpdate(idx, vals, np.full(n, quality, np.uint8), np.full(n, ts), [""] * n)


def journal_rows(db: Path) -> list[dict[str, Any]]:
    """Every journal event in alarms.db (opened read-only, as the CLI does)."""
    eng = open_db(db, readonly=True)
    try:
        return read_journal(eng)
    finally:
        eng.dispose()


class Harness:
    """An engine with its clock and a list of the events it emitted."""

    def __init__(self, cfg: StationConfig, db: Path, clock: Clock, **kw: Any) -> None:
        self.cfg = cfg
        self.db = db
        self.clock = clock
        self.engine = AlarmEngine(cfg, db, clock=clock, **kw)
        self.events: list[dict[str, Any]] = []
        self.engine.add_listener(self.events.append)

    def feed(
        self, values: dict[str, float], quality: int = int(Quality.GOOD), ts: float | None = None
    ) -> None:
        """Process one update at the current clock time."""
        self.engine.process(upd(self.cfg, values, quality, self.clock.t if ts is None else ts))

    def at(self, dt: float) -> None:
        """Advance the clock and tick."""
        self.clock.advance(dt)
        self.engine.tick()

    def transitions(self, alarm_id: str | None = None) -> list[tuple[str, str, str]]:
        """(alarm id, transition, state) of every event so far."""
        return [
            (e["alarm_id"], e["transition"], e["state"])
            for e in self.events
            if alarm_id in (None, e["alarm_id"])
        ]

    def state(self, alarm_id: str) -> str:
        """Current state of one alarm."""
        view = self.engine.view(alarm_id)
        assert view is not None
        return view.state


def harness_factory(tmp_path: Path) -> Iterator[Any]:
    """Body of each module's ``make`` fixture: make(cfg, db=None, **engine_kwargs) -> Harness.

    Every engine made is closed afterwards; all share one clock (a restart keeps the time).
    """
    made: list[Harness] = []
    clock = Clock()

    def factory(cfg: StationConfig, db: Path | None = None, **kw: Any) -> Harness:
        h = Harness(cfg, db or tmp_path / "alarms.db", clock, **kw)
        made.append(h)
        return h

    yield factory
    for h in made:
        h.engine.close()
