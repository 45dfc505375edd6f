"""Time-range presets and the range text of trend groups ("10m", "8h", "30d", "1y")."""

from __future__ import annotations

import re

from hmi.ui.i18n import N_

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
#: (seconds, button text, group range text)
PRESETS: tuple[tuple[float, str, str], ...] = (
    (10 * MINUTE, N_("10 min"), "10m"),
    (HOUR, N_("1 h"), "1h"),
    (8 * HOUR, N_("8 h shift"), "8h"),
    (DAY, N_("24 h"), "24h"),
    (7 * DAY, N_("7 d"), "7d"),
    (30 * DAY, N_("30 d"), "30d"),
    (365 * DAY, N_("1 y"), "1y"),
)
_UNITS = {"s": 1.0, "m": MINUTE, "min": MINUTE, "h": HOUR, "d": DAY, "w": 7 * DAY, "y": 365 * DAY}
_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w|y)\s*$")


def parse_range(text: str, default: float = HOUR) -> float:
    """Seconds of a range text like ``10m``, ``8h``, ``30d``, ``1y`` (``default`` when unreadable)."""
    m = _RANGE.match(text or "")
    if not m:
        return default
    return float(m.group(1)) * _UNITS[m.group(2)]


def range_text(seconds: float) -> str:
    """The shortest range text for ``seconds`` (the preset's text when it is one)."""
    for s, _label, text in PRESETS:
        if abs(s - seconds) < 0.5:
            return text
    for unit in ("y", "d", "h", "m"):
        n = seconds / _UNITS[unit]
        if n >= 1 and abs(n - round(n)) < 1e-6:
            return f"{int(round(n))}{unit}"
    return f"{int(round(seconds))}s"
