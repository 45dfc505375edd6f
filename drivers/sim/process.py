"""Process units around the gas path: environment and demand, flow computers, heater,
odorizer, gas detectors and station utilities (power, UPS, doors, PLC)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from drivers.sim import physics
from drivers.sim.physics import OU

if TYPE_CHECKING:
    from drivers.sim.model import StationModel

UINT32 = 2**32
METER_AREA = math.pi * 0.15**2 / 4.0  # DN150 ultrasonic meter bore, m2


class Environment:
    """Local time, air temperature, ground (pipeline) gas temperature and city demand."""

    def __init__(self, m: StationModel) -> None:
        self.m = m
        self.base_flow = float(m.params.get("base_flow", 22000.0))
        self.t_mean = float(m.params.get("ambient_mean", 4.0))
        self.t_amp = float(m.params.get("ambient_amplitude", 5.0))
        self.demand_ou = OU(0.02, 600.0)
        self.ground_ou = OU(0.2, 1800.0)
        self.demand = self.base_flow
        self.ambient = self.t_mean
        self.gas_in = 8.0

    def step(self, dt: float) -> None:
        """Advance one step."""
        m = self.m
        hour = m.local_hour()
        self.ambient = physics.ambient_temperature(hour, self.t_mean, self.t_amp)
        heating = 1.0 + 0.03 * (10.0 - self.ambient)  # colder air, more gas for heating
        shape = physics.demand_shape(hour, m.weekend())
        self.demand = self.base_flow * shape * heating * (1.0 + self.demand_ou.step(dt, m.normal()))
        self.gas_in = (
            8.0 + 0.15 * (self.ambient - self.t_mean) + self.ground_ou.step(dt, m.normal())
        )
        v = m.v
        v["ambient.temperature"] = self.ambient + 0.1 * m.normal()
        v["demand.factor"] = shape * heating
        v["inlet.temperature"] = self.gas_in + 0.05 * m.normal()


class Metering:
    """Two ultrasonic meter runs, each with a flow computer (P/T/Z correction, totals)."""

    def __init__(self, m: StationModel) -> None:
        self.m = m
        start = m.params.get("total_start")
        self.total_std = [0.0, 0.0]
        self.total_line = [0.0, 0.0]
        for i in (0, 1):
            base = (
                float(start[i] if isinstance(start, list | tuple) else start)
                if start is not None
                else float(m.rng.integers(50_000_000, 450_000_000))
            )
            self.total_std[i] = base
            self.total_line[i] = base / 42.0
        self.today = [0.0, 0.0]
        self.day = m.local_day()

    def step(self, dt: float) -> None:
        """Advance one step."""
        m, v = self.m, self.m.v
        gas = m.gas
        split = 0.5 + 0.02 * math.sin(2.0 * math.pi * m.time() / 3600.0)
        if int(m.params.get("meter_runs", 2)) == 1:  # one meter carries the station flow
            split = 1.0
        day = m.local_day()
        if day != self.day:  # flow computers reset the day total at local midnight
            self.day = day
            self.today = [0.0, 0.0]
        for i, share in enumerate((split, 1.0 - split)):
            n = i + 1
            qs = gas.flow * share
            p = gas.p_st - 0.005
            t = m.env.gas_in + 0.1 * i
            pa = physics.abs_p(p)
            z = physics.z_factor(pa, t)
            ql = physics.line_from_std(qs, p, t)
            self.total_std[i] += qs * dt / 3600.0
            self.total_line[i] += ql * dt / 3600.0
            self.today[i] += qs * dt / 3600.0
            p_meas = p + 0.002 * m.normal()
            t_meas = t + 0.03 * m.normal()
            ql_meas = max(ql * (1.0 + 0.002 * m.normal()), 0.0)
            pre = f"m{n}."
            v[pre + "pressure"] = p_meas
            v[pre + "temperature"] = t_meas
            v[pre + "flow.line"] = ql_meas
            # the flow computer corrects its own measured line flow with its own P and T
            v[pre + "flow.std"] = physics.std_from_line(ql_meas, p_meas, t_meas)
            v[pre + "zfactor"] = z
            v[pre + "total.std"] = float(int(self.total_std[i]) % UINT32)
            v[pre + "total.line"] = float(int(self.total_line[i]) % UINT32)
            v[pre + "total.today"] = float(int(self.today[i]) % UINT32)
            v[pre + "velocity"] = ql / 3600.0 / METER_AREA
            v[pre + "sos"] = 400.0 + 0.6 * (t - 10.0) - 3.0 * (pa - 4.0) + 0.05 * m.normal()
            v[pre + "health"] = 100.0
            v[pre + "fc.alarm"] = float(ql > 1200.0 or p < 1.0)


class Heater:
    """Water-bath heater: on/off burner holding the bath temperature; gas coil heats the gas.

    Sized from the station's design flow (model parameter ``design_flow``, default twice the
    mean send-out): the burner heats the design flow by :data:`DESIGN_RISE` K with a 10 %
    margin (the demo's 44 000 Sm3/h: ~500 kW) and the bath holds :data:`WATER_M3_PER_MW` m3
    of water per MW of burner (~12.6 m3, with the coil and shell ~58 MJ/K). After a flame
    failure at daytime flow the bath takes 35-50 minutes to cool from 50 to 40 degC; the
    burner cycles about every 20-30 minutes on a +/-1.5 K band. ``heater_kw`` and
    ``heater_bath_m3`` override the sizing.
    """

    DESIGN_RISE = 20.0  # K the design flow is heated by (Joule-Thomson cooling plus margin)
    WATER_M3_PER_MW = 25.0
    WATER_KJ_PER_M3K = 4186.0
    SHELL_SHARE = 0.10  # the coil, fire tube and shell add this share of the water's capacity
    LOSS_KW_PER_K_PER_MW = 1.0
    HYSTERESIS = 1.5

    def __init__(self, m: StationModel) -> None:
        self.m = m
        m.command("heater.water.setpoint", 30.0, 90.0, 50.0)
        m.command("heater.burner.reset", 0.0, 1.0, 0.0, self._reset, pulse=True)
        design = float(m.params.get("design_flow", 2.0 * float(m.params.get("base_flow", 22000.0))))
        sized = physics.gas_heat_kw(design, 0.0, self.DESIGN_RISE) * 1.1
        self.rating_kw = float(m.params.get("heater_kw", round(sized, -1)))
        bath_m3 = float(
            m.params.get("heater_bath_m3", self.rating_kw / 1000.0 * self.WATER_M3_PER_MW)
        )
        self.bath_kj_per_k = bath_m3 * self.WATER_KJ_PER_M3K * (1.0 + self.SHELL_SHARE)
        self.loss_kw_per_k = self.LOSS_KW_PER_K_PER_MW * self.rating_kw / 1000.0
        self.water = 50.0 + float(m.rng.uniform(-1.5, 1.5))
        self.burner = bool(m.rng.uniform() < 0.45)
        self.tripped = False
        self.gas_out = 25.0
        self.stack = 120.0

    def _reset(self, _value: float) -> None:
        if not self.m.faults.burner_fail:
            self.tripped = False

    def step(self, dt: float) -> None:
        """Advance one step."""
        m, v = self.m, self.m.v
        sp = v["heater.water.setpoint"]
        powered = m.utilities.powered("heater")
        if m.faults.burner_fail:
            self.tripped = True
        if self.tripped or not powered:
            self.burner = False
        elif self.water < sp - self.HYSTERESIS:
            self.burner = True
        elif self.water > sp + self.HYSTERESIS:
            self.burner = False
        q = m.gas.flow
        t_in = m.env.gas_in
        t_out = t_in + physics.heater_effectiveness(q) * (self.water - t_in)
        load = physics.gas_heat_kw(q, t_in, t_out)
        power = self.rating_kw * m.faults.burner_derate if self.burner else 0.0
        self.water += (
            (power - load - self.loss_kw_per_k * (self.water - m.env.ambient))
            / self.bath_kj_per_k
            * dt
        )
        self.gas_out += (t_out - self.gas_out) * min(dt / 20.0, 1.0)
        stack_target = 210.0 if self.burner else self.water + 5.0
        self.stack += (stack_target - self.stack) * min(dt / 45.0, 1.0)
        v["heater.water.temperature"] = self.water + 0.05 * m.normal()
        v["heater.gas_in.temperature"] = t_in - 0.1 + 0.05 * m.normal()
        v["heater.gas_out.temperature"] = self.gas_out + 0.05 * m.normal()
        v["heater.burner.on"] = float(self.burner)
        v["heater.burner.trip"] = float(self.tripped)
        v["heater.fuel.pressure"] = (19.5 if self.burner else 21.0) + 0.1 * m.normal()
        v["heater.water.level"] = 82.0 + 0.1 * m.normal()
        v["heater.stack.temperature"] = self.stack + 0.5 * m.normal()
        v["heater.load"] = load


class Odorizer:
    """THT injection proportional to flow (target ~20 mg/m3) from a tank that empties."""

    TANK_KG = 500.0

    def __init__(self, m: StationModel) -> None:
        self.m = m
        m.command("odor.dose.setpoint", 0.0, 60.0, 20.0)
        self.level = float(m.params.get("odorant_level", m.rng.uniform(55.0, 75.0)))
        self.used = 0.0
        self.pump_ou = OU(0.03, 120.0)

    def step(self, dt: float) -> None:
        """Advance one step."""
        m, v = self.m, self.m.v
        q = m.gas.flow
        sp = v["odor.dose.setpoint"]
        f = m.faults
        running = (
            q > 100.0 and self.level > 0.5 and not f.pump_fault and m.utilities.powered("odorizer")
        )
        error = self.pump_ou.step(dt, m.normal())
        rate = sp * q / 1000.0 * (1.0 + error) if running else 0.0  # g/h
        kg = rate * dt / 3600.0 / 1000.0 * f.odorant_rate
        self.used += kg
        self.level = max(self.level - kg / self.TANK_KG * 100.0, 0.0)
        v["odor.rate"] = rate
        v["odor.dose"] = rate * 1000.0 / q if running else 0.0
        v["odor.tank.level"] = self.level
        v["odor.pump.running"] = float(running)
        v["odor.pump.fault"] = float(f.pump_fault)
        v["odor.used"] = self.used


class Detectors:
    """Combustible-gas detectors (%LEL) with a small background, noise, leaks and faults."""

    COUNT = 10

    def __init__(self, m: StationModel) -> None:
        self.m = m
        self.base = m.rng.uniform(0.2, 1.2, self.COUNT)
        self.wander = np.zeros(self.COUNT)
        self.tau = 30.0
        self.sd = 0.35

    def step(self, dt: float) -> None:
        """Advance one step."""
        m, v, f = self.m, self.m.v, self.m.faults
        a = min(dt / self.tau, 1.0)
        z = m.rng.standard_normal(2 * self.COUNT)
        self.wander += -self.wander * a + self.sd * math.sqrt(2.0 * a) * z[: self.COUNT]
        lel = np.clip(self.base + self.wander + 0.1 * z[self.COUNT :], 0.0, 100.0)
        top = 0.0
        for i in range(self.COUNT):
            n = i + 1
            value = min(float(lel[i]) + f.leak.get(n, 0.0) + f.detector_drift.get(n, 0.0), 100.0)
            fault = n in f.detector_fault
            v[f"gd{n:02d}.lel"] = 0.0 if fault else value
            v[f"gd{n:02d}.fault"] = float(fault)
            top = max(top, 0.0 if fault else value)
        v["gd.controller.ok"] = 1.0
        v["gd.relay.level1"] = float(top >= 20.0)
        v["gd.relay.level2"] = float(top >= 50.0)


class Utilities:
    """Mains power, UPS, cabinet climate, doors and the PLC's own health.

    The UPS carries the loads named in the model parameter ``ups_loads`` (default the PLC,
    the gas detection and the communications); the heater's burner controls and the odorant
    pump are on mains only unless listed. On mains loss the loads off the UPS stop; the UPS
    discharges with its load (``ups_runtime_min`` minutes at full load, default 21: about an
    hour at the demo's ~35 % load) and when the battery is flat every device goes silent.
    """

    #: load of each consumer on the UPS, % of its rating
    LOADS = {"plc": 15.0, "detectors": 10.0, "comms": 10.0, "heater": 20.0, "odorizer": 8.0}
    DEFAULT_UPS = ("plc", "detectors", "comms")

    def __init__(self, m: StationModel) -> None:
        self.m = m
        self.battery = 100.0
        self.load_ou = OU(1.5, 300.0)
        self.on_ups = set(m.params.get("ups_loads", self.DEFAULT_UPS))
        unknown = self.on_ups - set(self.LOADS)
        if unknown:
            raise ValueError(
                f"ups_loads: unknown load(s) {', '.join(sorted(unknown))} "
                f"(known: {', '.join(self.LOADS)})"
            )
        self.runtime_s = float(m.params.get("ups_runtime_min", 21.0)) * 60.0
        #: True once the UPS battery is flat with the mains off: the station is dark
        self.dark = False
        m.command("station.horn", 0.0, 1.0, 0.0)  # the station horn / beacon coil

    def powered(self, load: str) -> bool:
        """True while ``load`` has power (mains, or the UPS for a load on it with charge left)."""
        if not self.m.faults.mains_lost:
            return True
        return load in self.on_ups and self.battery > 0.0

    def step(self, dt: float) -> None:
        """Advance one step."""
        m, v, f = self.m, self.m.v, self.m.faults
        mains = not f.mains_lost
        load = sum(self.LOADS[n] for n in self.on_ups) + self.load_ou.step(dt, m.normal())
        if mains:
            self.battery = min(self.battery + 0.01 * dt, 100.0)
        else:
            self.battery = max(self.battery - 100.0 * dt * load / 100.0 / self.runtime_s, 0.0)
        self.dark = not mains and self.battery <= 0.0
        v["power.mains_ok"] = float(mains)
        v["power.voltage"] = 221.0 + 1.5 * m.normal() if mains else 0.0
        v["ups.on_battery"] = float(not mains)
        v["ups.battery"] = self.battery
        v["ups.load"] = load
        v["ups.output_voltage"] = 220.0 + 0.3 * m.normal() if self.battery > 0.0 else 0.0
        for door in ("control_room", "plc_cabinet", "station_gate", "heater_room", "odorizer_room"):
            v["door." + door] = float(door in f.doors)
        v["cabinet.temperature"] = 24.0 + 0.2 * (m.env.ambient - m.env.t_mean) + 0.1 * m.normal()
        v["plc.heartbeat"] = float(int(m.t) % 65536)
        v["plc.run"] = 1.0
