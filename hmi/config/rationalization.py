"""Alarm rationalisation figures of a station config (ISA-18.2 / EEMUA 191 practice).

Counts every configured alarm (tag alarms and device comm-loss alarms, enabled only) per
priority and per area, and lists the alarms without a response text, without a stated time to
respond, and the duplicates: two alarms of the same kind on tags that read the same process
value (the same simulator source or the same label), or two alarms with the same message.
Targets: at most 10 % priority 1, at least 60 % priority 3 and 4.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hmi.config.schema import StationConfig

#: highest share of priority 1, lowest share of priorities 3 + 4
MAX_P1 = 0.10
MIN_P34 = 0.60
_TIME_TO_RESPOND = re.compile(r"respond|响应时间", re.IGNORECASE)


@dataclass(frozen=True)
class ConfiguredAlarm:
    """One configured alarm as the rationalisation sees it."""

    alarm_id: str
    priority: int
    area: str
    kind: str
    source: str  # what it measures: the tag's simulator source or label, or the device
    message: str
    response_en: str
    response_zh: str


@dataclass
class Rationalization:
    """The figures ``gas-hmi alarms rationalization`` prints."""

    alarms: list[ConfiguredAlarm]
    by_priority: Counter[int] = field(default_factory=Counter)
    by_area: dict[str, Counter[int]] = field(default_factory=dict)
    no_response: list[str] = field(default_factory=list)
    no_time: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str, str]] = field(default_factory=list)  # (a, b, why)

    @property
    def total(self) -> int:
        """Number of configured alarms."""
        return len(self.alarms)

    def share(self, *priorities: int) -> float:
        """Share of the configured alarms with one of ``priorities`` (0..1)."""
        return sum(self.by_priority[p] for p in priorities) / self.total if self.total else 0.0

    def problems(self) -> list[str]:
        """What misses the targets (empty when rationalised)."""
        out: list[str] = []
        if self.share(1) > MAX_P1:
            out.append(f"priority 1 is {self.share(1):.1%} of the alarms (target <= {MAX_P1:.0%})")
        if self.share(3, 4) < MIN_P34:
            out.append(f"priorities 3+4 are {self.share(3, 4):.1%} (target >= {MIN_P34:.0%})")
        if self.no_response:
            out.append(f"{len(self.no_response)} alarms without a response text")
        if self.no_time:
            out.append(f"{len(self.no_time)} responses without a time to respond")
        if self.duplicates:
            out.append(f"{len(self.duplicates)} duplicated alarms")
        return out


def _source(sim: object, label: str, name: str) -> str:
    if isinstance(sim, str) and sim:
        return f"sim:{sim}"
    return f"label:{label.strip().lower()}" if label else f"tag:{name}"


def collect(cfg: StationConfig) -> list[ConfiguredAlarm]:
    """Every enabled alarm of the station, tag alarms first, then comm-loss alarms."""
    out: list[ConfiguredAlarm] = []
    for t, a in cfg.alarms():
        if not a.enabled:
            continue
        out.append(
            ConfiguredAlarm(
                t.alarm_id(a),
                a.priority,
                a.area or t.area or "-",
                a.kind,
                _source(t.sim, t.label.en, t.name),
                a.message.en or a.message.zh,
                a.response.en,
                a.response.zh,
            )
        )
    for d in cfg.devices:
        ca = d.comm_alarm
        if d.enabled and ca.enabled:
            msg = ca.message.en or f"Communication lost: {d.label.en or d.id}"
            response = "Check the device and its network (respond within the hour)"
            out.append(
                ConfiguredAlarm(
                    f"{d.id}.comm", ca.priority, d.area or "-", "comm", f"device:{d.id}", msg,
                    response, "检查设备及网络（响应时间：1小时内）",
                )
            )  # fmt: skip
    return out


def rationalize(cfg: StationConfig) -> Rationalization:
    """The rationalisation figures of ``cfg``."""
    alarms = collect(cfg)
    r = Rationalization(alarms)
    for a in alarms:
        r.by_priority[a.priority] += 1
        r.by_area.setdefault(a.area, Counter())[a.priority] += 1
        if not (a.response_en.strip() and a.response_zh.strip()):
            r.no_response.append(a.alarm_id)
        elif not (
            _TIME_TO_RESPOND.search(a.response_en) and _TIME_TO_RESPOND.search(a.response_zh)
        ):
            r.no_time.append(a.alarm_id)
    seen_kind: dict[tuple[str, str], str] = {}
    seen_msg: dict[str, str] = {}
    for a in alarms:
        key = (a.source, a.kind)
        if key in seen_kind:
            r.duplicates.append((seen_kind[key], a.alarm_id, f"same {a.kind} on {a.source}"))
        else:
            seen_kind[key] = a.alarm_id
        msg = a.message.strip().lower()
        if msg in seen_msg:
            r.duplicates.append((seen_msg[msg], a.alarm_id, f"same message {a.message!r}"))
        elif msg:
            seen_msg[msg] = a.alarm_id
    return r
