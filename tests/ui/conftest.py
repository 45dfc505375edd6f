"""Fixtures for the HMI tests (offscreen Qt).

``table_runtime`` is a station runtime without devices: a real TagTable the test feeds
with driver Batches and a real AlarmEngine (alarms.db in tmp_path). Its ``call`` runs
functions on one worker thread, as the runtime's acquisition thread would, so the GUI
code under test crosses threads exactly as in production. Nothing is mocked; only the
devices are absent (the live-station tests use the simulator and the real Runtime).
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drivers.base import Batch, Quality, WriteResult, WriteStatus
from hmi import paths
from hmi.config import load_station
from hmi.config.schema import StationConfig
from hmi.core.tagtable import TagTable

DEMO = paths.station_configs_dir() / "demo_city_gate"


@pytest.fixture(scope="session")
def demo_cfg() -> StationConfig:
    """The demo station config."""
    return load_station(DEMO)


@pytest.fixture
def hmi_app(qapp: Any) -> Any:
    """QApplication with the light theme and English texts (restored afterwards)."""
    from hmi.ui import theme
    from hmi.ui.i18n import i18n

    theme.install(qapp, "light")
    i18n().set_language("en")
    yield qapp
    theme.install(qapp, "light")
    i18n().set_language("en")


class TableRuntime:
    """A devices-less runtime: TagTable + AlarmEngine, commands on one worker thread."""

    def __init__(self, cfg: StationConfig, data_dir: Path) -> None:
        from hmi.core.alarms import AlarmEngine

        self.cfg = cfg
        self.data_dir = data_dir
        self.tags = TagTable(cfg.tags)
        self.alarms = AlarmEngine(cfg, data_dir / "alarms.db")
        self.historian = None
        self.writes: list[tuple[str, Any, str]] = []
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def close(self) -> None:
        """Stop the worker thread and the alarm journal."""
        self._pool.shutdown(wait=True)
        self.alarms.close()

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Run ``fn`` on the worker thread."""
        return self._pool.submit(fn, *args, **kwargs)

    def submit(self, coro: Any) -> concurrent.futures.Future[Any]:
        """Run a coroutine to completion on the worker thread."""
        import asyncio

        return self._pool.submit(asyncio.run, coro)

    async def write_tag(self, name: str, value: Any, user: str = "", origin: str = "local") -> WriteResult:
        """Record the write and apply it to the tag table (as a read-back would)."""
        self.writes.append((name, value, user))
        i = self.tags.index[name]
        self._apply([i], [float(value)])
        return WriteResult(WriteStatus.SUCCESS, "written and read back")

    def _apply(self, idx: list[int], values: list[float], quality: int = Quality.GOOD, reason: str = "") -> None:
        now = time.time()
        i = np.asarray(idx, np.int32)
        raw = (np.asarray(values, float) - self.tags.offset[i]) / self.tags.gain[i]  # drivers deliver raw values
        res = self.tags.apply(Batch(i, raw, quality, reason, now, now))
        self.alarms.process(res.scan)
        self.alarms.tick(now)

    def set(self, values: dict[str, float]) -> None:
        """Feed GOOD values by tag name (through the worker thread; waits)."""
        idx = [self.tags.index[n] for n in values]
        self.call(self._apply, idx, list(values.values())).result(10)

    def set_bad(self, names: list[str], reason: str) -> None:
        """Mark tags BAD with a reason."""
        idx = [self.tags.index[n] for n in names]
        self.call(self._apply, idx, [float("nan")] * len(idx), Quality.BAD, reason).result(10)

    def fill_normal(self) -> None:
        """Every tag GOOD at a plausible normal value (mid-range, discrete tags at 0 or 1)."""
        vals: dict[str, float] = {}
        for t in self.cfg.tags:
            lo, hi = t.range
            limits = {a.kind: a.limit for a in t.alarms if a.limit is not None}
            if t.type == "bool" or t.states:
                v = 0.0
                for a in t.alarms:
                    if a.normal_value is not None:
                        v = a.normal_value
                    elif a.alarm_value is not None:
                        v = 1.0 - a.alarm_value if a.alarm_value in (0.0, 1.0) else 0.0
            else:
                low = max(limits.get("L", lo), limits.get("LL", lo), lo)
                high = min(limits.get("H", hi), limits.get("HH", hi), hi)
                v = (low + high) / 2.0
            vals[t.name] = v
        self.set(vals)

    def device_diagnostics(self) -> list[dict[str, Any]]:
        """No devices."""
        return []

    def runtime_stats(self) -> dict[str, Any]:
        """Minimal statistics."""
        return {"uptime_s": 1.0, "uplink": {"enabled": False}}


@pytest.fixture
def table_runtime(demo_cfg: StationConfig, tmp_path: Path) -> Any:
    """A TableRuntime on the demo config with every tag at a normal value."""
    rt = TableRuntime(demo_cfg, tmp_path)
    rt.fill_normal()
    yield rt
    rt.close()


@pytest.fixture
def window(hmi_app: Any, table_runtime: TableRuntime, qtbot: Any) -> Any:
    """The main window on the table runtime (refresh timer stopped: tests pull explicitly)."""
    from hmi.ui.app import show_main_window

    win = show_main_window(table_runtime, lang="en", theme="light", horn=False, start=False)
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.live.refresh()
    yield win
    win.close()
    from hmi.ui.tasks import wait_pool

    wait_pool()
