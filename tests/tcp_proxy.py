"""A TCP relay a test can stall and cut, to play a congested or broken network link.

``stall()`` stops reading from the clients: their sends pile up in the socket buffers
until the sender can write no more, as behind a link that stopped moving. ``cut()``
resets every client connection (RST): what the relay had not passed on is gone, as
when a link breaks. ``resume()`` undoes a stall. Real sockets end to end: only the link
between a client and the server is played by this relay.
"""

from __future__ import annotations

import select
import socket
import struct
import threading

from tests.helpers import free_port


class TcpProxy:
    """Relay 127.0.0.1:``port`` -> ``upstream``, one thread for all connections."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.host = "127.0.0.1"
        self.port = free_port()
        self._listen = socket.create_server((self.host, self.port))
        self._pairs: dict[socket.socket, socket.socket] = {}  # each side -> the other side
        self._clients: set[socket.socket] = set()
        self._stalled = threading.Event()
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def stall(self) -> None:
        """Stop reading from the clients (the server side keeps flowing)."""
        self._stalled.set()

    def resume(self) -> None:
        """Read from the clients again."""
        self._stalled.clear()

    def cut(self) -> None:
        """Reset every open connection; unread data is dropped. New connections work."""
        self._cut.set()
        while self._cut.is_set() and self._thread.is_alive():
            self._stop.wait(0.01)

    def connections(self) -> int:
        """Client connections open now."""
        with self._lock:
            return len(self._clients)

    def stop(self) -> None:
        """Close everything and join the thread (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self._close_all()
        self._listen.close()

    # ------------------------------------------------------------------ relay thread
    def _close_all(self) -> None:
        with self._lock:
            socks = list(self._pairs)
            self._pairs.clear()
            self._clients.clear()
        for s in socks:
            try:  # SO_LINGER 0: close() sends RST and discards what is unsent or unread
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            s.close()

    def _drop(self, s: socket.socket) -> None:
        with self._lock:
            other = self._pairs.pop(s, None)
            if other is not None:
                self._pairs.pop(other, None)
            self._clients.discard(s)
            if other is not None:
                self._clients.discard(other)
        s.close()
        if other is not None:
            other.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._cut.is_set():
                self._close_all()
                self._cut.clear()
            with self._lock:
                readers = [self._listen] + [
                    s for s in self._pairs if not (self._stalled.is_set() and s in self._clients)
                ]
            ready, _, _ = select.select(readers, [], [], 0.02)
            for s in ready:
                if s is self._listen:
                    client, _addr = self._listen.accept()
                    try:
                        server = socket.create_connection(self.upstream, timeout=5)
                    except OSError:
                        client.close()
                        continue
                    with self._lock:
                        self._pairs[client], self._pairs[server] = server, client
                        self._clients.add(client)
                    continue
                with self._lock:
                    other = self._pairs.get(s)
                if other is None:
                    continue
                try:
                    data = s.recv(65536)
                    if not data:
                        self._drop(s)
                        continue
                    other.sendall(data)
                except OSError:
                    self._drop(s)
