"""Fixtures for the HMI tests (offscreen Qt).

``table_runtime`` is a station runtime without devices: a real TagTable the test feeds
with driver Batches, a real AlarmEngine (alarms.db in tmp_path), a real users.db (UserStore
and AuditTrail, cheap test hashes) and the real CommandService. ``call`` and ``submit``
run on an asyncio loop in its own thread, as the runtime's acquisition thread does, so the
GUI code under test crosses threads exactly as in production. Nothing is mocked; only the
devices are absent (the live-station tests use the simulator and the real Runtime).
``window`` is logged in as the user ``operator`` (password ``PW``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Iterator
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
PW = "Gate-7391"  # password of the users the tests create


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
    """A devices-less runtime: TagTable, AlarmEngine, users + audit + CommandService, an acquisition loop."""

    def __init__(self, cfg: StationConfig, data_dir: Path) -> None:
        from hmi.core.alarms import AlarmEngine
        from hmi.core.audit import AuditTrail
        from hmi.core.commands import CommandService
        from hmi.core.users import TEST_PARAMS, UserStore

        self.cfg = cfg
        self.data_dir = data_dir
        self.tags = TagTable(cfg.tags)
        self.alarms = AlarmEngine(cfg, data_dir / "alarms.db")
        self.historian = None
        self.writes: list[tuple[str, Any, str]] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="acquisition", daemon=True
        )
        self._thread.start()
        self.audit = AuditTrail(data_dir / "users.db", cfg.station.id)
        self.users = UserStore(
            data_dir / "users.db", audit=self.audit, params=TEST_PARAMS, station_id=cfg.station.id
        )
        self.commands = CommandService(self, self.users, self.audit, cfg)

    def close(self) -> None:
        """Stop the loop thread, the alarm journal and users.db."""
        asyncio.run_coroutine_threadsafe(self.loop.shutdown_default_executor(), self.loop).result(
            10
        )
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
        self.alarms.close()
        self.users.close()

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Run ``fn`` on the loop thread (as Runtime.call does)."""
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                fut.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return fut

    def submit(self, coro: Any) -> concurrent.futures.Future[Any]:
        """Run a coroutine on the loop thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def audit_rows(self, action: str) -> list[Any]:
        """Audit records of one action."""
        return self.audit.records(action=action)

    async def write_tag(
        self, name: str, value: Any, user: str = "", origin: str = "local"
    ) -> WriteResult:
        """Record the write and apply it to the tag table (as a read-back would)."""
        self.writes.append((name, value, user))
        i = self.tags.index[name]
        self._apply([i], [float(value)])
        return WriteResult(WriteStatus.SUCCESS, "written and read back")

    def _apply(
        self, idx: list[int], values: list[float], quality: int = Quality.GOOD, reason: str = ""
    ) -> None:
        now = time.time()
        i = np.asarray(idx, np.int32)
        raw = (np.asarray(values, float) - self.tags.offset[i]) / self.tags.gain[
            i
        ]  # drivers deliver raw values
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


def switch_user(win: Any, name: str, role: str = "operator") -> None:
    """Log the window's console in as ``name`` (created with password PW when new), without the dialog."""
    rt = win.actions.runtime
    if rt.users.get(name) is None:
        rt.users.add_user(name, PW, role, by="test")
    win.actions.console.login(name, PW)
    win.actions.session_changed()


def open_window(runtime: Any, qtbot: Any) -> Iterator[Any]:
    """The main window on ``runtime``, logged in as ``operator``, refresh timer stopped (tests
    pull explicitly); closed and its background tasks drained afterwards."""
    from hmi.ui.app import show_main_window
    from hmi.ui.tasks import wait_pool

    win = show_main_window(runtime, lang="en", theme="light", horn=False, start=False)
    switch_user(win, "operator")
    qtbot.addWidget(win)
    win.resize(1920, 1080)
    win.live.refresh()
    yield win
    win.close()
    wait_pool()


@pytest.fixture
def window(hmi_app: Any, table_runtime: TableRuntime, qtbot: Any) -> Any:
    """The main window on the table runtime (see :func:`open_window`)."""
    yield from open_window(table_runtime, qtbot)
