"""Analytics end to end: simulated station -> drivers -> history -> early warning -> alarm engine.

The demo station (Modbus devices; its OPC UA controller left out to keep the test short)
with its system.yaml runs against the simulator at 20x speed in the ``leak_small``
scenario. The mass-balance detector judges a 10-second window (a ratio of volumes, so
speed does not change it) and its ``warning.mass_balance`` tag's ordinary H alarm comes
in through the real alarm engine. The uplink points at a closed port with a tiny outbox,
so the outbox overflows and the ``uplink.dropped`` system tag raises its latched alarm.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from drivers.base import Quality
from hmi.cli import main
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.config.schema import Broker
from hmi.core.runtime import Runtime
from tests.helpers import free_port, wait_until
from tests.stations import demo_station_copy

GOOD = int(Quality.GOOD)


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    root = tmp_path_factory.mktemp("analytics")
    st, _ = demo_station_copy(root, exclude=("opcua.yaml",))
    pending = st / "system.yaml.pending"
    if pending.exists():
        pending.rename(st / "system.yaml")
    text = (st / "system.yaml").read_text(encoding="utf-8")
    text = text.replace("  interval: 60\n", "  interval: 1\n")
    text = re.sub(r"(kind: mass_balance\n(?:.*\n)*?\s+window:) 1800", r"\1 10", text, count=1)
    text = text.replace("        on_delay: 120\n", "        on_delay: 2\n")
    (st / "system.yaml").write_text(text, encoding="utf-8")
    cfg = load_station(st)
    assert next(w for w in cfg.analytics.warnings if w.id == "mass_balance").window == 10
    return cfg, root / "data"


def field_only(cfg):
    """The config the simulator serves: field devices only (it has nothing to do with system tags)."""
    devices = [d for d in cfg.devices if d.protocol != "system"]
    ids = {d.id for d in devices}
    return cfg.model_copy(
        update={"devices": devices, "tags": [t for t in cfg.tags if t.device in ids]}
    )


@dataclass
class Run:
    """What the station showed while it ran (observed once per module, asserted per test)."""

    warning: tuple[float, int]
    mass_balance: Any
    other_warnings: list[str]
    dropped: float
    plc_availability_quality: int
    flushed: bool
    history_good_max: float


@pytest.fixture(scope="module")
def run(station) -> Run:
    """Run the station in the ``leak_small`` scenario until both alarms came in.

    Every test that needs the run's data directory asks for this fixture, so none of them
    depends on another test having run first.
    """
    cfg, data = station
    uplink = cfg.uplink.model_copy(
        update={
            "enabled": True,
            "mode": "json",
            "brokers": [Broker(host="127.0.0.1", port=free_port())],
            "outbox_budget_mb": 0.02,
        }
    )
    sim = start_simulator_thread(field_only(cfg), scenario="leak_small", seed=3, speed=20.0)
    try:
        rt = Runtime(cfg, data, uplink=uplink)
        rt.start()
        try:

            def active() -> dict[str, object]:
                return {
                    v.alarm_id: v for v in rt.alarms.snapshot()[1] if v.state.startswith("ACTIVE")
                }

            t0 = time.monotonic()
            wait_until(
                lambda: "ew.mass_balance.h" in active(),
                timeout=90,
                interval=0.2,
                what="mass-balance early warning",
            )
            print(f"mass-balance warning after {time.monotonic() - t0:.1f} s")
            value, q, _ts, _ = rt.tags.get("ew.mass_balance")
            mass_balance = next(w for w in rt.analytics.warnings() if w.id == "mass_balance")
            others = [a for a in active() if a.startswith("ew.") and a != "ew.mass_balance.h"]
            # the outbox overflows (broker unreachable, 20 kB budget): a latched alarm says so
            wait_until(
                lambda: "sys.uplink.dropped.h" in active(),
                timeout=60,
                interval=0.2,
                what="outbox overflow alarm",
            )
            print(f"outbox alarm after {time.monotonic() - t0:.1f} s")
            dropped = float(rt.tags.get("sys.uplink.dropped")[0])
            plc_q = int(rt.tags.get("sys.plc.availability")[1])
            flushed = bool(rt.historian.flush(10))
            hist = rt.historian.raw("ew.mass_balance", time.time() - 300, time.time() + 1)
            good = hist.quality == GOOD
            hmax = float(np.nanmax(hist.value[good])) if good.any() else float("nan")
        finally:
            rt.stop()
    finally:
        sim.stop()
    return Run((float(value), int(q)), mass_balance, others, dropped, plc_q, flushed, hmax)


def test_small_leak_raises_the_mass_balance_warning(run):
    value, quality = run.warning
    assert quality == GOOD
    assert value > 1.0
    assert run.mass_balance.judged
    assert run.mass_balance.detail["inlet_flow"] > run.mass_balance.detail["outlet_flow"]


def test_no_other_early_warning_speaks_up(run):
    # the PTZ checks, odorant and heater stay quiet
    assert run.other_warnings == []


def test_the_overflowing_outbox_raises_its_alarm(run):
    assert run.dropped > 0
    assert run.plc_availability_quality in (GOOD, int(Quality.UNCERTAIN))


def test_the_warning_reaches_the_historian(run):
    assert run.flushed
    assert run.history_good_max > 1.0


def test_cli_reads_the_same_data_dir(station, run, tmp_path, capsys):
    cfg, data = station
    assert (data / "history.db").exists()
    today = dt.datetime.now(ZoneInfo(cfg.station.timezone)).date().isoformat()
    out = tmp_path / "today.json"
    assert (
        main(
            [
                "report",
                "daily",
                "--data-dir",
                str(data),
                "--station",
                cfg.source_dir,
                "--date",
                today,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "incomplete" in capsys.readouterr().out  # the day is not over
    assert (
        main(
            [
                "report",
                "warnings",
                "--data-dir",
                str(data),
                "--station",
                cfg.source_dir,
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert '"id": "mass_balance"' in capsys.readouterr().out


def test_service_makes_yesterdays_report_and_a_forecast(tmp_path):
    """A station restarting after midnight: yesterday's report is made, saved and handed to
    the report listeners; the forecast is issued and published as system tags."""
    from hmi.core.analytics.synthetic import backfill
    from hmi.core.historian import Historian

    st, _ = demo_station_copy(tmp_path, exclude=("opcua.yaml",))
    pending = st / "system.yaml.pending"
    if pending.exists():
        pending.rename(st / "system.yaml")
    text = (st / "system.yaml").read_text(encoding="utf-8")
    text = text.replace("    history_days: 56\n", "    history_days: 56\n    min_history_days: 1\n")
    (st / "system.yaml").write_text(
        text.replace("save: [pdf, json]", "save: [csv]"), encoding="utf-8"
    )
    cfg = load_station(st)
    tz = ZoneInfo(cfg.station.timezone)
    today = dt.datetime.now(tz).date()
    start = dt.datetime.combine(today - dt.timedelta(days=2), dt.time(0), tz).timestamp()
    data = tmp_path / "data"
    data.mkdir()
    hist = Historian(data / "history.db")
    backfill(cfg, hist, start, time.time() - 120.0 - start, seed=5, model_dt=5.0, step=30.0)
    hist.close()

    rt = Runtime(cfg, data)  # the field devices do not answer: only history and system tags matter
    got: list[dict] = []
    rt.analytics.add_report_listener(got.append)
    rt.start()
    try:
        wait_until(lambda: got, timeout=60, what="yesterday's report")
        rep = got[0]
        yesterday = (today - dt.timedelta(days=1)).isoformat()
        assert rep["date"] == yesterday and rep["complete"] and rep["station_volume"] > 100_000
        assert (data / "reports" / f"daily-{yesterday}.json").is_file()
        assert (data / "reports" / f"daily-{yesterday}.csv").is_file()
        wait_until(lambda: rt.analytics.forecast() is not None, timeout=60, what="forecast")
        res = rt.analytics.forecast()
        assert not res.note and res.training_hours >= 24 and np.isfinite(res.forecast).all()
        wait_until(lambda: rt.tags.get("fc.next_24h")[1] == GOOD, timeout=30, what="forecast tag")
        assert rt.tags.get("fc.next_24h")[0] == pytest.approx(float(np.sum(res.forecast[1:25])))
        # the report page's request goes through the analytics thread
        again = rt.analytics.request_report(today - dt.timedelta(days=1)).result(30)
        assert again["station_volume"] == rep["station_volume"]
    finally:
        rt.stop()
