"""The gas path: supply, inlet ESD, filters, two regulator runs with token reliefs, outlet network.

Each regulator run is built from its protection ladder (station config ``protection.runs``,
handed over as the model parameter ``regulator_runs``; :data:`DEFAULT_RUNS` only when a bare
model is built without one). The demo's ladder for the 0.4 MPa outlet (GB 50028 §6.6.10:
safety devices start at no more than 0.40 + 0.04 MPa): run 1, the working run, active 0.40,
monitor 0.42, token relief 0.43, slam-shut 0.435 MPa; run 2, the standby run, active 0.38,
monitor 0.41, relief 0.43, slam-shut 0.44 MPa, so it only opens when run 1 cannot hold the
outlet and an over-pressure from run 1 trips run 1 only. The reliefs sit below the slam-shuts
so that lock-up creep is vented instead of cutting the supply. A slam-shut also trips on
under-pressure (a downstream rupture). Regulators are proportional (a small droop with flow);
the outlet network is a gas volume whose pressure integrates supply minus city demand.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from drivers.sim import physics
from drivers.sim.physics import OU

if TYPE_CHECKING:
    from drivers.sim.model import StationModel

PROP_BAND = 0.015  # MPa: regulator goes from closed to fully open over this pressure error
REG_COEFF = 20000.0  # Sm3/h per MPa abs of inlet pressure, per run
V_STATION = 20.0  # m3 of high-pressure station piping (drains when the ESD is closed)
V_NETWORK = 1200.0  # m3 of the downstream medium-pressure network segment
ESD_STROKE = 10.0  # s, full travel
SSV_DELAY = 1.0  # s over the set point before the slam-shut releases
SSV_LOW_DELAY = 5.0  # s below the under-pressure trip before the slam-shut releases
SSV_LOW_GRACE = 60.0  # s after a reset before the under-pressure trip is armed again
SSV_CLOSE_RATE = 0.5  # fraction per second
RELIEF_COEFF = 100000.0  # Sm3/h per MPa above the relief set point, per (token) relief valve
V_LINE = 1000.0  # m3 of upstream pipeline between the upstream station and ours (5 km DN500)
FEED_GAIN = 400000.0  # Sm3/h per MPa: how hard the upstream station holds the line pressure
FEED_MAX_FACTOR = 2.5  # the upstream feed is at most this many times our design flow

#: the demo ladder, used only when the model is built without ``regulator_runs``
DEFAULT_RUNS: tuple[dict[str, float], ...] = (
    {"active": 0.40, "monitor": 0.42, "relief": 0.43, "slam_shut": 0.435,
     "slam_shut_low": 0.20, "reset_below": 0.41},
    {"active": 0.38, "monitor": 0.41, "relief": 0.43, "slam_shut": 0.44,
     "slam_shut_low": 0.20, "reset_below": 0.41},
)  # fmt: skip


class RegulatorRun:
    """Slam-shut -> monitor -> active regulator, as one run."""

    def __init__(self, m: StationModel, n: int, ladder: dict[str, float]) -> None:
        self.m, self.n = m, n
        self.p = f"reg{n}."
        self.monitor_sp = float(ladder["monitor"])
        self.relief_sp = float(ladder["relief"])
        self.ssv_sp = float(ladder["slam_shut"])
        self.ssv_low = float(ladder.get("slam_shut_low", 0.0))
        self.reset_below = float(ladder.get("reset_below", self.ssv_sp - 0.03))
        self.under_timer = -SSV_LOW_GRACE
        self.trip_low = False  # the last trip was on under-pressure
        self.pos_act = 0.0
        self.pos_mon = 1.0
        self.ssv_pos = 1.0  # 1 open, 0 closed
        self.ssv_tripped = False
        self.over_timer = 0.0
        self.flow = 0.0
        self.temp = 10.0
        m.command(self.p + "active.setpoint", 0.20, 0.60, float(ladder["active"]))
        m.command(self.p + "ssv.reset", 0.0, 1.0, 0.0, self._reset, pulse=True)

    def _reset(self, _value: float) -> None:
        p_out = self.m.gas.p_out
        if self.ssv_tripped and p_out < self.reset_below:
            self.ssv_tripped = False
            self.trip_low = False
            self.over_timer = 0.0
            self.under_timer = -SSV_LOW_GRACE

    def step(self, dt: float, p_in: float, p_out: float, t_gas: float, ambient: float) -> float:
        """Advance one step; return the standard flow through the run."""
        m, f = self.m, self.m.faults
        if p_out >= f.ssv_trip_at.get(self.n, self.ssv_sp):  # a tired pilot spring trips low
            self.over_timer += dt
            if self.over_timer >= SSV_DELAY:
                self.ssv_tripped = True
        else:
            self.over_timer = 0.0
        if self.ssv_low > 0.0 and p_out < self.ssv_low:
            self.under_timer += dt
            if self.under_timer >= SSV_LOW_DELAY and not self.ssv_tripped:
                self.ssv_tripped = self.trip_low = True
        else:
            self.under_timer = min(self.under_timer + dt, 0.0)
        target = 0.0 if self.ssv_tripped else 1.0
        rate = SSV_CLOSE_RATE if target < self.ssv_pos else 1.0 / 3.0
        self.ssv_pos += max(-rate * dt, min(rate * dt, target - self.ssv_pos))
        sp = m.v[self.p + "active.setpoint"]
        ice = min(max(f.pilot_ice.get(self.n, 0.0), 0.0), 1.0)
        if ice > 0.0:  # an icing pilot sticks and slips (the outlet hunts), then loses its load
            sp -= 0.12 * max(ice - 0.4, 0.0)
        u_act = min(max((sp - p_out) / PROP_BAND, 0.0), 1.0)
        if ice > 0.0:
            hunt = 2.4 * ice * (1.0 - ice)  # strongest half-way; a solid pilot no longer hunts
            u_act = min(max(u_act + hunt * math.sin(2.0 * math.pi * m.t / 240.0), 0.0), 1.0)
        if f.reg_fail_open.get(self.n):
            u_act = 1.0
        if f.reg_fail_closed.get(self.n):
            u_act = 0.0
        u_mon = (
            1.0
            if f.mon_fail_open.get(self.n)
            else min(max((self.monitor_sp - p_out) / PROP_BAND, 0.0), 1.0)
        )
        a = min(dt / 2.0, 1.0)  # actuator lag
        self.pos_act += (u_act - self.pos_act) * a
        self.pos_mon += (u_mon - self.pos_mon) * a
        cap = physics.regulator_capacity(p_in, p_out, REG_COEFF)
        self.flow = cap * min(self.pos_act, self.pos_mon) * self.ssv_pos
        creep = f.lockup_creep.get(self.n, 0.0)
        if creep > 0.0 and self.pos_act < 0.05:  # the closed seat passes gas at lock-up
            self.flow += creep * self.pos_mon * self.ssv_pos
        # gas leaving the run: heated gas cooled by throttling; a still run drifts to ambient
        target_t = t_gas - physics.jt_cooling(p_in - p_out) if self.flow > 50.0 else ambient
        tau = 15.0 if self.flow > 50.0 else 600.0
        self.temp += (target_t - self.temp) * min(dt / tau, 1.0)
        return self.flow

    def publish(self, p_out: float) -> None:
        """Write this run's values into the model."""
        v, p, m = self.m.v, self.p, self.m
        v[p + "outlet.pressure"] = p_out + 0.0008 * m.normal()
        v[p + "outlet.temperature"] = self.temp + 0.05 * m.normal()
        v[p + "active.position"] = 100.0 * self.pos_act
        v[p + "monitor.position"] = 100.0 * self.pos_mon
        v[p + "monitor.setpoint"] = self.monitor_sp
        v[p + "ssv.setpoint"] = self.ssv_sp
        v[p + "ssv.closed"] = float(self.ssv_pos <= 0.02)
        v[p + "ssv.open"] = float(self.ssv_pos >= 0.98)
        v[p + "ssv.trip_low"] = float(self.trip_low)
        v[p + "maintenance"] = 0.0
        v[p + "flow"] = self.flow


