"""Run the station model and serve every device: ``Simulator`` (asyncio) and ``SimulatorThread``.

The simulator owns one :class:`~drivers.sim.model.StationModel` and one server per
device, picked by protocol from :data:`SERVERS` (imported lazily, so a station
without OPC UA never imports asyncua). A tick task advances the model with wall
time times ``speed`` and carries the scenario's comms-loss flag to the chosen
device's server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from drivers.sim.model import StationModel
from drivers.sim.scenarios import SCENARIOS
from drivers.sim.spec import SimDeviceSpec, SimPointSpec

log = logging.getLogger(__name__)
T = TypeVar("T")

#: protocol -> "module:Class" of the server that simulates a device of that protocol
SERVERS: dict[str, str] = {
    "modbus_tcp": "drivers.sim.modbus_server:ModbusSimServer",
    "modbus_rtu": "drivers.sim.rtu_server:ModbusRtuSimServer",
    "modbus_rtu_over_tcp": "drivers.sim.rtu_server:ModbusRtuSimServer",
    "opcua": "drivers.sim.opcua_server:OpcUaSimServer",
    "s7": "drivers.sim.s7_server:S7SimServer",
    "iec104": "drivers.sim.iec104_server:Iec104SimServer",
}

#: wall seconds between model steps
TICK = 0.1


class SimServer(Protocol):
    """What every simulated device server offers."""

    async def start(self) -> None: ...  # noqa: D102
    async def stop(self) -> None: ...  # noqa: D102
    async def set_online(self, online: bool) -> None: ...  # noqa: D102


def server_class(protocol: str) -> type:
    """The simulator server class for ``protocol``; ValueError when there is none."""
    target = SERVERS.get(protocol)
    if target is None:
        raise ValueError(
            f"the simulator cannot serve protocol {protocol!r} (known: {', '.join(SERVERS)})"
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"the simulator server for {protocol!r} is not available: {exc}") from None
    cls: type = getattr(module, class_name)
    return cls


class Simulator:
    """A simulated station: the model plus one server per device, on the running asyncio loop."""

    def __init__(
        self,
        devices: Sequence[SimDeviceSpec],
        points: Sequence[SimPointSpec],
        scenario: str = "normal",
        seed: int = 0,
        speed: float = 1.0,
        start_time: float | None = None,
        comms_device: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0 (got {speed:g})")
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
        self.devices = list(devices)
        self.speed = float(speed)
        self.model = StationModel(
            seed=seed, start_time=start_time, params=params, scenario=scenario
        )
        ids = [d.id for d in self.devices]
        if comms_device is not None and comms_device not in ids:
            raise ValueError(
                f"comms device {comms_device!r} is not a configured device (have: {', '.join(ids)})"
            )
        # by default the second device drops off (on the demo: the first flow computer)
        self.comms_device = comms_device or (ids[1] if len(ids) > 1 else ids[0] if ids else None)
        self.servers: dict[str, Any] = {}
        by_device: dict[str, list[SimPointSpec]] = {d.id: [] for d in self.devices}
        for p in points:
            if p.device not in by_device:
                raise ValueError(f"tag {p.name}: unknown device {p.device!r}")
            by_device[p.device].append(p)
        for d in self.devices:
            cls = server_class(d.protocol)
            self.servers[d.id] = cls(d, by_device[d.id], self.model)
        self._task: asyncio.Task[None] | None = None
        self._offline: set[str] = set()
        self._unknown_selectors: set[str] = set()
        self._dark = False
        self.running = False
        #: while True the model stands still (servers keep answering with frozen values)
        self.paused = False

    @property
    def scenario(self) -> str:
        """Name of the running scenario."""
        return self.model.scenario.name

    async def start(self) -> None:
        """Start every server (all or nothing) and the model's tick task."""
        started: list[Any] = []
        try:
            for server in self.servers.values():
                await server.start()
                started.append(server)
        except BaseException:
            for server in reversed(started):
                await server.stop()
            raise
        self.running = True
        self._task = asyncio.get_running_loop().create_task(self._tick(), name="simulator-tick")
        log.info(
            "simulator: %d devices, scenario %s, seed %d, speed x%g",
            len(self.servers),
            self.scenario,
            self.model.seed,
            self.speed,
        )

    async def stop(self) -> None:
        """Stop the tick task and every server. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        for server in self.servers.values():
            await server.stop()
        self.running = False

    def set_scenario(self, name: str) -> None:
        """Switch scenario (its events start after its lead-in)."""
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
        self.model.set_scenario(name)

    async def set_device_online(self, device_id: str, online: bool) -> None:
        """Take a device off the network or bring it back."""
        server = self.servers[device_id]
        if online:
            self._offline.discard(device_id)
        else:
            self._offline.add(device_id)
        await server.set_online(online)

    def _set_malformed(self, device_id: str, kind: str) -> None:
        """Break the device's replies ('' repairs them) where its server can do that."""
        setter = getattr(self.servers[device_id], "set_malformed", None)
        if setter is None:
            log.warning("simulator: device %s cannot send malformed replies", device_id)
            return
        log.info("simulator: device %s replies %s", device_id, kind or "properly again")
        setter(kind)

    def resolve_devices(self, selectors: set[str]) -> set[str]:
        """Device ids a scenario names: an id, ``comms`` (the comms-loss device) or
        ``@variable`` (every device serving that model variable). Names this station does
        not have are skipped (logged once); when none is left the comms device stands in."""
        out: set[str] = set()
        for sel in selectors:
            if sel == "comms" and self.comms_device is not None:
                out.add(self.comms_device)
            elif sel.startswith("@"):
                var = sel[1:]
                out.update(
                    d
                    for d, server in self.servers.items()
                    if any(p.source == var for p in getattr(server, "points", ()))
                )
            elif sel in self.servers:
                out.add(sel)
            elif sel not in self._unknown_selectors:
                self._unknown_selectors.add(sel)
                log.warning("simulator: scenario %s names device %s, not here", self.scenario, sel)
        if selectors and not out and self.comms_device is not None:
            out.add(self.comms_device)
        return out

    def _device_faults(self) -> None:
        """Carry the model's per-device faults (frozen image, exception replies) to the servers."""
        f = self.model.faults
        frozen = self.resolve_devices(f.frozen) if f.frozen else set()
        gateway = self.resolve_devices(f.gateway_fault) if f.gateway_fault else set()
        for dev_id, server in self.servers.items():
            want_frozen = dev_id in frozen
            if want_frozen != server.frozen:
                refresh = getattr(server, "refresh", None)
                if want_frozen and refresh is not None:
                    refresh(force=True)  # freeze what the model says now (plc.run = 0 ...)
                server.frozen = want_frozen
                log.info("simulator: device %s %s", dev_id, "freezes" if want_frozen else "thaws")
            code = 11 if dev_id in gateway else 0
            if code != server.exception:
                server.exception = code
                log.info("simulator: device %s answers exception %d", dev_id, code)

    async def _set_dark(self, dark: bool) -> None:
        """The UPS is flat: every device goes silent (and comes back with the mains)."""
        self._dark = dark
        log.info("simulator: station %s", "dark: every device silent" if dark else "powered again")
        for dev_id in self.servers:
            try:
                await self.set_device_online(dev_id, not dark)
            except OSError as exc:  # the port was taken meanwhile: retry on the next tick
                log.warning("simulator: cannot bring %s back: %s", dev_id, exc)
                self._dark = True

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        comms_down = False
        malformed = ""
        while True:
            await asyncio.sleep(TICK)
            now = loop.time()
            if not self.paused:
                self.model.step((now - last) * self.speed)
            last = now
            self._device_faults()
            if self.model.utilities.dark != self._dark:
                await self._set_dark(self.model.utilities.dark)
            if self._dark:
                continue
            if self.model.faults.malformed_reply != malformed and self.comms_device is not None:
                malformed = self.model.faults.malformed_reply
                self._set_malformed(self.comms_device, malformed)
            want_down = self.model.faults.comms_offline
            if want_down != comms_down and self.comms_device is not None:
                comms_down = want_down
                log.info(
                    "simulator: device %s %s (scenario %s)",
                    self.comms_device,
                    "stops answering" if want_down else "answers again",
                    self.scenario,
                )
                try:
                    await self.set_device_online(self.comms_device, not want_down)
                except OSError as exc:  # the port was taken meanwhile: retry on the next tick
                    log.warning("simulator: cannot bring %s back: %s", self.comms_device, exc)
                    comms_down = True


