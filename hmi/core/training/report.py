"""The drill report: what the alarms did and what the operators did, timed from the drill start.

:func:`build_report` is a pure function of the drill, the alarm events recorded during it
(the alarm engine's event dicts) and the audit records of the drill's time span, so it
is tested without a station. Times are seconds after the drill start (wall clock, the
same clock the alarm engine and the audit trail stamp with).

- **time to acknowledge**: from an alarm's raise to the first acknowledgement of that
  alarm after it (one row per raise: an alarm raised twice is two rows);
- **time to first acknowledgement**: from the start to the first ack of any alarm;
- **time to first action**: from the start to the first operator action that is not an
  acknowledgement (a command written, a reset, a shelve...), whatever its result;
- **expected / unexpected**: when the scenario declares the alarms it should raise,
  the expected alarms never raised and the raised alarms nobody expected (alarms the
  scenario says it *may* raise, ``possible_alarms``, are neither).

Alarms raised hidden from the operator (suppressed by design, shelved, out of service)
are not the operator's to acknowledge and are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hmi.core.training.catalog import matches

#: audit actions that are an operator's doing during a drill
OPERATOR_ACTIONS = frozenset(
    {"write", "ack", "shelve", "unshelve", "reset", "out_of_service", "in_service", "silence"}
)
#: how the report names the drill's own audit rows
START_ACTION = "training_start"
STOP_ACTION = "training_stop"


@dataclass(frozen=True, slots=True)
class DrillInfo:
    """One drill as it was started."""

    drill_id: str
    station: str
    scenario: str
    instructor: str
    operator: str
    started_at: float  # Unix seconds
    speed: float = 1.0  # simulator speed factor (model seconds per wall second)
    description_en: str = ""
    description_zh: str = ""
    expected: tuple[str, ...] | None = None
    possible: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON)."""
        d = asdict(self)
        d["expected"] = list(self.expected) if self.expected is not None else None
        d["possible"] = list(self.possible)
        return d


def _rel(ts: float, t0: float) -> float:
    return round(float(ts) - t0, 3)


def _alarm_rows(
    info: DrillInfo, events: Iterable[Mapping[str, Any]], t0: float
) -> list[dict[str, Any]]:
    """One row per raise, with its acknowledgement and return to normal."""
    rows: list[dict[str, Any]] = []
    open_rows: dict[str, dict[str, Any]] = {}  # alarm id -> its latest raise row
    for ev in sorted(events, key=lambda e: (float(e["ts"]), int(e.get("seq", 0)))):
        alarm_id, transition = str(ev["alarm_id"]), str(ev["transition"])
        if transition == "raise" and _hidden(ev):
            continue  # suppressed by design, shelved or out of service: the operator never saw it
        if transition == "raise":
            row = {
                "alarm_id": alarm_id,
                "tag": str(ev.get("tag", "")),
                "priority": int(ev.get("priority", 3)),
                "message": dict(ev.get("message") or {}),
                "raised_s": _rel(ev["ts"], t0),
                "acked_s": None,
                "ack_user": "",
                "time_to_ack_s": None,
                "cleared_s": None,
                "expected": None
                if info.expected is None
                else any(matches(x, alarm_id, str(ev.get("tag", ""))) for x in info.expected),
                "possible": any(
                    matches(x, alarm_id, str(ev.get("tag", ""))) for x in info.possible
                ),
            }
            rows.append(row)
            open_rows[alarm_id] = row
            continue
        row_or_none = open_rows.get(alarm_id)
        if row_or_none is None:
            continue  # raised before the drill: not the drill's alarm
        if transition == "ack" and row_or_none["acked_s"] is None:
            row_or_none["acked_s"] = _rel(ev["ts"], t0)
            row_or_none["ack_user"] = str(ev.get("user", ""))
            row_or_none["time_to_ack_s"] = round(
                row_or_none["acked_s"] - row_or_none["raised_s"], 3
            )
        elif transition == "clear" and row_or_none["cleared_s"] is None:
            row_or_none["cleared_s"] = _rel(ev["ts"], t0)
    return rows


def _hidden(ev: Mapping[str, Any]) -> bool:
    return bool(ev.get("suppressed") or ev.get("shelved") or ev.get("out_of_service"))


def _action_rows(records: Iterable[Any], t0: float, t1: float) -> list[dict[str, Any]]:
    """Operator actions from audit records (the write's final row, not its "requested" row)."""
    out: list[dict[str, Any]] = []
    for r in records:
        if r.action not in OPERATOR_ACTIONS or r.result == "requested" or r.origin == "system":
            continue
        if not (t0 <= r.ts <= t1):
            continue
        d = r.details or {}
        out.append(
            {
                "t_s": _rel(r.ts, t0),
                "user": r.user,
                "origin": r.origin,
                "action": r.action,
                "target": r.target,
                "result": r.result,
                "value": d.get("new"),
                "message": str(d.get("message") or d.get("comment") or ""),
                "audit_seq": r.seq,
            }
        )
    out.sort(key=lambda a: (a["t_s"], a["audit_seq"]))
    return out


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "max": None}
    return {"mean": round(sum(values) / len(values), 3), "max": round(max(values), 3)}


def build_report(
    info: DrillInfo,
    events: Iterable[Mapping[str, Any]],
    audit_records: Iterable[Any],
    ended_at: float,
) -> dict[str, Any]:
    """The drill report as a plain dict (the JSON file's content)."""
    t0 = info.started_at
    alarms = _alarm_rows(info, events, t0)
    actions = _action_rows(audit_records, t0, ended_at)
    acks = [a for a in actions if a["action"] == "ack"]
    others = [a for a in actions if a["action"] != "ack"]
    tta = [a["time_to_ack_s"] for a in alarms if a["time_to_ack_s"] is not None]
    missed: list[str] | None = None
    unexpected: list[str] | None = None
    if info.expected is not None:
        missed = [
            x for x in info.expected if not any(matches(x, a["alarm_id"], a["tag"]) for a in alarms)
        ]
        unexpected = sorted(
            {a["alarm_id"] for a in alarms if not a["expected"] and not a["possible"]}
        )
    return {
        "kind": "training_drill",
        "training": True,
        "drill": info.as_dict(),
        "ended_at": ended_at,
        "duration_s": round(max(0.0, ended_at - t0), 3),
        "alarms": alarms,
        "actions": actions,
        "summary": {
            "alarms_raised": len(alarms),
            "acknowledged": len(tta),
            "unacknowledged": len(alarms) - len(tta),
            "time_to_ack_s": _stats(tta),
            "first_ack_s": acks[0]["t_s"] if acks else None,
            "first_action_s": others[0]["t_s"] if others else None,
            "actions": len(actions),
        },
        "missed": missed,
        "unexpected": unexpected,
    }


def fmt_seconds(v: float | None) -> str:
    """'1 min 05 s', '12.4 s' or '—' for a report cell."""
    if v is None or not math.isfinite(v):
        return "—"
    if v < 60:
        return f"{v:.1f} s"
    m, s = divmod(int(round(v)), 60)
    return f"{m} min {s:02d} s"
