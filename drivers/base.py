"""Contract between the runtime and every protocol driver.

A driver owns the connection to one device. The runtime gives it a list of
:class:`PointSpec` (one per tag, with the tag's index in the runtime's tag table)
and a *sink*. The driver delivers what it reads as :class:`Batch` objects to the
sink, on the acquisition event loop, as raw decoded values (engineering scaling
is the tag table's job). Drivers never import ``hmi``; the runtime adapts.

Quality codes follow the OPC Classic convention so that they travel unchanged
to Sparkplug hosts: GOOD=192, UNCERTAIN=64, BAD=0.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import importlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np


class Quality(enum.IntEnum):
    """Quality of a value. Anything but GOOD must never look like a plausible number."""

    BAD = 0
    UNCERTAIN = 64
    GOOD = 192

    @property
    def label(self) -> str:
        """Lower-case name, as used in QSS properties and exports."""
        return self.name.lower()

    @classmethod
    def of(cls, code: int) -> Quality:
        """The class of any OPC quality code, by range: >= 192 GOOD, >= 64 UNCERTAIN, else BAD."""
        if code >= cls.GOOD:
            return cls.GOOD
        return cls.UNCERTAIN if code >= cls.UNCERTAIN else cls.BAD


class DeviceState(enum.Enum):
    """Connection state of one device."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    UP = "up"
    DEGRADED = "degraded"  # connected, but recent cycles failed
    BACKOFF = "backoff"  # connection lost; waiting before the next attempt


@dataclass(frozen=True, slots=True)
class PointSpec:
    """One tag as the driver sees it.

    ``address`` is the protocol's own address string (validated by the driver's
    :meth:`Driver.validate_address` when the config loads). ``options`` carries
    protocol extras (e.g. an OPC UA deadband) without the base knowing them.
    """

    index: int
    name: str
    address: str
    poll_period: float = 1.0
    writable: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Batch:
    """Values of several points read at one time.

    ``values`` is a float64 array for numeric and boolean points (bools as 0.0/1.0)
    or an object array for strings. ``quality`` is either one code for the whole
    batch or a uint8 array, one per point. ``reason`` explains a non-GOOD quality.
    ``source_ts`` is the device's timestamp (or the read time when the device has
    none), as Unix seconds, scalar or per point.
    """

    indices: np.ndarray
    values: np.ndarray
    quality: int | np.ndarray = Quality.GOOD
    reason: str = ""
    source_ts: float | np.ndarray = 0.0
    recv_ts: float = 0.0

    @classmethod
    def bad(
        cls, indices: Sequence[int] | np.ndarray, reason: str, ts: float | None = None
    ) -> Batch:
        """A batch marking ``indices`` BAD for ``reason`` (values are NaN)."""
        now = time.time() if ts is None else ts
        idx = np.asarray(indices, dtype=np.int32)
        return cls(idx, np.full(len(idx), np.nan), Quality.BAD, reason, now, now)


class WriteStatus(enum.Enum):
    """Outcome of a write, as shown to the operator."""

    SUCCESS = "success"
    REJECTED = "rejected"  # the device answered with an exception / bad status
    TIMEOUT = "timeout"
    NOT_CONNECTED = "not_connected"
    INVALID = "invalid"  # value does not fit the point (type, range)
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did."""

    status: WriteStatus
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the device accepted the write."""
        return self.status is WriteStatus.SUCCESS


