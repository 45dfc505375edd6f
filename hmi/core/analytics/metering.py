"""Metering reports: hourly and daily standard volumes, P/T statistics and alarm counts.

Volumes come from the flow computers' forward standard totals (rollover- and
reset-safe, interpolated at the hour boundaries, so the 24 hourly figures add up to the
daily one exactly); pressures and temperatures are time-weighted from their history;
alarm counts come from the alarm journal (``alarms.db``). A report is plain data (a
dict ready for JSON), rendered to CSV/PDF by :mod:`.reportfile` and published upstream.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from hmi.config.schema import StationConfig
from hmi.core.analytics.series import grid_mean, hold_for, total_volumes
from hmi.core.historian import Historian

log = logging.getLogger(__name__)

REPORT_VERSION = 1


def day_bounds(day: dt.date, timezone: str) -> tuple[float, float]:
    """Unix start and end of a local calendar day (23/25 h on daylight-saving days)."""
    tz = ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(0), tz).timestamp()
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz).timestamp()
    return start, end


def _num(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def _stats(
    hist: Historian, tag: str, start: float, end: float, hold: float
) -> dict[str, float | None]:
    raw = hist.raw(tag, start, end)
    vals = raw.value[np.isfinite(raw.value)]
    g = grid_mean(hist, tag, np.array([start, end]), hold)
    return {
        "min": _num(float(vals.min())) if len(vals) else None,
        "max": _num(float(vals.max())) if len(vals) else None,
        "avg": _num(float(g.mean[0])),
        "coverage": _num(float(g.coverage[0]), 3),
    }


class MeteringReports:
    """Builds metering reports of one station from its data directory."""

    def __init__(self, cfg: StationConfig, hist: Historian, alarms_db: Path | None = None) -> None:
        self.cfg = cfg
        self.hist = hist
        self.alarms_db = alarms_db
        self.hold = hold_for(cfg)
        self.tz = cfg.station.timezone

    def hourly_volumes(self, start: float, end: float) -> dict[str, Any]:
        """Volumes per meter and station for each hour in [start, end) (Sm³; None when unknown)."""
        edges = np.arange(start, end + 1.0, 3600.0)
        out: dict[str, Any] = {
            "edges": edges,
            "meters": {},
            "estimated": np.zeros(len(edges) - 1, bool),
        }
        station = np.zeros(len(edges) - 1)
        for m in self.cfg.analytics.meters:
            v = total_volumes(self.hist, m.total, edges, m.rollover, self.hold(m.total))
            out["meters"][m.id] = v
            station = station + v.volume
            out["estimated"] |= v.estimated
        out["station"] = station
        return out

    def daily(
        self, day: dt.date, now: float | None = None, forecast: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The daily report of local ``day`` (plain data; see the module docstring)."""
        now = time.time() if now is None else now
        start, end = day_bounds(day, self.tz)
        st = self.cfg.station
        vols = self.hourly_volumes(start, end)
        edges = vols["edges"]
        tz = ZoneInfo(self.tz)
        hours: list[dict[str, Any]] = []
        meters_out: list[dict[str, Any]] = []
        per_hour_pt: dict[str, dict[str, np.ndarray]] = {}
        for m in self.cfg.analytics.meters:
            pt: dict[str, np.ndarray] = {}
            for key in ("pressure", "temperature", "flow"):
                tag = getattr(m, key)
                if tag:
                    pt[key] = grid_mean(self.hist, tag, edges, self.hold(tag)).mean
            per_hour_pt[m.id] = pt
        for k in range(len(edges) - 1):
            row: dict[str, Any] = {
                "start": float(edges[k]),
                "label": dt.datetime.fromtimestamp(edges[k], tz).strftime("%H:%M"),
                "meters": {},
                "station": _num(vols["station"][k], 1),
                "estimated": bool(vols["estimated"][k]),
            }
            for m in self.cfg.analytics.meters:
                pt = per_hour_pt[m.id]
                row["meters"][m.id] = {
                    "volume": _num(vols["meters"][m.id].volume[k], 1),
                    "pressure": _num(pt["pressure"][k], 4) if "pressure" in pt else None,
                    "temperature": _num(pt["temperature"][k], 2) if "temperature" in pt else None,
                }
            hours.append(row)
        for m in self.cfg.analytics.meters:
            v = vols["meters"][m.id]
            raw = self.hist.raw(m.total, start, end)
            readings = raw.value[np.isfinite(raw.value)]
            wraps = (
                int(np.count_nonzero(np.diff(readings) < -m.rollover / 2.0))
                if len(readings) > 1
                else 0
            )
            entry: dict[str, Any] = {
                "id": m.id,
                "label": {"en": m.label.en or m.id, "zh": m.label.zh or m.label.en or m.id},
                "volume": _num(float(np.sum(v.volume)), 1) if np.isfinite(v.volume).all() else None,
                "missing_hours": int(np.count_nonzero(~np.isfinite(v.volume))),
                "estimated_hours": int(np.count_nonzero(v.estimated)),
                # the meter's index at the day boundaries, shown whole as its display does
                "total_start": _num(np.floor(v.first), 0),
                "total_end": _num(np.floor(v.last), 0),
                "rollovers": wraps,
            }
            for key in ("flow", "pressure", "temperature"):
                tag = getattr(m, key)
                entry[key] = _stats(self.hist, tag, start, end, self.hold(tag)) if tag else None
            meters_out.append(entry)
        station_volume = vols["station"]
        report: dict[str, Any] = {
            "type": "daily_metering",
            "version": REPORT_VERSION,
            "station": {
                "id": st.id,
                "name": {"en": st.name.en, "zh": st.name.zh},
                "company": st.company,
                "location": st.location,
                "timezone": self.tz,
            },
            "date": day.isoformat(),
            "start": start,
            "end": end,
            "generated": now,
            "complete": bool(now >= end and np.isfinite(station_volume).all()),
            "base_conditions": {"pressure_kpa": 101.325, "temperature_c": 20.0},
            "hours": hours,
            "meters": meters_out,
            "station_volume": _num(float(np.sum(station_volume)), 1)
            if np.isfinite(station_volume).all()
            else None,
            "station_volume_known": _num(float(np.nansum(station_volume)), 1),
            "peak_hour": self._peak(hours),
            "ambient": None,
            "alarms": self.alarm_counts(start, end),
            "forecast": forecast,
        }
        fc = self.cfg.analytics.forecast
        if fc is not None and fc.ambient:
            report["ambient"] = _stats(self.hist, fc.ambient, start, end, self.hold(fc.ambient))
        return report

    @staticmethod
    def _peak(hours: list[dict[str, Any]]) -> dict[str, Any] | None:
        known = [h for h in hours if h["station"] is not None]
        if not known:
            return None
        top = max(known, key=lambda h: h["station"])
        return {"label": top["label"], "volume": top["station"]}

    def alarm_counts(self, start: float, end: float, top: int = 10) -> dict[str, Any] | None:
        """Raised / acknowledged alarms in [start, end) by priority, and the most frequent ones."""
        if self.alarms_db is None or not Path(self.alarms_db).is_file():
            return None
        from hmi.core.alarms.journal import open_db, read_journal

        eng = open_db(Path(self.alarms_db), readonly=True)
        try:
            events = read_journal(eng, start, end - 0.001)
        except Exception as exc:  # a damaged journal must not stop the metering figures
            log.warning("report: cannot read alarm journal %s: %s", self.alarms_db, exc)
            return {"error": str(exc)}
        finally:
            eng.dispose()
        raised = [e for e in events if e["transition"] == "raise"]
        by_prio = Counter(str(e["priority"]) for e in raised)
        counts = Counter(e["alarm_id"] for e in raised)
        info = {e["alarm_id"]: e for e in raised}
        return {
            "raised": len(raised),
            "acknowledged": sum(1 for e in events if e["transition"] == "ack"),
            "by_priority": {p: by_prio.get(p, 0) for p in ("1", "2", "3", "4")},
            "top": [
                {
                    "alarm_id": aid,
                    "count": n,
                    "priority": info[aid]["priority"],
                    "message": info[aid]["message"],
                    "area": info[aid]["area"],
                }
                for aid, n in counts.most_common(top)
            ],
        }
