"""Entry points of the operator HMI.

* :func:`run_gui` — what ``gas-hmi run`` / ``gas-hmi demo`` call with a started runtime.
* :func:`show_main_window` — build and show the main window (tests, screenshots).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from hmi import paths
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
    return app  # type: ignore[return-value]


def show_main_window(
    runtime: Any,
    lang: str | None = None,
    theme: str | None = None,
    user: str = "operator",
    period_ms: int = 250,
    horn: bool = True,
    start: bool = True,
) -> Any:
    """Create the application if needed, apply theme and language, show the main window."""
    from hmi.ui.main_window import MainWindow

    app = create_app()
    station = runtime.cfg.station
    theme_mod.install(app, theme or station.theme)
    i18n().set_language(lang or os.environ.get("GAS_HMI_LANG") or station.language)
    win = MainWindow(runtime, user=user, period_ms=period_ms, horn=horn)
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


def run_gui(runtime: Any, lang: str | None = None, theme: str | None = None, user: str = "operator") -> int:
    """Show the HMI for a started runtime and run the Qt event loop until the window closes."""
    app = create_app()
    win = show_main_window(runtime, lang=lang, theme=theme, user=user)
    win.showMaximized()
    log.info("HMI shown for station %s", runtime.cfg.station.id)
    _timer = _quit_on_signals(app)  # noqa: F841 - kept alive for the loop
    code = int(app.exec())
    from hmi.ui.tasks import wait_pool

    wait_pool(5000)
    return code