@dataclass(slots=True)
class DeviceDiagnostics:
    """Counters an engineer checks first on site (level-4 diagnostics page)."""

    device_id: str
    protocol: str
    state: DeviceState = DeviceState.STOPPED
    state_since: float = 0.0
    endpoint: str = ""
    requests: int = 0
    errors: int = 0
    timeouts: int = 0
    consecutive_failures: int = 0
    rtt_last_ms: float = 0.0
    rtt_avg_ms: float = 0.0
    last_error: str = ""
    last_error_ts: float = 0.0
    requests_per_scan: int = 0
    scan_overruns: int = 0
    notifications: int = 0
    reconnects: int = 0

    def record_rtt(self, ms: float) -> None:
        """Fold one round trip into last/avg (exponential average, alpha 0.1)."""
        self.rtt_last_ms = ms
        self.rtt_avg_ms = ms if self.rtt_avg_ms == 0.0 else 0.9 * self.rtt_avg_ms + 0.1 * ms

    def record_error(self, reason: str, *, timeout: bool = False) -> None:
        """Count one failed request or attempt (and a timeout when it was one)."""
        self.errors += 1
        self.timeouts += timeout
        self.last_error = reason
        self.last_error_ts = time.time()

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON export, uplink and the diagnostics page."""
        return {
            "device_id": self.device_id,
            "protocol": self.protocol,
            "state": self.state.value,
            "state_since": self.state_since,
            "endpoint": self.endpoint,
            "requests": self.requests,
            "errors": self.errors,
            "timeouts": self.timeouts,
            "consecutive_failures": self.consecutive_failures,
            "rtt_last_ms": round(self.rtt_last_ms, 3),
            "rtt_avg_ms": round(self.rtt_avg_ms, 3),
            "last_error": self.last_error,
            "last_error_ts": self.last_error_ts,
            "requests_per_scan": self.requests_per_scan,
            "scan_overruns": self.scan_overruns,
            "notifications": self.notifications,
            "reconnects": self.reconnects,
        }


#: Called with (device_id, old_state, new_state, reason) on every state change.
StateListener = Callable[[str, DeviceState, DeviceState, str], None]
#: Receives every batch a driver reads.
Sink = Callable[[Batch], None]


class Driver(abc.ABC):
    """A connection to one device. Lives on the acquisition event loop.

    Subclasses set ``kind`` (the ``protocol`` key of the station config) and
    implement the abstract methods. ``start`` returns promptly and runs polling in
    tasks of its own; ``stop`` cancels them and closes the connection.
    """

    kind: ClassVar[str] = ""

    def __init__(
        self,
        device_id: str,
        params: Mapping[str, Any],
        points: Sequence[PointSpec],
        sink: Sink,
        on_state: StateListener | None = None,
    ) -> None:
        self.device_id = device_id
        self.params = dict(params)
        self.points = list(points)
        self.sink = sink
        self._on_state = on_state
        self.diag = DeviceDiagnostics(device_id=device_id, protocol=self.kind)

    # -- state ---------------------------------------------------------------
    @property
    def state(self) -> DeviceState:
        """Current connection state."""
        return self.diag.state

    def _set_state(self, new: DeviceState, reason: str = "") -> None:
        old = self.diag.state
        if new is old:
            return
        self.diag.state = new
        self.diag.state_since = time.time()
        if self._on_state is not None:
            self._on_state(self.device_id, old, new, reason)

    # -- lifecycle -----------------------------------------------------------
    @abc.abstractmethod
    async def start(self) -> None:
        """Begin connecting and polling/subscribing in background tasks."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop all tasks and close the connection. Idempotent."""

    @abc.abstractmethod
    async def write(self, index: int, value: float | bool | str) -> WriteResult:
        """Write one point (by tag index) and report what the device said."""

    @abc.abstractmethod
    async def read(self, indices: Sequence[int]) -> Batch:
        """One-shot read of some points now (used for read-back after a write)."""

    def diagnostics(self) -> DeviceDiagnostics:
        """Live diagnostics object (the runtime copies what it publishes)."""
        return self.diag

    # -- config-time validation ---------------------------------------------
    @classmethod
    @abc.abstractmethod
    def validate_address(cls, address: str) -> str | None:
        """Return an error message for a bad address string, None when valid."""

    @classmethod
    def validate_params(cls, params: Mapping[str, Any]) -> list[str]:
        """Return error messages for bad device parameters (none by default)."""
        return []


