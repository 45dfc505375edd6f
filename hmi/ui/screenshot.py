"""Offscreen screenshots of the HMI with live simulated data (docs, reviews, CI artefacts).

:func:`live_station` starts the station's simulator on free loopback ports and a runtime
polling it (data in a temporary folder, device passwords in a throwaway keyring there,
the simulated OPC UA servers trusted, so every device shows); :func:`capture` shows the
main window at a given size, lets it run, and saves a PNG of one screen. Besides the
pages, ``login`` shows the login dialog and ``confirm:<tag>=<value>`` a write
confirmation (logged in as a screenshot operator of the temporary data folder).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

from PySide6.QtCore import QCoreApplication, QEventLoop, QPoint, QTimer
from PySide6.QtGui import QPainter, QPixmap

from drivers.base import Quality
from hmi.config.schema import StationConfig

log = logging.getLogger(__name__)

SCREENS = (
    "overview",
    "pid",
    "alarms",
    "trends",
    "diagnostics",
    "forecast",
    "report",
    "faceplate:<tag>",
    "login",
    "confirm:<tag>=<value>",
    "<screen id>",
)


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
            log.warning(
                "screenshot: device %s disabled: keyring secret %r is not set", d.id, missing
            )
            devices.append(d.model_copy(update={"enabled": False}))
            continue
        if d.protocol in ("modbus_tcp", "modbus_rtu_over_tcp", "s7", "iec104"):
            devices.append(d.model_copy(update={"host": "127.0.0.1", "port": port}))
        elif d.protocol != "opcua":  # not served by the simulator (e.g. the station's own figures)
            devices.append(d)
        else:
            url = urlparse(getattr(d, "endpoint", ""))
            devices.append(
                d.model_copy(
                    update={"endpoint": urlunparse(url._replace(netloc=f"127.0.0.1:{port}"))}
                )
            )
    return cfg.model_copy(
        update={"devices": devices, "uplink": cfg.uplink.model_copy(update={"enabled": False})}
    )


@contextlib.contextmanager
def live_station(
    cfg: StationConfig, scenario: str = "normal", seed: int = 1, speed: float = 1.0
) -> Iterator[tuple[Any, Any]]:
    """(started runtime, simulator thread) for ``cfg`` on free ports; stops both on exit.

    Like ``gas-hmi demo``: the simulated devices' passwords go to a throwaway file keyring
    in the temporary data folder (the previous keyring backend is restored on exit) and the
    simulated OPC UA servers' certificates are trusted, so all devices are polled.
    """
    import keyring

    from hmi.cli.run import prepare_demo_credentials, trust_simulated_servers
    from hmi.cli.simulate import start_simulator_thread
    from hmi.core.runtime import Runtime

    previous = keyring.get_keyring()
    try:
        with tempfile.TemporaryDirectory(prefix="gas-hmi-shot-") as tmp:
            data = Path(tmp)
            prepare_demo_credentials(cfg, data)
            moved = relocate(cfg)
            sim = start_simulator_thread(
                moved, scenario=scenario, seed=seed, speed=speed, pki_root=data / "sim-pki"
            )
            try:
                trust_simulated_servers(sim, data)
                rt = Runtime(moved, data)
                rt.start()
                try:
                    yield rt, sim
                finally:
                    rt.stop()
            finally:
                sim.stop()
    finally:
        keyring.set_keyring(previous)


def write_pictures(shoot: Callable[[Path, str], list[Path]], argv: list[str]) -> int:
    """The ``main`` of a screenshot tool: ``shoot(folder, lang)`` in en and zh_CN, paths printed.

    The folder is ``argv[0]``, by default the repository's docs/screenshots.
    """
    from hmi.ui.app import create_app
    from hmi.ui.tasks import wait_pool

    out = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    create_app()
    for lang in ("en", "zh_CN"):
        for path in shoot(out, lang):
            print(f"wrote {path}")
    wait_pool()
    return 0


def pump(seconds: float) -> None:
    """Run the Qt event loop for ``seconds``."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def screenshot_operator(win: Any, name: str = "zhang") -> None:
    """Log the window in as an operator created in the runtime's (temporary) data folder.

    Only for pictures of operator dialogs: the user is made with a random password that
    is forgotten at once.
    """
    import secrets

    console = win.actions.console
    if console is None or console.session.logged_in:
        return
    store = console.store
    pw = "Shot-" + secrets.token_hex(8)
    if store.get(name) is None:
        store.add_user(name, pw, "operator", by="screenshot", origin="system")
    else:
        store.set_password(name, pw, by="screenshot", origin="system")
    console.login(name, pw)
    win.actions.session_changed()


