"""Text for values, qualities and times as the operator sees them."""

from __future__ import annotations

import math
import time
from typing import Any

from drivers.base import Quality
from hmi.config.schema import TagConfig
from hmi.ui.i18n import i18n, tr, tr_reason
from hmi.ui.texts import QUALITY_TEXT


def quality_name(q: int) -> str:
    """'good' / 'uncertain' / 'bad' (the QSS property value)."""
    return Quality.of(q).label


def state_text(tag: TagConfig, value: float) -> str | None:
    """Text of a discrete value from the tag's ``states`` map, or None."""
    if not tag.states or value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    key = int(round(float(value)))
    text = tag.states.get(key)
    return text.get(i18n().lang) if text is not None else None


def number(tag: TagConfig, value: float, precision: int | None = None) -> str:
    """A GOOD numeric value with the tag's precision (no unit); 10,000 and up digit-grouped."""
    p = tag.precision if precision is None else precision
    if tag.type in ("bool", "int"):
        p = 0
    if abs(value) >= 10_000 and math.isfinite(value):  # totals and flows: 4,294,808,543
        return f"{value:,.{p}f}"
    return f"{value:.{p}f}"


def value_text(
    tag: TagConfig,
    value: float | str,
    quality: int,
    precision: int | None = None,
    unit: bool = True,
) -> str:
    """Text of a value as shown on a screen. Never a plausible number when not GOOD.

    BAD shows the word BAD; UNCERTAIN (stale) shows the last value followed by '?'.
    """
    q = quality_name(quality)
    if q == "bad":
        return tr("BAD")
    if isinstance(value, str):
        text = value
    else:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return tr("BAD") if q != "good" else "----"
        st = state_text(tag, value)
        text = st if st is not None else number(tag, value, precision)
        if st is None and unit and tag.unit:
            text = f"{text} {tag.unit}"
    if q == "uncertain":
        text = f"{text} ?"
    return text


def rate_text(tag: TagConfig, rate: float) -> str:
    """A rate-of-change alarm's figure: the tag's precision, per minute (0.030 MPa/min)."""
    unit = f" {tag.unit}/min" if tag.unit else "/min"
    return f"{number(tag, rate)}{unit}"


def quality_tooltip(tag: TagConfig, quality: int, reason: str, ts: float) -> str:
    """Tooltip line explaining a value's quality and age."""
    q = quality_name(quality)
    label = tag.label.get(i18n().lang) or tag.name
    parts = [f"{label} ({tag.name})", f"{tr('Quality')}: {tr(QUALITY_TEXT[q])}"]
    if reason and q != "good":
        parts.append(f"{tr('Reason')}: {tr_reason(reason)}")
    parts.append(f"{tr('Time')}: {clock(ts)}")
    return "\n".join(parts)


def clock(ts: float, date: bool = True) -> str:
    """Local time of a Unix timestamp ('-' for none)."""
    if not ts:
        return "-"
    fmt = "%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S"
    return time.strftime(fmt, time.localtime(ts))


def duration(seconds: float) -> str:
    """'2 h 05 min', '45 s' — compact, for shelve times and ages."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {(s % 3600) // 60:02d} min"
    return f"{s // 86400} d {(s % 86400) // 3600} h"


def label(tag: TagConfig) -> str:
    """Tag label in the current language (the tag name when it has none)."""
    return tag.label.get(i18n().lang) or tag.name


def text(t: Any) -> str:
    """A config ``Text`` in the current language."""
    return t.get(i18n().lang) if t is not None else ""


def bytes_text(n: float) -> str:
    """1.2 GB style."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} TB"
