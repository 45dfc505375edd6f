"""Where things are: works from a source checkout and from a frozen (PyInstaller) bundle.

Every resource path in the application comes from here (one helper, as Mu does),
so that packaging only has to get this module right.
"""

from __future__ import annotations

import json
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


#: written by packaging/build.py next to resources/ in a bundle: station, version, build time
BUNDLE_INFO_FILE = "bundle.json"


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False) and getattr(sys, "_MEIPASS", None))


def fonts_dir() -> Path:
    """resources/fonts/ (the CJK font a bundle ships, with its licence)."""
    return resources_dir() / "fonts"


def bundle_info() -> dict[str, str]:
    """What packaging/build.py recorded about this bundle; empty in a source checkout."""
    path = app_root() / BUNDLE_INFO_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def bundled_station_dir() -> Path | None:
    """Config folder of the station a bundle was built for (None in a source checkout)."""
    station = bundle_info().get("station")
    if not station:
        return None
    path = station_configs_dir() / station
    return path if path.is_dir() else None


def self_command() -> list[str]:
    """Command line that starts this program again (the bundle's executable, or ``python -m hmi``)."""
    if is_frozen():
        return [sys.executable]
    return [sys.executable, "-m", "hmi"]
