"""Fixtures for the HMI tests (offscreen Qt).

``table_runtime`` is a station without devices, assembled from the real core parts: a real
TagTable the test feeds with driver Batches, a real AlarmEngine (alarms.db in tmp_path), a
real users.db (UserStore and AuditTrail, cheap test hashes), the real CommandService and
StatsCollector, and an asyncio loop in a thread named "acquisition", so the GUI code under
test crosses threads exactly as in production. Only the devices are absent: the command
service's device stage (a :class:`hmi.core.ports.TagWriter`) is the small ``_write`` below,
which records the write and applies the value as a read-back would. ``TableRuntime`` is
checked by mypy against :class:`hmi.core.ports.Station` (see ``_is_a_station``), so it
cannot drift from what the HMI uses. The live-station tests use the simulator and the real
Runtime. ``window`` is logged in as the user ``operator`` (password ``PW``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pytest

from drivers.base import Batch, Quality, WriteResult, WriteStatus
from hmi import paths
from hmi.config import load_station
from hmi.config.schema import StationConfig
from hmi.core.ports import Station
from hmi.core.stats import Derived, RuntimeStats, StatsCollector
from hmi.core.tagtable import TagTable

if TYPE_CHECKING:
    from hmi.core.analytics import AnalyticsService
    from hmi.core.historian import Historian

T = TypeVar("T")

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
    """A devices-less station of real core parts on an acquisition loop (see the module docstring)."""

    def __init__(self, cfg: StationConfig, data_dir: Path) -> None:
        from hmi.core.alarms import AlarmEngine
        from hmi.core.audit import AuditTrail
        from hmi.core.commands import CommandService
        from hmi.core.users import TEST_PARAMS, UserStore

        self.cfg = cfg
        self.data_dir = data_dir
        self.tags = TagTable(cfg.tags)
        self.alarms: AlarmEngine | None = AlarmEngine(cfg, data_dir / "alarms.db")
        self.historian: Historian | None = None
        self.analytics: AnalyticsService | None = None
        self.writes: list[tuple[str, Any, str]] = []
        self.loop: asyncio.AbstractEventLoop | None = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="acquisition", daemon=True
        )
        self._thread.start()
        self.audit = AuditTrail(data_dir / "users.db", cfg.station.id)
        self.users = UserStore(
            data_dir / "users.db", audit=self.audit, params=TEST_PARAMS, station_id=cfg.station.id
        )
        self.commands = CommandService(
            cfg, self.tags, self, self._write, self.users, self.audit, self.alarms
        )
        self._stats = StatsCollector(
            data_dir,
            counters=dict,
            devices=list,
            historian=dict,
            alarms=self.alarms.stats,
            started_at=time.time,
        )

    def close(self) -> None:
        """Stop the loop thread, the alarm journal and users.db."""
        loop = self.loop
        assert loop is not None
        asyncio.run_coroutine_threadsafe(loop.shutdown_default_executor(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        loop.close()
        if self.alarms is not None:
            self.alarms.close()
        self.users.close()

    # ------------------------------------------------------------------ ports
    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Run ``fn`` on the loop thread (as Runtime.call does)."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                fut.set_exception(exc)

        assert self.loop is not None
        self.loop.call_soon_threadsafe(run)
        return fut

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the loop thread."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def latest_stats(self) -> RuntimeStats:
        """Statistics gathered now (the real collector; no devices, no historian)."""
        return self._stats.collect()

    def publish_derived(self, values: Mapping[str, Derived]) -> None:
        """No system device here: analytics figures are dropped."""

    async def _write(self, name: str, value: Any, user: str, origin: str) -> WriteResult:
        """The device stage: record the write and apply it to the tag table (as a read-back would)."""
        self.writes.append((name, value, user))
        self._apply([self.tags.index[name]], [float(value)])
        return WriteResult(WriteStatus.SUCCESS, "written and read back")

    # ------------------------------------------------------------------ feeding values
    def audit_rows(self, action: str) -> list[Any]:
        """Audit records of one action."""
        return self.audit.records(action=action)

    def _apply(
        self, idx: list[int], values: list[float], quality: int = Quality.GOOD, reason: str = ""
    ) -> None:
        now = time.time()
        i = np.asarray(idx, np.int32)
        # drivers deliver raw values
        raw = (np.asarray(values, float) - self.tags.offset[i]) / self.tags.gain[i]
        res = self.tags.apply(Batch(i, raw, quality, reason, now, now))
        if self.alarms is not None:
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


def _is_a_station(rt: TableRuntime) -> Station:
    return rt  # checked by mypy: the fake provides exactly the ports the HMI is given


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


def close_window(win: Any) -> None:
    """Close a window, drain the background tasks, then delete the window, in that order.

    Not ``qtbot.addWidget``: pytest-qt closes and ``deleteLater``s its widgets *before* the
    fixtures are finalized, so a report or export task still running could finish into a
    window being deleted, and the fixture's own ``close()`` could meet a deleted C++ object
    ("Internal C++ object (MainWindow) already deleted") when a nested event loop ran the
    deferred delete first.
    """
    from PySide6.QtCore import QCoreApplication, QEvent
    from shiboken6 import isValid

    from hmi.ui.tasks import wait_pool

    if isValid(win):
        win.close()
    wait_pool()
    if isValid(win):
        win.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def open_window(runtime: Any, qtbot: Any, user: str | None = "operator") -> Iterator[Any]:
    """The main window on ``runtime``, logged in as ``user``, refresh timer stopped (tests
    pull explicitly); closed, its background tasks drained and deleted afterwards."""
    from hmi.ui.app import show_main_window

    win = show_main_window(runtime, lang="en", theme="light", horn=False, start=False)
    try:
        if user is not None:
            switch_user(win, user)
        win.resize(1920, 1080)
        win.live.refresh()
        yield win
    finally:
        close_window(win)


@pytest.fixture
def window(hmi_app: Any, table_runtime: TableRuntime, qtbot: Any) -> Any:
    """The main window on the table runtime (see :func:`open_window`)."""
    yield from open_window(table_runtime, qtbot)
