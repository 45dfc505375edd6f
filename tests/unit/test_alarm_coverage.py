"""Every demo station has the alarms an engineer asks for first (issue: alarm rationalisation):
PLC in STOP, frozen PLC heartbeat, a monitor take-over alarm for every regulator run, the
slam-shut under-pressure trip, rate of change on outlet pressure and flow; and the alarms
of a run that stands by, is isolated, or sits behind a closed ESD are suppressed by design."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmi.config import load_station

ROOT = Path(__file__).resolve().parents[2]
STATIONS = sorted(p.parent for p in (ROOT / "station_configs").glob("*/station.yaml"))


def _alarms(cfg, tag: str, kind: str):
    return [a for a in cfg.tag(tag).alarms if a.kind == kind]


@pytest.mark.parametrize("folder", STATIONS, ids=lambda p: p.name)
def test_the_first_alarms_an_engineer_asks_for_exist(folder):
    cfg = load_station(folder)
    (stop,) = _alarms(cfg, "plc.run", "discrete")
    (frozen,) = _alarms(cfg, "plc.heartbeat", "frozen")
    assert stop.priority <= 2 and frozen.priority <= 2
    for tag in ("outlet.pressure", "outlet.flow"):
        (roc,) = _alarms(cfg, tag, "roc")
        assert roc.suppressed_by == "esd.closed"  # a closing ESD is a fast change by design


@pytest.mark.parametrize("folder", STATIONS, ids=lambda p: p.name)
def test_every_run_has_its_take_over_and_trip_alarms_suppressed_by_its_state(folder):
    cfg = load_station(folder)
    runs = [r.id for r in cfg.protection.runs]
    assert len(runs) >= 2
    for run in runs:
        (take_over,) = _alarms(cfg, f"{run}.monitor.position", "L")
        assert take_over.limit is not None and take_over.limit >= 95
        assert take_over.suppressed_by == f"{run}.standby"
        (trip,) = _alarms(cfg, f"{run}.ssv.trip_low", "discrete")
        assert trip.suppressed_by == f"{run}.isolated"
        # the conditions are calc tags of the run's own state
        isolated = cfg.tag(f"{run}.isolated").expr
        assert f"{run}.maintenance" in isolated and "esd.closed" in isolated
        standby = cfg.tag(f"{run}.standby").expr
        assert f"{run}.isolated" in standby and f"{run}.active.position" in standby
        assert take_over.message.get("en").startswith(f"Run {run[-1]} monitor")
        assert take_over.message.get("zh").startswith(f"{run[-1]}#监控")
