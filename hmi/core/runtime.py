"""The station runtime: drivers -> tag table -> alarms, historian, uplink, UI snapshot.

One asyncio loop in the thread "acquisition" runs every driver, the alarm engine
and the housekeeping timer. The historian writes on its own thread; paho runs its
own network loop. Other threads reach the runtime only through :meth:`submit`,
:meth:`call`, the tag table's :meth:`~hmi.core.tagtable.TagTable.changed_since`, the
statistics snapshot (:meth:`latest_stats`) and :meth:`publish_derived`.

The runtime builds the parts and hands each one only its ports (:mod:`hmi.core.ports`);
every write goes through :attr:`commands`, which alone holds the device writer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from drivers.base import (
    Batch,
    DeviceState,
    Driver,
    PointSpec,
    driver_class,
)
from hmi.config.schema import StationConfig, UplinkConfig
from hmi.core.driver_setup import driver_params, point_specs, poll_period
from hmi.core.horn_output import HornOutput
from hmi.core.stats import STATS_PERIOD, RuntimeStats, StatsCollector
from hmi.core.tagtable import TagTable, TagUpdate
from hmi.core.writer import DeviceWriter

if TYPE_CHECKING:
    from hmi.core.alarms import AlarmEngine
    from hmi.core.analytics import AnalyticsService
    from hmi.core.stats import Derived
    from hmi.core.system_tags import SystemDriver
    from hmi.core.uplink import Uplink

T = TypeVar("T")

log = logging.getLogger(__name__)

HOUSEKEEPING_PERIOD = 0.5  # s: staleness, alarm timers, the `current` table
#: s: the history database's ``current`` table is refreshed this often, latest value per tag
#: (writing every change costs ~3 % of a core at 10,000 tags/s; samples are not delayed)
CURRENT_PERIOD = 5.0


class RuntimeError_(Exception):
    """The runtime could not start; the message says why."""


class Runtime:
    """Everything that runs for one station, headless or under the HMI."""

    def __init__(
        self,
        cfg: StationConfig,
        data_dir: str | os.PathLike[str],
        *,
        uplink: UplinkConfig | None = None,
        alarms: bool = True,
    ) -> None:
        # an uplink override (CLI) replaces the config's section: one config for every part
        self.cfg = cfg if uplink is None else cfg.model_copy(update={"uplink": uplink})
        cfg = self.cfg
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        from hmi.core.dbcheck import check_databases

        #: damaged databases set aside and salvaged before any store opened them
        self.db_repairs = check_databases(self.data_dir)
        periods = [poll_period(cfg, t) for t in cfg.tags]
        self.tags = TagTable(cfg.tags, periods)
        self.drivers: dict[str, Driver] = {}
        self._tag_driver: dict[int, Driver] = {}
        self._calcs: list[Any] = []  # calc devices: fed every scan (hmi.core.calc)
        #: the system device(s) by id, for analytics results (a fail-soft rebuild replaces it)
        self._system_drivers: dict[str, SystemDriver] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._stats_task: asyncio.Task[None] | None = None
        self.started_at = 0.0
        #: counters of the data path (acquisition thread); readers take :meth:`latest_stats`
        self.stats: dict[str, int] = {"batches": 0, "samples": 0, "housekeeping_overruns": 0}
        #: the running training drill's id ('' when live): see :meth:`set_training`
        self.training = ""

        from hmi.core.historian import Historian

        self.historian = Historian(self.data_dir / "history.db", cfg.historian)
        self._hist_ids = np.empty(0, dtype=np.int32)
        self._current_seq = 0  # tag-table seq up to which the current table is written
        from hmi.core.diskwatch import DiskWatch

        self._disk_watch = DiskWatch(self)
        self._current_due = 0.0

        self.alarms: AlarmEngine | None = None
        if alarms:
            from hmi.core.alarms import AlarmEngine

            self.alarms = AlarmEngine(cfg, self.data_dir / "alarms.db")
        # every control action (local, CLI, remote) goes through one checked, audited path
        from hmi.core.audit import AuditTrail
        from hmi.core.commands import CommandService
        from hmi.core.users import SecurityPolicy, UserStore

        self.audit = AuditTrail(self.data_dir / "users.db", cfg.station.id)
        self.users = UserStore(
            self.data_dir / "users.db",
            audit=self.audit,
            policy=SecurityPolicy.from_config(cfg),
            station_id=cfg.station.id,
        )
        writer = DeviceWriter(cfg, self.tags.index, self._tag_driver.get, self._on_batch)
        # the device stage goes to the command service and, for its own coil only, to the
        # horn output (an automatic function, not an operator's command)
        self._device_write = writer.write
        self.commands = CommandService(
            cfg, self.tags, self, writer.write, self.users, self.audit, self.alarms
        )
        self.horn_output: HornOutput | None = None
        if self.db_repairs:  # system alarm, audit record, users.db lock-down
            from hmi.core.dbrepair import apply_repairs

            apply_repairs(self, self.db_repairs)
        self.uplink: Uplink | None = None
        if cfg.uplink.enabled:
            from hmi.core.uplink import Uplink

            self.uplink = Uplink(
                cfg,
                self.data_dir,
                self.tags,
                ack_handler=self._remote_ack,
                command_handler=self._remote_command,
                on_event=self._on_uplink_event,
            )
        # forecast, early warnings and reports from the station's own history (thread "analytics")
        self.analytics: AnalyticsService | None = None
        if cfg.analytics.active:
            from hmi.core.analytics import AnalyticsService

            self.analytics = AnalyticsService(cfg, self.data_dir, self.historian, self)
            if self.uplink is not None:
                self.analytics.add_report_listener(self.uplink.on_report)
        # the station for the dispatch SCADA: an OPC UA server of its own (thread "northbound")
        self.northbound: Any = None
        if cfg.northbound.opcua.enabled:
            from hmi.core.northbound import NorthboundOpcUaService, command_submitter
            from hmi.core.secrets import get_secret

            self.northbound = NorthboundOpcUaService(
                cfg,
                self.tags,
                self.data_dir,
                alarms=self.alarms,
                submit_write=command_submitter(self.commands, self.users),
                secret=lambda name: get_secret(cfg.station.id, name),
            )
        up = self.uplink
        self._stats = StatsCollector(
            self.data_dir,
            counters=lambda: self.stats,
            devices=lambda: [d.diagnostics() for d in list(self.drivers.values())],
            historian=self.historian.stats,
            uplink=up.status if up is not None else None,
            alarms=self.alarms.stats if self.alarms is not None else None,
            started_at=lambda: self.started_at,
        )

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> None:
        """Start the historian, the acquisition thread and every enabled device."""
        if self._thread is not None:
            return
        self.started_at = time.time()
        self.historian.start()
        self._hist_ids = np.asarray(self.historian.tag_ids(self.tags.names), dtype=np.int32)
        gone = self.historian.forget_current(self._hist_ids[~self.tags.stored])
        if gone:
            log.info("history: %d tag(s) with history mode none: their last values dropped", gone)
        self._thread = threading.Thread(target=self._thread_main, name="acquisition", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError_("acquisition thread did not start in time")
        if self._start_error is not None:
            err = self._start_error
            self.stop()
            raise RuntimeError_(str(err)) from err
        if self.uplink is not None:
            self.uplink.start()
        if self.analytics is not None:
            self.analytics.start()
        if self.northbound is not None:
            try:
                self.northbound.start()
            except Exception as exc:  # the station runs on without it: say what to fix
                msg = f"northbound OPC UA server not started: {exc}"
                log.error("%s", msg)
                self.northbound.problems.append(msg)
        # the config and tag table live for the whole run: keep them out of GC passes,
        # which otherwise add tens of ms during an alarm flood
        gc.freeze()
        self.audit.record_config_load(self.cfg)
        log.info("runtime started: %d tags on %d devices", self.tags.n, len(self.drivers))

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        try:
            loop.run_until_complete(self._start_async())
        except BaseException as exc:  # reported to start()
            self._start_error = exc
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _start_async(self) -> None:
        if self.alarms is not None:
            self.alarms.add_listener(self._on_alarm_event)
        for device in self.cfg.devices:
            if not device.enabled:
                continue
            points = point_specs(self.cfg, self.tags.index, device.id)
            drv = self._start_device(device, points)
            self.drivers[device.id] = drv
            for p in points:
                self._tag_driver[p.index] = drv
        await asyncio.to_thread(self._stats.collect)  # the system device starts with figures
        for device_id, drv in list(self.drivers.items()):
            try:
                await drv.start()
            except Exception as exc:  # fail-soft: this device BAD and retried, the others run
                self.drivers[device_id] = await self._failsoft_started(drv, exc)
        if self.cfg.horn_output:  # the station horn coil follows the annunciation
            self.horn_output = HornOutput(self.alarms, self._device_write, self.cfg.horn_output)
            self.horn_output.start()
        loop = asyncio.get_running_loop()
        self._housekeeping = loop.create_task(self._housekeeping_loop(), name="housekeeping")
        self._stats_task = loop.create_task(self._stats_loop(), name="stats")

    def _make_driver(self, device: Any, points: list[PointSpec]) -> Driver:
        if device.protocol == "system":  # the runtime's own figures: not a field device
            from hmi.core.system_tags import SystemDriver

            drv = SystemDriver(
                device.id,
                driver_params(self.cfg, self.data_dir, device),
                points,
                self._on_batch,
                self._on_state,
                stats=self,
            )
            self._system_drivers[device.id] = drv
            return drv
        if device.protocol == "calc":  # expression and manual-entry tags
            from hmi.core.calc import CalcDriver

            calc = CalcDriver(
                device.id,
                device.driver_params(),
                points,
                self._on_batch,
                self._on_state,
                runtime=self,
            )
            self._calcs = [c for c in self._calcs if c.device_id != device.id] + [calc]
            return calc
        cls = driver_class(device.protocol)
        return cls(
            device.id,
            driver_params(self.cfg, self.data_dir, device),
            points,
            self._on_batch,
            self._on_state,
        )

    def _start_device(self, device: Any, points: list[PointSpec]) -> Driver:
        """The device's driver, or a fail-soft stand-in when it cannot even be built."""
        from hmi.core.failsoft import stand_in

        try:
            return self._make_driver(device, points)
        except Exception as exc:
            return stand_in(self, device, points, exc)

    async def _failsoft_started(self, drv: Driver, exc: Exception) -> Driver:
        from hmi.core.failsoft import restart_failed

        return await restart_failed(self, drv, exc)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop devices, flush history and alarms, close the uplink. Idempotent."""
        if self._thread is None:
            return
        if self.analytics is not None:
            self.analytics.stop()
        if self.northbound is not None:
            self.northbound.stop()
        loop = self.loop
        if loop is not None and loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._stop_async(), loop)
            try:
                fut.result(timeout)
            except Exception as exc:  # still shut down the rest
                log.warning("stopping devices: %s", exc)
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)
        self._thread = None
        if self.uplink is not None:
            self.uplink.stop()
        if self.alarms is not None:
            self.alarms.close()
        try:
            self._flush_current()  # the acquisition thread has ended: the last values
        except Exception:
            log.exception("writing the current values failed")
        self.historian.stop(flush=True)
        self.users.close()
        from hmi.core.dbcheck import mark_clean

        mark_clean(self.data_dir)  # the next start need not re-check unchanged large files
        log.info("runtime stopped")

    async def _stop_async(self) -> None:
        if self.horn_output is not None:
            await self.horn_output.stop()
        tasks = [t for t in (self._housekeeping, self._stats_task) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(d.stop() for d in self.drivers.values()), return_exceptions=True)

    def __enter__(self) -> Runtime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ thread crossings
    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the acquisition loop (from any other thread)."""
        if self.loop is None or not self.loop.is_running():
            coro.close()
            raise RuntimeError_("runtime is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Run a plain function on the acquisition thread; the future holds its result."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self.loop is None or not self.loop.is_running():
            raise RuntimeError_("runtime is not running")

        def run() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                fut.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return fut

    def publish_derived(self, values: Mapping[str, Derived]) -> None:
        """Analytics results for the system device (any thread; dropped when not running)."""
        loop = self.loop
        if loop is None or not loop.is_running() or not self._system_drivers:
            log.debug("analytics results not delivered: the runtime is not running")
            return
        loop.call_soon_threadsafe(self._push_derived, dict(values))

    def _push_derived(self, values: dict[str, Derived]) -> None:
        for drv in list(self._system_drivers.values()):
            drv.push_derived(values)

    # ------------------------------------------------------------------ data path
    def _on_batch(self, batch: Batch) -> None:
        res = self.tags.apply(batch)
        self.stats["batches"] += 1
        self.stats["samples"] += len(res.scan)
        if self.alarms is not None:
            self.alarms.process(res.scan)
        if len(res.history):
            self._write_history(res.history)
        if len(res.changes):
            self._publish_changes(res.changes)
        for calc in self._calcs:
            calc.feed(res.scan)

    def _write_history(self, u: TagUpdate) -> None:
        self.historian.write(self._hist_ids[u.indices], u.ts, u.values, u.quality, u.text)

    def _flush_current(self) -> None:
        """Queue the latest state of every stored tag changed since the last flush for the
        ``current`` table (a tag with history mode ``none`` is kept out of the history
        database altogether: a gateway forwarding thousands of registers writes nothing)."""
        seq, u = self.tags.changed_since(self._current_seq)
        self._current_seq = seq
        if not len(u) or not len(self._hist_ids):
            return
        stored = self.tags.stored[u.indices]
        if not stored.all():
            u = u.select(stored)
            if not len(u):
                return
        self.historian.write_current(
            self._hist_ids[u.indices], u.ts, u.values, u.quality, u.reasons, u.text
        )

    def _publish_changes(self, u: TagUpdate) -> None:
        if self.uplink is not None and not self.training:  # a drill's values are held
            self.uplink.on_changes(u)

    def _on_state(self, device_id: str, old: DeviceState, new: DeviceState, reason: str) -> None:
        if new in (DeviceState.BACKOFF, DeviceState.DEGRADED):
            log.warning("device %s %s -> %s: %s", device_id, old.value, new.value, reason or "-")
        else:
            log.info(
                "device %s %s -> %s%s",
                device_id,
                old.value,
                new.value,
                f": {reason}" if reason else "",
            )
        if self.alarms is not None:
            self.alarms.device_state(device_id, old, new, reason)
        if self.uplink is not None and not self.training:
            self.uplink.on_device_state(device_id, old, new, reason)

    def _on_alarm_event(self, event: dict[str, Any]) -> None:
        if self.training:  # first listener: the others see the drill id; the uplink holds it
            event["training"] = self.training
            return
        if self.uplink is not None:
            self.uplink.on_alarm(event)

    def set_training(self, drill_id: str) -> None:
        """Enter ('' leaves) training mode: a drill on the simulated station (hmi.core.training).

        Audit rows and alarm events carry the drill id, and the uplink holds the drill's
        values, alarms and device states: nothing of a drill reaches the cloud as live.
        """
        self.training = drill_id
        self.commands.training = drill_id

    async def _housekeeping_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while True:
            next_t += HOUSEKEEPING_PERIOD
            await asyncio.sleep(max(0.0, next_t - loop.time()))
            if loop.time() - next_t > HOUSEKEEPING_PERIOD:
                self.stats["housekeeping_overruns"] += 1
                next_t = loop.time()
            now = time.time()
            try:
                stale = self.tags.check_stale(now)
                if len(stale):
                    if self.alarms is not None:
                        self.alarms.process(stale)
                    self._write_history(stale)
                    self._publish_changes(stale)
                    for calc in self._calcs:
                        calc.feed(stale)
                if self.alarms is not None:
                    self.alarms.tick()  # its own clock: timers survive a step of the wall clock
                self._disk_watch.check()  # historian / outbox writes failing: system alarm
                if now >= self._current_due:
                    self._current_due = now + CURRENT_PERIOD
                    self._flush_current()
            except Exception:
                log.exception("housekeeping failed")

    async def _stats_loop(self) -> None:
        """Publish a statistics snapshot every STATS_PERIOD; the gathering runs off the loop."""
        while True:
            await asyncio.sleep(STATS_PERIOD)
            try:
                await asyncio.to_thread(self._stats.collect)
            except Exception:  # collect() records failing figures itself: this is a bug
                log.exception("runtime statistics failed")

    # ------------------------------------------------------------------ remote (uplink) hooks
    def _remote_ack(
        self, alarm_ids: str | list[str], user: str, comment: str
    ) -> concurrent.futures.Future[tuple[bool, str]]:
        """Acknowledgement from the cloud: checked and audited like a local one (no waiting)."""
        return self.commands.remote_ack(alarm_ids, user, comment, source="uplink")

    def _remote_command(
        self, tag: str, value: Any, user: str
    ) -> concurrent.futures.Future[tuple[bool, str]]:
        """Write from the cloud: denied unless enabled for the tag; then checked and audited."""
        return self.commands.remote_write(tag, value, user, source="uplink")

    def _on_uplink_event(self, event: dict[str, Any]) -> None:
        """Uplink thread: refused remote commands are audited (off this thread), overflows logged."""
        kind = event.get("type")
        if kind == "remote_refused":
            target = event.get("tag") or ",".join(event.get("alarm_ids") or [])
            self.commands.record_remote_refusal(
                str(event.get("cmd", "command")),
                str(event.get("user") or "?"),
                target,
                str(event.get("message", "")),
                str(event.get("source", "")),
            )
        elif kind == "outbox_overflow":
            log.error(
                "uplink outbox full: %s message(s) of history dropped (%s in all): %s",
                event.get("dropped"),
                event.get("total_dropped"),
                event.get("reason", ""),
            )

    # ------------------------------------------------------------------ diagnostics
    def device_diagnostics(self) -> list[dict[str, Any]]:
        """DeviceDiagnostics of every device, as dicts (safe from any thread)."""
        return [d.diagnostics().as_dict() for d in list(self.drivers.values())]

    def latest_stats(self) -> RuntimeStats:
        """The latest statistics snapshot (any thread; published every STATS_PERIOD s)."""
        return self._stats.latest()

    def runtime_stats(self) -> dict[str, Any]:
        """The latest snapshot as a plain dict (JSON export, tools)."""
        return self.latest_stats().as_dict()


if TYPE_CHECKING:
    from hmi.core.ports import Station

    def _provides_ports(rt: Runtime) -> Station:
        return rt  # checked by mypy: the runtime provides every port the HMI is given
