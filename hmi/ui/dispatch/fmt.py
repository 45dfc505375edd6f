"""Number and time formatting shared by the dispatch widgets."""

from __future__ import annotations

import time
from typing import Any

from hmi.ui.i18n import tr


def value_text(v: Any, precision: int | None = None) -> str:
    """A measured value, compact: 12,345 / 0.402 / 1 / text; with the tag's ``precision``
    (its birth's ``formatString``) when the station sent one, else by magnitude."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int | float):
        a = abs(float(v))
        if precision is not None:
            return f"{v:,.{precision}f}" if a >= 1000 else f"{v:.{precision}f}"
        if a >= 1000:
            return f"{v:,.0f}"
        if a >= 100:
            return f"{v:.1f}"
        return f"{v:.3f}" if a < 10 else f"{v:.2f}"
    return str(v)


def clock(ts: float) -> str:
    """``HH:MM:SS`` (local time), ``—`` for 0."""
    return time.strftime("%H:%M:%S", time.localtime(ts)) if ts else "—"


def stamp(ts: float) -> str:
    """``MM-DD HH:MM:SS`` (local time)."""
    return time.strftime("%m-%d %H:%M:%S", time.localtime(ts)) if ts else "—"


def area_text(area: str) -> str:
    """A station's area id as shown: the catalog's text, else the id made readable
    (``gas_detection`` -> ``Gas detection``)."""
    if not area:
        return tr("(no area)")
    text = tr(area)
    return area.replace("_", " ").capitalize() if text == area else text