def show(win: Any, screen: str) -> Any:
    """Bring ``screen`` to front; returns the dialog or faceplate drawn over the window (else None)."""
    if screen == "login":
        win.navigate("overview")
        dlg = win.login.show_login()
        dlg.name.setText("operator")
        dlg.password.setText("********")
        return dlg
    if screen.startswith("confirm:"):
        tag, _, value = screen.split(":", 1)[1].partition("=")
        screenshot_operator(win)
        win.navigate("pid")
        fp = win.open_faceplate(tag)
        if fp is None:
            raise ValueError(f"unknown tag {tag!r}")
        for _ in range(40):  # the current value must be known for a realistic confirmation
            if win.live.value(tag)[2]:
                break
            pump(0.25)
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"confirm:<tag>=<value> needs a number (got {value!r})") from None
        if fp.entry is not None:  # what the operator typed before pressing Write…
            fp.entry.setText(f"{number:g}")
        dlg, _old = fp.confirm_dialog(number)
        if dlg is None:
            raise ValueError(f"the write to {tag} would be refused: {fp.result.text()}")
        dlg.show()
        return dlg
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
        raise ValueError(
            f"unknown screen {screen!r} (use one of: {', '.join(sorted(pages))}, faceplate:<tag>)"
        )
    if page in ("forecast", "report"):
        prepare_analytics(win)
    win.navigate(page)
    if page == "report" and win.runtime.analytics is not None:
        import datetime as dt
        from zoneinfo import ZoneInfo

        shown: list[Any] = []
        win.report.sigReport.connect(shown.append)
        win.report.build(
            dt.datetime.now(ZoneInfo(win.live.cfg.station.timezone)).date() - dt.timedelta(days=1)
        )
        deadline = time.monotonic() + 60.0
        while not shown and time.monotonic() < deadline:
            pump(0.25)
    return None


def prepare_analytics(win: Any) -> None:
    """Give a fresh demo the history its forecast and reports need (screenshots only).

    A screenshot's station has minutes of history; with no regression forecast yet this
    writes ten days of generated history into the temporary data folder
    (:func:`prefill_history`, ending at the live totalizer readings) and issues the past
    two days of forecasts, so the pictures show a fitted forecast and a scored MAPE.
    """
    rt = win.runtime
    an = getattr(rt, "analytics", None)
    if an is None or (an.forecast() is not None and not an.forecast().note):
        return
    totals = [m.total for m in rt.cfg.analytics.meters]
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline and not all(
        rt.tags.get(n)[1] >= Quality.GOOD for n in totals
    ):
        pump(0.25)  # the live totalizer readings: the generated history ends there
    log.warning("screenshot: %s filled with 10 days of generated send-out history", rt.data_dir)
    prefill_history(rt, days=10)
    backdate_forecasts(an).result(120)


def _overlays(shown: Any) -> list[Any]:
    """The windows drawn over the main window: a faceplate, a dialog, or a dialog over its faceplate."""
    if shown is None:
        return []
    parent = shown.parentWidget() if shown.objectName() == "confirmWrite" else None
    return [parent, shown] if parent is not None and parent.isVisible() else [shown]