class SimulatorThread:
    """A :class:`Simulator` on its own asyncio loop in a thread named ``simulator``.

    ``start()`` returns once every server listens (or raises what stopped them);
    ``stop()`` stops the servers and joins the thread. ``call``/``run`` execute
    functions and coroutines on the simulator's loop, where the model lives.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args, self._kwargs = args, kwargs
        self.simulator: Simulator | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    @property
    def model(self) -> StationModel:
        """The running model (read it from any thread; write it through :meth:`call`)."""
        assert self.simulator is not None, "simulator not started"
        return self.simulator.model

    def start(self, timeout: float = 30.0) -> SimulatorThread:
        """Build and start the simulator in its thread; raise its error if it cannot start."""
        if self._thread is not None:
            raise RuntimeError("simulator thread already started")
        self._thread = threading.Thread(target=self._main, name="simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"simulator did not start within {timeout:g} s")
        if self._error is not None:
            self._thread.join(timeout)
            self._thread = None
            raise self._error
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            loop.run_until_complete(self._amain())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _amain(self) -> None:
        self._stop = asyncio.Event()
        try:
            self.simulator = Simulator(*self._args, **self._kwargs)
            await self.simulator.start()
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.simulator.stop()

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 10.0) -> T:
        """Run ``fn(*args)`` on the simulator's loop and return its result."""

        async def wrapper() -> T:
            return fn(*args)

        return self.run(wrapper(), timeout=timeout)

    def run(self, coro: Awaitable[T], timeout: float = 10.0) -> T:
        """Run a coroutine on the simulator's loop and return its result."""
        if self.loop is None or not self._ready.is_set():
            raise RuntimeError("simulator thread is not running")
        fut: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return fut.result(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the simulator and join its thread. Idempotent."""
        thread = self._thread
        if thread is None:
            return
        loop, stop = self.loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # loop already closed
                pass
        thread.join(timeout)
        if thread.is_alive():
            log.warning("simulator thread did not stop within %.0f s", timeout)
        self._thread = None

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
