"""The station runtime: drivers -> tag table -> alarms, historian, uplink, UI snapshot.

One asyncio loop in the thread "acquisition" runs every driver, the alarm engine
and the housekeeping timer. The historian writes on its own thread; paho runs its
own network loop. Other threads reach the runtime only through :meth:`submit`,
:meth:`call` and the tag table's :meth:`~hmi.core.tagtable.TagTable.changed_since`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import os
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import numpy as np

from drivers.base import (
    Batch,
    DeviceState,
    Driver,
    PointSpec,
    WriteResult,
    WriteStatus,
    driver_class,
)
from hmi.config.schema import StationConfig, TagConfig, UplinkConfig
from hmi.core.horn_output import HornOutput
from hmi.core.tagtable import TagTable, TagUpdate

log = logging.getLogger(__name__)

HOUSEKEEPING_PERIOD = 0.5  # s: staleness, alarm timers, stats
#: s: the history database's ``current`` table is refreshed this often, latest value per tag
#: (writing every change costs ~3 % of a core at 10,000 tags/s; samples are not delayed)
CURRENT_PERIOD = 5.0
READBACK_TIMEOUT = 5.0  # s: a write is verified by reading the point back within this time


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
        self.cfg = cfg
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        from hmi.core.dbcheck import check_databases

        #: damaged databases set aside and salvaged before any store opened them
        self.db_repairs = check_databases(self.data_dir)
        periods = [self._poll_period(t) for t in cfg.tags]
        self.tags = TagTable(cfg.tags, periods)
        self._listeners: dict[str, list[Callable[..., Any]]] = defaultdict(list)
        self.drivers: dict[str, Driver] = {}
        self._tag_driver: dict[int, Driver] = {}
        self._calcs: list[Any] = []  # calc devices: fed every scan (hmi.core.calc)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self.started_at = 0.0
        self.stats: dict[str, Any] = {"batches": 0, "samples": 0, "housekeeping_overruns": 0}

        from hmi.core.historian import Historian

        self.historian = Historian(self.data_dir / "history.db", cfg.historian)
        self._hist_ids = np.empty(0, dtype=np.int32)
        self._current_seq = 0  # tag-table seq up to which the current table is written
        from hmi.core.diskwatch import DiskWatch

        self._disk_watch = DiskWatch(self)
        self._current_due = 0.0

        self.alarms: Any = None
        if alarms:
            from hmi.core.alarms import AlarmEngine

            self.alarms = AlarmEngine(cfg, self.data_dir / "alarms.db")
        up_cfg = uplink if uplink is not None else cfg.uplink
        cfg_up = cfg.model_copy(update={"uplink": up_cfg})
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
        self.commands = CommandService(self, self.users, self.audit, cfg_up)
        if self.db_repairs:  # system alarm, audit record, users.db lock-down
            from hmi.core.dbrepair import apply_repairs

            apply_repairs(self, self.db_repairs)
        self.uplink: Any = None
        if up_cfg.enabled:
            from hmi.core.uplink import Uplink

            self.uplink = Uplink(
                cfg_up,
                self.data_dir,
                self.tags,
                ack_handler=self._remote_ack,
                command_handler=self._remote_command,
                on_event=self._on_uplink_event,
            )
        # forecast, early warnings and reports from the station's own history (thread "analytics")
        self.analytics: Any = None
        if cfg.analytics.active:
            from hmi.core.analytics import AnalyticsService

            self.analytics = AnalyticsService(self)
            if self.uplink is not None and hasattr(self.uplink, "on_report"):
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

    # ------------------------------------------------------------------ config helpers
    def _poll_period(self, tag: TagConfig) -> float:
        try:
            return self.cfg.poll_period(tag)
        except (KeyError, StopIteration):
            return 1.0

    def _driver_params(self, device: Any) -> dict[str, Any]:
        params = device.driver_params()
        if device.protocol == "opcua":
            params["pki_dir"] = str(self.data_dir / "pki" / device.id)
            base = Path(self.cfg.source_dir)
            for key in ("certificate", "private_key", "server_certificate"):
                if params.get(key) and not Path(params[key]).is_absolute():
                    params[key] = str(base / params[key])
            from hmi.core.secrets import get_secret

            if device.password_secret:
                params["password"] = get_secret(self.cfg.station.id, device.password_secret)
            if device.key_passphrase_secret:
                params["key_passphrase"] = get_secret(
                    self.cfg.station.id, device.key_passphrase_secret
                )
        return params

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> None:
        """Start the historian, the acquisition thread and every enabled device."""
        if self._thread is not None:
            return
        self.started_at = time.time()
        self.historian.start()
        self._hist_ids = np.asarray(self.historian.tag_ids(self.tags.names), dtype=np.int32)
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
            points = []
            for t in self.cfg.tags_of(device.id):
                i = self.tags.index[t.name]
                points.append(
                    PointSpec(
                        i,
                        t.name,
                        t.address,
                        self._poll_period(t),
                        t.access == "rw",
                        dict(t.options),
                    )
                )
            drv = self._start_device(device, points)
            self.drivers[device.id] = drv
            for p in points:
                self._tag_driver[p.index] = drv
        for device_id, drv in list(self.drivers.items()):
            try:
                await drv.start()
            except Exception as exc:  # fail-soft: this device BAD and retried, the others run
                self.drivers[device_id] = await self._failsoft_started(drv, exc)
        self.horn_output = HornOutput(self, self.cfg.horn_output) if self.cfg.horn_output else None
        if self.horn_output is not None:
            self.horn_output.start()
        self._housekeeping = asyncio.get_running_loop().create_task(
            self._housekeeping_loop(), name="housekeeping"
        )

    def _make_driver(self, device: Any, points: list[PointSpec]) -> Driver:
        if device.protocol == "system":  # the runtime's own figures: not a field device
            from hmi.core.system_tags import SystemDriver

            return SystemDriver(
                device.id,
                self._driver_params(device),
                points,
                self._on_batch,
                self._on_state,
                runtime=self,
            )
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
        return cls(device.id, self._driver_params(device), points, self._on_batch, self._on_state)

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
        if getattr(self, "horn_output", None) is not None:
            await self.horn_output.stop()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
        await asyncio.gather(*(d.stop() for d in self.drivers.values()), return_exceptions=True)

    def __enter__(self) -> Runtime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ thread crossings
    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Run a coroutine on the acquisition loop (from any other thread)."""
        if self.loop is None or not self.loop.is_running():
            coro.close()
            raise RuntimeError_("runtime is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(
        self, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        """Run a plain function on the acquisition thread; the future holds its result."""
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
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

    def add_listener(self, kind: str, fn: Callable[..., Any]) -> None:
        """Register a listener: "scan", "changes", "device_state", "alarm" or "uplink" (acquisition thread)."""
        if kind not in ("scan", "changes", "device_state", "alarm", "uplink"):
            raise ValueError(f"unknown listener kind {kind!r}")
        self._listeners[kind].append(fn)

    def _emit(self, kind: str, *args: Any) -> None:
        for fn in self._listeners.get(kind, ()):
            try:
                fn(*args)
            except Exception:
                log.exception("%s listener %r failed", kind, fn)

    # ------------------------------------------------------------------ data path
    def _on_batch(self, batch: Batch) -> None:
        res = self.tags.apply(batch)
        self.stats["batches"] += 1
        self.stats["samples"] += len(res.scan)
        if self.alarms is not None:
            self.alarms.process(res.scan)
        self._emit("scan", res.scan)
        if len(res.history):
            self._write_history(res.history)
        if len(res.changes):
            self._publish_changes(res.changes)
        for calc in self._calcs:
            calc.feed(res.scan)

    def _write_history(self, u: TagUpdate) -> None:
        if self.tags.is_string[u.indices].any():
            strings = self.tags.is_string[u.indices]
            s = u.indices[strings]
            self.historian.write_text(
                self._hist_ids[s], u.ts[strings], u.values[strings], u.quality[strings]
            )
            num = ~strings
            if not num.any():
                return
            u = TagUpdate(
                u.indices[num], u.values[num].astype(np.float64), u.quality[num], u.ts[num], []
            )
        self.historian.write(self._hist_ids[u.indices], u.ts, u.values, u.quality)

    def _flush_current(self) -> None:
        """Queue the latest state of every tag changed since the last flush for the ``current`` table."""
        seq, u = self.tags.changed_since(self._current_seq)
        self._current_seq = seq
        if not len(u) or not len(self._hist_ids):
            return
        values: np.ndarray = u.values
        strings = self.tags.is_string[u.indices]
        if strings.any():  # the tag table keeps text apart from the float values
            values = values.astype(object)
            for k in np.flatnonzero(strings).tolist():
                values[k] = self.tags.text.get(int(u.indices[k]))
        self.historian.write_current(self._hist_ids[u.indices], u.ts, values, u.quality, u.reasons)

    def _publish_changes(self, u: TagUpdate) -> None:
        if self.uplink is not None:
            self.uplink.on_changes(u)
        self._emit("changes", u)

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
        if self.uplink is not None:
            self.uplink.on_device_state(device_id, old, new, reason)
        self._emit("device_state", device_id, old, new, reason)

    def _on_alarm_event(self, event: dict[str, Any]) -> None:
        if self.uplink is not None:
            self.uplink.on_alarm(event)
        self._emit("alarm", event)

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

    # ------------------------------------------------------------------ remote (uplink) hooks
    def _remote_ack(self, alarm_ids: Any, user: str, comment: str) -> tuple[bool, str]:
        """Acknowledgement from the cloud: checked and audited like a local one (uplink thread)."""
        return self.commands.remote_ack(alarm_ids, user, comment, source="uplink")

    def _remote_command(self, tag: str, value: Any, user: str) -> tuple[bool, str]:
        """Write from the cloud: denied unless enabled for the tag; then checked and audited."""
        return self.commands.remote_write(tag, value, user, source="uplink")

    def _on_uplink_event(self, event: dict[str, Any]) -> None:
        """Uplink thread: outbox overflow, refused remote commands. Audited here, then listeners."""
        kind = event.get("type")
        if kind == "remote_refused":
            target = event.get("tag") or ",".join(event.get("alarm_ids") or [])
            self.audit.append(
                f"remote_{event.get('cmd', 'command')}",
                user=str(event.get("user") or "?"),
                origin="remote",
                target=target,
                result="denied",
                details={"message": event.get("message", ""), "source": event.get("source", "")},
            )
        elif kind == "outbox_overflow":
            log.error(
                "uplink outbox full: %s message(s) of history dropped (%s in all): %s",
                event.get("dropped"),
                event.get("total_dropped"),
                event.get("reason", ""),
            )
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._emit, "uplink", event)

    # ------------------------------------------------------------------ commands
    async def write_tag(
        self, name: str, value: Any, user: str = "", origin: str = "local"
    ) -> WriteResult:
        """Write an engineering value to a tag, then verify it by reading it back."""
        t = self.cfg.tag_map().get(name)
        if t is None:
            return WriteResult(WriteStatus.INVALID, f"unknown tag {name!r}")
        if t.access not in ("rw", "manual"):
            return WriteResult(WriteStatus.INVALID, f"{name} is read-only")
        i = self.tags.index[name]
        drv = self._tag_driver.get(i)
        if drv is None:
            return WriteResult(WriteStatus.NOT_CONNECTED, f"device {t.device} is not running")
        raw: Any = value
        if t.type != "string" and not isinstance(value, bool):
            try:
                v = float(value)
            except (TypeError, ValueError):
                return WriteResult(WriteStatus.INVALID, f"{value!r} is not a number")
            if not (t.range[0] <= v <= t.range[1]):
                return WriteResult(
                    WriteStatus.INVALID,
                    f"{v:g} {t.unit} is outside the range {t.range[0]:g}-{t.range[1]:g} {t.unit}",
                )
            gain, offset = t.scale.gain_offset() if t.scale else (1.0, 0.0)
            raw = (v - offset) / gain
        log.info("write %s = %r by %s (%s)", name, value, user or "-", origin)
        result = await drv.write(i, raw)
        if not result.ok:
            return result
        return await self._read_back(drv, t, i, raw)

    async def _read_back(self, drv: Driver, t: TagConfig, index: int, raw: Any) -> WriteResult:
        deadline = time.monotonic() + READBACK_TIMEOUT
        tol = max(1e-6, abs(float(raw)) * 1e-6) if not isinstance(raw, str) else 0.0
        last: Any = None
        while time.monotonic() < deadline:
            try:
                batch = await asyncio.wait_for(drv.read([index]), READBACK_TIMEOUT)
            except TimeoutError:
                break
            if len(batch.values):
                last = batch.values[0]
                if isinstance(raw, str) and str(last) == raw:
                    return WriteResult(WriteStatus.SUCCESS, "written and read back")
                if (
                    not isinstance(raw, str)
                    and np.isfinite(last)
                    and abs(float(last) - float(raw)) <= tol + 0.5 * _step(t)
                ):
                    self._on_batch(batch)
                    return WriteResult(WriteStatus.SUCCESS, "written and read back")
            await asyncio.sleep(0.1)
        return WriteResult(
            WriteStatus.TIMEOUT,
            f"read-back did not confirm the value within {READBACK_TIMEOUT:.0f} s (last read {last!r})",
        )

    # ------------------------------------------------------------------ diagnostics
    def device_diagnostics(self) -> list[dict[str, Any]]:
        """DeviceDiagnostics of every device, as dicts (safe from any thread)."""
        return [d.diagnostics().as_dict() for d in list(self.drivers.values())]

    def runtime_stats(self) -> dict[str, Any]:
        """Scan overruns, historian queue and size, disk use, uplink status."""
        out: dict[str, Any] = dict(self.stats)
        out["uptime_s"] = time.time() - self.started_at if self.started_at else 0.0
        out["scan_overruns"] = sum(d.diag.scan_overruns for d in list(self.drivers.values()))
        out["historian"] = self.historian.stats()
        try:
            du = shutil.disk_usage(self.data_dir)
            out["disk"] = {"total": du.total, "used": du.used, "free": du.free}
        except OSError:
            out["disk"] = {}
        out["uplink"] = self.uplink.status() if self.uplink is not None else {"enabled": False}
        out["alarms"] = self.alarms.stats() if self.alarms is not None else {}
        return out


def _step(t: TagConfig) -> float:
    """Raw-unit resolution of a scaled integer tag (read-back tolerance)."""
    return 1.0 if t.scale is not None and t.type in (None, "int") else 0.0
