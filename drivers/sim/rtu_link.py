"""Where simulated RTU units listen: a pseudo-terminal linked at a port path, or a TCP listener.

Both cut the incoming bytes into request frames (:class:`FrameAssembler`) and hand them,
one batch at a time, to the bus's handler with a ``send(reply)`` function, so a slave
answers one request after the other as on a real line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from drivers.modbus.rtu_frame import crc16, request_length

log = logging.getLogger(__name__)

#: handler(frames, send): answers requests through send(reply_bytes)
FrameHandler = Callable[[list[bytes], Callable[[bytes], None]], Awaitable[None]]
#: a partial request older than this is dropped (the master has given up on it)
_STALE = 0.05


class FrameAssembler:
    """Cuts a byte stream into request frames with a good CRC; resynchronises on garbage."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self._t = 0.0
        self.dropped = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Append ``data``; the complete requests it finishes (bad ones are dropped)."""
        now = time.monotonic()
        if self.buf and now - self._t > _STALE:
            self.buf.clear()
            self.dropped += 1
        self._t = now
        self.buf += data
        out: list[bytes] = []
        while True:
            need = request_length(self.buf)
            if need is None or len(self.buf) < need:
                return out
            frame = bytes(self.buf[:need]) if need else b""
            if not frame or crc16(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
                self.buf.clear()  # the next frame start cannot be found: wait for silence
                self.dropped += 1
                return out
            del self.buf[:need]
            out.append(frame)


class PtyLink:
    """A pseudo-terminal whose slave side is linked (symlink) at ``path``."""

    def __init__(self, path: str, handler: FrameHandler) -> None:
        self.path = Path(path)
        self.handler = handler
        self.tty_name = ""
        self._master = -1
        self._slave = -1
        self._asm = FrameAssembler()
        self._queue: asyncio.Queue[list[bytes]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def describe(self) -> str:
        """``/tmp/gas-hmi-rs485-1 -> /dev/pts/7``."""
        return f"{self.path} -> {self.tty_name}"

    async def open(self) -> None:
        """Create the pty and the link; OSError when the path is taken by something else."""
        if self.path.exists() and not self.path.is_symlink():
            raise OSError(
                f"cannot link the simulated bus at {self.path}: it exists and is not a symlink"
            )
        import tty  # POSIX only: a pty bus needs Linux/macOS; RTU over TCP works everywhere

        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: bytes as they come
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.tty_name = os.ttyname(slave)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(self.tty_name, tmp)
            os.replace(tmp, self.path)
        except OSError:
            self._close_fds()
            raise
        loop = asyncio.get_running_loop()
        loop.add_reader(master, self._readable)
        self._task = loop.create_task(self._serve(), name=f"rtu-sim:{self.path}")

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO: nobody holds the slave side (never while we keep it open)
            return
        frames = self._asm.feed(data)
        if frames:
            self._queue.put_nowait(frames)

    def _send(self, data: bytes) -> None:
        if self._master >= 0:
            with contextlib.suppress(BlockingIOError):
                os.write(self._master, data)

    async def _serve(self) -> None:
        while True:
            frames = await self._queue.get()
            try:
                await self.handler(frames, self._send)
            except Exception:  # one bad request must not end the bus
                log.exception("simulated bus %s: request failed", self.path)

    async def close(self) -> None:
        """Remove the link and close the pty. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
        with contextlib.suppress(OSError):
            if self.path.is_symlink() and os.readlink(self.path) == self.tty_name:
                self.path.unlink()
        self._close_fds()

    def _close_fds(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1


class TcpLink:
    """A TCP listener that carries raw RTU frames, as a serial server in transparent mode."""

    def __init__(self, host: str, port: int, handler: FrameHandler) -> None:
        self.host, self.port = host, port
        self.handler = handler
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    def describe(self) -> str:
        """``rtu-over-tcp://127.0.0.1:4001``."""
        return f"rtu-over-tcp://{self.host}:{self.port}"

    async def open(self) -> None:
        """Listen; OSError when the port is taken."""
        self._server = await asyncio.start_server(self._client, self.host, self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        asm = FrameAssembler()
        try:
            while data := await reader.read(4096):
                frames = asm.feed(data)
                if frames:
                    await self.handler(frames, writer.write)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._conns.discard(task)
            writer.close()

    async def close(self) -> None:
        """Stop listening and drop every connection. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        await server.wait_closed()
