"""Scenario timelines as data: a YAML drill that sets, ramps and clears faults over time.

A trainer writes a drill without Python::

    name: heater_trip
    title: {en: Heater flame failure, zh: 加热炉熄火}
    description: {en: "The burner trips; the bath cools ...", zh: "燃烧器熄火，水浴缓慢降温……"}
    speed: 60                 # suggested drill speed (model seconds per wall second)
    duration: 75 min          # how long the drill runs, model time
    expected_alarms: [heater.burner.trip.discrete, heater.water.temperature.l]
    possible_alarms: []       # may also appear (e.g. depending on the time of day)
    stations:                 # another station's own lists (by station id), if it differs
      demo_regulator_station: {expected_alarms: [...], possible_alarms: [...]}
    timeline:
      - {at: 15 s, set: burner_fail, note: "flame failure: heater.burner.trip = 1"}
      - {at: 10 min, ramp: leak, unit: 5, from: 0, to: 30, over: 30 s}
      - {at: 90 min, clear: burner_fail}

Times are model seconds after the scenario is selected: a number, or a string with a unit
(``90 s``, ``45 min``, ``2 h``). ``set`` gives a fault a value (``true`` when omitted),
``ramp`` moves a numeric fault linearly from ``from`` to ``to`` over ``over``, ``clear``
returns it to normal. Faults that concern one part of the station take a ``unit``: a run or
filter number, a detector number, a model variable, a room, a door or a device. The state of
every fault at time t is a pure function of the timeline (the last event at or before t), so
a drill is deterministic for a seed however the model is stepped. Every problem is reported
as ``file:line: what is wrong and what to do``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from drivers.sim.model import Faults

FaultValue = bool | float | str


class TimelineError(ValueError):
    """A scenario file that cannot be used; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class FaultKind:
    """A fault a timeline can drive: what its unit and value are, and how it is applied."""

    unit: str  # "" (none), "int" (run/filter/detector number), "str" (variable/room/door/device)
    value: str  # "bool", "float" or "str"
    apply: Callable[[Faults, Any, Any], None]
    help: str
    choices: tuple[str, ...] = ()  # allowed string values


def _flag(attr: str) -> Callable[[Faults, Any, Any], None]:
    def apply(f: Faults, _unit: Any, value: Any) -> None:
        setattr(f, attr, bool(value))

    return apply


def _number(attr: str) -> Callable[[Faults, Any, Any], None]:
    def apply(f: Faults, _unit: Any, value: Any) -> None:
        setattr(f, attr, float(value))

    return apply


def _optional(attr: str) -> Callable[[Faults, Any, Any], None]:
    def apply(f: Faults, _unit: Any, value: Any) -> None:
        setattr(f, attr, None if value is None else float(value))

    return apply


def _text(attr: str) -> Callable[[Faults, Any, Any], None]:
    def apply(f: Faults, _unit: Any, value: Any) -> None:
        setattr(f, attr, "" if value is None else str(value))

    return apply


def _in_dict(attr: str, as_bool: bool = False) -> Callable[[Faults, Any, Any], None]:
    def apply(f: Faults, unit: Any, value: Any) -> None:
        d: dict[Any, Any] = getattr(f, attr)
        if value is None or value is False or (not as_bool and float(value) == 0.0):
            d.pop(unit, None)
        else:
            d[unit] = True if as_bool else float(value)

    return apply


def _in_set(attr: str) -> Callable[[Faults, Any, Any], None]:
    def apply(f: Faults, unit: Any, value: Any) -> None:
        s: set[Any] = getattr(f, attr)
        if value:
            s.add(unit)
        else:
            s.discard(unit)

    return apply


