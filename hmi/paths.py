"""Where things are: works from a source checkout and from a frozen (PyInstaller) bundle.

Every resource path in the application comes from here (one helper, as Mu does),
so that packaging only has to get this module right.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def app_root() -> Path:
    """Folder holding resources/, screens/ and station_configs/."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    """resources/ (symbols, themes, icons, i18n, fonts)."""
    return app_root() / "resources"


def screens_dir() -> Path:
    """screens/ (mimic SVGs and their bindings)."""
    return app_root() / "screens"


def station_configs_dir() -> Path:
    """station_configs/ shipped with the application."""
    return app_root() / "station_configs"


def user_data_root() -> Path:
    """Per-user data folder (XDG on Linux, %LOCALAPPDATA% on Windows)."""
    override = os.environ.get("GAS_HMI_DATA_ROOT")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "gas-hmi"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gas-hmi"


def station_data_dir(station_id: str) -> Path:
    """Default data directory of one station (history, alarms, outbox, users, logs)."""
    return user_data_root() / station_id
