"""The runtime-statistics snapshot: gathered in one place, failures named and logged once.

Real parts only: the StatsCollector reads a real directory (or a missing one), a real
AlarmEngine's counts, and the SystemDriver turns the snapshot into batches exactly as in a
running station (its ``read``), without any runtime behind it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from pathlib import Path
from typing import Any

import pytest

from drivers.base import DeviceDiagnostics, DeviceState, PointSpec, Quality
from hmi.core.stats import RuntimeStats, StatsCollector
from hmi.core.system_tags import SystemDriver

ADDRESSES = ["host.disk_free", "historian.queue", "uplink.connected", "device.plc.up"]


def _collector(data_dir: Path, historian: Any = dict) -> StatsCollector:
    plc = DeviceDiagnostics("plc", "modbus_tcp", state=DeviceState.UP, scan_overruns=2)
    return StatsCollector(
        data_dir,
        counters=lambda: {"batches": 5, "samples": 50, "housekeeping_overruns": 0},
        devices=lambda: [plc],
        historian=historian,
        started_at=lambda: 100.0,
    )


def _read(stats: StatsCollector) -> dict[str, tuple[float, int, str]]:
    points = [PointSpec(i, f"t{i}", a) for i, a in enumerate(ADDRESSES)]
    drv = SystemDriver("system", {}, points, lambda b: None, stats=stats)
    now = 200.0
    snap = stats.latest_stats()
    return {a: drv._value(drv._addr[i], snap, now) for i, a in enumerate(ADDRESSES)}


def test_snapshot_is_frozen_and_complete(tmp_path: Path) -> None:
    c = _collector(tmp_path, historian=lambda: {"queue_depth": 3, "db_bytes": 1024})
    assert c.latest() == RuntimeStats()  # nothing gathered yet
    snap = c.collect(now=160.0)
    assert (snap.uptime_s, snap.batches, snap.scan_overruns) == (60.0, 5, 2)
    assert snap.disk is not None and snap.disk.total > 0
    assert snap.device("plc") is not None and snap.device("plc")["state"] == "up"
    assert dict(snap.errors) == {}
    with pytest.raises(AttributeError):
        snap.batches = 6  # type: ignore[misc]
    with pytest.raises(TypeError):
        snap.historian["queue_depth"] = 0  # type: ignore[index]
    assert c.latest() is snap
    assert snap.as_dict()["historian"] == {"queue_depth": 3, "db_bytes": 1024}


def test_missing_disk_is_named_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = tmp_path / "not-there"
    c = _collector(gone)
    with caplog.at_level(logging.INFO, logger="hmi.core.stats"):
        c.collect()
        c.collect()
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert "not-there" in failures[0].getMessage()
    values = _read(c)
    value, quality, reason = values["host.disk_free"]
    assert math.isnan(value) and quality == Quality.BAD
    assert "not-there" in reason and "No such file" in reason
    # the other figures do not go BAD with it
    assert values["device.plc.up"] == (1.0, int(Quality.GOOD), "")
    assert values["uplink.connected"] == (0.0, int(Quality.GOOD), "")
    gone.mkdir()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hmi.core.stats"):
        c.collect()
    assert [r.getMessage() for r in caplog.records] == ["runtime statistics: disk available again"]
    assert _read(c)["host.disk_free"][1] == Quality.GOOD


def test_a_failing_source_names_its_cause(tmp_path: Path) -> None:
    def broken() -> dict[str, Any]:
        raise OSError("history.db is locked")

    c = _collector(tmp_path, historian=broken)
    snap = c.collect()
    assert "history.db is locked" in snap.errors["historian"]
    value, quality, reason = _read(c)["historian.queue"]
    assert quality == Quality.BAD and "history.db is locked" in reason
    assert _read(c)["device.plc.up"][1] == Quality.GOOD


def test_system_device_before_the_first_snapshot(tmp_path: Path) -> None:
    c = _collector(tmp_path)
    value, quality, reason = _read(c)["device.plc.up"]
    assert quality == Quality.BAD and "not gathered yet" in reason
    batch = asyncio.run(
        SystemDriver("system", {}, [PointSpec(0, "t0", "host.cpu")], lambda b: None, stats=c).read(
            [0]
        )
    )
    assert int(batch.quality[0]) == Quality.GOOD  # host figures need no snapshot
