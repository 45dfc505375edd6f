"""State of a bound symbol from its tags (pure logic, no Qt).

Each symbol kind turns tag values into a state name; the state becomes the CSS class
``st-<state>`` on the SVG element, and the quality of the tags adds ``q-bad`` or
``q-uncertain``. A BAD input never shows a plausible state: the state is ``unknown``.
One function per kind, in :data:`KIND_STATES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from drivers.base import Quality
from hmi.config.schema import TagConfig
from hmi.config.screen import Binding

Getter = Callable[[str], tuple[float, int]]  # tag name -> (value, quality)
#: (binding, value of its tag, getter, tag config or None) -> state name
KindState = Callable[[Binding, float, Getter, "TagConfig | None"], str]


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


def _open_closed(b: Binding, v: float, get: Getter, t: TagConfig | None) -> str:
    """Regulator (and a valve without limit switches): position or one open tag."""
    if b.opt("position"):
        return _position(b, v)
    return "open" if _on(v) else "closed"


def _valve(b: Binding, v: float, get: Getter, t: TagConfig | None) -> str:
    if not b.opt("open_tag"):
        return _open_closed(b, v, get, t)
    op = _on(get(b.opt("open_tag"))[0])
    cl = _on(get(b.opt("closed_tag"))[0]) if b.opt("closed_tag") else not op
    if op and cl:
        return "fault"
    if op:
        return "open"
    return "closed" if cl else "travel"


def _slamshut(b: Binding, v: float, get: Getter, t: TagConfig | None) -> str:
    return "tripped" if _on(v) else "open"


def _on_off(b: Binding, v: float, get: Getter, t: TagConfig | None) -> str:
    return "on" if _on(v) else "off"


def _limit(b: Binding, key: str, kind: str, default: float, t: TagConfig | None) -> float:
    """A detector level: the binding's option, else the tag's alarm limit, else the default."""
    own = b.opt(key)
    if own is not None:
        return float(own)
    if t is not None:
        for a in t.alarms:
            if a.kind == kind and a.limit is not None:
                return float(a.limit)
    return default


def _detector(b: Binding, v: float, get: Getter, t: TagConfig | None) -> str:
    if math.isnan(v):
        return "unknown"
    if v >= _limit(b, "level2", "HH", 50.0, t):
        return "level2"
    if v >= _limit(b, "level1", "H", 20.0, t):
        return "level1"
    return "normal"


def _pipe(b: Binding, v: float, get: Getter, t: TagConfig | None) -> str:
    thr = b.opt("threshold")
    if thr is None:
        thr = 0.005 * (t.range[1] - t.range[0]) if t is not None else 0.0
    return "flow" if (not math.isnan(v) and v > float(thr)) else "noflow"


def _normal(b: Binding, v: float, get: Getter, t: TagConfig | None) -> str:
    return "normal"


#: symbol kind -> its state function
KIND_STATES: dict[str, KindState] = {
    "valve": _valve,
    "regulator": _open_closed,
    "slamshut": _slamshut,
    "heater": _on_off,
    "pump": _on_off,
    "detector": _detector,
    "pipe": _pipe,
    "symbol": _normal,
}


def symbol_state(b: Binding, get: Getter, tags: dict[str, TagConfig]) -> tuple[str, str]:
    """(state, quality class: '' | 'q-uncertain' | 'q-bad') of a symbol binding."""
    worst = min((get(n)[1] for n in b.tag_names()), default=int(Quality.GOOD))
    if worst < Quality.UNCERTAIN:
        return "unknown", "q-bad"
    qcls = "q-uncertain" if worst < Quality.GOOD else ""
    fault = b.opt("fault_tag")
    if fault and _on(get(fault)[0]):
        return "fault", qcls
    v = get(b.tag)[0] if b.tag else math.nan
    mapped = _mapped(b, v) if b.tag else None
    if mapped is not None:
        return mapped, qcls
    state = KIND_STATES.get(b.kind, _normal)(b, v, get, tags.get(b.tag))
    return state, ("q-bad" if state == "unknown" else qcls)