def grab(win: Any, faceplate: Any = None) -> QPixmap:
    """The window as a pixmap, with an open faceplate (and a dialog over it) drawn where a window manager would put them."""
    pm = win.grab()
    p = QPainter(pm)
    under: tuple[int, int, int, int] | None = None  # the faceplate's rectangle
    for w in _overlays(faceplate):
        img = w.grab()
        if w.objectName() == "faceplate":
            x, y = (
                max(0, pm.width() - img.width() - 40),
                max(0, min(150, pm.height() - img.height())),
            )
            under = (x, y, img.width(), img.height())
        else:  # a dialog: centred over its faceplate, or over the window
            ux, uy, uw, uh = under or (0, 0, pm.width(), pm.height())
            x, y = max(0, ux + (uw - img.width()) // 2), max(0, uy + (uh - img.height()) // 2)
        p.drawPixmap(QPoint(x, y), img)
        p.setPen(win.palette().dark().color())
        p.drawRect(x - 1, y - 1, img.width() + 1, img.height() + 1)
    p.end()
    return pm


def capture(
    win: Any, screen: str, out: Path, after: float = 3.0, size: tuple[int, int] = (1920, 1080)
) -> Path:
    """Resize, show ``screen``, run ``after`` seconds, save ``out`` (PNG)."""
    win.resize(*size)
    fp = show(win, screen)
    for w in _overlays(fp):
        if w.objectName() == "faceplate" and size[1] < 900:
            w.resize(w.width(), min(w.height(), size[1] - 60))
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
    for w in reversed(_overlays(fp)):
        w.close()
    if not ok:
        raise OSError(f"cannot write {out}")
    return out


# ---------------------------------------------------------------------- analytics history
_SHAPE = (0.55, 0.50, 0.48, 0.48, 0.52, 0.65, 0.95, 1.30, 1.35, 1.15, 1.05, 1.10,
          1.15, 1.00, 0.95, 0.95, 1.05, 1.30, 1.45, 1.40, 1.20, 1.00, 0.80, 0.65)  # fmt: skip


def prefill_history(
    rt: Any, days: int = 10, now: float | None = None, seed: int = 3
) -> dict[str, float]:
    """Store ``days`` of generated send-out history before ``now`` (for screenshots and tests).

    A live demo has only minutes of history, while the forecast needs a week: this writes
    a city-like hourly demand (daily shape, heating load from a wandering ambient
    temperature) as minute readings of every meter's totalizer, flow, pressure and
    temperature and of the ambient tag, with ``Historian.bulk_load``. The totals end at
    the first stored live readings (else the tags' current values), just before them, so
    the live readings carry on without a jump. Returns
    ``{meter id: generated volume of the day before now's day}`` (what a report must show).
    """
    import datetime as dt
    from zoneinfo import ZoneInfo

    import numpy as np

    cfg = rt.cfg
    acfg = cfg.analytics
    now = time.time() if now is None else now
    meters = list(acfg.meters)
    first: dict[str, float] = {}
    for m in meters:  # live history already stored: end just before it, at its first reading
        raw = rt.historian.raw(m.total, now - 86400.0, now + 60.0)
        ok = np.isfinite(raw.value)
        if ok.any():
            first[m.id] = float(raw.value[ok][0])
            now = min(now, float(raw.ts[ok][0]) - 30.0)
    rng = np.random.default_rng(seed)
    tz = ZoneInfo(cfg.station.timezone)
    minute = np.arange(now - days * 86400.0, now - 30.0, 60.0)
    utc_offset = dt.datetime.fromtimestamp(now, tz).utcoffset() or dt.timedelta(
        0
    )  # a DST day is off by an hour: fine here
    hod = (((minute + utc_offset.total_seconds()) // 3600.0) % 24).astype(np.int64)
    day = (minute - minute[0]) / 86400.0
    daily = 6.0 + np.cumsum(rng.normal(0.0, 1.2, days + 2))
    temp = np.interp(day, np.arange(days + 2), daily) + 4.0 * np.sin(2 * np.pi * (hod - 9) / 24.0)
    rate = (
        9000.0 * np.asarray(_SHAPE)[hod] * (0.8 + 0.04 * np.maximum(18.0 - temp, 0.0))
    )  # Sm³/h, station
    yesterday = dt.datetime.fromtimestamp(now, tz).date() - dt.timedelta(days=1)
    y0 = dt.datetime.combine(yesterday, dt.time(0), tz).timestamp()
    volumes: dict[str, float] = {}
    for k, m in enumerate(meters):
        share = rate / len(meters) * (1.0 + 0.03 * k)
        cum = np.concatenate([[0.0], np.cumsum(share[:-1] / 60.0)])  # Sm³ since the first minute
        end = first.get(m.id, rt.tags.get(m.total)[0] if m.total in rt.tags.index else float("nan"))
        end = (
            float(end)
            if isinstance(end, float | int) and np.isfinite(end) and end > cum[-1]
            else 1.0e6 + cum[-1]
        )
        total = np.floor(end - cum[-1] + cum)
        rt.historian.bulk_load(m.total, minute, total)
        sel = (minute >= y0) & (minute <= y0 + 86400.0)
        volumes[m.id] = (
            float(np.interp(y0 + 86400.0, minute, total) - np.interp(y0, minute, total))
            if sel.any()
            else 0.0
        )
        # no line flow: the PTZ cross-check would judge made-up line conditions
        for name, series in (
            (m.flow, share),
            (m.pressure, 1.0 + 0.01 * np.sin(2 * np.pi * hod / 24.0) - share / 3.0e6),
            (m.temperature, 1.0 + 0.01 * temp),
        ):
            if name:
                if name in (
                    m.pressure,
                    m.temperature,
                ):  # around the live level (else 1.6 MPa, 12 °C)
                    v = rt.tags.get(name)[0] if name in rt.tags.index else float("nan")
                    level = (
                        float(v)
                        if isinstance(v, float | int) and np.isfinite(v)
                        else (1.6 if name == m.pressure else 12.0)
                    )
                    series = level * series
                rt.historian.bulk_load(
                    name,
                    minute,
                    series
                    + rng.normal(0.0, 1e-3 * float(np.mean(np.abs(series))) + 1e-6, len(minute)),
                )
    if acfg.forecast is not None and acfg.forecast.ambient:
        rt.historian.bulk_load(acfg.forecast.ambient, minute, temp)
    return volumes


def backdate_forecasts(analytics: Any, hours: int = 48, now: float | None = None) -> Any:
    """Issue the hourly forecasts of the last ``hours`` on the analytics thread (scored MAPE at once); a future."""
    now = time.time() if now is None else now

    def run() -> None:
        fc = analytics.forecaster
        if fc is None:
            return
        h0 = fc.hour_start(now)
        fc.retrain(h0 - hours * 3600.0 + 120.0)
        for k in range(hours, 0, -1):
            fc.issue(h0 - k * 3600.0 + 120.0)

    analytics.submit(run)
    return analytics.refresh()  # queued after: the current forecast and warnings
