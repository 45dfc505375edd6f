"""One ISO-on-TCP connection to an S7 CPU, driven from asyncio through its own thread.

python-snap7's transport (:class:`snap7.connection.ISOTCPConnection`) and PDU codec
(:class:`snap7.s7protocol.S7Protocol`) are blocking; every exchange runs in a
single-thread executor owned by the device, so the acquisition loop never blocks and
the device's requests stay strictly one at a time. The socket timeout is the device's
``timeout``; closing aborts the socket so that a blocked exchange ends at once.

Replies are parsed here, item by item: a multi-variable read may succeed for some
variables and fail for others (a missing DB, a range past the end of a DB), and each
failure keeps its S7 return code as a reason. Results are classified like the Modbus
client's: ``""`` (ok), :data:`TIMEOUT`, :data:`LOST` (both end the connection),
:data:`REFUSED` (the CPU answered with an error) and :data:`MALFORMED`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from snap7.connection import ISOTCPConnection
from snap7.datatypes import S7Area, S7WordLen
from snap7.error import S7ConnectionError, S7ProtocolError, S7TimeoutError
from snap7.s7protocol import S7Protocol

from drivers.s7 import logfilter
from drivers.s7.address import S7Address
from drivers.s7.planner import Request

log = logging.getLogger(__name__)
logfilter.install("snap7.connection")
T = TypeVar("T")

TIMEOUT, LOST, REFUSED, MALFORMED = "timeout", "lost", "refused", "malformed"

#: S7 data-item return codes (reply to one variable) -> what it means on site
ITEM_ERRORS: dict[int, str] = {
    0x01: "hardware fault",
    0x03: "access to the object not allowed",
    0x05: "address out of range (is the DB that long, and 'optimized block access' off?)",
    0x06: "data type not supported",
    0x07: "data type inconsistent",
    0x0A: "object does not exist (no such DB or area)",
}
#: S7 header error (class << 8 | code) -> what it means on site
HEADER_ERRORS: dict[int, str] = {
    0x8104: "function not allowed: enable PUT/GET access in the CPU's protection settings",
    0x8500: "PDU too large for the CPU",
    0x8404: "area write refused",
}


@dataclass(frozen=True, slots=True)
class ReadResult:
    """One attempt of a read job: per item bytes or reason, failure kind or '', reason, RTT."""

    items: list[bytes | str]
    kind: str
    reason: str
    rtt_ms: float


class _Link:
    """The blocking connection; only the device's executor thread calls it (but abort)."""

    def __init__(self, host: str, port: int, tsaps: tuple[int, int], timeout: float, pdu: int):
        self.host, self.port, self.tsaps, self.timeout, self.pdu_request = (
            host,
            port,
            tsaps,
            timeout,
            pdu,
        )
        self.conn: ISOTCPConnection | None = None
        self.protocol = S7Protocol()
        self.pdu_size = 0

    def connect(self) -> int:
        conn = ISOTCPConnection(self.host, self.port, self.tsaps[0], self.tsaps[1])
        self.conn = conn
        conn.connect(timeout=self.timeout)
        self.protocol = S7Protocol()
        reply = self.exchange(
            self.protocol.build_setup_communication_request(1, 1, pdu_length=self.pdu_request)
        )
        pdu = int((reply.get("parameters") or {}).get("pdu_length", 0))
        if pdu < 64:
            raise S7ProtocolError(f"the CPU granted an implausible PDU size {pdu}")
        self.pdu_size = min(pdu, self.pdu_request)
        return self.pdu_size

    def cpu_state(self) -> str:
        """'run', 'stop' or 'unknown', from SZL 0x0424 (as snap7 reads it: 0x08 is RUN)."""
        try:
            reply = self.exchange(self.protocol.build_read_szl_request(0x0424, 0))
        except (S7ProtocolError, ValueError, IndexError, struct.error):
            return "unknown"  # the CPU does not give its status: not a reason to fail
        data = bytes((reply.get("data") or {}).get("data") or b"")
        record = data[8:]  # SZL id, index, record length, record count
        if len(record) < 4:
            return "unknown"
        return "run" if record[3] == 0x08 else "stop"

    def exchange(self, request: bytes) -> dict[str, Any]:
        conn = self.conn
        if conn is None or not conn.connected:
            raise S7ConnectionError("not connected")
        seq = struct.unpack(">H", request[4:6])[0]
        conn.send_data(request)
        for _stale in range(4):  # a late reply to a timed-out request may still come in
            reply = self.protocol.parse_response(conn.receive_data())
            if reply.get("sequence") == seq:
                return reply
        raise S7ProtocolError(f"no reply with sequence {seq} among 4 replies")

    def abort(self) -> None:
        conn = self.conn
        sock = getattr(conn, "socket", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.disconnect()


def _item_reason(code: int) -> str:
    return f"S7 error 0x{code:02x} ({ITEM_ERRORS.get(code, 'unknown item error')})"


def parse_items(reply: dict[str, Any], request: Request) -> list[bytes | str]:
    """Per item of ``request``: its bytes, or the reason it failed (text).

    Raises ValueError for a reply that does not match the request (malformed).
    """
    params = reply.get("parameters") or {}
    n = len(request.items)
    if params.get("function_code") != 0x04 or params.get("item_count") != n:
        raise ValueError(f"reply to a read of {n} variables has {params.get('item_count')} items")
    raw = bytes(reply.get("raw_data") or b"")
    out: list[bytes | str] = []
    pos = 0
    for i, item in enumerate(request.items):
        if pos + 4 > len(raw):
            raise ValueError(f"reply ends before variable {i + 1} of {n}")
        code, transport, length = (
            raw[pos],
            raw[pos + 1],
            struct.unpack(">H", raw[pos + 2 : pos + 4])[0],
        )
        pos += 4
        if code != 0xFF:
            out.append(_item_reason(code))
            continue
        size = (length + 7) // 8 if transport in (0x03, 0x04, 0x05) else length
        if size != item.size or pos + size > len(raw):
            raise ValueError(
                f"variable {i + 1} of {n}: {min(size, len(raw) - pos)} of {item.size} bytes"
            )
        out.append(raw[pos : pos + size])
        pos += size + (size & 1 if i < n - 1 else 0)
    return out


class S7Client:
    """Async face of one device's connection (see the module docstring)."""

    def __init__(
        self,
        device_id: str,
        host: str,
        port: int,
        tsaps: tuple[int, int],
        timeout: float,
        pdu_request: int,
    ) -> None:
        self.endpoint = f"s7://{host}:{port}"
        self._link = _Link(host, port, tsaps, timeout, pdu_request)
        self._name = f"s7-{device_id}"
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.connected = False
        self.rtt_ms = 0.0
        self.cpu_state = "unknown"

    @property
    def pdu_size(self) -> int:
        """The PDU size granted at the last connect (0 before)."""
        return self._link.pdu_size

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=self._name)
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        finally:
            self.rtt_ms = (time.perf_counter() - t0) * 1000.0

    def _classify(self, exc: BaseException) -> tuple[str, str]:
        if isinstance(exc, (S7TimeoutError, socket.timeout, TimeoutError)):
            kind, reason = TIMEOUT, f"timeout after {self._link.timeout:g} s"
        elif isinstance(exc, S7ProtocolError) and exc.error_code:
            code = int(exc.error_code)
            text = HEADER_ERRORS.get(code, str(exc))
            return REFUSED, f"S7 error 0x{code:04x} ({text})"
        elif isinstance(exc, (S7ConnectionError, OSError)):
            kind, reason = LOST, f"connection lost to {self.endpoint}: {exc}"
        else:
            return MALFORMED, f"malformed reply ({exc})"
        self.connected = False
        self._link.abort()
        return kind, reason

    async def connect(self) -> str:
        """Open the connection and negotiate the PDU; '' or the reason it failed."""
        await self.aclose_link()
        try:
            pdu = await self._call(self._link.connect)
            self.cpu_state = await self._call(self._link.cpu_state)
        except Exception as exc:  # every failure is a reason, never a crash of the device task
            kind, reason = self._classify(exc)
            if kind == LOST:
                reason = f"cannot connect to {self.endpoint}: {exc}"
            self._link.abort()
            await self._call(self._link.close)
            return reason
        self.connected = True
        log.debug("%s: PDU size %d", self.endpoint, pdu)
        return ""

    def _read_sync(self, request: Request) -> ReadResult:
        build = self._link.protocol.build_multi_read_request
        specs = [(it.area_code, it.db, it.start, it.size) for it in request.items]
        t0 = time.perf_counter()
        try:
            items = parse_items(self._link.exchange(build(specs)), request)
            kind = reason = ""
        except (ValueError, IndexError, struct.error) as exc:
            items, kind, reason = [], MALFORMED, f"malformed reply ({exc})"
        except Exception as exc:
            items = []
            kind, reason = self._classify(exc)
        return ReadResult(items, kind, reason, (time.perf_counter() - t0) * 1000.0)

    def _read_all_sync(self, requests: Sequence[Request], retries: int) -> list[list[ReadResult]]:
        out: list[list[ReadResult]] = []
        for req in requests:
            attempts = [self._read_sync(req)]
            while attempts[-1].kind == MALFORMED and len(attempts) <= retries:
                attempts.append(self._read_sync(req))
            out.append(attempts)
            if attempts[-1].kind in (TIMEOUT, LOST):
                break  # the connection is gone: the rest of the scan is not sent
        return out

    async def read_all(self, requests: Sequence[Request], retries: int) -> list[list[ReadResult]]:
        """Run read jobs back to back in the device thread (one hop for a whole scan).

        Per request, its attempts (a malformed reply is retried ``retries`` times); the list
        stops after a request whose connection was lost or timed out.
        """
        return await self._call(self._read_all_sync, requests, retries)

    async def write(self, addr: S7Address, data: bytes) -> tuple[str, str]:
        """Write ``data`` at ``addr`` (a bool as one bit access); (failure kind or '', reason)."""
        area = S7Area(addr.area_code)
        if addr.type == "bool":
            start, word_len = addr.byte * 8 + (addr.bit or 0), S7WordLen.BIT
        else:
            start, word_len = addr.byte, S7WordLen.BYTE
        build = self._link.protocol.build_write_request
        try:
            reply = await self._call(
                lambda: self._link.exchange(build(area, addr.db, start, word_len, data))
            )
        except Exception as exc:
            return self._classify(exc)
        code = int((reply.get("data") or {}).get("return_code", 0))
        if code != 0xFF:
            return REFUSED, f"{_item_reason(code)} writing {addr}"
        return "", ""

    async def aclose_link(self) -> None:
        """Drop the connection (the executor stays for the next connect)."""
        self.connected = False
        if self._executor is not None:
            self._link.abort()
            await self._call(self._link.close)

    async def aclose(self) -> None:
        """Close the connection and end the executor thread. Idempotent."""
        self.connected = False
        executor, self._executor = self._executor, None
        if executor is None:
            return
        self._link.abort()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(executor, self._link.close)
        executor.shutdown(wait=True)
