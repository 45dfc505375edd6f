"""Entry points of the operator HMI.

* :func:`run_gui` — what ``gas-hmi run`` / ``gas-hmi demo`` call with a started runtime.
* :func:`show_main_window` — build and show the main window (tests, screenshots).
* :func:`prepare_demo_users` — the offline demo's operator, engineer and admin.

The window acts with a :class:`~hmi.core.users.Console`: logged out it is the viewer
(screens live, nothing operable); :class:`hmi.ui.login.Login` handles login, idle logout
and the permission to close the window.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from hmi import paths
from hmi.core.ports import Station
from hmi.ui import theme as theme_mod
from hmi.ui.i18n import i18n

log = logging.getLogger(__name__)


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once), with the application name set."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("gas-hmi")
        app.setOrganizationName("gas-hmi")
        app.setWindowIcon(QIcon(str(paths.resources_dir() / "icons" / "app.svg")))
        from hmi.ui.fonts import register_bundled_fonts

        register_bundled_fonts()  # a bundle's Noto Sans CJK, before the theme sets the UI font
    return app  # type: ignore[return-value]


class _Raiser(QObject):
    """Brings the main window forward when a second launch of the station asks
    (:mod:`hmi.instance` calls :meth:`request` on its listener thread)."""

    sigRaise = Signal()

    def __init__(self, win: Any) -> None:
        super().__init__(win)
        self.win = win
        self.sigRaise.connect(self._raise)  # emitted off the GUI thread: queued to it

    def request(self, _message: dict[str, Any]) -> None:
        """hmi.instance activate callback (any thread)."""
        self.sigRaise.emit()

    def _raise(self) -> None:
        if self.win.isMinimized():
            self.win.showMaximized()
        self.win.raise_()
        self.win.activateWindow()


def show_main_window(
    runtime: Station,
    lang: str | None = None,
    theme: str | None = None,
    console: Any = None,
    period_ms: int = 250,
    horn: bool = True,
    start: bool = True,
    simulator: Any = None,
) -> Any:
    """Create the application if needed, apply theme and language, show the main window.

    ``console`` (a :class:`~hmi.core.users.Console`) is who acts; by default a new,
    logged-out console on ``runtime.users``. ``win.login`` is the :class:`~hmi.ui.login.Login`.
    ``simulator`` (the SimulatorThread the devices are) allows training drills (``win.training``).
    """
    from hmi.ui.login import Login
    from hmi.ui.main_window import MainWindow

    app = create_app()
    station = runtime.cfg.station
    theme_mod.install(app, theme or station.theme)
    i18n().set_language(lang or os.environ.get("GAS_HMI_LANG") or station.language)
    win = MainWindow(runtime, period_ms=period_ms, horn=horn)
    win.login = Login(win, console)  # type: ignore[attr-defined]  # the window's login state
    from hmi.ui.training import install_training

    install_training(win, simulator)
    win.show()
    if start:
        win.start()
    return win


def _quit_on_signals(app: QApplication) -> Any:
    """SIGINT/SIGTERM close the HMI cleanly (the caller then stops the runtime and flushes
    history). Qt's loop does not run Python code on its own, so a timer lets the
    interpreter see the signal."""

    def handler(signum: int, _frame: Any) -> None:
        log.info("signal %s: closing the HMI", signal.Signals(signum).name)
        app.closeAllWindows()
        app.quit()

    for s in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(s, handler)
        except ValueError:  # not the main thread
            return None
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)
    return timer


def run_gui(
    runtime: Station,
    lang: str | None = None,
    theme: str | None = None,
    console: Any = None,
    demo: bool = False,
    simulator: Any = None,
) -> int:
    """Show the HMI for a started runtime and run the Qt event loop until the window closes.

    The console starts logged out (the viewer). On a first run (no administrator yet) the
    create-admin dialog opens. ``demo=True``: the demo users exist (passwords printed at
    their creation) and the demo operator is logged in.
    """
    app = create_app()
    demo_users: dict[str, str] = {}
    if demo:
        demo_users = prepare_demo_users(runtime.users, Path(runtime.data_dir))
    win = show_main_window(runtime, lang=lang, theme=theme, console=console, simulator=simulator)
    win.showMaximized()
    log.info("HMI shown for station %s", runtime.cfg.station.id)
    if demo_users.get("operator"):
        win.login.login_in_background("operator", demo_users["operator"])
    elif not demo:
        QTimer.singleShot(0, win.login.offer_first_admin)
    _timer = _quit_on_signals(app)  # noqa: F841 - kept alive for the loop
    from hmi import instance

    raiser = _Raiser(win)
    instance.on_activate(raiser.request)
    try:
        code = int(app.exec())
    finally:
        instance.remove_activate(raiser.request)
    from hmi.ui.tasks import wait_pool

    wait_pool(5000)
    return code


#: (name, role) of the demo's users
DEMO_USERS = (("operator", "operator"), ("engineer", "engineer"), ("admin", "admin"))
DEMO_USERS_FILE = "demo-users.txt"


def _demo_password(name: str) -> str:
    from hmi.core.users import password_problems

    while True:  # token_urlsafe is letters, digits, '-' and '_': almost always fine at once
        pw = secrets.token_urlsafe(9)
        if not password_problems(pw, name):
            return pw


def prepare_demo_users(users: Any, data_dir: Path) -> dict[str, str]:
    """The demo's users: operator, engineer and admin, {name: password}.

    Created at the first start with random passwords, which are printed once and kept
    in ``<data dir>/demo-users.txt`` (owner-only). They guard nothing but the simulated
    demo station; a real station's users are created by its administrator (first-run
    dialog, ``gas-hmi users add``). A password changed in the HMI is no longer in the file:
    the demo then simply starts logged out.
    """
    path = data_dir / DEMO_USERS_FILE
    known: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 3 and not line.startswith("#"):
                known[parts[0]] = parts[2]
    created: list[tuple[str, str, str]] = []
    for name, role in DEMO_USERS:
        if name in known and users.get(name) is not None:
            continue
        pw = _demo_password(name)
        if users.get(name) is None:
            users.add_user(name, pw, role, by="demo", origin="system")
        else:
            users.set_password(name, pw, by="demo", origin="system")
        known[name] = pw
        created.append((name, role, pw))
    if created:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("# gas-hmi demo users: name role password (demo station only)\n")
            for name, role in DEMO_USERS:
                f.write(f"{name} {role} {known[name]}\n")
        print("gas-hmi demo: users of the demo station (also in " + str(path) + "):", flush=True)
        for name, role in DEMO_USERS:
            print(f"  {name:<10} {role:<10} {known[name]}", flush=True)
    else:
        print(
            f"gas-hmi demo: demo users operator / engineer / admin; passwords in {path}", flush=True
        )
    print(
        "gas-hmi demo: the HMI starts logged in as operator (automatic logout after idle time)",
        flush=True,
    )
    return known
