"""Offscreen screenshots of the HMI with live simulated data (docs, reviews, CI artefacts).

:func:`live_station` starts the station's simulator on free loopback ports and a runtime
polling it (data in a temporary folder); :func:`capture` shows the main window at a
given size, lets it run, and saves a PNG of one screen.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

from PySide6.QtCore import QCoreApplication, QEventLoop, QPoint, QTimer
from PySide6.QtGui import QPainter, QPixmap

from hmi.config.schema import StationConfig

log = logging.getLogger(__name__)

SCREENS = ("overview", "pid", "alarms", "trends", "diagnostics", "faceplate:<tag>", "<screen id>")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _missing_secret(cfg: StationConfig, device: Any) -> str:
    from hmi.core.secrets import SecretError, get_secret

    for key in ("password_secret", "key_passphrase_secret"):
        name = getattr(device, key, "")
        if name:
            try:
                get_secret(cfg.station.id, name)
            except SecretError:
                return name
    return ""


def relocate(cfg: StationConfig) -> StationConfig:
    """The config with every device moved to a free loopback port (simulator + runtime).

    A device whose keyring secret is missing here is disabled (its tags show BAD /
    not connected) so that a screenshot never needs credentials.
    """
    devices = []
    for d in cfg.devices:
        port = _free_port()
        missing = _missing_secret(cfg, d)
        if missing:
            log.warning("screenshot: device %s disabled: keyring secret %r is not set", d.id, missing)
            devices.append(d.model_copy(update={"enabled": False}))
            continue
        if d.protocol == "modbus_tcp":
            devices.append(d.model_copy(update={"host": "127.0.0.1", "port": port}))
        elif d.protocol != "opcua":  # not served by the simulator (e.g. the station's own figures)
            devices.append(d)
        else:
            url = urlparse(getattr(d, "endpoint", ""))
            devices.append(d.model_copy(update={"endpoint": urlunparse(url._replace(netloc=f"127.0.0.1:{port}"))}))
    return cfg.model_copy(update={"devices": devices, "uplink": cfg.uplink.model_copy(update={"enabled": False})})


@contextlib.contextmanager
def live_station(cfg: StationConfig, scenario: str = "normal", seed: int = 1, speed: float = 1.0) -> Iterator[tuple[Any, Any]]:
    """(started runtime, simulator thread) for ``cfg`` on free ports; stops both on exit."""
    from hmi.cli.simulate import start_simulator_thread
    from hmi.core.runtime import Runtime

    moved = relocate(cfg)
    sim = start_simulator_thread(moved, scenario=scenario, seed=seed, speed=speed)
    try:
        with tempfile.TemporaryDirectory(prefix="gas-hmi-shot-") as data:
            rt = Runtime(moved, Path(data))
            rt.start()
            try:
                yield rt, sim
            finally:
                rt.stop()
    finally:
        sim.stop()


def pump(seconds: float) -> None:
    """Run the Qt event loop for ``seconds``."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def show(win: Any, screen: str) -> Any:
    """Bring ``screen`` to front; returns the faceplate for 'faceplate:<tag>' (else None)."""
    if screen.startswith("faceplate:"):
        tag = screen.split(":", 1)[1]
        win.navigate("pid")
        fp = win.open_faceplate(tag)
        if fp is None:
            raise ValueError(f"unknown tag {tag!r}")
        return fp
    page = {"city_gate": "pid", "p&id": "pid"}.get(screen, screen)
    pages = set(win.page_ids) | {s.id for s in win.live.cfg.screens}
    if page not in pages:
        raise ValueError(f"unknown screen {screen!r} (use one of: {', '.join(sorted(pages))}, faceplate:<tag>)")
    win.navigate(page)
    return None


def grab(win: Any, faceplate: Any = None) -> QPixmap:
    """The window as a pixmap, with an open faceplate drawn where the window manager would put it."""
    pm = win.grab()
    if faceplate is not None:
        fp = faceplate.grab()
        p = QPainter(pm)
        x = max(0, pm.width() - fp.width() - 40)
        y = max(0, min(150, pm.height() - fp.height()))
        p.drawPixmap(QPoint(x, y), fp)
        p.setPen(win.palette().dark().color())
        p.drawRect(x - 1, y - 1, fp.width() + 1, fp.height() + 1)
        p.end()
    return pm


def capture(win: Any, screen: str, out: Path, after: float = 3.0, size: tuple[int, int] = (1920, 1080)) -> Path:
    """Resize, show ``screen``, run ``after`` seconds, save ``out`` (PNG)."""
    win.resize(*size)
    fp = show(win, screen)
    if fp is not None and size[1] < 900:
        fp.resize(fp.width(), min(fp.height(), size[1] - 60))
    deadline = time.monotonic() + after
    while time.monotonic() < deadline:
        pump(min(0.25, max(0.0, deadline - time.monotonic())))
    win.live.stop()  # hold the blink phase "on": unacknowledged glyphs drawn filled
    win.live.refresh()
    win.live.sigTick.emit(0)
    QCoreApplication.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    ok = grab(win, fp).save(str(out))
    win.live.start()
    if not ok:
        raise OSError(f"cannot write {out}")
    if fp is not None:
        fp.close()
    return out
