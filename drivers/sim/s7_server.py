"""One simulated Siemens S7 CPU: python-snap7's server fed from the station model.

Every area the device's tags use (each DB, the markers, inputs and outputs) is registered
with the server, sized from the tags (byte 0 to the end of the last value). snap7's server
answers on its own threads; the model lives on the simulator's asyncio loop, so a read
first asks the loop to re-encode the images when the model moved on (lazily, at most once
per model step), and a write is decoded, checked and applied on the loop before the
reply goes out: writes to read-only points, to unconfigured bytes or to part of a value
get S7 return code 0x05/0x03, values the model refuses get 0x07. Bit writes (S7 bit
access) change one bit, as a CPU does.

Faults: :meth:`set_online` (comms loss) stops the server and drops every connection;
:meth:`set_fault` makes it ``"mute"`` (accepts connections, never answers: the client
times out), ``"short"`` (replies cut short: malformed) or ``"no_putget"`` (refuses every
read and write with S7 error 0x8104, as a CPU without PUT/GET access does).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import snap7
from snap7.datatypes import S7Area, S7WordLen
from snap7.s7protocol import S7Function, S7PDUType
from snap7.type import SrvArea

from drivers.s7 import logfilter
from drivers.s7.address import S7Address, parse_address
from drivers.sim.model import StationModel
from drivers.sim.s7image import AreaImage
from drivers.sim.server_base import SimServerBase
from drivers.sim.spec import SimDeviceSpec, SimPointSpec

log = logging.getLogger(__name__)
logfilter.install("snap7.server")

_SRV_AREA = {"DB": SrvArea.DB, "M": SrvArea.MK, "I": SrvArea.PE, "Q": SrvArea.PA}
_S7_AREA = {"DB": S7Area.DB, "M": S7Area.MK, "I": S7Area.PE, "Q": S7Area.PA}
_AREA_OF_CODE = {0x81: "I", 0x82: "Q", 0x83: "M", 0x84: "DB"}
FAULTS = ("", "mute", "short", "no_putget")
_LOOP_WAIT = 5.0  # seconds a server thread waits for the simulator loop


class _Snap7Server(snap7.Server):
    """snap7's server with the simulator's hooks (reads, writes, faults, dropping clients)."""

    def __init__(self, owner: S7SimServer) -> None:
        super().__init__(log=False)
        self.owner = owner
        self._sockets: set[socket.socket] = set()
        self._sock_lock = threading.Lock()

    def _handle_client(self, client_socket: socket.socket, address: tuple[str, int]) -> None:
        with self._sock_lock:
            self._sockets.add(client_socket)
        try:
            super()._handle_client(client_socket, address)
        finally:
            with self._sock_lock:
                self._sockets.discard(client_socket)

    def drop_clients(self) -> None:
        """Abort every open connection (a CPU that leaves the network)."""
        with self._sock_lock:
            sockets = list(self._sockets)
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _parse_address_specification(self, addr_spec: bytes) -> dict[str, Any]:
        parsed: dict[str, Any] = super()._parse_address_specification(addr_spec)
        if parsed and len(addr_spec) >= 12:
            parsed["bit"] = addr_spec[11] & 0x07  # snap7 drops it; a bit access needs it
        return parsed

    def _get_szl_data(self, szl_id: int, szl_index: int) -> bytes | None:
        if szl_id == 0x0424:  # CPU status: bzu-id byte 0x08 = RUN, 0x04 = STOP
            record = bytearray(20)
            record[3] = 0x08 if self.cpu_state == 8 else 0x04
            return struct.pack(">HH", len(record), 1) + bytes(record)
        data: bytes | None = super()._get_szl_data(szl_id, szl_index)
        return data

    def _process_request(
        self, request_data: bytes, client_address: tuple[str, int]
    ) -> bytes | None:
        fault = self.owner.fault
        if fault == "mute":
            return None
        job = request_data[10] if len(request_data) > 10 and request_data[1] == 0x01 else -1
        if fault == "no_putget" and job in (S7Function.READ_AREA, S7Function.WRITE_AREA):
            # what an S7-1200/1500 without "Permit access with PUT/GET" answers
            return self._build_error_response(
                {"sequence": request_data[4] << 8 | request_data[5]}, 0x8104
            )
        reply: bytes | None = super()._process_request(request_data, client_address)
        if fault == "short" and reply is not None and len(reply) > 14:
            return reply[:-3]
        return reply

    def _read_from_memory_area(
        self, area: S7Area, db_number: int, start: int, count: int
    ) -> tuple[int, bytearray]:
        self.owner.refresh_from_thread()
        result: tuple[int, bytearray] = super()._read_from_memory_area(
            area, db_number, start, count
        )
        return result

    def _handle_write_area(self, request: dict[str, Any], client_address: tuple[str, int]) -> bytes:
        spec = (request.get("parameters") or {}).get("address_spec") or {}
        data = bytes((request.get("data") or {}).get("data") or b"")
        if not spec or not data:
            code = 0x05
        else:
            bit = spec.get("bit", 0) if spec.get("word_len") == S7WordLen.BIT else None
            code = self.owner.write_from_thread(
                int(spec["area"]), int(spec["db_number"]), int(spec["start"]), bit, data
            )
        header = struct.pack(
            ">BBHHHHBB", 0x32, S7PDUType.ACK_DATA, 0, request["sequence"], 2, 1, 0, 0
        )
        return header + struct.pack(">BB", S7Function.WRITE_AREA, 1) + bytes([code])


class S7SimServer(SimServerBase):
    """Serves one device's points on its host/port as an S7 CPU."""

    addresses: list[S7Address]

    def __init__(
        self, device: SimDeviceSpec, points: Sequence[SimPointSpec], model: StationModel
    ) -> None:
        super().__init__(device, points, model, parse_address)
        self._server: _Snap7Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._key: tuple[int, int] | None = None
        self._mem_version = 0
        self.fault = ""
        n = len(self.points)
        self.gain = np.array([p.gain or 1.0 for p in self.points], dtype=float)
        self.offset = np.array([p.offset for p in self.points], dtype=float)
        self.memory = np.zeros(n)
        self.texts: list[str] = [""] * n
        self._model_idx = np.asarray(self._model_slots, dtype=np.int64)
        self._sig_idx = np.asarray(self._sig_slots, dtype=np.int64)
        by_area: dict[tuple[str, int], list[int]] = {}
        for k, a in enumerate(self.addresses):
            by_area.setdefault((a.area, a.db), []).append(k)
        self.images: dict[tuple[str, int], AreaImage] = {}
        self._slots: dict[tuple[str, int], np.ndarray] = {}
        for key, ks in by_area.items():
            try:
                self.images[key] = AreaImage(key[0], key[1], [self.addresses[k] for k in ks])
            except ValueError as exc:
                raise ValueError(f"device {device.id}: {exc}") from None
            self._slots[key] = np.asarray(ks, dtype=np.int64)
        self.writes = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Listen on the device's host/port; OSError when that is impossible."""
        self._loop = asyncio.get_running_loop()
        self.refresh(force=True)
        server = _Snap7Server(self)
        for (area, db), img in self.images.items():
            server.register_area(_SRV_AREA[area], db, img.data)
        try:
            server.start_to(self.device.host, self.device.port)
        except Exception as exc:  # snap7 raises its own error type for a port in use
            raise self._cannot_listen(str(exc)) from None
        self._server = server
        self.online = True
        log.info("simulated device %s serving %d points on s7://%s:%d", self.device.id,
                 len(self.points), self.device.host, self.device.port)  # fmt: skip

    async def stop(self) -> None:
        """Stop listening and drop every connection. Idempotent."""
        server, self._server = self._server, None
        self.online = False
        if server is not None:
            server.drop_clients()
            await asyncio.to_thread(server.stop)

    def set_fault(self, fault: str) -> None:
        """'' (healthy), 'mute' (never answers), 'short' (cuts every reply short) or
        'no_putget' (refuses reads and writes with S7 error 0x8104)."""
        if fault not in FAULTS:
            raise ValueError(
                f"unknown S7 fault {fault!r} (known: {', '.join(repr(f) for f in FAULTS)})"
            )
        self.fault = fault
        log.info("simulated device %s: fault %r", self.device.id, fault or "none")

    # ------------------------------------------------------------------ values (simulator loop)
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
            keep = ~np.isin(self._sig_idx, list(self._overridden))
            eng[self._sig_idx[keep]] = values[keep]
        raw = (eng - self.offset) / self.gain
        server = self._server
        for key2, img in self.images.items():
            slots = self._slots[key2]
            texts = [self.texts[k] for k in slots] if img.strings else None
            # snap7 copies an area under its per-area lock: fill under it too (no torn values)
            lock = server.area_locks.get((_S7_AREA[key2[0]], key2[1])) if server else None
            if lock is None:
                img.fill(raw[slots], texts)
            else:
                with lock:
                    img.fill(raw[slots], texts)

    def eng_value(self, name: str) -> float | str:
        """The engineering value the device serves for tag ``name`` now (for tests and tools)."""
        self.refresh()
        k = next(i for i, p in enumerate(self.points) if p.name == name)
        a = self.addresses[k]
        img = self.images[(a.area, a.db)]
        local = int(np.flatnonzero(self._slots[(a.area, a.db)] == k)[0])
        value = img.current(local)
        return value if isinstance(value, str) else float(value) * self.gain[k] + self.offset[k]

    def _write(self, area_code: int, db: int, start: int, bit: int | None, data: bytes) -> int:
        """Apply a client write on the loop; the S7 item return code of the reply."""
        self.refresh()
        key = (_AREA_OF_CODE.get(area_code, "?"), db if area_code == 0x84 else 0)
        img = self.images.get(key)
        if img is None:
            return 0x0A
        changes, reason = img.write_plan(start, data, bit)
        if reason:
            log.info("simulated device %s: write refused: %s", self.device.id, reason)
            return 0x05
        slots = self._slots[key]
        planned: list[tuple[int, Any]] = []
        for local, new in changes:
            k = int(slots[local])
            if not self.points[k].writable:
                if new == img.current(local):
                    continue  # an untouched read-only bit sharing the byte with a writable one
                log.info(
                    "simulated device %s: write to read-only %s refused",
                    self.device.id,
                    self.points[k].name,
                )
                return 0x03
            value = new if isinstance(new, str) else float(new) * self.gain[k] + self.offset[k]
            if not isinstance(value, str) and self._model_refusal(k, value) is not None:
                return 0x07
            planned.append((k, value))
        self._apply(planned)
        self.refresh(force=True)
        return 0xFF

    # ------------------------------------------------------------------ from snap7's threads
    def _on_loop(self, fn: Any, *args: Any) -> Any:
        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError("simulator loop is gone")

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(_LOOP_WAIT)

    def refresh_from_thread(self) -> None:
        """Called by a server thread before a read: refresh on the loop when the model moved."""
        if self._key == (self.model.steps, self._mem_version):
            return
        try:
            self._on_loop(self.refresh)
        except Exception as exc:  # the loop is stopping: serve what the images hold
            log.debug("simulated device %s: no refresh (%s)", self.device.id, exc)

    def write_from_thread(
        self, area_code: int, db: int, start: int, bit: int | None, data: bytes
    ) -> int:
        """Called by a server thread for a write: decode, check and apply it on the loop."""
        try:
            return int(self._on_loop(self._write, area_code, db, start, bit, data))
        except Exception as exc:
            log.warning("simulated device %s: write failed: %s", self.device.id, exc)
            return 0x01
