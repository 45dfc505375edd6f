"""Permissives of the command service: the ``interlocks:`` section and the protection ladder.

:func:`permissive_refusal` is called by :class:`~hmi.core.commands.CommandService` after its
own checks; a value it cannot judge (a tag without a GOOD value) refuses the write, because a
permissive that cannot be checked must not be taken as given.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from drivers.base import Quality
from hmi.config.interlocks import Condition, ladder_bound
from hmi.config.schema import StationConfig, TagConfig

#: tag name -> (value, quality, ts, reason), as ``TagTable.get`` returns it
Getter = Callable[[str], tuple[Any, Any, float, str]]


def _good(get: Getter, name: str) -> float | None:
    try:
        value, quality, _ts, _reason = get(name)
    except KeyError:
        return None
    if quality is not Quality.GOOD and quality != int(Quality.GOOD):
        return None
    if isinstance(value, str) or not math.isfinite(float(value)):
        return None
    return float(value)


def _condition(c: Condition, get: Getter) -> str | None:
    """None when ``c`` holds, else why not."""
    v = _good(get, c.tag)
    w = _good(get, c.minus) if c.minus else 0.0
    if v is None or w is None:
        missing = c.tag if v is None else c.minus
        return f"{missing} has no good value, so '{c.text()}' cannot be checked"
    if not c.holds(v - w):
        return f"needs {c.text()} (is {abs(v - w) if c.abs else v - w:g})"
    return None


def permissive_refusal(
    cfg: StationConfig, tag: TagConfig, value: Any, get: Getter
) -> tuple[str, dict[str, str]] | None:
    """(message, bilingual hint) when a permissive forbids writing ``value`` to ``tag``."""
    bound = ladder_bound(cfg, tag.name)
    if bound is not None and isinstance(value, int | float) and float(value) >= bound[0]:
        hint = {
            "en": f"{bound[1]} ({bound[0]:g} {tag.unit})",
            "zh": f"工作调压器设定须低于监控调压器设定（{bound[0]:g} {tag.unit}）",
        }
        return f"interlocked: {hint['en']}", hint
    for p in cfg.interlocks:
        if p.command != tag.name:
            continue
        if p.value is not None and not (
            isinstance(value, int | float) and abs(float(value) - p.value) < 1e-9
        ):
            continue
        for c in p.require:
            why = _condition(c, get)
            if why is not None:
                hint = {"en": p.message.en or why, "zh": p.message.zh or p.message.en or why}
                return f"interlocked: {p.message.en or tag.name}: {why}", hint
    return None
