"""What the dispatch knows about one station: identity, session, metrics with metadata, alarms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: alarm limit property keys of a DBIRTH metric, in display order
LIMIT_KEYS = ("Alarm/LL", "Alarm/L", "Alarm/H", "Alarm/HH")


@dataclass(slots=True)
class Metric:
    """One metric of a station (a tag, or a node metric), with the metadata of its birth."""

    name: str
    device: str = ""
    alias: int = 0
    datatype: int = 0
    value: Any = None
    quality: int = 192
    ts: float = 0.0
    unit: str = ""
    low: float | None = None
    high: float | None = None
    label_en: str = ""
    label_zh: str = ""
    area: str = ""
    instrument: str = ""
    limits: dict[str, float] = field(default_factory=dict)
    remote_write: bool = False
    #: digits after the point to show (the birth's ``formatString``); None: not given
    precision: int | None = None
    #: a discrete tag's state texts from its birth: value -> (English, Chinese)
    states: dict[int, tuple[str, str]] = field(default_factory=dict)
    #: the protobuf value field of a plain (unsigned, float, bool, string) datatype, else ""
    field: str = ""

    def label(self, lang: str = "en") -> str:
        """The metric's label in ``lang`` (falls back to the other language, then the name)."""
        if lang.startswith("zh"):
            return self.label_zh or self.label_en or self.name
        return self.label_en or self.label_zh or self.name

    def state_text(self, lang: str = "en") -> str:
        """The text of the current value's state in ``lang`` ("" when it has none)."""
        return state_text(self.states, self.value, lang)

    def limit_state(self) -> str:
        """``HH``/``H``/``L``/``LL`` when the value is beyond that limit, else ``""``."""
        v = self.value
        if not isinstance(v, int | float) or isinstance(v, bool):
            return ""
        lim = self.limits
        if "HH" in lim and v >= lim["HH"]:
            return "HH"
        if "LL" in lim and v <= lim["LL"]:
            return "LL"
        if "H" in lim and v >= lim["H"]:
            return "H"
        if "L" in lim and v <= lim["L"]:
            return "L"
        return ""


@dataclass(slots=True)
class ActiveAlarm:
    """The latest state of one alarm of one station."""

    station: str
    alarm_id: str
    tag: str
    kind: str
    priority: int
    state: str
    ts: float
    message_en: str = ""
    message_zh: str = ""
    area: str = ""
    value: Any = None
    user: str = ""
    comment: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """(station, alarm id)."""
        return (self.station, self.alarm_id)

    @property
    def unacked(self) -> bool:
        """Waiting for an acknowledgement."""
        return self.state in ("ACTIVE_UNACK", "RTN_UNACK")

    def message(self, lang: str = "en") -> str:
        """The alarm text in ``lang``."""
        if lang.startswith("zh"):
            return self.message_zh or self.message_en or self.alarm_id
        return self.message_en or self.message_zh or self.alarm_id


@dataclass(slots=True)
class Station:
    """One edge node (Sparkplug) or JSON station as seen from the dispatch."""

    station_id: str
    group: str = ""
    mode: str = "sparkplug"
    name: str = ""
    online: bool = False
    stale: bool = False
    last_seen: float = 0.0
    online_since: float = 0.0
    offline_reason: str = ""
    version: str = ""
    config_hash: str = ""
    bdseq: int | None = None
    seq: int | None = None
    births: int = 0
    seq_gaps: int = 0
    rebirths_requested: int = 0
    last_rebirth_request: float = 0.0
    devices_online: dict[str, bool] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    #: (device, alias) -> metric name
    aliases: dict[tuple[str, int], str] = field(default_factory=dict)
    #: JSON mode: the parts of the current meta document received, and how many it has
    meta_parts: set[int] = field(default_factory=set)
    meta_total: int = 0
    meta_hash: str = ""

    def metric(self, name: str) -> Metric | None:
        """A metric by name."""
        return self.metrics.get(name)

    def tag_metrics(self) -> list[Metric]:
        """The device metrics that are station tags (not Device Info/...)."""
        return [m for m in self.metrics.values() if m.device and "/" not in m.name]

    def device_availability(self) -> tuple[int, int]:
        """(devices up, devices known)."""
        return sum(1 for v in self.devices_online.values() if v), len(self.devices_online)


def state_text(states: dict[int, tuple[str, str]], value: Any, lang: str = "en") -> str:
    """The text of ``value``'s state in ``lang`` ("" when ``states`` has none for it)."""
    if not states or value is None or isinstance(value, str):
        return ""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return ""
    if not f.is_integer() or int(f) not in states:
        return ""
    en, zh = states[int(f)]
    return (zh or en) if lang.startswith("zh") else (en or zh)


def precision_of(pattern: object) -> int | None:
    """Digits after the point of an Ignition number pattern (``#,##0.000`` -> 3; a birth's
    ``formatString``); None when it is not one."""
    if not isinstance(pattern, str) or not pattern or set(pattern) - set("#,0."):
        return None
    return len(pattern.partition(".")[2])


def states_of(props: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """State texts from birth properties ``State/<value>`` and ``State/<value>/zh``."""
    out: dict[int, tuple[str, str]] = {}
    for key, text in props.items():
        parts = key.split("/")
        if parts[0] != "State" or len(parts) not in (2, 3) or not isinstance(text, str):
            continue
        try:
            value = int(parts[1])
        except ValueError:
            continue
        en, zh = out.get(value, ("", ""))
        out[value] = (en, text) if len(parts) == 3 and parts[2] == "zh" else (text, zh)
    return out
