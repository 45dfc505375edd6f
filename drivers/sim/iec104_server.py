"""One simulated IEC 104 controlled station (telecontrol RTU): a real c104 server fed from
the station model.

Every tag of the device becomes a point of the station at the device's common address:
its address is the monitored point (``M_...``) or, for a command-only tag, the command
point; a tag's ``command`` option adds that command point. Values come from the model,
a signal or a memory cell as for every simulated device; every :data:`PERIOD` the server
compares them with what it last reported and transmits the changed ones spontaneously
(analog values beyond a :data:`DEADBAND` of their magnitude). General and counter
interrogations are answered by c104 from the current values.

Single points are on for a value >= 0.5. A double point's value is a position: 0 off
(DPI 1), 1 on (DPI 2), in between intermediate (DPI 0). Commands reach the model: a
double command writes 0 (off) or 1 (on); a select (of a tag with ``select: true``, whose
command point then refuses a direct execute) is accepted for writable tags only. The
model's ``telemetry_quality`` fault (scenario ``rtu_quality``) sets NT or IV on every
monitored point.

c104 checks a callback's parameter names and annotations against the real classes, so
this module does not use postponed annotations.
"""

import asyncio
import contextlib
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import c104
import numpy as np

from drivers.iec104.address import Iec104Address, command_of, parse_address
from drivers.iec104.codec import command_value, monitor_info
from drivers.sim.model import StationModel
from drivers.sim.server_base import SimServerBase
from drivers.sim.spec import SimDeviceSpec, SimPointSpec

log = logging.getLogger(__name__)

#: s between comparisons of the served values with the model
PERIOD = 0.2
#: relative change of an analog value that is reported spontaneously
DEADBAND = 0.002
_FAULT_BITS = {
    "": 0,
    "NT": int(c104.Quality.NonTopical.value),
    "IV": int(c104.Quality.Invalid.value),
}
_COUNTER_IV = int(c104.BinaryCounterQuality.Invalid.value)


def _served(addr: Iec104Address, eng_raw: float) -> float:
    """The raw value a monitored point reports for a model value."""
    if addr.family == "double":
        if math.isnan(eng_raw):
            return 3.0
        return 1.0 if eng_raw <= 0.0 else 2.0 if eng_raw >= 1.0 else 0.0
    return eng_raw