class GasTrain:
    """Supply, ESD, filters, regulator runs, relief and outlet network."""

    def __init__(self, m: StationModel) -> None:
        self.m = m
        r = m.rng
        self.supply_mean = float(m.params.get("supply_pressure", 3.85))
        self.supply = self.supply_mean
        self.supply_ou = OU(0.01, 900.0)
        self.design_flow = float(
            m.params.get("design_flow", 2.0 * float(m.params.get("base_flow", 22000.0)))
        )
        self.v_line = float(m.params.get("upstream_line_volume", V_LINE))
        self.feed = 0.0
        self.esd_tripped = False
        self.esd_pos = 1.0
        self.fouling = [float(r.uniform(0.05, 0.25)), float(r.uniform(0.0, 0.10))]
        self.dp = [0.0, 0.0]  # kPa
        self.p_in = self.supply_mean
        self.p_st = self.supply_mean - 0.01
        self.p_out = 0.395
        self.flow = float(m.params.get("base_flow", 22000.0))
        self.demand = self.flow
        self.relief_flow = 0.0
        ladders = m.params.get("regulator_runs") or DEFAULT_RUNS
        self.runs = [RegulatorRun(m, i + 1, dict(lad)) for i, lad in enumerate(ladders)]
        self.out_temp = 10.0
        m.command("esd.close_cmd", 0.0, 1.0, 0.0, self._esd_close, pulse=True)
        m.command("esd.reset_cmd", 0.0, 1.0, 0.0, self._esd_reset, pulse=True)
        m.command("filters.duty", 1.0, 2.0, 1.0, self._duty)

    def _esd_close(self, _value: float) -> None:
        self.esd_tripped = True

    def _esd_reset(self, _value: float) -> None:
        self.esd_tripped = False

    def _duty(self, value: float) -> None:
        self.m.v["filters.duty"] = float(round(value))

    def step(self, dt: float) -> None:
        """Advance one step."""
        m, f, v = self.m, self.m.faults, self.m.v
        t_abs = m.time()
        # upstream pipeline: its line pack is a gas volume fed by the upstream station, which
        # holds the line near the supply pressure; losing the feed leaves the pack to be drawn
        # down by the send-out, so the decline is slow and faster at the morning peak
        drift = 0.04 * math.sin(2.0 * math.pi * t_abs / (5.0 * 3600.0))
        target = self.supply_mean + drift + self.supply_ou.step(dt, m.normal())
        if f.supply_setpoint is not None:  # the upstream regulator holds a wrong set point
            target = f.supply_setpoint
        feed = self.flow + FEED_GAIN * (target - self.supply)
        feed = min(max(feed, 0.0), FEED_MAX_FACTOR * self.design_flow) * max(f.supply_feed, 0.0)
        self.feed = feed
        self.supply += (feed - self.flow) / 3600.0 * physics.P_ATM / self.v_line * dt
        self.supply = max(self.supply, 0.0)
        flow_ratio = self.flow / 40000.0
        self.p_in = self.supply - 0.06 * flow_ratio * flow_ratio
        # inlet ESD: latched trip, 10 s stroke
        if f.esd_close:  # the actuator's solenoid drops out on its own: a spurious trip
            self.esd_tripped = True
        target = 0.0 if self.esd_tripped else 1.0
        self.esd_pos += max(-dt / ESD_STROKE, min(dt / ESD_STROKE, target - self.esd_pos))
        # filters: duty run carries the flow, dP ~ flow^2 / density, fouling grows with throughput
        duty = 0 if v.get("filters.duty", 1.0) < 1.5 else 1
        self.fouling[duty] += 2e-7 * dt * self.flow / 25000.0
        self.fouling[0] += f.filter_clog_rate * dt
        q = self.flow / 20000.0
        dp_clean = 8.0 * q * q * (4.02 / max(physics.abs_p(self.p_in), 0.2))
        for i in (0, 1):
            self.dp[i] = dp_clean * (1.0 + self.fouling[i]) if i == duty else 0.0
        # high-pressure station side: follows the inlet while the ESD is open, drains when shut
        if self.esd_pos > 0.05:
            self.p_st = self.p_in - self.dp[duty] / 1000.0 - 0.02 * (1.0 - self.esd_pos)
        else:
            self.p_st -= self.flow / 3600.0 * physics.P_ATM / V_STATION * dt
            self.p_st = max(self.p_st, self.p_out)
        # regulator runs into the outlet network
        ambient = v.get("ambient.temperature", 5.0)
        if not m.params.get("heater", True):  # no heater: the regulators see the inlet gas
            t_gas = m.env.gas_in
        else:
            t_gas = m.heater.gas_out if hasattr(m, "heater") else 25.0
        flows = [run.step(dt, self.p_st, self.p_out, t_gas, ambient) for run in self.runs]
        self.flow = sum(flows)
        self.demand = (
            m.env.demand * f.demand_factor * min(math.sqrt(max(self.p_out, 0.0) / 0.395), 1.15)
        )
        if f.demand_extra > 0.0:  # a rupture blows down into the open air (choked: ~ p abs)
            self.demand += f.demand_extra * physics.abs_p(max(self.p_out, 0.0)) / 0.5
        self.relief_flow = sum(RELIEF_COEFF * max(self.p_out - r.relief_sp, 0.0) for r in self.runs)
        self.p_out += (
            (self.flow - self.demand - self.relief_flow) / 3600.0 * physics.P_ATM / V_NETWORK * dt
        )
        self.p_out = max(self.p_out, 0.0)
        # outlet temperature: flow-weighted mix of the runs
        if self.flow > 50.0:
            mix = sum(r.flow * r.temp for r in self.runs) / self.flow
            self.out_temp += (mix - self.out_temp) * min(dt / 10.0, 1.0)
        else:
            self.out_temp += (ambient - self.out_temp) * min(dt / 600.0, 1.0)
        self.publish()

    def publish(self) -> None:
        """Write the gas path's values into the model."""
        m, v = self.m, self.m.v
        duty = 0 if v.get("filters.duty", 1.0) < 1.5 else 1
        v["supply.pressure"] = self.supply
        v["inlet.pressure"] = self.p_in + 0.002 * m.normal()
        v["esd.position"] = 100.0 * self.esd_pos
        v["esd.open"] = float(self.esd_pos >= 0.98)
        v["esd.closed"] = float(self.esd_pos <= 0.02)
        v["esd.remote"] = 1.0
        for i in (0, 1):
            n = i + 1
            v[f"flt{n}.dp"] = (
                max(self.dp[i] + 0.15 * m.normal(), 0.0) if i == duty else abs(0.05 * m.normal())
            )
            v[f"flt{n}.in_service"] = float(i == duty)
            v[f"flt{n}.liquid_high"] = float(n in m.faults.liquid_high)
            v[f"flt{n}.fouling"] = self.fouling[i]
        v["filters.outlet.pressure"] = self.p_st + 0.002 * m.normal()
        for run in self.runs:
            run.publish(self.p_out)
        v["relief.open"] = float(self.relief_flow > 0.0)
        v["relief.setpoint"] = min(r.relief_sp for r in self.runs)
        v["relief.flow"] = self.relief_flow
        v["outlet.pressure"] = self.p_out + 0.0008 * m.normal()
        v["outlet.temperature"] = self.out_temp + 0.05 * m.normal()
        v["outlet.flow"] = self.flow
        v["outlet.demand"] = self.demand
        v["outlet.valve.open"] = 1.0
        v["bypass.valve.open"] = 0.0
