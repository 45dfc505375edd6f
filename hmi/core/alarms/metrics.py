"""Alarm-system performance figures (ISA-18.2 / EEMUA 191), computed from the journal.

* alarm rate: annunciated activations per 10 minutes, average and peak (sliding window);
  per day against the ~150 manageable / 300 overloaded guide;
* floods: start when more than 10 alarms fall in the trailing 10 minutes, end when fewer
  than 5 do; their periods and the share of time spent in flood;
* chattering alarms: 3 or more activations within 1 minute;
* stale alarms: active for more than 24 hours (from the persisted alarm state);
* top-10 bad actors: the alarms with the most activations, and their share of the load;
* priority distribution of annunciated alarms against the 80 / 15 / 5 % target.

"Activation" = a ``raise`` transition. Rate, flood and priority figures count only
annunciated activations (not shelved, suppressed or out of service); chatter and bad
actors count every activation, since shelving is often how a bad actor is hidden.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

WINDOW = 600.0  # 10 minutes
FLOOD_START = 10  # more than this many in WINDOW
FLOOD_END = 5  # fewer than this many in WINDOW
CHATTER_WINDOW = 60.0
CHATTER_COUNT = 3
STALE_AFTER = 24 * 3600.0
MANAGEABLE_PER_DAY = 150
OVERLOADED_PER_DAY = 300
PRIORITY_TARGET = {"high": 5.0, "medium": 15.0, "low": 80.0}  # % of annunciated alarms


def _band(priority: int) -> str:
    return "low" if priority >= 4 else "medium" if priority == 3 else "high"


def _annunciated(ev: Mapping[str, Any]) -> bool:
    return not (ev["shelved"] or ev["suppressed"] or ev["out_of_service"])


def peak_in_window(times: list[float], window: float) -> int:
    """Most timestamps (sorted) inside any window of ``window`` seconds."""
    best = 0
    lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def flood_periods(times: list[float], since: float, until: float) -> list[dict[str, Any]]:
    """Flood periods over sorted activation times: [{start, end, alarms, peak}]."""
    # the trailing 10-min count changes at t (+1) and at t + WINDOW (-1); leaving first on ties
    steps = sorted(
        [(t, 1) for t in times] + [(t + WINDOW, -1) for t in times], key=lambda s: (s[0], s[1])
    )
    floods: list[dict[str, Any]] = []
    count = 0
    start: float | None = None
    peak = 0
    for x, step in steps:
        count += step
        if start is None and count > FLOOD_START:
            start, peak = x, count
        elif start is not None:
            peak = max(peak, count)
            if count < FLOOD_END:
                floods.append({"start": start, "end": x, "peak": peak})
                start = None
    if start is not None:
        floods.append({"start": start, "end": until, "peak": peak})
    out = []
    for f in floods:
        s, e = max(f["start"], since), min(f["end"], until)
        if e <= s:
            continue
        n = sum(1 for t in times if f["start"] - WINDOW < t <= f["end"])
        out.append(
            {"start": s, "end": e, "duration_s": e - s, "alarms": n, "peak_per_10min": f["peak"]}
        )
    return out


def chattering(raises_by_alarm: Mapping[str, list[float]]) -> list[dict[str, Any]]:
    """Alarms with >= 3 activations inside some 1-minute window, worst first."""
    out: list[dict[str, Any]] = []
    for alarm_id, times in raises_by_alarm.items():
        peak = peak_in_window(times, CHATTER_WINDOW)
        if peak >= CHATTER_COUNT:
            out.append({"alarm_id": alarm_id, "max_per_minute": peak, "activations": len(times)})
    out.sort(key=lambda c: (-c["max_per_minute"], -c["activations"], c["alarm_id"]))
    return out


def compute_metrics(
    events: Iterable[Mapping[str, Any]],
    states: Mapping[str, Mapping[str, Any]],
    since: float,
    until: float,
) -> dict[str, Any]:
    """Every figure of the module docstring over [since, until]."""
    span = max(until - since, 1e-9)
    raises = [e for e in events if e["transition"] == "raise" and since <= e["ts"] <= until]
    raises.sort(key=lambda e: e["ts"])
    ann = [e for e in raises if _annunciated(e)]
    ann_times = [e["ts"] for e in ann]
    by_alarm: dict[str, list[float]] = defaultdict(list)
    info: dict[str, tuple[int, str, str]] = {}
    for e in raises:
        by_alarm[e["alarm_id"]].append(e["ts"])
        info[e["alarm_id"]] = (e["priority"], e["kind"], e["tag"])

    floods = flood_periods(ann_times, since, until)
    flood_time = sum(f["duration_s"] for f in floods)

    counts = {a: len(t) for a, t in by_alarm.items()}
    total_all = len(raises)
    bad_actors = [
        {
            "alarm_id": a,
            "activations": n,
            "share_pct": round(100.0 * n / total_all, 1) if total_all else 0.0,
            "priority": info[a][0],
            "kind": info[a][1],
            "tag": info[a][2],
        }
        for a, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    ]

    prio_counts = Counter(int(e["priority"]) for e in ann)
    bands = Counter(_band(p) for p in prio_counts.elements())
    n_ann = len(ann)
    distribution = {
        "counts": {str(p): prio_counts.get(p, 0) for p in (1, 2, 3, 4)},
        "share_pct": {
            b: round(100.0 * bands.get(b, 0) / n_ann, 1) if n_ann else 0.0 for b in PRIORITY_TARGET
        },
        "target_pct": dict(PRIORITY_TARGET),
    }

    stale = []
    for alarm_id, row in states.items():
        if row["state"] in ("ACTIVE_UNACK", "ACTIVE_ACK") and row["active_since_ms"]:
            since_s = row["active_since_ms"] / 1000.0
            if until - since_s > STALE_AFTER:
                stale.append(
                    {
                        "alarm_id": alarm_id,
                        "active_since": since_s,
                        "hours": round((until - since_s) / 3600.0, 1),
                        "state": row["state"],
                    }
                )
    stale.sort(key=lambda s: s["active_since"])

    per_day = n_ann / span * 86400.0
    return {
        "since": since,
        "until": until,
        "hours": round(span / 3600.0, 3),
        "alarms": n_ann,
        "activations_all": total_all,
        "per_10min_avg": round(n_ann / span * WINDOW, 2),
        "per_10min_peak": peak_in_window(ann_times, WINDOW),
        "per_day": round(per_day, 1),
        "load": "manageable"
        if per_day <= MANAGEABLE_PER_DAY
        else "demanding"
        if per_day <= OVERLOADED_PER_DAY
        else "overloaded",
        "floods": floods,
        "flood_count": len(floods),
        "flood_time_s": round(flood_time, 1),
        "flood_share_pct": round(100.0 * flood_time / span, 2),
        "chattering": chattering(by_alarm),
        "stale": stale,
        "bad_actors": bad_actors,
        "priority": distribution,
    }
