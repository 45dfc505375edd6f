"""Each early warning fires on its simulator scenario and none fires over a normal simulated day.

History is made the way the runtime makes it: the station model (at a 5-s internal step,
faster than real time) read every 10 s through the real tag table, so the history
policy (deadbands, max intervals) of every demo tag applies; the detectors then read it
back through the historian. "Fires" means the detector's figure crosses the limit of the
ordinary alarm configured on its ``warning.<id>`` tag in the demo station's system.yaml.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hmi.config import load_station
from hmi.core.analytics.synthetic import backfill
from hmi.core.analytics.warnings import WarningEngine
from hmi.core.historian import Historian

DEMO = Path(__file__).resolve().parents[2] / "station_configs" / "demo_city_gate"
TZ = ZoneInfo("Asia/Shanghai")


def analytics_station(dest: Path) -> Path:
    """A copy of the demo station with its system.yaml (staged as system.yaml.pending until enabled)."""
    st = dest / "demo_city_gate"
    shutil.copytree(DEMO, st, ignore=shutil.ignore_patterns("__pycache__"))
    pending = st / "system.yaml.pending"
    if pending.exists():
        pending.rename(st / "system.yaml")
    return st


def wednesday() -> float:
    """Local midnight of a fixed Wednesday (the same weekday shape and date on every run)."""
    return dt.datetime.combine(dt.date(2026, 11, 18), dt.time(0), TZ).timestamp()


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    return load_station(analytics_station(tmp_path_factory.mktemp("st")))


@pytest.fixture(scope="module")
def history(cfg, tmp_path_factory):
    """history(scenario, hours) -> (historian, start, model); each made once per module."""
    made: dict[tuple[str, float], tuple[Historian, float, object]] = {}

    def make(scenario: str, hours: float, start: float | None = None):
        key = (scenario, hours)
        if key not in made:
            t0 = wednesday() if start is None else start
            hist = Historian(tmp_path_factory.mktemp(scenario) / "history.db")
            model = backfill(cfg, hist, t0, hours * 3600.0, scenario=scenario, seed=4, model_dt=5.0)
            made[key] = (hist, t0, model)
        return made[key]

    yield make
    for hist, _, _ in made.values():
        hist.close()


def limits(cfg, detector: str) -> tuple[float, float]:
    """(low, high) alarm limits of the tag carrying ``warning.<detector>``."""
    tag = next(t for t in cfg.tags if t.address == f"warning.{detector}")
    lo = max((a.limit for a in tag.alarms if a.kind in ("L", "LL")), default=-math.inf)
    hi = min((a.limit for a in tag.alarms if a.kind in ("H", "HH")), default=math.inf)
    return lo, hi


def fired(cfg, detector: str, result) -> bool:
    lo, hi = limits(cfg, detector)
    return result.judged and (result.value < lo or result.value > hi)


def test_no_early_warning_over_a_normal_day(cfg, history):
    hist, t0, _ = history("normal", 24.0)
    engine = WarningEngine(cfg, hist)
    judged: dict[str, int] = dict.fromkeys(engine.detectors, 0)
    for k in np.arange(1800.0, 24 * 3600.0 + 1, 1800.0):
        for det_id, r in engine.evaluate(t0 + k).items():
            assert not fired(cfg, det_id, r), (
                f"{det_id} fired at {k / 3600:.1f} h: {r.value:.2f} {r.unit} {r.detail}"
            )
            judged[det_id] += r.judged
    # what a normal day can judge, it judged; what it cannot (no isolation, no lock-up,
    # filter 2 on standby) it said so instead of inventing a figure
    for det_id in (
        "mass_balance",
        "heater_capacity",
        "odorant_dose",
        "ptz_m1",
        "ptz_m2",
        "flt1_days",
    ):
        assert judged[det_id] >= 20, det_id
    for det_id in ("isolation_decay", "reg_creep", "flt2_days"):
        assert judged[det_id] == 0, det_id
    r = engine.evaluate(t0 + 12 * 3600.0)
    assert "not isolated" in r["isolation_decay"].reason
    assert "lock-up" in r["reg_creep"].reason
    assert "not in service" in r["flt2_days"].reason


# scenario, hours simulated from a Wednesday 00:00, detector, hour by which it must fire
SCENARIOS = [
    ("leak_small", 1.0, "mass_balance", 0.5),
    ("regulator_creep", 3.0, "reg_creep", 2.75),
    ("isolation_leak", 2.0, "isolation_decay", 1.75),
    ("filter_fouling", 24.0, "flt1_days", 24.0),
    ("heater_weak", 8.0, "heater_capacity", 7.0),
    ("odorant_underdose", 2.0, "odorant_dose", 2.0),
    ("ptz_mismatch", 1.0, "ptz_m2", 1.0),
]


@pytest.mark.parametrize(
    ("scenario", "hours", "detector", "by"), SCENARIOS, ids=[s[0] for s in SCENARIOS]
)
def test_each_early_warning_fires_on_its_scenario(cfg, history, scenario, hours, detector, by):
    hist, t0, _ = history(scenario, hours)
    engine = WarningEngine(cfg, hist)
    r = engine.evaluate(t0 + by * 3600.0)
    lo, hi = limits(cfg, detector)
    assert fired(cfg, detector, r[detector]), (
        f"{detector}: {r[detector].value} (limits {lo}, {hi}) {r[detector].reason} {r[detector].detail}"
    )
    # only the right detector speaks up (the PTZ check of the other meter etc. stay quiet);
    # a meter reading 3 % high also unbalances the station, so the balance agrees there
    also = {"ptz_mismatch": ["mass_balance"]}.get(scenario, [])
    others = [d for d, x in r.items() if d != detector and fired(cfg, d, x)]
    assert others == also, f"{scenario} also fired {others}"


def test_warnings_come_before_the_process_alarms(cfg, history):
    """The point of an early warning: it fires while the process is still inside its limits."""
    # regulator creep: warning long before outlet.pressure reaches H 0.42 MPa
    hist, t0, _ = history("regulator_creep", 3.0)
    engine = WarningEngine(cfg, hist)
    first = next(
        k
        for k in np.arange(600.0, 3 * 3600.0 + 1, 300.0)
        if fired(cfg, "reg_creep", engine.evaluate(t0 + k)["reg_creep"])
    )
    p = hist.raw("outlet.pressure", t0, t0 + first)
    assert np.nanmax(p.value) < 0.42
    # weak heater: warning before the gas after the regulators falls below 5 °C (its L alarm)
    hist, t0, _ = history("heater_weak", 8.0)
    engine = WarningEngine(cfg, hist)
    first = next(
        k
        for k in np.arange(600.0, 8 * 3600.0 + 1, 300.0)
        if fired(cfg, "heater_capacity", engine.evaluate(t0 + k)["heater_capacity"])
    )
    t = hist.raw("reg1.outlet.temperature", t0, t0 + first)
    assert np.nanmin(t.value) > 5.0
    # small leak: no process alarm limit anywhere near (flows, pressures normal)
    hist, t0, _ = history("leak_small", 1.0)
    assert np.nanmax(hist.raw("gd03.lel", t0, t0 + 3600).value) < 20.0


def test_a_broken_detector_does_not_stop_the_others(cfg, history):
    hist, t0, _ = history("normal", 24.0)
    engine = WarningEngine(cfg, hist)

    def boom(now: float):
        raise ZeroDivisionError("bug")

    engine.detectors["mass_balance"].evaluate = boom  # a detector with a bug
    r = engine.evaluate(t0 + 6 * 3600)
    assert not r["mass_balance"].judged and "internal error" in r["mass_balance"].reason
    assert r["ptz_m1"].judged
