"""Edge health measurements: host load, device availability, clock offset (SNTP).

Used by the system driver (:mod:`hmi.core.system_tags`). Everything here is cheap and
non-blocking except :func:`sntp_offset`, which is a coroutine with a timeout.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections import deque

import psutil

NTP_EPOCH = 2208988800.0  # seconds from 1900-01-01 to 1970-01-01
DAY = 86400.0


class HostProbe:
    """CPU and memory load and uptime of the station computer (psutil)."""

    def __init__(self) -> None:
        psutil.cpu_percent(None)  # the first call only starts the measurement

    def cpu(self) -> float:
        """CPU load (%) since the previous call."""
        return float(psutil.cpu_percent(None))

    def memory(self) -> float:
        """Memory in use (%)."""
        return float(psutil.virtual_memory().percent)

    def uptime_h(self) -> float:
        """Hours since the computer started."""
        return (time.time() - psutil.boot_time()) / 3600.0


class AvailabilityTracker:
    """Share of time each device was UP over a sliding window (default 24 h).

    ``sample(device, up, now)`` credits the time since the device's previous sample to
    the state seen then; time is kept in one-minute buckets, so memory stays bounded.
    The window starts when tracking started (a fresh start is not counted as downtime).
    """

    def __init__(self, window: float = DAY, bucket: float = 60.0) -> None:
        self.window = window
        self.bucket = bucket
        self._last: dict[str, tuple[float, bool]] = {}
        self._buckets: dict[str, deque[list[float]]] = {}

    def sample(self, device: str, up: bool, now: float) -> None:
        """Record that ``device`` is (or is not) up at ``now``."""
        prev = self._last.get(device)
        self._last[device] = (now, up)
        if prev is None or now <= prev[0]:
            return
        t0, was_up = prev
        q = self._buckets.setdefault(device, deque())
        t = t0
        while t < now:  # split the interval at bucket edges
            b = t - t % self.bucket
            seg_end = min(now, b + self.bucket)
            if not q or q[-1][0] != b:
                q.append([b, 0.0, 0.0])
            q[-1][1] += (seg_end - t) if was_up else 0.0
            q[-1][2] += seg_end - t
            t = seg_end
        while q and q[0][0] < now - self.window:
            q.popleft()

    def availability(self, device: str, now: float) -> float | None:
        """% of the window the device was up; None before two samples."""
        q = self._buckets.get(device)
        if not q:
            return None
        cut = now - self.window
        up = sum(b[1] for b in q if b[0] >= cut)
        total = sum(b[2] for b in q if b[0] >= cut)
        return None if total <= 0 else 100.0 * up / total


def _split_server(server: str) -> tuple[str, int]:
    host, _, port = server.strip().rpartition(":")
    if host and port.isdigit():
        return host.strip("[]"), int(port)
    return server.strip(), 123


async def sntp_offset(server: str, timeout: float = 2.0) -> float:
    """Offset (s) of this computer's clock against an NTP server: positive when we are behind.

    One SNTP v4 client request (RFC 4330); ``server`` is ``host`` or ``host:port``.
    Raises OSError / TimeoutError (asyncio) / ValueError for an unusable answer.
    """
    host, port = _split_server(server)
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[bytes] = loop.create_future()

    class _Proto(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:  # noqa: D102
            if not fut.done():
                fut.set_result(data)

        def error_received(self, exc: Exception) -> None:  # noqa: D102
            if not fut.done():
                fut.set_exception(exc)

    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    if not infos:
        raise OSError(f"cannot resolve NTP server {host!r}")
    addr = infos[0][4]
    transport, _ = await loop.create_datagram_endpoint(
        _Proto, remote_addr=(str(addr[0]), int(addr[1]))
    )
    try:
        t1 = time.time()
        packet = bytearray(48)
        packet[0] = (0 << 6) | (4 << 3) | 3  # LI 0, version 4, mode 3 (client)
        sec = t1 + NTP_EPOCH
        struct.pack_into("!II", packet, 40, int(sec), int((sec % 1) * 2**32))
        transport.sendto(bytes(packet))
        data = await asyncio.wait_for(fut, timeout)
        t4 = time.time()
    finally:
        transport.close()
    if len(data) < 48:
        raise ValueError(f"short NTP answer ({len(data)} bytes)")
    mode, stratum = data[0] & 0x7, data[1]
    if mode != 4 or stratum == 0:
        raise ValueError(f"unusable NTP answer (mode {mode}, stratum {stratum})")

    def ts(off: int) -> float:
        s, f = struct.unpack_from("!II", data, off)
        return float(s - NTP_EPOCH + f / 2**32)

    t2, t3 = ts(32), ts(40)
    return ((t2 - t1) + (t3 - t4)) / 2.0
