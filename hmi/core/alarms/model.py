"""Alarm vocabulary: states, the static definition of an alarm, its live record, views, results.

The state model follows OPC UA Part 9 / ISA-18.2: an alarm is NORMAL, ACTIVE_UNACK,
ACTIVE_ACK or RTN_UNACK (returned to normal, not yet acknowledged). A *latching* alarm
does not leave the active states when its condition returns to normal: it is then
*held* (``latched``) until an operator resets it. Shelving, suppression by design and
out-of-service are flags beside the state: the alarm is still evaluated and journaled,
it is only kept away from the horn and the main list.

:class:`AlarmRecord` holds the state machine proper (pure, no I/O); the engine calls it
and emits one event per transition it returns.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

#: kinds in the order a list shows them
KINDS = (
    "HH",
    "H",
    "L",
    "LL",
    "deviation",
    "roc",
    "frozen",
    "discrete",
    "fault",
    "bad_pv",
    "comm",
    "system",
)
#: priority 1..4 names (1 is the most urgent)
PRIORITY_NAMES = {1: "critical", 2: "high", 3: "medium", 4: "low"}
SYSTEM_USER = "system"

_KIND_TEXT = {
    "HH": ("high-high", "高高报警"),
    "H": ("high", "高报警"),
    "L": ("low", "低报警"),
    "LL": ("low-low", "低低报警"),
    "deviation": ("deviation from set point", "偏离设定值"),
    "roc": ("rate of change", "变化率报警"),
    "frozen": ("value frozen", "数值冻结"),
    "discrete": ("abnormal state", "状态异常"),
    "fault": ("fault", "故障"),
    "bad_pv": ("instrument fault (bad value)", "仪表故障（坏值）"),
    "comm": ("communication lost", "通信中断"),
    "system": ("system fault", "系统故障"),
}


class AlarmState(enum.StrEnum):
    """The four alarm states of ISA-18.2 / OPC UA Part 9."""

    NORMAL = "NORMAL"
    ACTIVE_UNACK = "ACTIVE_UNACK"
    ACTIVE_ACK = "ACTIVE_ACK"
    RTN_UNACK = "RTN_UNACK"

    @property
    def active(self) -> bool:
        """True in the two active states."""
        return self in (AlarmState.ACTIVE_UNACK, AlarmState.ACTIVE_ACK)

    @property
    def unacked(self) -> bool:
        """True while an acknowledgement is due."""
        return self in (AlarmState.ACTIVE_UNACK, AlarmState.RTN_UNACK)


@dataclass(frozen=True, slots=True)
class AlarmDef:
    """Static definition of one alarm, taken from the station config once."""

    alarm_id: str
    tag: str  # the tag name; the device id for a comm-loss alarm
    kind: str
    priority: int
    tag_index: int = -1  # position in cfg.tags (-1: comm-loss alarm)
    limit: float | None = None  # the threshold shown with the alarm
    deadband: float = 0.0
    on_delay: float = 0.0
    off_delay: float = 0.0
    latching: bool = False
    message_en: str = ""
    message_zh: str = ""
    response_en: str = ""
    response_zh: str = ""
    area: str = ""
    suppressed_by: int = -1  # tag index of the suppressing condition tag
    max_shelve: float = 8 * 3600.0
    unit: str = ""


def default_message(
    label_en: str, label_zh: str, kind: str, limit: float | None, unit: str
) -> tuple[str, str]:
    """A readable message for an alarm whose config gives none."""
    en, zh = _KIND_TEXT.get(kind, (kind, kind))
    lim = ""
    if limit is not None and kind in ("HH", "H", "L", "LL"):
        sign = ">=" if kind in ("HH", "H") else "<="
        lim = f" ({sign} {limit:g}{(' ' + unit) if unit else ''})"
    return f"{label_en} {en}{lim}", f"{label_zh}{zh}{lim}"


@dataclass(slots=True)
class AlarmRecord:
    """Live state of one alarm. Mutated only on the acquisition thread, under the engine lock."""

    d: AlarmDef
    state: AlarmState = AlarmState.NORMAL
    condition: bool = False  # debounced condition (after on/off delay)
    raw: bool = False  # condition as last evaluated (before delays)
    pending_since: float = 0.0  # start of a running on- or off-delay (0: none)
    held: bool = False  # latching alarm whose condition is normal again: reset required
    active_since: float = 0.0
    last_change: float = 0.0
    ack_ts: float = 0.0
    ack_user: str = ""
    ack_comment: str = ""
    value: float | None = None
    limit: float | None = None
    shelved: bool = False
    shelve_until: float = 0.0
    shelve_oneshot: bool = False
    shelve_user: str = ""
    shelve_reason: str = ""
    suppressed: bool = False
    out_of_service: bool = False
    oos_user: str = ""
    oos_reason: str = ""
    reason: str = ""  # why a comm-loss alarm is active (the device's reason)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.limit = self.d.limit

    # ------------------------------------------------------------------ flags
    @property
    def hidden(self) -> bool:
        """Shelved, suppressed or out of service: tracked but never annunciated."""
        return self.shelved or self.suppressed or self.out_of_service

    @property
    def listed(self) -> bool:
        """Whether the alarm belongs in the alarm summary (snapshot)."""
        return self.state is not AlarmState.NORMAL or self.hidden

    # ------------------------------------------------------------------ state machine
    def activate(self, now: float) -> str | None:
        """The (debounced) condition became active; return the transition or None."""
        self.condition = True
        if self.held:  # back in alarm while latched: still the same alarm
            self.held = False
            return None
        if self.state in (AlarmState.NORMAL, AlarmState.RTN_UNACK):
            self.state = AlarmState.ACTIVE_UNACK
            self.active_since = now
            self.ack_ts, self.ack_user, self.ack_comment = 0.0, "", ""
            return "raise"
        return None

    def deactivate(self) -> str | None:
        """The (debounced) condition returned to normal; return the transition or None."""
        self.condition = False
        if not self.state.active:
            return None
        if self.d.latching:
            self.held = True
            return "clear"  # journaled: the process is normal, the alarm waits for reset
        self.state = (
            AlarmState.RTN_UNACK if self.state is AlarmState.ACTIVE_UNACK else AlarmState.NORMAL
        )
        return "clear"

    def acknowledge(self, now: float, user: str, comment: str) -> str | None:
        """Acknowledge; return None on success or the reason it was refused."""
        if not self.state.unacked:
            return "already acknowledged" if self.state is AlarmState.ACTIVE_ACK else "not in alarm"
        self.state = (
            AlarmState.ACTIVE_ACK if self.state is AlarmState.ACTIVE_UNACK else AlarmState.NORMAL
        )
        self.ack_ts, self.ack_user, self.ack_comment = now, user, comment
        return None

    def reset(self, now: float, user: str, comment: str) -> str | None:
        """Reset a held latching alarm (acknowledging it too); None or the refusal."""
        if not self.d.latching:
            return "not latched"
        if self.state.active and self.condition:
            return "condition still active: reset after it returns to normal"
        if not self.held:
            return "not latched"
        if self.state is AlarmState.ACTIVE_UNACK:
            self.ack_ts, self.ack_user, self.ack_comment = now, user, comment
        self.held = False
        self.state = AlarmState.NORMAL
        return None

    # ------------------------------------------------------------------ persistence
    def state_row(self, message_en: str, message_zh: str) -> dict[str, Any]:
        """The ``alarm_state`` row of this alarm (times in integer ms; messages for readers)."""
        return {
            "alarm_id": self.d.alarm_id,
            "state": self.state.value,
            "condition": int(self.condition),
            "latched": int(self.held),
            "active_since_ms": _ms(self.active_since),
            "last_change_ms": _ms(self.last_change),
            "ack_ts_ms": _ms(self.ack_ts),
            "ack_user": self.ack_user,
            "ack_comment": self.ack_comment,
            "value": self.value,
            "limit_value": self.limit,
            "shelved": int(self.shelved),
            "shelve_until_ms": _ms(self.shelve_until),
            "shelve_oneshot": int(self.shelve_oneshot),
            "shelve_user": self.shelve_user,
            "shelve_reason": self.shelve_reason,
            "suppressed": int(self.suppressed),
            "out_of_service": int(self.out_of_service),
            "oos_user": self.oos_user,
            "oos_reason": self.oos_reason,
            "reason": self.reason,
            "kind": self.d.kind,
            "tag": self.d.tag,
            "priority": self.d.priority,
            "message_en": message_en,
            "message_zh": message_zh,
            "area": self.d.area,
        }

    def load_row(self, row: dict[str, Any]) -> None:
        """Restore from an ``alarm_state`` row (the inverse of :meth:`state_row`)."""
        try:
            self.state = AlarmState(row["state"])
        except ValueError:
            self.state = AlarmState.NORMAL
        self.condition = bool(row["condition"])
        self.raw = self.condition
        self.held = bool(row["latched"]) and self.d.latching
        self.active_since = _s(row["active_since_ms"])
        self.last_change = _s(row["last_change_ms"])
        self.ack_ts = _s(row["ack_ts_ms"])
        self.ack_user = row["ack_user"] or ""
        self.ack_comment = row["ack_comment"] or ""
        self.value = row["value"]
        self.shelved = bool(row["shelved"])
        self.shelve_until = _s(row["shelve_until_ms"])
        self.shelve_oneshot = bool(row["shelve_oneshot"])
        self.shelve_user = row["shelve_user"] or ""
        self.shelve_reason = row["shelve_reason"] or ""
        self.suppressed = bool(row["suppressed"])
        self.out_of_service = bool(row["out_of_service"])
        self.oos_user = row["oos_user"] or ""
        self.oos_reason = row["oos_reason"] or ""
        self.reason = row["reason"] or ""


def _ms(t: float) -> int:
    return int(round(t * 1000)) if t else 0


def _s(ms: int | None) -> float:
    return (ms or 0) / 1000.0


@dataclass(frozen=True, slots=True)
class AlarmView:
    """Everything one row of the alarm summary shows (an immutable copy, safe on any thread)."""

    alarm_id: str
    tag: str
    kind: str
    priority: int
    state: str
    active_since: float
    last_change: float
    ack_ts: float
    ack_user: str
    value: float | None
    limit: float | None
    message_en: str
    message_zh: str
    response_en: str
    response_zh: str
    area: str
    shelved: bool
    shelved_until: float
    shelve_oneshot: bool
    shelve_reason: str
    suppressed: bool
    out_of_service: bool
    latched: bool  # held by its latch: reset required
    latching: bool  # configured as latching
    condition: bool  # the process condition is abnormal right now
    unit: str = ""

    def message(self, lang: str) -> str:
        """Message in ``lang`` ('zh...' or 'en'), falling back to the other one."""
        if lang.startswith("zh"):
            return self.message_zh or self.message_en
        return self.message_en or self.message_zh

    def response(self, lang: str) -> str:
        """Operator response text in ``lang``."""
        if lang.startswith("zh"):
            return self.response_zh or self.response_en
        return self.response_en or self.response_zh

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON export)."""
        return {name: getattr(self, name) for name in self.__slots__}


