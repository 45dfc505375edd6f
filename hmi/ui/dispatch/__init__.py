"""The dispatch console's GUI (the fleet model is in :mod:`hmi.core.fleet`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def run_dispatch_gui(
    host: Any,
    users: Any,
    cfg: Any,
    duration: float = 0.0,
    demo: bool = False,
    lang: str = "zh_CN",
) -> int:
    """Show the dispatch window and run the Qt event loop until it closes."""
    from PySide6.QtCore import QTimer

    from hmi.core.users import Console
    from hmi.ui import theme
    from hmi.ui.app import _quit_on_signals, create_app, prepare_demo_users
    from hmi.ui.dispatch.window import DispatchWindow
    from hmi.ui.i18n import i18n

    app = create_app()
    theme.install(app, "light")
    i18n().set_language(lang)
    console = Console(users)
    if demo:
        pw = prepare_demo_users(users, Path(host.data_dir))
        if pw.get("operator"):
            console.login("operator", pw["operator"])
    win = DispatchWindow(host, console, cfg)
    win.showMaximized()
    _timer = _quit_on_signals(app)  # noqa: F841 - kept alive for the loop
    if duration > 0:
        QTimer.singleShot(int(duration * 1000), app.quit)
    log.info("dispatch console shown")
    return int(app.exec())