class Iec104SimServer(SimServerBase):
    """Serves one device's points on its host/port as an IEC 104 controlled station."""

    addresses: list[Iec104Address]

    def __init__(
        self, device: SimDeviceSpec, points: Sequence[SimPointSpec], model: StationModel
    ) -> None:
        super().__init__(device, points, model, parse_address)
        self.common_address = int(device.params.get("common_address", 1))
        n = len(self.points)
        self.gain = np.array([p.gain or 1.0 for p in self.points], dtype=float)
        self.offset = np.array([p.offset for p in self.points], dtype=float)
        self.memory = np.zeros(n)
        self._model_idx = np.asarray(self._model_slots, dtype=np.int64)
        self._sig_idx = np.asarray(self._sig_slots, dtype=np.int64)
        self.commands: dict[int, tuple[int, Iec104Address]] = {}  # command IOA -> (point, address)
        seen: dict[int, str] = {}
        for k, (p, a) in enumerate(zip(self.points, self.addresses, strict=True)):
            used = [a]
            cmd = command_of(a, p.options) if not a.is_command else a
            if cmd is not None:
                self.commands[cmd.ioa] = (k, cmd)
                if cmd is not a:
                    used.append(cmd)
            for u in used:
                if u.ioa in seen:
                    raise ValueError(
                        f"device {device.id}: tag {p.name}: IOA {u.ioa} is also {seen[u.ioa]}"
                    )
                seen[u.ioa] = f"{u} of tag {p.name}"
        self._server: c104.Server | None = None
        self._c104: dict[int, Any] = {}  # point index -> c104 monitored point
        self._sent: list[float | None] = [None] * n
        self._bits = 0
        self._task: asyncio.Task[None] | None = None
        self.commands_received = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Listen on the device's host/port; OSError when that is impossible."""
        server = c104.Server(ip=self.device.host, port=self.device.port, tick_rate_ms=50)
        station = server.add_station(common_address=self.common_address)
        if station is None:
            raise ValueError(f"device {self.device.id}: bad common address {self.common_address}")
        self._c104 = {}
        self._sent = [None] * len(self.points)
        self._bits = _FAULT_BITS.get(self.model.faults.telemetry_quality, 0)
        raw = self._raw_values()
        for k, a in enumerate(self.addresses):
            if a.is_command:
                continue
            point = station.add_point(io_address=a.ioa, type=getattr(c104.Type, a.type))
            if point is None:
                raise ValueError(f"device {self.device.id}: c104 refused {a}")
            value = _served(a, float(raw[k]))
            point.info = monitor_info(a, value, self._quality(a))
            self._sent[k] = value
            self._c104[k] = point
        for ioa, (k, cmd) in self.commands.items():
            opts = self.points[k].options
            mode = (
                c104.CommandMode.SELECT_AND_EXECUTE
                if opts.get("select")
                else c104.CommandMode.DIRECT
            )
            cp = station.add_point(
                io_address=ioa, type=getattr(c104.Type, cmd.type), command_mode=mode
            )
            if cp is None:
                raise ValueError(f"device {self.device.id}: c104 refused {cmd}")
            related = self.addresses[k]
            if not related.is_command:
                cp.related_io_address = related.ioa
                cp.related_io_autoreturn = True
            cp.on_receive(callable=self._on_command)
        try:
            server.start()
        except RuntimeError:
            server.stop()
            raise self._cannot_listen("port in use or address not available") from None
        self._server = server
        self.online = True
        self._task = asyncio.get_running_loop().create_task(
            self._report(), name=f"iec104-sim:{self.device.id}"
        )
        log.info(
            "simulated device %s serving %d points on %s:%d CA %d",
            self.device.id, len(self.points), self.device.host, self.device.port,
            self.common_address,
        )  # fmt: skip

    async def stop(self) -> None:
        """Stop reporting and listening (drops every connection). Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        server, self._server = self._server, None
        self.online = False
        if server is not None:
            await asyncio.get_running_loop().run_in_executor(None, server.stop)

    # ------------------------------------------------------------------ values
    def _raw_values(self) -> np.ndarray:
        eng = self.memory.copy()
        if self._model_names:
            eng[self._model_idx] = self.model.values_of(self._model_names)
        if self._bank is not None:
            values = self._bank.values(self.model.t)
            keep = ~np.isin(self._sig_idx, list(self._overridden))
            eng[self._sig_idx[keep]] = values[keep]
        raw: np.ndarray = (eng - self.offset) / self.gain
        return raw

    def _quality(self, a: Iec104Address) -> int:
        if a.family == "counter":
            return _COUNTER_IV if self._bits & _FAULT_BITS["IV"] else 0
        return self._bits

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(PERIOD)
            self.publish()

    def publish(self) -> int:
        """Transmit every changed value spontaneously; the number sent."""
        bits = _FAULT_BITS.get(self.model.faults.telemetry_quality, 0)
        every = bits != self._bits
        self._bits = bits
        raw = self._raw_values()
        sent = 0
        for k, point in self._c104.items():
            a = self.addresses[k]
            value = _served(a, float(raw[k]))
            last = self._sent[k]
            if not every and last is not None and not self._changed(a, value, last):
                continue
            point.info = monitor_info(a, value, self._quality(a))
            self._sent[k] = value
            point.transmit(cause=c104.Cot.SPONTANEOUS)
            sent += 1
        return sent

    @staticmethod
    def _changed(a: Iec104Address, value: float, last: float) -> bool:
        if a.family in ("normalized", "float"):
            return abs(value - last) > DEADBAND * max(abs(last), 1e-3)
        return value != last

    # ------------------------------------------------------------------ commands (c104 thread)
    def _on_command(
        self, point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
    ) -> c104.ResponseState:
        k, cmd = self.commands[point.io_address]
        p = self.points[k]
        if not p.writable:
            log.info("simulated device %s: command to read-only %s refused", self.device.id, p.name)
            return c104.ResponseState.FAILURE
        if message.is_select_command:
            return c104.ResponseState.SUCCESS
        raw = command_value(cmd, point.info)
        if cmd.family == "double":
            raw = raw - 1.0  # DCS 1 off / 2 on -> position 0 / 1
        value = raw * self.gain[k] + self.offset[k]
        if self._model_refusal(k, value) is not None:
            return c104.ResponseState.FAILURE
        if isinstance(p.source, str) and p.source:
            self.model.write(p.source, float(value))
        else:
            self.memory[k] = float(value)
            if isinstance(p.source, Mapping):
                self._overridden.add(k)
        self.commands_received += 1
        monitored = self._c104.get(k)
        if monitored is not None:  # the return information carries the new state
            a = self.addresses[k]
            served = _served(a, float(self._raw_values()[k]))
            monitored.info = monitor_info(a, served, self._quality(a))
            self._sent[k] = served
        return c104.ResponseState.SUCCESS