def make_view(r: AlarmRecord, message_en: str, message_zh: str) -> AlarmView:
    """Freeze a record into a view."""
    d = r.d
    return AlarmView(
        alarm_id=d.alarm_id,
        tag=d.tag,
        kind=d.kind,
        priority=d.priority,
        state=r.state.value,
        active_since=r.active_since,
        last_change=r.last_change,
        ack_ts=r.ack_ts,
        ack_user=r.ack_user,
        value=r.value,
        limit=r.limit,
        message_en=message_en,
        message_zh=message_zh,
        response_en=d.response_en,
        response_zh=d.response_zh,
        area=d.area,
        shelved=r.shelved,
        shelved_until=r.shelve_until if r.shelved else 0.0,
        shelve_oneshot=r.shelve_oneshot and r.shelved,
        shelve_reason=r.shelve_reason if r.shelved else "",
        suppressed=r.suppressed,
        out_of_service=r.out_of_service,
        latched=r.held,
        latching=d.latching,
        condition=r.condition,
        unit=d.unit,
    )


@dataclass(frozen=True, slots=True)
class OpResult:
    """Answer to an operator action: which alarms it changed and why others were refused."""

    ok: bool
    done: tuple[str, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)  # alarm id -> reason
    message: str = ""

    @classmethod
    def fail(cls, alarm_id: str, reason: str) -> OpResult:
        """A refusal of a single-alarm action."""
        return cls(False, (), {alarm_id: reason}, f"{alarm_id}: {reason}")


@dataclass(frozen=True, slots=True)
class Annunciation:
    """Horn state: on while new unacknowledged alarms are not silenced."""

    horn: bool
    priority: int | None  # highest priority sounding (1 = critical); None when quiet
    sounding: tuple[str, ...] = ()
    unacked: int = 0  # unacknowledged annunciated alarms (sounding or silenced)
