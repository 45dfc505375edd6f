"""One running instance per station data folder, with no Qt and no stale locks.

The first process to run a station takes an exclusive OS lock on
``<data_dir>/gas-hmi.lock`` (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows).
The kernel drops the lock when the process exits for any reason — a crash or
``kill -9`` leaves nothing to clean up, so a restart after a crash simply works.
Next to it, ``instance.json`` records the holder's PID, mode and a local socket
(127.0.0.1, an ephemeral port, a random token) on which the holder listens.

A second launch of the same station then either

* asks the running HMI to come to the front and exits 0 (GUI after GUI), or
* refuses with a message naming the running PID (any launch next to a headless
  service, or a headless run next to the HMI): two processes must never write the
  same history and alarm files.

The HMI registers what "come to the front" means with :func:`on_activate`; the
callback runs on the listener thread, so a Qt window must hop to the GUI thread
(emit a signal of a QObject living there).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCK_FILE = "gas-hmi.lock"
INFO_FILE = "instance.json"
#: how long a second launch waits for the holder to publish its info / to answer
INFO_WAIT = 3.0
CONNECT_TIMEOUT = 3.0
_MAX_MESSAGE = 64 * 1024

ActivateCallback = Callable[[dict[str, Any]], None]

_callbacks: list[ActivateCallback] = []
_callbacks_lock = threading.Lock()
_current: StationInstance | None = None


class AlreadyRunning(Exception):
    """Another process holds the station; ``info`` is what it published (pid, mode...)."""

    def __init__(self, station_id: str, data_dir: Path, info: dict[str, Any]) -> None:
        self.station_id = station_id
        self.data_dir = data_dir
        self.info = info
        super().__init__(describe_holder(station_id, data_dir, info))


def describe_holder(station_id: str, data_dir: Path, info: dict[str, Any]) -> str:
    """'station X is already running (PID n, headless, since ...) with data in ...'."""
    pid = info.get("pid", "?")
    mode = info.get("mode", "unknown mode")
    since = info.get("started")
    when = (
        time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(since))
        if isinstance(since, (int, float))
        else ""
    )
    return (
        f"station {station_id} is already running (PID {pid}, {mode}{when}) with data in {data_dir}"
    )


def on_activate(callback: ActivateCallback) -> None:
    """Run ``callback(message)`` when a second launch asks this instance to come forward.

    Runs on the listener thread: it must not block and must not touch Qt widgets
    directly (emit a signal instead). ``message`` holds ``pid`` and ``argv`` of the
    second launch.
    """
    with _callbacks_lock:
        _callbacks.append(callback)


def remove_activate(callback: ActivateCallback) -> None:
    """Undo :func:`on_activate` (unknown callbacks are ignored)."""
    with _callbacks_lock:
        with contextlib.suppress(ValueError):
            _callbacks.remove(callback)


def current() -> StationInstance | None:
    """The instance this process holds, if any."""
    return _current


class StationInstance:
    """The exclusive claim of one process on one station data folder."""

    def __init__(
        self, station_id: str, data_dir: str | os.PathLike[str], mode: str = "headless"
    ) -> None:
        self.station_id = station_id
        self.data_dir = Path(data_dir)
        self.mode = mode
        self.lock_path = self.data_dir / LOCK_FILE
        self.info_path = self.data_dir / INFO_FILE
        self._lock_fd: int | None = None
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._token = secrets.token_hex(16)
        self.activations = 0

    # ------------------------------------------------------------------ claim / release
    def acquire(self) -> StationInstance:
        """Take the station; raise :class:`AlreadyRunning` when another process has it."""
        global _current
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd):
            os.close(fd)
            raise AlreadyRunning(
                self.station_id, self.data_dir, read_info(self.data_dir, wait=INFO_WAIT)
            )
        self._lock_fd = fd
        try:
            self._listen()
            self._write_info()
        except OSError:
            self.release()
            raise
        _current = self
        log.info("station %s claimed by PID %d (%s)", self.station_id, os.getpid(), self.mode)
        return self

    def release(self) -> None:
        """Stop listening and free the station (idempotent)."""
        global _current
        self._stop.set()
        if self._server is not None:
            _wake(self._server)
            if self._thread is not None:
                self._thread.join(5.0)
            self._server.close()
            self._server = None
        self._thread = None
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                if read_info(self.data_dir).get("pid") == os.getpid():
                    self.info_path.unlink()
            _unlock(self._lock_fd)
            os.close(self._lock_fd)
            self._lock_fd = None
            log.debug("station %s released", self.station_id)
        if _current is self:
            _current = None

    def __enter__(self) -> StationInstance:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def port(self) -> int:
        """Port of the activation socket (0 when not listening)."""
        return self._server.getsockname()[1] if self._server is not None else 0

    # ------------------------------------------------------------------ activation socket
    def _listen(self) -> None:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        self._server = srv
        self._thread = threading.Thread(target=self._serve, name="instance-listener", daemon=True)
        self._thread.start()

    def _write_info(self) -> None:
        info = {
            "pid": os.getpid(),
            "mode": self.mode,
            "station": self.station_id,
            "started": time.time(),
            "port": self.port,
            "token": self._token,
            "executable": sys.executable,
        }
        tmp = self.info_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the token is private
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(info, f)
        os.replace(tmp, self.info_path)

    def _serve(self) -> None:
        srv = self._server
        assert srv is not None
        while not self._stop.is_set():
            try:
                conn, _addr = srv.accept()
            except OSError:
                return
            with conn:
                if self._stop.is_set():
                    return
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(CONNECT_TIMEOUT)
        try:
            msg = json.loads(_recv_line(conn))
        except (OSError, ValueError):
            return
        if not isinstance(msg, dict) or not hmac.compare_digest(
            str(msg.get("token", "")), self._token
        ):
            log.warning("instance socket: request without the right token ignored")
            return
        reply: dict[str, Any] = {"pid": os.getpid(), "mode": self.mode}
        if msg.get("cmd") == "activate":
            with _callbacks_lock:
                callbacks = list(_callbacks)
            self.activations += 1
            log.info("another launch (PID %s) asked this instance to come forward", msg.get("pid"))
            for cb in callbacks:
                try:
                    cb({"pid": msg.get("pid"), "argv": msg.get("argv", [])})
                except Exception:  # a faulty callback must not kill the listener
                    log.exception("activate callback failed")
            reply["activated"] = bool(callbacks)
        elif msg.get("cmd") != "ping":
            reply["error"] = "unknown command"
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(reply).encode() + b"\n")


def read_info(data_dir: str | os.PathLike[str], wait: float = 0.0) -> dict[str, Any]:
    """What the holder of a station published (empty when nothing, or unreadable).

    With ``wait``, retries for that long: the holder writes the file just after
    taking the lock.
    """
    path = Path(data_dir) / INFO_FILE
    deadline = time.monotonic() + wait
    while True:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                return data
        except (OSError, ValueError):
            pass
        if time.monotonic() >= deadline:
            return {}
        time.sleep(0.05)


def is_running(data_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The holder's info when some process holds the station now, else None (never blocks)."""
    lock = Path(data_dir) / LOCK_FILE
    if not lock.exists():
        return None
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return None
    try:
        if _try_lock(fd):
            _unlock(fd)
            return None
    finally:
        os.close(fd)
    return read_info(data_dir, wait=INFO_WAIT)