#: every fault a timeline may name
FAULTS: dict[str, FaultKind] = {
    "reg_fail_open": FaultKind("int", "bool", _in_dict("reg_fail_open", True), "run N's active regulator stuck wide open"),
    "mon_fail_open": FaultKind("int", "bool", _in_dict("mon_fail_open", True), "run N's monitor pilot stuck open"),
    "reg_fail_closed": FaultKind("int", "bool", _in_dict("reg_fail_closed", True), "run N's active regulator fails closed"),
    "pilot_ice": FaultKind("int", "float", _in_dict("pilot_ice"), "run N's pilot ices, 0..1 (hunts, then loses its load)"),
    "lockup_creep": FaultKind("int", "float", _in_dict("lockup_creep"), "Sm3/h run N's closed seat passes at lock-up"),
    "ssv_trip_at": FaultKind("int", "float", _in_dict("ssv_trip_at"), "MPa where run N's slam-shut pilot really trips"),
    "filter_clog_rate": FaultKind("", "float", _number("filter_clog_rate"), "fouling units per second added to filter run 1"),
    "liquid_high": FaultKind("int", "bool", _in_set("liquid_high"), "liquid in filter run N's sump"),
    "burner_fail": FaultKind("", "bool", _flag("burner_fail"), "the heater's burner locks out"),
    "burner_derate": FaultKind("", "float", _number("burner_derate"), "share of the burner rating available"),
    "supply_feed": FaultKind("", "float", _number("supply_feed"), "share of the upstream feed reaching the line (0: lost)"),
    "supply_setpoint": FaultKind("", "float", _optional("supply_setpoint"), "MPa the upstream station holds the line at"),
    "demand_extra": FaultKind("", "float", _number("demand_extra"), "Sm3/h escaping downstream (a rupture)"),
    "demand_factor": FaultKind("", "float", _number("demand_factor"), "city demand multiplier"),
    "leak": FaultKind("int", "float", _in_dict("leak"), "%LEL of leaking gas at detector N"),
    "detector_drift": FaultKind("int", "float", _in_dict("detector_drift"), "%LEL detector N's zero has drifted by"),
    "detector_fault": FaultKind("int", "bool", _in_set("detector_fault"), "detector N reports a fault"),
    "stuck": FaultKind("str", "bool", _in_set("stuck"), "the transmitter of model variable U freezes"),
    "drift": FaultKind("str", "float", _in_dict("drift"), "offset added to model variable U's transmitter"),
    "underrange": FaultKind("str", "bool", _in_set("underrange"), "U's loop current below 3.6 mA (served as a signal fault)"),
    "pump_fault": FaultKind("", "bool", _flag("pump_fault"), "the odorant pump trips"),
    "odorant_rate": FaultKind("", "float", _number("odorant_rate"), "odorant use multiplier (days of dosing at speed)"),
    "fan_fail": FaultKind("str", "bool", _in_set("fan_fail"), "room U's exhaust fan will not start"),
    "door": FaultKind("str", "bool", _in_set("doors"), "door U is open"),
    "esd_close": FaultKind("", "bool", _flag("esd_close"), "the inlet ESD closes on its own"),
    "mains_lost": FaultKind("", "bool", _flag("mains_lost"), "mains power fails"),
    "plc_stop": FaultKind("", "bool", _flag("plc_stop"), "the PLC goes to STOP (plc.run = 0; freeze its device too)"),
    "comms_offline": FaultKind("", "bool", _flag("comms_offline"), "the comms device stops answering"),
    "malformed_reply": FaultKind("", "str", _text("malformed_reply"), "the comms device's replies break", ("bad_crc", "truncated", "wrong_unit")),
    "telemetry_quality": FaultKind("", "str", _text("telemetry_quality"), "IEC 104 values flagged", ("NT", "IV")),
    "frozen": FaultKind("str", "bool", _in_set("frozen"), "device U answers with unchanging values"),
    "gateway_fault": FaultKind("str", "bool", _in_set("gateway_fault"), "device U answers Modbus exception 0x0B"),
}  # fmt: skip

_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_TIME_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*(s|sec|min|h|d)?\s*$")
_EVENT_KEYS = {"at", "set", "ramp", "clear", "unit", "value", "from", "to", "over", "note"}
_TOP_KEYS = {
    "name", "title", "description", "speed", "duration", "expected_alarms", "possible_alarms",
    "timeline", "notes", "stations",
}  # fmt: skip
_ALARM_KEYS = ("expected_alarms", "possible_alarms")


