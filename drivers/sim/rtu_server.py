"""Simulated Modbus RTU units: slaves on a pseudo-terminal bus, or behind a simulated serial server.

Each configured ``modbus_rtu`` device is one unit; the units that name the same
``serial_port`` answer on one pseudo-terminal that the simulator creates and links
(symlink) at that path, so the runtime or any RTU master (mbpoll, a Modbus tool on the
engineer's laptop) opens the path as if it were a USB/RS-485 adapter. The units of a
``modbus_rtu_over_tcp`` host:port answer raw RTU frames on one TCP listener, as a serial
server or DTU in transparent mode does.

Values, writes and their refusals are the Modbus TCP simulator's
(:class:`drivers.sim.modbus_server.ModbusSimServer`: same register images, same model);
only the framing differs. Requests with a bad CRC or for an absent unit get no answer
(what real slaves do). Faults: an offline unit (``set_online(False)``, the comms_loss
scenario) stays silent while the others on the bus answer; :meth:`set_malformed`
breaks its replies (``bad_crc``, ``truncated``, ``wrong_unit``). A pseudo-terminal has
no baud rate: with :attr:`RtuSlaveBus.paced` set, a reply is held back for the wire
time of request and reply plus t3.5, as on a real line (the benchmark uses it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pymodbus.pdu.decoders import DecodePDU
from pymodbus.simulator.simcore import SimCore

from drivers.modbus.params import SPEC_CHAR_BITS, t35_seconds
from drivers.modbus.rtu_frame import with_crc
from drivers.sim.modbus_server import ModbusSimServer
from drivers.sim.model import StationModel
from drivers.sim.rtu_link import PtyLink, TcpLink
from drivers.sim.spec import SimDeviceSpec, SimPointSpec

log = logging.getLogger(__name__)

#: what set_malformed accepts
MALFORMED_KINDS = ("bad_crc", "truncated", "wrong_unit")


class RtuSlaveBus:
    """The units on one simulated bus and the link (pty or TCP listener) they answer on."""

    def __init__(self, device: SimDeviceSpec) -> None:
        self.key = bus_key(device)
        self.units: dict[int, ModbusRtuSimServer] = {}
        p = device.params
        self.baudrate = int(p.get("baudrate", 9600))
        bits = 1 + int(p.get("data_bits", 8)) + (p.get("parity", "E") != "N")
        self.char_time = (bits + int(p.get("stop_bits", 1))) / self.baudrate
        #: hold replies back for the wire time (a pty answers at once otherwise)
        self.paced = False
        self.requests = 0
        #: seconds the paced replies left later than their wire-time target (summed)
        self.late = 0.0
        self.link: PtyLink | TcpLink
        if device.protocol == "modbus_rtu":
            self.link = PtyLink(str(p["serial_port"]), self._on_frames)
        else:
            self.link = TcpLink(device.host, device.port, self._on_frames)

    async def _on_frames(self, frames: list[bytes], send: Any) -> None:
        loop = asyncio.get_running_loop()
        for frame in frames:
            t0 = loop.time()
            server = self.units.get(frame[0])
            if server is None or not server.online:
                continue
            self.requests += 1
            reply = await server.answer(frame)
            if self.paced:
                wire = (len(frame) + len(reply)) * self.char_time + t35_seconds(self.baudrate)
                if (wait := t0 + wire - loop.time()) > 0:
                    await asyncio.sleep(wait)
                self.late += loop.time() - (t0 + wire)
            send(reply)

    def wire_seconds(self, nbytes: int) -> float:
        """Wire time of ``nbytes`` at the spec's 11 bits per character."""
        return nbytes * SPEC_CHAR_BITS / self.baudrate


def bus_key(device: SimDeviceSpec) -> str:
    """Serial port path, or host:port of the serial server."""
    if device.protocol == "modbus_rtu":
        return str(device.params["serial_port"])
    return f"{device.host}:{device.port}"


#: (loop, bus key) -> bus shared by the units of one simulator
_BUSES: dict[tuple[int, str], RtuSlaveBus] = {}


class ModbusRtuSimServer(ModbusSimServer):
    """One simulated RTU unit (see the module docstring)."""

    def __init__(
        self, device: SimDeviceSpec, points: Sequence[SimPointSpec], model: StationModel
    ) -> None:
        super().__init__(device, points, model)
        self.bus: RtuSlaveBus | None = None
        self.malformed = ""
        self._core: SimCore | None = None
        self._decoder = DecodePDU(is_server=True)

    async def start(self) -> None:
        """Join the bus (opening its pty / listener if first); OSError when that fails."""
        if self.bus is not None:
            return
        key = (id(asyncio.get_running_loop()), bus_key(self.device))
        bus = _BUSES.get(key)
        if bus is None:
            bus = RtuSlaveBus(self.device)
            await bus.link.open()
            _BUSES[key] = bus
        unit = self.device.unit_id
        if unit in bus.units:
            raise OSError(f"simulated device {self.device.id}: unit {unit} already on {bus.key}")
        self._core = SimCore(self._datastore())
        bus.units[unit] = self
        self.bus = bus
        self.online = True
        log.info(
            "simulated device %s: unit %d on %s (%d points)",
            self.device.id,
            unit,
            bus.link.describe(),
            len(self.points),
        )

    async def stop(self) -> None:
        """Leave the bus (the last unit closes it). Idempotent."""
        bus, self.bus = self.bus, None
        self.online = False
        if bus is None:
            return
        bus.units.pop(self.device.unit_id, None)
        if not bus.units:
            for key, other in list(_BUSES.items()):
                if other is bus:
                    del _BUSES[key]
            await bus.link.close()

    async def set_online(self, online: bool) -> None:
        """Off line, the unit stays silent (the bus and its other units carry on)."""
        if online != self.online:
            log.info("simulated device %s %s", self.device.id, "answers" if online else "is silent")
        self.online = online and self.bus is not None

    def set_malformed(self, kind: str) -> None:
        """Break every reply: 'bad_crc', 'truncated', 'wrong_unit'; '' answers properly again."""
        if kind and kind not in MALFORMED_KINDS:
            raise ValueError(f"malformed kind {kind!r} (known: {', '.join(MALFORMED_KINDS)})")
        self.malformed = kind

    async def answer(self, frame: bytes) -> bytes:
        """The reply frame to a request frame (with the unit's fault applied)."""
        unit = frame[0]
        request = self._decoder.decode(frame[1:-2])
        if request is None:
            pdu = bytes([frame[1] | 0x80, 1])  # illegal function
        else:
            assert self._core is not None
            response = await request.datastore_update(self._core, unit)  # type: ignore[arg-type]
            pdu = bytes([response.function_code]) + response.encode()
        kind = self.malformed
        if kind == "wrong_unit":
            return with_crc(bytes([(unit % 247) + 1]) + pdu)
        reply = with_crc(bytes([unit]) + pdu)
        if kind == "bad_crc":
            return reply[:-2] + bytes([reply[-2] ^ 0xFF, reply[-1]])
        if kind == "truncated":
            return reply[: max(2, len(reply) // 2)]
        return reply