def request(
    info: dict[str, Any], cmd: str = "activate", timeout: float = CONNECT_TIMEOUT
) -> dict[str, Any]:
    """Send ``cmd`` to the holder described by ``info``; its reply (OSError when unreachable)."""
    port = int(info.get("port") or 0)
    if not port:
        raise OSError("the running instance publishes no activation port")
    msg = {"cmd": cmd, "token": info.get("token", ""), "pid": os.getpid(), "argv": sys.argv[1:]}
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(json.dumps(msg).encode() + b"\n")
        reply = json.loads(_recv_line(conn))
    if not isinstance(reply, dict):
        raise OSError("bad reply from the running instance")
    return reply


def claim_or_exit(station_id: str, data_dir: str | os.PathLike[str], gui: bool) -> StationInstance:
    """Take the station for this process, or end it with a clear message.

    GUI after GUI: the running HMI is asked to come forward and this process exits 0.
    Any other pair: exit 1 naming the running PID. Never returns without the claim.
    """
    inst = StationInstance(station_id, data_dir, mode="gui" if gui else "headless")
    try:
        return inst.acquire()
    except AlreadyRunning as exc:
        if gui and exc.info.get("mode") == "gui":
            try:
                reply = request(exc.info, "activate")
            except (OSError, ValueError) as err:
                print(f"gas-hmi: {exc}; it did not answer ({err})", file=sys.stderr)
                raise SystemExit(1) from None
            done = (
                "brought its window to the front"
                if reply.get("activated")
                else "switch to its window"
            )
            print(f"gas-hmi: {exc}: {done}", file=sys.stderr)
            raise SystemExit(0) from None
        print(f"gas-hmi: {exc}. Stop it first (or use another --data-dir).", file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:
        print(f"gas-hmi: cannot claim the data folder {data_dir}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


@contextlib.contextmanager
def station_session(
    station_id: str, data_dir: str | os.PathLike[str], gui: bool
) -> Iterator[StationInstance]:
    """What ``gas-hmi run``/``demo`` wrap around a runtime: the station claimed for this
    process (:func:`claim_or_exit`) and its log in ``<data_dir>/logs``, both undone at the end.
    """
    from hmi.logs import add_file_log, remove_file_log

    inst = claim_or_exit(station_id, data_dir, gui)
    add_file_log(data_dir)
    try:
        yield inst
    finally:
        inst.release()
        remove_file_log()


# ---------------------------------------------------------------------- helpers
def _recv_line(conn: socket.socket) -> str:
    buf = b""
    while b"\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk
        if len(buf) > _MAX_MESSAGE:
            raise ValueError("message too long")
    return buf.split(b"\n", 1)[0].decode("utf-8")


def _wake(srv: socket.socket) -> None:
    """Unblock ``accept()`` on our own listening socket (closing it does not, on Linux)."""
    with contextlib.suppress(OSError):
        port = srv.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            pass


if sys.platform == "win32":  # pragma: no cover - exercised on Windows builds
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