def parse_time(value: Any) -> float:
    """Seconds from a number or a string like ``90 s``, ``45 min``, ``2 h`` (ValueError)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"{value!r} is not a time (seconds >= 0)")
        return float(value)
    m = _TIME_RE.match(str(value))
    if m is None:
        raise ValueError(f"{value!r} is not a time (write 90, '90 s', '45 min' or '2 h')")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def format_time(seconds: float) -> str:
    """``15 s``, ``12 min``, ``1 h 30 min``."""
    if seconds < 120.0:
        return f"{seconds:g} s"
    if seconds < 7200.0:
        return f"{seconds / 60.0:.4g} min"
    h, rest = divmod(seconds, 3600.0)
    return f"{h:.0f} h" + (f" {rest / 60.0:.0f} min" if rest >= 60.0 else "")


# --------------------------------------------------------------------------- YAML with lines
class _Map(dict[str, Any]):
    """A YAML mapping that remembers its line and its keys' lines (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


def _to_py(node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = _Map()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for k, v in node.value:
            key = str(_to_py(k))
            out[key] = _to_py(v)
            out.key_lines[key] = k.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_py(n) for n in node.value]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _line_of(items: list[Any], i: int, parent: _Map, key: str) -> int:
    item = items[i]
    return item.line if isinstance(item, _Map) else parent.key_lines.get(key, parent.line)


# --------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class Event:
    """One timeline entry."""

    at: float
    action: str  # "set", "ramp" or "clear"
    fault: str
    unit: Any = None
    value: FaultValue | None = None
    start: float = 0.0  # ramp from
    over: float = 0.0  # ramp duration
    note: str = ""
    line: int = 0

    def describe(self) -> str:
        """One line of the printed timeline."""
        target = self.fault + (f"[{self.unit}]" if self.unit is not None else "")
        if self.action == "ramp":
            what = f"ramp {target} {self.start:g} -> {self.value} over {format_time(self.over)}"
        elif self.action == "clear":
            what = f"clear {target}"
        else:
            what = f"set {target}" + ("" if self.value is True else f" = {self.value}")
        return what + (f"  ({self.note})" if self.note else "")


