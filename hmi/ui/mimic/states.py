"""State of a bound symbol from its tags (pure logic, no Qt).

Each symbol kind turns tag values into a state name; the state becomes the CSS class
``st-<state>`` on the SVG element, and the quality of the tags adds ``q-bad`` or
``q-uncertain``. A BAD input never shows a plausible state: the state is ``unknown``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from drivers.base import Quality
from hmi.config.schema import TagConfig
from hmi.ui.mimic.screen import Binding

Getter = Callable[[str], tuple[float, int]]  # tag name -> (value, quality)


def _on(v: float) -> bool:
    return not math.isnan(v) and v >= 0.5


def _mapped(b: Binding, v: float) -> str | None:
    m = b.opt("map")
    if not m or math.isnan(v):
        return None
    for key, state in m.items():
        try:
            if abs(float(key) - v) < 1e-6:
                return str(state)
        except (TypeError, ValueError):
            continue
    return "other"


def _position(b: Binding, v: float) -> str:
    if v >= float(b.opt("open_above", 95.0)):
        return "open"
    if v <= float(b.opt("closed_below", 2.0)):
        return "closed"
    return "travel"


def symbol_state(b: Binding, get: Getter, tags: dict[str, TagConfig]) -> tuple[str, str]:
    """(state, quality class: '' | 'q-uncertain' | 'q-bad') of a symbol binding."""
    names = b.tag_names()
    worst = Quality.GOOD
    for n in names:
        worst = min(worst, get(n)[1])
    if worst < Quality.UNCERTAIN:
        return "unknown", "q-bad"
    qcls = "q-uncertain" if worst < Quality.GOOD else ""
    fault = b.opt("fault_tag")
    if fault and _on(get(fault)[0]):
        return "fault", qcls
    v = get(b.tag)[0] if b.tag else math.nan
    kind = b.kind
    mapped = _mapped(b, v) if b.tag else None
    if mapped is not None:
        return mapped, qcls
    if kind == "valve":
        if b.opt("open_tag"):
            op = _on(get(b.opt("open_tag"))[0])
            cl = _on(get(b.opt("closed_tag"))[0]) if b.opt("closed_tag") else not op
            if op and cl:
                return "fault", qcls
            if op:
                return "open", qcls
            return ("closed", qcls) if cl else ("travel", qcls)
        if b.opt("position"):
            return _position(b, v), qcls
        return ("open" if _on(v) else "closed"), qcls
    if kind == "regulator":
        if b.opt("position"):
            return _position(b, v), qcls
        return ("open" if _on(v) else "closed"), qcls
    if kind == "slamshut":
        return ("tripped" if _on(v) else "open"), qcls
    if kind in ("heater", "pump"):
        return ("on" if _on(v) else "off"), qcls
    if kind == "detector":
        t = tags.get(b.tag)
        l1, l2 = b.opt("level1"), b.opt("level2")
        if t is not None and (l1 is None or l2 is None):
            limits = {a.kind: a.limit for a in t.alarms if a.limit is not None}
            l1 = l1 if l1 is not None else limits.get("H", 20.0)
            l2 = l2 if l2 is not None else limits.get("HH", 50.0)
        if math.isnan(v):
            return "unknown", "q-bad"
        if v >= float(l2 if l2 is not None else 50.0):
            return "level2", qcls
        if v >= float(l1 if l1 is not None else 20.0):
            return "level1", qcls
        return "normal", qcls
    if kind == "pipe":
        t = tags.get(b.tag)
        thr = b.opt("threshold")
        if thr is None:
            thr = 0.005 * (t.range[1] - t.range[0]) if t is not None else 0.0
        return ("flow" if (not math.isnan(v) and v > float(thr)) else "noflow"), qcls
    return "normal", qcls
