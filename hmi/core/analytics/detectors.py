"""The early-warning detectors: each turns a window of history into one figure.

A detector returns a :class:`Finding`: the figure (published as the system tag
``warning.<id>``, whose ordinary alarms decide what is abnormal) or "not judged" with
the reason (published UNCERTAIN, which leaves the alarm as it is: a detector that
cannot see the process neither raises nor clears). Windows end at ``now``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import numpy as np

from hmi.config.analytics import (
    AnalyticsConfig,
    FilterTrend,
    HeaterCapacity,
    MassBalance,
    OdorantDose,
    PressureDecay,
    PtzCheck,
    RegulatorCreep,
)
from hmi.core.analytics import aga8, gasprops
from hmi.core.analytics.series import (
    grid_mean,
    linear_slope,
    sum_of_means,
    total_volumes,
    values_at,
    window_mean,
)
from hmi.core.historian import Historian

MIN_COVERAGE = 0.8  # share of a window that must hold usable values
MINUTE = 60.0


@dataclass(frozen=True, slots=True)
class Finding:
    """What one detector run found."""

    value: float  # the figure; NaN when not judged
    judged: bool = True
    reason: str = ""  # why not judged
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def skip(cls, reason: str, **detail: Any) -> Finding:
        """Not judged, with the reason."""
        return cls(float("nan"), False, reason, detail)


@dataclass
class Context:
    """What detectors read: the historian, how long values hold, the analytics config."""

    hist: Historian
    hold: Callable[[str], float]
    analytics: AnalyticsConfig


class Detector:
    """Base class: ``spec`` is the detector's config entry."""

    unit: ClassVar[str] = ""

    def __init__(self, spec: Any, ctx: Context) -> None:
        self.spec = spec
        self.ctx = ctx

    def evaluate(self, now: float) -> Finding:  # pragma: no cover - abstract
        """Judge the window ending at ``now``."""
        raise NotImplementedError

    def _mean(self, tag: str, start: float, end: float) -> tuple[float, float]:
        return window_mean(self.ctx.hist, tag, start, end, self.ctx.hold(tag))

    def _minutes(
        self, tag: str, start: float, end: float, step: float = MINUTE
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        edges = _edges(start, end, step)
        g = grid_mean(self.ctx.hist, tag, edges, self.ctx.hold(tag))
        return g.start, g.mean, g.coverage

    def _flow_minutes(
        self, tags: list[str], start: float, end: float, step: float = MINUTE
    ) -> tuple[np.ndarray, np.ndarray]:
        edges = _edges(start, end, step)
        g = sum_of_means(self.ctx.hist, tags, edges, self.ctx.hold)
        return g.start, np.where(g.coverage >= 0.5, g.mean, np.nan)


def _edges(start: float, end: float, step: float) -> np.ndarray:
    n = max(1, int(round((end - start) / step)))
    return np.linspace(end - n * step, end, n + 1)


class MassBalanceDetector(Detector):
    """Imbalance = (inlet - outlets) / inlet, % (positive: gas unaccounted for downstream of the inlet meters)."""

    unit = "%"

    def evaluate(self, now: float) -> Finding:
        s: MassBalance = self.spec
        start = now - s.window
        sums = []
        for group in (s.inlet, s.outlet):
            total = 0.0
            for tag in group:
                mean, cover = self._mean(tag, start, now)
                if cover < MIN_COVERAGE or not math.isfinite(mean):
                    return Finding.skip(f"not enough data from {tag} ({cover:.0%} of the window)")
                total += mean
            sums.append(total)
        inlet, outlet = sums
        hours = s.window / 3600.0
        detail = {
            "inlet_nm3": inlet * hours,
            "outlet_nm3": outlet * hours,
            "inlet_flow": inlet,
            "outlet_flow": outlet,
        }
        if inlet < s.min_flow:
            return Finding.skip(
                f"inlet flow {inlet:.0f} Sm³/h is below {s.min_flow:.0f} Sm³/h", **detail
            )
        return Finding((inlet - outlet) / inlet * 100.0, detail=detail)


class PressureDecayDetector(Detector):
    """Pressure fall of an isolated section in kPa/h, judged only while it stays isolated all window."""

    unit = "kPa/h"

    def evaluate(self, now: float) -> Finding:
        s: PressureDecay = self.spec
        start = now - s.window
        for cond in s.isolated_when:
            _, mean, cover = self._minutes(cond.tag, start, now)
            held = (cover >= 0.5) & (np.abs(mean - cond.equals) < 0.01)
            if not held.all():
                return Finding.skip(
                    f"section not isolated for the whole window ({cond.tag} != {cond.equals:g})"
                )
        t, p, cover = self._minutes(s.pressure, start, now)
        p = np.where(cover >= 0.5, p, np.nan)
        slope, se, n = linear_slope(t, p)
        if n < 0.5 * len(t) or not math.isfinite(slope):
            return Finding.skip(f"not enough data from {s.pressure}")
        rate = -slope * 1000.0 * 3600.0  # MPa/s -> kPa/h, positive when falling
        return Finding(
            rate,
            detail={
                "pressure_mpa": float(np.nanmean(p[-5:])),
                "stderr_kpa_h": se * 3.6e6,
                "points": n,
            },
        )


class FilterTrendDetector(Detector):
    """Days until the filter dP, scaled to the recent peak flow (dP ~ flow²), reaches ``limit``.

    Each stored dP sample is paired with the flow at that instant (stored samples are
    exact readings; averaging held values would lag the dP behind the flow by up to its
    history deadband). Only samples near the peak flow are used: at low flow the dP is
    small against its noise and the (peak/flow)² scaling would amplify it. The figure
    is projected from a least-squares trend only when the rise is significant (t > 3)
    and the samples span at least half the window; otherwise it is ``horizon_days``.
    """

    unit = "d"
    REL_FLOW = 0.6  # samples with at least this share of the peak flow are judged

    def evaluate(self, now: float) -> Finding:
        s: FilterTrend = self.spec
        start = now - s.window
        raw = self.ctx.hist.raw(s.dp, start, now)
        t, dp = raw.ts, raw.value
        q = np.zeros(len(t))
        for tag in s.flow:
            q = q + values_at(self.ctx.hist, tag, t, self.ctx.hold(tag))
        use = np.isfinite(dp) & np.isfinite(q) & (q >= s.min_flow)
        if s.in_service:
            use &= values_at(self.ctx.hist, s.in_service, t, self.ctx.hold(s.in_service)) > 0.5
        if not use.any():
            return Finding.skip("filter not in service" if s.in_service else "no data at flow")
        hourly = self._flow_minutes(s.flow, start, now, 3600.0)[1]
        q_ref = float(np.nanmax(hourly)) if np.isfinite(hourly).any() else float(q[use].max())
        use &= q >= self.REL_FLOW * q_ref
        if use.sum() < 12:
            return Finding.skip(
                f"only {int(use.sum())} dP samples near the peak flow in the window"
            )
        norm = dp[use] * (q_ref / q[use]) ** 2
        days = (t[use] - now) / 86400.0
        slope, se, n = linear_slope(days, norm)
        level = (
            float(np.mean(norm) + slope * (0.0 - np.mean(days)))
            if math.isfinite(slope)
            else float(np.mean(norm[-12:]))
        )
        span = float(days[-1] - days[0]) * 86400.0
        detail = {
            "dp_at_peak_kpa": level,
            "peak_flow": q_ref,
            "slope_kpa_per_day": slope,
            "stderr": se,
            "samples": n,
        }
        if level >= s.limit:
            return Finding(0.0, detail=detail)
        significant = (
            math.isfinite(slope)
            and slope > 0
            and se > 0
            and slope / se > 3.0
            and span >= 0.5 * s.window
        )
        if not significant:
            return Finding(s.horizon_days, detail=detail)
        return Finding(min((s.limit - level) / slope, s.horizon_days), detail=detail)


class RegulatorCreepDetector(Detector):
    """Outlet pressure rise in kPa/h while the station is at lock-up (flow below ``lockup_flow``)."""

    unit = "kPa/h"

    def evaluate(self, now: float) -> Finding:
        s: RegulatorCreep = self.spec
        start = now - s.window
        _, q = self._flow_minutes(s.flow, start, now)
        if not np.isfinite(q).any():
            return Finding.skip("no flow data")
        if not (np.nan_to_num(q, nan=np.inf) < s.lockup_flow).all():
            return Finding.skip(
                f"station not at lock-up (flow above {s.lockup_flow:g} Sm³/h in the window)"
            )
        t, p, cover = self._minutes(s.pressure, start, now)
        p = np.where(cover >= 0.5, p, np.nan)
        slope, se, n = linear_slope(t, p)
        if n < 0.5 * len(t) or not math.isfinite(slope):
            return Finding.skip(f"not enough data from {s.pressure}")
        return Finding(
            slope * 1000.0 * 3600.0,
            detail={
                "pressure_mpa": float(np.nanmean(p[-5:])),
                "flow": float(np.nanmean(q)),
                "stderr_kpa_h": se * 3.6e6,
            },
        )


class HeaterCapacityDetector(Detector):
    """°C below set point while the burner fires at least ``min_duty`` of the window (else 0)."""

    unit = "°C"

    def evaluate(self, now: float) -> Finding:
        s: HeaterCapacity = self.spec
        start = now - s.window
        duty, c1 = self._mean(s.burner_on, start, now)
        temp, c2 = self._mean(s.temperature, start, now)
        sp, c3 = (
            self._mean(s.setpoint_tag, start, now)
            if s.setpoint_tag
            else (float(s.setpoint or 0.0), 1.0)
        )
        for name, c in ((s.burner_on, c1), (s.temperature, c2), (s.setpoint_tag, c3)):
            if c < MIN_COVERAGE:
                return Finding.skip(f"not enough data from {name} ({c:.0%} of the window)")
        detail = {"duty": duty, "temperature": temp, "setpoint": sp}
        if duty < s.min_duty:
            return Finding(0.0, detail=detail)
        return Finding(max(0.0, sp - temp), detail=detail)


class OdorantDoseDetector(Detector):
    """Injected odorant per standard volume vs the target dose, deviation in %."""

    unit = "%"

    def evaluate(self, now: float) -> Finding:
        s: OdorantDose = self.spec
        start = now - s.window
        a = self.ctx.analytics
        meters = [a.meter(m) for m in s.meters] if s.meters else list(a.meters)
        edges = np.array([start, now])
        volume = 0.0
        for m in meters:
            v = total_volumes(
                self.ctx.hist,
                m.total,
                edges,
                m.rollover,
                self.ctx.hold(m.total),
                extend=self.ctx.hold(m.total),
            )
            if not np.isfinite(v.volume[0]):
                return Finding.skip(f"no totalizer readings from {m.total} around the window")
            volume += float(v.volume[0])
        if s.mass_total:
            hold = self.ctx.hold(s.mass_total)
            mv = total_volumes(self.ctx.hist, s.mass_total, edges, float("inf"), hold, extend=hold)
            grams = float(mv.volume[0]) * 1000.0
        else:
            rate, cover = self._mean(s.rate, start, now)
            grams = rate * s.window / 3600.0 if cover >= MIN_COVERAGE else float("nan")
        if not math.isfinite(grams):
            return Finding.skip(f"no odorant data from {s.mass_total or s.rate}")
        if s.setpoint_tag:
            target, cover = self._mean(s.setpoint_tag, start, now)
            if cover < MIN_COVERAGE or not target > 0:
                return Finding.skip(f"no target dose from {s.setpoint_tag}")
        else:
            target = float(s.setpoint or 0.0)
        detail = {"volume_nm3": volume, "odorant_g": grams, "target_mg_m3": target}
        if volume < s.min_volume or target <= 0:
            return Finding.skip(
                f"only {volume:.0f} Sm³ in the window (needs {s.min_volume:.0f})", **detail
            )
        dose = grams * 1000.0 / volume
        detail["dose_mg_m3"] = dose
        return Finding((dose - target) / target * 100.0, detail=detail)


class PtzCheckDetector(Detector):
    """(flow computer's standard volume / independent PTZ recomputation - 1), %."""

    unit = "%"

    def evaluate(self, now: float) -> Finding:
        s: PtzCheck = self.spec
        m = self.ctx.analytics.meter(s.meter)
        start = now - s.window
        cols = {}
        for key in ("flow", "line_flow", "pressure", "temperature"):
            _, mean, cover = self._minutes(getattr(m, key), start, now)
            cols[key] = np.where(cover >= 0.5, mean, np.nan)
        ok = np.logical_and.reduce([np.isfinite(c) for c in cols.values()]) & (
            cols["flow"] >= s.min_flow
        )
        if ok.sum() < 0.5 * len(ok):
            return Finding.skip(
                f"not enough data at flow from meter {m.id} ({int(ok.sum())} of {len(ok)} minutes)"
            )
        z_of, method = self._z_function(s, start, now)
        if z_of is None:
            return Finding.skip(method)
        recomputed = gasprops.standard_volume(
            cols["line_flow"][ok],
            cols["pressure"][ok],
            cols["temperature"][ok],
            s.relative_density,
            s.base_pressure,
            s.base_temperature,
            s.atmospheric_pressure,
            z_of=z_of,
        )
        fc = float(cols["flow"][ok].sum())
        ref = float(recomputed.sum())
        zm = float(
            z_of(
                np.nanmean(cols["pressure"][ok]) + s.atmospheric_pressure / 1000.0,
                np.nanmean(cols["temperature"][ok]),
            )
        )
        detail = {
            "fc_flow": fc / float(ok.sum()),
            "ptz_flow": ref / float(ok.sum()),
            "z": zm,
            "z_method": method,
            "minutes": int(ok.sum()),
        }
        return Finding((fc / ref - 1.0) * 100.0, detail=detail)

    def _z_function(
        self, s: PtzCheck, start: float, now: float
    ) -> tuple[gasprops.ZFunction | None, str]:
        """Z from the composition's window means (AGA8-92DC), else from the relative density.

        (None, reason) when the composition is configured but not measured in the window:
        a cross-check that falls back silently to a 1 % correlation would raise 0.5 % alarms.
        """
        if not s.composition:
            return partial(gasprops.z_factor, relative_density=s.relative_density), "dak"
        x: dict[str, float] = {}
        for comp, tag in s.composition.items():
            if not isinstance(tag, str):  # a fixed analysis
                x[comp] = float(tag)
                continue
            mean, cover = self._mean(tag, start, now)
            if cover < MIN_COVERAGE or not math.isfinite(mean):
                return None, f"no gas composition from {tag} in the window (AGA8-92DC needs it)"
            x[comp] = max(mean, 0.0)
        try:
            mix = aga8.mixture(x)
        except ValueError as exc:
            return None, f"gas composition unusable: {exc}"
        return partial(aga8.z_factor, mix), "aga8_92dc"


DETECTORS: dict[str, type[Detector]] = {
    "mass_balance": MassBalanceDetector,
    "pressure_decay": PressureDecayDetector,
    "filter_trend": FilterTrendDetector,
    "regulator_creep": RegulatorCreepDetector,
    "heater_capacity": HeaterCapacityDetector,
    "odorant_dose": OdorantDoseDetector,
    "ptz_check": PtzCheckDetector,
}
