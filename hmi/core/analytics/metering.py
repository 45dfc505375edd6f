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

from hmi.config.gascodes import (
    BASE_PRESSURE_KPA,
    BASE_TEMPERATURE_C,
    STD_VOLUME_UNIT,
    base_conditions_text,
)
from hmi.config.schema import StationConfig
from hmi.core.analytics.series import grid_mean, hold_for, total_volumes
from hmi.core.historian import Historian

log = logging.getLogger(__name__)

REPORT_VERSION = 1


def day_bounds(
    day: dt.date, timezone: str, gas_day_start: dt.time = dt.time(0)
) -> tuple[float, float]:
    """Unix start and end of the gas day ``day`` (23/25 h on daylight-saving days).

    The gas day starts at local ``gas_day_start`` on ``day`` (00:00: the calendar day; a
    contract gas day of 08:00 runs from 08:00 on ``day`` to 08:00 the next morning).
    """
    tz = ZoneInfo(timezone)
    start = dt.datetime.combine(day, gas_day_start, tz).timestamp()
    end = dt.datetime.combine(day + dt.timedelta(days=1), gas_day_start, tz).timestamp()
    return start, end


def _energy(volume: np.ndarray, cv: np.ndarray | None) -> np.ndarray | None:
    """GJ from Sm³ and MJ/Sm³ (None without a calorific value)."""
    return None if cv is None else volume * cv / 1000.0


def _num(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def _day_energy(volume: np.ndarray, cv: np.ndarray | None) -> float | None:
    """GJ of a day's hourly volumes (None when an hour or the calorific value is unknown)."""
    e = _energy(volume, cv)
    return _num(float(np.sum(e)), 2) if e is not None and np.isfinite(e).all() else None


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
        rep = self.cfg.analytics.report
        start, end = day_bounds(day, self.tz, rep.gas_day_start)
        st = self.cfg.station
        vols = self.hourly_volumes(start, end)
        edges = vols["edges"]
        cv_tag = rep.calorific_value
        cv = grid_mean(self.hist, cv_tag, edges, self.hold(cv_tag)).mean if cv_tag else None
        st_energy = _energy(vols["station"], cv)
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
                "station_energy": _num(st_energy[k], 2) if st_energy is not None else None,
                "calorific_value": _num(cv[k], 3) if cv is not None else None,
                "estimated": bool(vols["estimated"][k]),
            }
            for m in self.cfg.analytics.meters:
                pt = per_hour_pt[m.id]
                m_energy = _energy(
                    vols["meters"][m.id].volume[k : k + 1],
                    cv[k : k + 1] if cv is not None else None,
                )
                row["meters"][m.id] = {
                    "volume": _num(vols["meters"][m.id].volume[k], 1),
                    "energy": _num(float(m_energy[0]), 2) if m_energy is not None else None,
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
                "energy": _day_energy(v.volume, cv),
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
            "base_conditions": {
                "pressure_kpa": BASE_PRESSURE_KPA,
                "temperature_c": BASE_TEMPERATURE_C,
                "unit": STD_VOLUME_UNIT,
                "text": {"en": base_conditions_text("en"), "zh": base_conditions_text("zh")},
            },
            "gas_day": {
                "start": rep.gas_day_start.strftime("%H:%M"),
                "from": dt.datetime.fromtimestamp(start, ZoneInfo(self.tz)).isoformat(),
                "to": dt.datetime.fromtimestamp(end, ZoneInfo(self.tz)).isoformat(),
            },
            "calorific_value": _stats(self.hist, cv_tag, start, end, self.hold(cv_tag))
            if cv_tag
            else None,
            "station_energy": _day_energy(station_volume, cv),
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
        # what the operator was shown (ISA-18.2 counts annunciated alarms): a raise while
        # suppressed by design (a standby run, an isolated section) is counted apart
        raises = [e for e in events if e["transition"] == "raise"]
        raised = [e for e in raises if not e.get("suppressed")]
        by_prio = Counter(str(e["priority"]) for e in raised)
        counts = Counter(e["alarm_id"] for e in raised)
        info = {e["alarm_id"]: e for e in raised}
        return {
            "raised": len(raised),
            "raised_suppressed": len(raises) - len(raised),
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