@dataclass(frozen=True)
class TimelineSpec:
    """A loaded, validated scenario file."""

    name: str
    title: dict[str, str]
    description: dict[str, str]
    events: tuple[Event, ...]
    speed: float = 10.0
    duration: float = 600.0
    expected_alarms: tuple[str, ...] = ()
    possible_alarms: tuple[str, ...] = ()
    notes: str = ""
    path: str = ""
    keys: tuple[tuple[str, Any], ...] = field(default=(), repr=False)
    #: station id -> (expected, possible) where that station's alarms differ from the above
    stations: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)

    def alarms_for(self, station_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(expected, possible) alarms of the drill on station ``station_id``."""
        return self.stations.get(station_id, (self.expected_alarms, self.possible_alarms))

    def timeline_text(self) -> str:
        """What ``gas-hmi simulate`` prints at start: events, then the notes."""
        lines = [f"{self.description.get('en', '')}", f"{self.description.get('zh', '')}", ""]
        for e in self.events:
            lines.append(f"  {format_time(e.at):>9}  {e.describe()}")
        if self.notes:
            lines.append("")
            lines.extend(self.notes.rstrip().splitlines())
        return "\n".join(lines)


def _fail(path: str, line: int, msg: str) -> TimelineError:
    return TimelineError(f"{path}:{line}: {msg}")


def _text_pair(raw: Any, path: str, line: int, key: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not {"en", "zh"} <= set(raw):
        raise _fail(path, line, f"{key} needs both languages: {{en: ..., zh: ...}}")
    return {"en": str(raw["en"]), "zh": str(raw["zh"])}


def _event(raw: Any, path: str, line: int) -> Event:
    if not isinstance(raw, _Map):
        raise _fail(path, line, "a timeline entry is a mapping like {at: 15 s, set: burner_fail}")
    unknown = set(raw) - _EVENT_KEYS
    if unknown:
        bad = sorted(unknown)[0]
        raise _fail(
            path,
            raw.key_lines.get(bad, line),
            f"unknown key {bad!r} in a timeline entry (known: {', '.join(sorted(_EVENT_KEYS))})",
        )
    actions = [a for a in ("set", "ramp", "clear") if a in raw]
    if len(actions) != 1:
        raise _fail(path, line, "a timeline entry needs exactly one of set:, ramp: or clear:")
    action = actions[0]
    fault = str(raw[action])
    kind = FAULTS.get(fault)
    if kind is None:
        raise _fail(
            path,
            raw.key_lines.get(action, line),
            f"unknown fault {fault!r} (known: {', '.join(sorted(FAULTS))})",
        )
    if "at" not in raw:
        raise _fail(path, line, "a timeline entry needs at: (model time after the start)")
    try:
        at = parse_time(raw["at"])
    except ValueError as exc:
        raise _fail(path, raw.key_lines.get("at", line), str(exc)) from None
    unit = raw.get("unit")
    if kind.unit and unit is None:
        what = "a number" if kind.unit == "int" else "a name"
        raise _fail(path, line, f"fault {fault} needs unit: ({what}; {kind.help})")
    if not kind.unit and unit is not None:
        raise _fail(path, raw.key_lines.get("unit", line), f"fault {fault} takes no unit:")
    if kind.unit == "int":
        if isinstance(unit, bool) or not isinstance(unit, int) or unit < 1:
            raise _fail(
                path, raw.key_lines.get("unit", line), f"unit of {fault} must be a number >= 1"
            )
    elif kind.unit == "str":
        unit = str(unit)
    value: FaultValue | None = None
    start = over = 0.0
    vline = raw.key_lines.get("value", line)
    if action == "set":
        value = raw.get("value", True if kind.value == "bool" else None)
        if value is None:
            raise _fail(path, line, f"set {fault} needs value: ({kind.help})")
        value = _check_value(kind, fault, value, path, vline)
    elif action == "ramp":
        if kind.value != "float":
            raise _fail(path, line, f"{fault} is not numeric: use set:/clear:, not ramp:")
        for k in ("from", "to", "over"):
            if k not in raw:
                raise _fail(path, line, f"ramp {fault} needs from:, to: and over:")
        start = float(_check_value(kind, fault, raw["from"], path, raw.key_lines["from"]))
        value = _check_value(kind, fault, raw["to"], path, raw.key_lines["to"])
        try:
            over = parse_time(raw["over"])
        except ValueError as exc:
            raise _fail(path, raw.key_lines["over"], str(exc)) from None
    elif "value" in raw:
        raise _fail(path, vline, "clear: takes no value:")
    return Event(at, action, fault, unit, value, start, over, str(raw.get("note", "")), line)


def _check_value(kind: FaultKind, fault: str, value: Any, path: str, line: int) -> FaultValue:
    if kind.value == "bool":
        if not isinstance(value, bool):
            raise _fail(path, line, f"{fault}: value must be true or false (got {value!r})")
        return value
    if kind.value == "float":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _fail(path, line, f"{fault}: value must be a number (got {value!r})")
        return float(value)
    if kind.choices and str(value) not in kind.choices:
        raise _fail(
            path, line, f"{fault}: value must be one of {', '.join(kind.choices)} (got {value!r})"
        )
    return str(value)


def load_timeline(path: Path | str, text: str | None = None) -> TimelineSpec:
    """Load and validate a scenario file; :class:`TimelineError` (``file:line: ...``) otherwise."""
    p = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise TimelineError(f"{p}: cannot read the scenario file: {exc.strerror}") from None
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise _fail(p, line, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    raw = _to_py(node) if node is not None else None
    if not isinstance(raw, _Map):
        raise _fail(p, 1, "a scenario file is a mapping with name:, description: and timeline:")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        bad = sorted(unknown)[0]
        raise _fail(
            p, raw.key_lines[bad], f"unknown key {bad!r} (known: {', '.join(sorted(_TOP_KEYS))})"
        )
    for key in ("name", "description", "timeline"):
        if key not in raw:
            raise _fail(p, raw.line, f"missing {key}:")
    name = str(raw["name"])
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise _fail(
            p, raw.key_lines["name"], f"name {name!r}: use lower-case letters, digits and _"
        )
    desc = _text_pair(raw["description"], p, raw.key_lines["description"], "description")
    title = (
        _text_pair(raw["title"], p, raw.key_lines["title"], "title") if "title" in raw else
        {"en": name.replace("_", " "), "zh": name}
    )  # fmt: skip
    items = raw["timeline"]
    if not isinstance(items, list):
        raise _fail(p, raw.key_lines["timeline"], "timeline: is a list of entries")
    events = [_event(it, p, _line_of(items, i, raw, "timeline")) for i, it in enumerate(items)]
    events.sort(key=lambda e: e.at)  # stable: entries at the same time keep their order
    alarms = _alarm_lists(raw, p)
    stations: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    per = raw.get("stations", _Map())
    if not isinstance(per, _Map):
        raise _fail(
            p,
            raw.key_lines.get("stations", raw.line),
            "stations: maps a station id to {expected_alarms: [...], possible_alarms: [...]}",
        )
    for sid, lists in per.items():
        line = per.key_lines[sid]
        if not isinstance(lists, _Map) or set(lists) - set(_ALARM_KEYS):
            raise _fail(
                p, line, f"stations: {sid}: give expected_alarms: and/or possible_alarms: only"
            )
        own = _alarm_lists(lists, p)
        stations[str(sid)] = (own["expected_alarms"], own["possible_alarms"])
    try:
        speed = float(raw.get("speed", 10.0))
        duration = parse_time(
            raw.get("duration", max((e.at + e.over for e in events), default=0.0) + 60.0)
        )
    except (TypeError, ValueError) as exc:
        raise _fail(p, raw.line, f"speed/duration: {exc}") from None
    if not speed > 0:
        raise _fail(p, raw.key_lines.get("speed", raw.line), "speed must be > 0")
    return TimelineSpec(
        name=name,
        title=title,
        description=desc,
        events=tuple(events),
        speed=speed,
        duration=duration,
        expected_alarms=alarms["expected_alarms"],
        possible_alarms=alarms["possible_alarms"],
        notes=str(raw.get("notes", "")),
        path=p,
        stations=stations,
    )


def _alarm_lists(raw: _Map, p: str) -> dict[str, tuple[str, ...]]:
    alarms: dict[str, tuple[str, ...]] = {}
    for key in _ALARM_KEYS:
        v = raw.get(key, [])
        if not isinstance(v, list) or not all(isinstance(a, str) for a in v):
            raise _fail(p, raw.key_lines.get(key, raw.line), f"{key}: is a list of alarm ids")
        alarms[key] = tuple(v)
    return alarms


# --------------------------------------------------------------------------- evaluation
def _default(kind: FaultKind) -> FaultValue | None:
    return False if kind.value == "bool" else None


class TimelineState:
    """The value of every fault a timeline drives, as a function of time."""

    def __init__(self, spec: TimelineSpec) -> None:
        self.spec = spec
        self.keys: dict[tuple[str, Any], list[Event]] = {}
        for e in spec.events:
            self.keys.setdefault((e.fault, e.unit), []).append(e)

    def value(self, fault: str, unit: Any, ts: float) -> FaultValue | None:
        """Value of ``fault`` (``unit``) ``ts`` seconds after the start (None/False: normal)."""
        kind = FAULTS[fault]
        current: FaultValue | None = _default(kind)
        for e in self.keys.get((fault, unit), ()):
            if e.at > ts:
                break
            if e.action == "clear":
                current = _default(kind)
            elif e.action == "set":
                current = e.value
            else:
                end = float(e.value) if e.value is not None else 0.0
                frac = 1.0 if e.over <= 0 else min((ts - e.at) / e.over, 1.0)
                current = e.start + (end - e.start) * frac
        return current

    def apply(self, faults: Faults, ts: float) -> None:
        """Set every driven fault in ``faults`` for time ``ts``."""
        for (fault, unit), _events in self.keys.items():
            kind = FAULTS[fault]
            value = self.value(fault, unit, ts)
            if value is None and kind.value == "float" and fault in _NEUTRAL:
                value = _NEUTRAL[fault]
            kind.apply(faults, unit, value)


#: the normal value of numeric faults that are not "off" at zero
_NEUTRAL: dict[str, float] = {
    "supply_feed": 1.0,
    "demand_factor": 1.0,
    "odorant_rate": 1.0,
    "burner_derate": 1.0,
    "filter_clog_rate": 0.0,
    "demand_extra": 0.0,
}
