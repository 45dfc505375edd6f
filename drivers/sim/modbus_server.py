"""One simulated Modbus TCP device: a real pymodbus server fed from the station model.

Values are encoded lazily: a read refreshes the device's register images when the
model has moved on since the last refresh, then copies the requested range into the
pymodbus datastore. Writes are decoded with the same codec the runtime uses and
reach the model (set points, commands) or a memory cell; writes to read-only points,
to unconfigured registers or to part of a multi-register value get ILLEGAL_ADDRESS,
values the model refuses (out of range) get ILLEGAL_VALUE.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.modbus.address import ModbusAddress, parse_address
from drivers.sim.model import StationModel
from drivers.sim.regimage import TableImage
from drivers.sim.server_base import SimServerBase
from drivers.sim.spec import SimDeviceSpec, SimPointSpec

log = logging.getLogger(__name__)

#: function code -> table it reads or writes
_FC_TABLE = {
    1: "co",
    5: "co",
    15: "co",
    2: "di",
    3: "hr",
    6: "hr",
    16: "hr",
    22: "hr",
    23: "hr",
    4: "ir",
}
_TUPLE_ORDER = ("co", "di", "hr", "ir")  # pymodbus' non-shared block order


class ModbusSimServer(SimServerBase):
    """Serves one device's points on its host/port as a Modbus TCP server."""

    addresses: list[ModbusAddress]

    def __init__(
        self, device: SimDeviceSpec, points: Sequence[SimPointSpec], model: StationModel
    ) -> None:
        super().__init__(device, points, model, parse_address)
        self._server: ModbusTcpServer | None = None
        self._key: tuple[int, int] | None = None
        self._mem_version = 0
        n = len(self.points)
        self.gain = np.array([p.gain or 1.0 for p in self.points], dtype=float)
        self.offset = np.array([p.offset for p in self.points], dtype=float)
        self.memory = np.zeros(n)
        self.texts: list[str] = [""] * n
        # index arrays for the vectorised refresh
        self._model_idx = np.asarray(self._model_slots, dtype=np.int64)
        self._sig_idx = np.asarray(self._sig_slots, dtype=np.int64)
        by_table: dict[str, list[int]] = {}
        for k, a in enumerate(self.addresses):
            by_table.setdefault(a.table, []).append(k)
        self.images: dict[str, TableImage] = {}
        self._slots: dict[str, np.ndarray] = {}
        for table, ks in by_table.items():
            try:
                self.images[table] = TableImage(table, [self.addresses[k] for k in ks])
            except ValueError as exc:
                raise ValueError(f"device {device.id}: {exc}") from None
            self._slots[table] = np.asarray(ks, dtype=np.int64)
        self.reads = 0
        self.writes = 0

    # ------------------------------------------------------------------ lifecycle
    def _datastore(self) -> SimDevice:
        blocks: list[list[SimData]] = []
        for table in _TUPLE_ORDER:
            img = self.images.get(table)
            if img is None:  # pymodbus needs every block; an unused table has one invalid cell
                blocks.append(
                    [SimData(0, values=[False], datatype=DataType.BITS)]
                    if table in ("co", "di")
                    else [SimData(0, count=1, datatype=DataType.INVALID)]
                )
            elif img.bits:
                blocks.append([SimData(img.lo, values=[False] * img.size, datatype=DataType.BITS)])
            else:
                blocks.append(
                    [SimData(img.lo, count=img.size, values=0, datatype=DataType.REGISTERS)]
                )
        return SimDevice(
            self.device.unit_id,
            simdata=(blocks[0], blocks[1], blocks[2], blocks[3]),
            action=self._action,
        )

    async def start(self) -> None:
        """Listen on the device's host/port; OSError when that is impossible."""
        server = ModbusTcpServer(
            context=self._datastore(), address=(self.device.host, self.device.port)
        )
        try:
            await server.serve_forever(background=True)
        except RuntimeError:
            await server.shutdown()  # type: ignore[no-untyped-call]  # untyped in pymodbus
            raise self._cannot_listen("port in use or address not available") from None
        self._server = server
        self.online = True
        log.info(
            "simulated device %s serving %d points on %s",
            self.device.id,
            len(self.points),
            self.device.endpoint,
        )

    async def stop(self) -> None:
        """Stop listening and drop every connection. Idempotent."""
        server, self._server = self._server, None
        self.online = False
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]  # untyped in pymodbus

    # ------------------------------------------------------------------ values
    def refresh(self, force: bool = False) -> None:
        """Re-encode the images when the model (or a memory cell) changed since last time."""
        key = (self.model.steps, self._mem_version)
        if (key == self._key or self.frozen) and not force:
            return  # frozen: the device keeps answering its last image
        self._key = key
        eng = self.memory.copy()
        if self._model_names:
            eng[self._model_idx] = self.model.values_of(self._model_names)
        if self._bank is not None:
            values = self._bank.values(self.model.t)
            if self._overridden:
                keep = ~np.isin(self._sig_idx, list(self._overridden))
                eng[self._sig_idx[keep]] = values[keep]
            else:
                eng[self._sig_idx] = values
        raw = (eng - self.offset) / self.gain
        for table, img in self.images.items():
            slots = self._slots[table]
            img.fill(raw[slots], [self.texts[k] for k in slots] if img.strings else None)

    def eng_value(self, name: str) -> float | str:
        """The engineering value the device serves for tag ``name`` now (for tests and tools)."""
        self.refresh()
        k = next(i for i, p in enumerate(self.points) if p.name == name)
        img = self.images[self.addresses[k].table]
        local = int(np.flatnonzero(self._slots[img.table] == k)[0])
        value = img.current(local)
        return value if isinstance(value, str) else float(value) * self.gain[k] + self.offset[k]

    # ------------------------------------------------------------------ pymodbus hook
    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if self.exception:  # e.g. 0x0B: the gateway's serial target does not respond
            return ExcCodes(self.exception)
        table = _FC_TABLE.get(function_code)
        img = self.images.get(table or "")
        if img is None:
            return ExcCodes.ILLEGAL_ADDRESS
        if set_values is not None:
            result = self._write(img, address, list(set_values))
            if result is not None:
                return result
        self.refresh()
        if img.bits:  # pymodbus hands bit tables over as 16-bit words
            first = address // 16
            off = first - start_address
            registers[off : off + count] = img.packed(first, count)
        else:
            off = address - start_address
            registers[off : off + count] = [int(x) for x in img.read(address, count)]
        self.reads += set_values is None
        return None

    def _write(self, img: TableImage, start: int, values: list[Any]) -> ExcCodes | None:
        self.refresh()  # compare against what is served now
        hit, reason = img.covered(start, len(values))
        if reason:
            log.info("simulated device %s: write refused: %s", self.device.id, reason)
            return ExcCodes.ILLEGAL_ADDRESS
        slots = self._slots[img.table]
        changes: list[tuple[int, Any]] = []
        for local in hit:
            k = int(slots[local])
            new = img.decode_with(local, start, values)
            if not self.points[k].writable:
                if img.addresses[local].type == "bit" and new == img.current(local):
                    continue  # untouched read-only bit sharing a register with a writable one
                log.info(
                    "simulated device %s: write to read-only %s refused",
                    self.device.id,
                    self.points[k].name,
                )
                return ExcCodes.ILLEGAL_ADDRESS
            changes.append((k, new))
        planned: list[tuple[int, Any]] = []
        for k, new in changes:
            value = new if isinstance(new, str) else float(new) * self.gain[k] + self.offset[k]
            refused = None if isinstance(value, str) else self._model_refusal(k, value)
            if refused is not None:
                return (
                    ExcCodes.ILLEGAL_VALUE if refused.code == "range" else ExcCodes.ILLEGAL_ADDRESS
                )
            planned.append((k, value))
        self._apply(planned)
        return None
