"""Synthetic history evaluates the calc tags the way the runtime does: their history exists,
and the alarms they suppress by design (a standby run's take-over) stay suppressed."""

from __future__ import annotations

from pathlib import Path

from hmi.config import load_station
from hmi.core.alarms.journal import open_db, read_journal
from hmi.core.analytics.synthetic import backfill
from hmi.core.historian import Historian

DEMO = Path(__file__).resolve().parents[2] / "station_configs" / "demo_city_gate"
T0 = 1_795_000_000.0  # a fixed start: no dependence on today's date


def test_backfill_evaluates_calc_tags_and_their_suppressions(tmp_path):
    cfg = load_station(DEMO)
    hist = Historian(tmp_path / "history.db")
    try:
        backfill(cfg, hist, T0, 1800.0, seed=3, model_dt=5.0, alarms_db=tmp_path / "alarms.db")
        standby = hist.raw("reg2.standby", T0, T0 + 1800.0)
        assert len(standby.value) and standby.value[-1] == 1.0  # run 2 stands by
        assert hist.raw("reg1.standby", T0, T0 + 1800.0).value[-1] == 0.0  # run 1 regulates
        flow = hist.raw("station.flow.std", T0, T0 + 1800.0)
        assert len(flow.value) and flow.value[-1] > 1000.0
    finally:
        hist.close()
    eng = open_db(tmp_path / "alarms.db", readonly=True)
    try:
        journal = read_journal(eng)
    finally:
        eng.dispose()
    take2 = [e for e in journal if e["alarm_id"] == "reg2.monitor.position.l"]
    # suppressed by design from the first scan (the calc tag reg2.standby), and any raise
    # (its monitor part-open near its own set point) only ever as suppressed
    assert [e["transition"] for e in take2][:1] == ["suppress"]
    assert all(e["suppressed"] for e in take2 if e["transition"] == "raise")