class Backoff:
    """Reconnect delays of a device: ``initial`` first, then doubling up to ``maximum``."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = float(initial)
        self.maximum = float(maximum)
        self.delay = self.initial

    def next(self) -> float:
        """The delay to wait now; the one after it is twice as long (at most ``maximum``)."""
        delay = self.delay
        self.delay = min(delay * 2.0, self.maximum)
        return delay

    def reset(self) -> None:
        """Start again from ``initial`` (after a connection worked)."""
        self.delay = self.initial


class ScheduledGroup(Protocol):
    """A poll group as :meth:`ReconnectingDriver._poll_groups` schedules it."""

    period: float
    next_due: float


G = TypeVar("G", bound=ScheduledGroup)
#: (cycle ok, connection lost, failure reason) of one scan of a poll group
ScanResult = tuple[bool, bool, str]

#: causes remembered as logged since the device was last up (a bound, not a tuning knob)
_LOGGED_CAUSES_MAX = 64


class ReconnectingDriver(Driver):
    """A driver holding one connection, with the state machine all such drivers share::

        CONNECTING --connected--> UP <--> DEGRADED (some cycles fail)
            |                      |
            +--fails--> BACKOFF <--+ connection lost / ``degrade_after`` failed cycles
                          |  Backoff delay, then CONNECTING again

    Subclasses implement :meth:`_connect`, :meth:`_serve`, :meth:`_disconnect` and
    :meth:`_fail_all`, set ``_backoff`` and ``_degrade_after`` from their parameters and
    ``logger`` to their module's logger. State changes are logged once per distinct
    problem (not at every reconnect attempt); the sink is guarded so that a broken
    consumer cannot stop acquisition.
    """

    logger: ClassVar[logging.Logger] = logging.getLogger(__name__)

    def __init__(
        self,
        device_id: str,
        params: Mapping[str, Any],
        points: Sequence[PointSpec],
        sink: Sink,
        on_state: StateListener | None = None,
    ) -> None:
        super().__init__(device_id, params, points, sink, on_state)
        self._backoff = Backoff(1.0, 30.0)
        self._degrade_after = 3
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sink_failed = False
        self._logged_causes: set[str] = set()

    # -- what a protocol provides ----------------------------------------------
    @property
    @abc.abstractmethod
    def _peer(self) -> str:
        """The far end, as named in state reasons ("connecting to ...")."""

    @abc.abstractmethod
    async def _connect(self) -> str:
        """Open the connection; '' when it is up, else why not (nothing left open)."""

    @abc.abstractmethod
    async def _serve(self) -> str:
        """Poll or listen while connected; return why the connection must be dropped."""

    @abc.abstractmethod
    async def _disconnect(self) -> None:
        """Close a connection that :meth:`_connect` opened."""

    @abc.abstractmethod
    def _fail_all(self, reason: str) -> None:
        """Mark every point BAD for ``reason`` (the connection is down)."""

    def _up_reason(self) -> str:
        """The reason of the UP state after a connect."""
        return f"connected to {self._peer}"

    @classmethod
    def validate_address(cls, address: str) -> str | None:
        """The parse error of an address, or None when it is valid."""
        return validate_address(cls.kind, address)

    # -- the device task ---------------------------------------------------------
    def _spawn(self, name: str) -> None:
        """Start the device task (named ``name:device_id``)."""
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"{name}:{self.device_id}"
        )

    @property
    def _running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _cancel(self) -> None:
        """End the device task. Idempotent."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        # Python 3.11's wait_for can swallow a cancel that lands as a reply arrives; the flag
        # ends the loops and the cancel is repeated until the task is done.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.2)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            task.result()
        self._stopping = False

    async def _run(self) -> None:
        connected_once = False
        while not self._stopping:
            self._set_state(DeviceState.CONNECTING, f"connecting to {self._peer}")
            reason = await self._connect()
            if reason:
                self.diag.record_error(reason)
            else:
                if connected_once:
                    self.diag.reconnects += 1
                connected_once = True
                self._backoff.reset()
                self.diag.consecutive_failures = 0
                self._set_state(DeviceState.UP, self._up_reason())
                reason = await self._serve()
                await self._disconnect()
            if self._stopping:
                return
            self._fail_all(reason)
            delay = self._backoff.next()
            self._set_state(DeviceState.BACKOFF, f"{reason}; retry in {delay:g} s")
            await asyncio.sleep(delay)

    def _cycle(self, ok: bool, reason: str) -> str:
        """Count one poll cycle: UP again once one works, DEGRADED while some fail; '' to go
        on, or why the connection must be dropped (``degrade_after`` failed in a row)."""
        d = self.diag
        if ok:
            if d.consecutive_failures:
                d.consecutive_failures = 0
                self._set_state(DeviceState.UP, "recovered")
            return ""
        d.consecutive_failures += 1
        if d.consecutive_failures >= self._degrade_after:
            return f"{reason} ({d.consecutive_failures} failed cycles)"
        self._set_state(DeviceState.DEGRADED, reason)
        return ""

    async def _poll_groups(
        self,
        groups: Sequence[G],
        scan: Callable[[G], Awaitable[ScanResult]],
        connected: Callable[[], bool],
        peer: str,
    ) -> str:
        """Scan the groups on their monotonic grids until the connection must be dropped;
        return why. An overrun skips the missed slots (counted in ``scan_overruns``)."""
        loop = asyncio.get_running_loop()
        if not groups:
            while connected() and not self._stopping:
                await asyncio.sleep(1.0)
            return f"connection lost to {peer}"
        now = loop.time()
        for g in groups:
            g.next_due = now
        while not self._stopping:
            g = min(groups, key=lambda grp: grp.next_due)
            delay = g.next_due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            ok, lost, reason = await scan(g)
            now = loop.time()
            g.next_due += g.period
            if g.next_due < now:  # overrun: skip the missed slots, stay on the grid
                self.diag.scan_overruns += 1
                g.next_due += math.ceil((now - g.next_due) / g.period) * g.period
            if lost:
                return reason
            drop = self._cycle(ok, reason)
            if drop:
                return drop
        return "stopped"

    # -- state, logging, sink --------------------------------------------------
    def _set_state(self, new: DeviceState, reason: str = "") -> None:
        if new is self.diag.state:
            return
        super()._set_state(new, reason)
        log = self.logger
        # Log each distinct problem once, not every reconnect attempt.
        if new in (DeviceState.BACKOFF, DeviceState.DEGRADED):
            cause = reason.split("; retry in")[0]
            if cause not in self._logged_causes:
                if len(self._logged_causes) >= _LOGGED_CAUSES_MAX:
                    self._logged_causes.clear()
                self._logged_causes.add(cause)
                log.warning("device %s %s: %s", self.device_id, new.value, reason)
        elif new is DeviceState.UP:
            log.info("device %s up: %s", self.device_id, reason)
            self._logged_causes.clear()
        else:
            log.debug("device %s %s: %s", self.device_id, new.value, reason)

    def _not_connected(self, connected: bool) -> WriteResult | None:
        """NOT_CONNECTED unless the link is up and the state UP or DEGRADED; None when it is."""
        if connected and self.state in (DeviceState.UP, DeviceState.DEGRADED):
            return None
        msg = f"device {self.device_id} is not connected ({self.state.value})"
        return WriteResult(WriteStatus.NOT_CONNECTED, msg)

    def _emit(self, batch: Batch) -> None:
        try:
            self.sink(batch)
        except Exception:  # a broken consumer must not stop acquisition
            if not self._sink_failed:
                self.logger.exception("device %s: the batch consumer failed", self.device_id)
            self._sink_failed = True


#: protocol key in the station config -> "module:Class". Imported lazily so that
#: a station without OPC UA never imports asyncua.
DRIVERS: dict[str, str] = {
    "modbus_tcp": "drivers.modbus.driver:ModbusDriver",
    "modbus_rtu": "drivers.modbus.rtu_driver:ModbusRtuDriver",
    "modbus_rtu_over_tcp": "drivers.modbus.rtu_driver:ModbusRtuOverTcpDriver",
    "opcua": "drivers.opcua.driver:OpcUaDriver",
    "s7": "drivers.s7.driver:S7Driver",
    "iec104": "drivers.iec104.driver:Iec104Driver",
}


#: protocol key -> module whose ``parse_address(text)`` raises ValueError for a bad address.
#: Kept apart from the driver modules so that ``gas-hmi check`` validates addresses without
#: importing pymodbus or asyncua.
ADDRESS_MODULES: dict[str, str] = {
    "modbus_tcp": "drivers.modbus.address",
    "modbus_rtu": "drivers.modbus.address",
    "modbus_rtu_over_tcp": "drivers.modbus.address",
    "opcua": "drivers.opcua.address",
    "s7": "drivers.s7.address",
    "iec104": "drivers.iec104.address",
}


def validate_address(protocol: str, address: str) -> str | None:
    """Error message for a bad address of ``protocol``, None when it is valid."""
    module = importlib.import_module(ADDRESS_MODULES[protocol])
    try:
        module.parse_address(address)
    except ValueError as exc:
        return str(exc)
    return None


def value_type(protocol: str, address: str) -> str:
    """'float', 'int', 'bool' or 'string': what a point at ``address`` yields (from its address
    where the protocol encodes the type there, as Modbus does; 'float' otherwise)."""
    module = importlib.import_module(ADDRESS_MODULES[protocol])
    typer = getattr(module, "value_type", None)
    if typer is None:
        return "float"
    return str(typer(module.parse_address(address)))


def options_problems(protocol: str, options: Mapping[str, Any]) -> list[str]:
    """Messages for bad per-tag protocol options (the address module's ``options_problems``)."""
    module = importlib.import_module(ADDRESS_MODULES[protocol])
    check = getattr(module, "options_problems", None)
    if check is None:
        return [f"{protocol} tags take no options"] if options else []
    return list(check(options))


def device_problems(
    protocol: str, points: Sequence[tuple[str, str, Mapping[str, Any]]]
) -> list[tuple[int, str]]:
    """Problems across one device's tags (e.g. an IEC 104 IOA used twice), from the address
    module's ``device_problems``: (position in ``points``, message). ``points`` are
    (tag name, address, options) in config order."""
    module = importlib.import_module(ADDRESS_MODULES[protocol])
    check = getattr(module, "device_problems", None)
    return [] if check is None else list(check(points))


def driver_class(protocol: str) -> type[Driver]:
    """Return the driver class for a protocol key; KeyError if unknown."""
    target = DRIVERS[protocol]
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    cls: type[Driver] = getattr(module, class_name)
    return cls
