"""Scripted situations for the station model, deterministic for a seed.

Every scenario runs normally for :data:`LEAD_IN` model seconds after it is selected,
then injects its faults on a fixed timeline (model seconds after selection; at
``--speed 10`` divide by ten for wall-clock time). The times in each docstring were
measured with the default demo parameters on a weekday at 10:00 (demand about
27,000 Sm3/h); crossings that depend on flow move a little with the time of day.
Alarm on-delays in the runtime are wall-clock seconds, so at high speed an alarm
appears a little later on the model's timeline than the crossing itself.
:meth:`Scenario.timeline` returns the docstring for ``gas-hmi simulate`` to print.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING

from drivers.sim import physics
from drivers.sim.gastrain import PROP_BAND, V_NETWORK, V_STATION
from drivers.sim.process import UINT32
from drivers.sim.timeline import TimelineSpec, TimelineState, load_timeline

if TYPE_CHECKING:
    from drivers.sim.model import StationModel

#: model seconds of normal operation before a scenario's first event
LEAD_IN = 15.0


class Scenario:
    """Normal operation: demand follows the daily profile, nothing fails."""

    name = "normal"
    title = {"en": "Normal operation", "zh": "正常运行"}
    description = {
        "en": "Normal day: demand follows the daily profile, nothing fails",
        "zh": "正常运行：用气量随日负荷曲线变化，无故障",
    }
    #: alarms the drill must raise, and alarms it may also raise (time of day, speed)
    expected_alarms: tuple[str, ...] = ()
    possible_alarms: tuple[str, ...] = ()
    #: suggested drill speed and length (model seconds)
    speed = 10.0
    duration = 120.0

    def apply(self, m: StationModel, ts: float) -> None:
        """Set the model's faults for ``ts`` model seconds after selection."""

    @classmethod
    def alarms_for(cls, station_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(expected, possible) alarms of the drill on station ``station_id``."""
        return cls.expected_alarms, cls.possible_alarms

    @classmethod
    def timeline(cls) -> str:
        """Human-readable timeline (the class docstring)."""
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls, lang: str = "en") -> str:
        """The one-line description in ``lang`` ('en' or 'zh')."""
        return cls.description.get(lang) or cls.description["en"]


class TimelineScenario(Scenario):
    """A scenario read from a YAML timeline (:mod:`drivers.sim.timeline`)."""

    spec: TimelineSpec

    def __init__(self) -> None:
        self.state = TimelineState(self.spec)

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        self.state.apply(m.faults, ts)

    @classmethod
    def timeline(cls) -> str:  # noqa: D102
        return cls.spec.timeline_text()

    @classmethod
    def alarms_for(cls, station_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:  # noqa: D102
        return cls.spec.alarms_for(station_id)


def scenario_class(spec: TimelineSpec) -> type[Scenario]:
    """A scenario class for a loaded timeline (what :data:`SCENARIOS` holds)."""
    attrs = {
        "name": spec.name,
        "spec": spec,
        "title": spec.title,
        "description": spec.description,
        "expected_alarms": spec.expected_alarms,
        "possible_alarms": spec.possible_alarms,
        "speed": spec.speed,
        "duration": spec.duration,
        "__doc__": spec.timeline_text(),
    }
    return type(f"Timeline_{spec.name}", (TimelineScenario,), attrs)


#: where the built-in timelines live (package data; shipped in the bundle too)
TIMELINES = Path(__file__).with_name("timelines")


def builtin_timelines() -> list[TimelineSpec]:
    """Every built-in timeline, by file name."""
    return [load_timeline(p) for p in sorted(TIMELINES.glob("*.yaml"))]


#: scenario name -> class
SCENARIOS: dict[str, type[Scenario]] = {"normal": Scenario}
SCENARIOS.update({spec.name: scenario_class(spec) for spec in builtin_timelines()})


def register_timeline_file(path: Path | str) -> type[Scenario]:
    """Load a trainer's drill file and make it selectable by name (TimelineError if bad)."""
    spec = load_timeline(path)
    cls = scenario_class(spec)
    SCENARIOS[spec.name] = cls
    return cls


def make_scenario(name: str) -> Scenario:
    """A fresh scenario by name; ValueError naming the known ones otherwise."""
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})") from None


# --------------------------------------------------------------------------- early-warning scenarios
# Slow faults that an operator would not see on any alarm limit for hours: they exist to
# exercise the analytics' early warnings. They run for hours of model time (use --speed).


class _AfterStep:
    """A unit appended to the model's step list: lets a scenario adjust what the process
    units just published, and undo its changes when another scenario takes over."""

    def __init__(self, m: StationModel, scenario: _Slow) -> None:
        self.m, self.scenario = m, scenario

    def step(self, dt: float) -> None:  # noqa: D102
        if self.m.scenario is self.scenario:
            self.scenario.after_step(self.m, dt)
            return
        self.scenario.leave(self.m)
        self.m._units = tuple(u for u in self.m._units if u is not self)  # noqa: SLF001


class _Slow(Scenario):
    """Base of the early-warning scenarios: ``during`` before the units step, ``after_step``
    after them, ``leave`` when another scenario is selected."""

    def __init__(self) -> None:
        self.hooked = False
        self.ts = 0.0
        self.saved: dict[str, float] = {}

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        if not self.hooked:
            self.hooked = True
            m._units = (*m._units, _AfterStep(m, self))  # noqa: SLF001
        self.ts = ts
        self.during(m, ts)

    def during(self, m: StationModel, ts: float) -> None:
        """Set faults or unit state before the units step."""

    def after_step(self, m: StationModel, dt: float) -> None:
        """Adjust published values after the units stepped."""

    def leave(self, m: StationModel) -> None:
        """Undo unit-state changes (another scenario was selected)."""
        if "base_flow" in self.saved:
            m.env.base_flow = self.saved.pop("base_flow")

    def _isolate_outlet(self, m: StationModel) -> None:
        """The city network is fed elsewhere / its valve is closed: demand falls to zero."""
        self.saved.setdefault("base_flow", m.env.base_flow)
        m.env.base_flow = 0.0


def _add_metered(
    m: StationModel, q_std: float, dt: float, runs: tuple[int, ...] = (1, 2), factor: float = 1.0
) -> None:
    """Add ``q_std`` Sm3/h (split over ``runs``) to what the flow computers measured and counted."""
    v, meters = m.v, m.meters
    share = q_std / len(runs)
    for n in runs:
        i, pre = n - 1, f"m{n}."
        line = physics.line_from_std(share, v[pre + "pressure"], v[pre + "temperature"])
        v[pre + "flow.std"] += share * factor
        v[pre + "flow.line"] += line
        meters.total_std[i] += share * factor * dt / 3600.0
        meters.total_line[i] += line * dt / 3600.0
        meters.today[i] += share * factor * dt / 3600.0
        v[pre + "total.std"] = float(int(meters.total_std[i]) % UINT32)
        v[pre + "total.line"] = float(int(meters.total_line[i]) % UINT32)
        v[pre + "total.today"] = float(int(meters.today[i]) % UINT32)


class LeakSmall(_Slow):
    """A small leak between the meters and the regulators: gas is metered but never leaves.

    -   15 s  a flange at the heater inlet starts leaking; within 60 s it loses 450 Sm3/h
              (about 2 % of the station flow). Both meter runs count it, outlet.flow does
              not; gd03 (heater room) shows a faint ~3 %LEL, far below level 1.
    - ~12 min the mass-balance early warning (meters vs outlet flow over 30 min) passes
              +1 % and settles at +2-3 % (by the time of day). No process alarm comes near
              its limit.
    """

    name = "leak_small"
    expected_alarms = ("ew.mass_balance.h",)
    description = {
        "en": "Small leak between meters and regulators: metered gas that never leaves (mass-balance warning)",
        "zh": "计量与调压之间微小泄漏：计量了却未出站的气量（物料平衡预警）",
    }
    speed = 600.0
    duration = 4 * 3600.0
    LEAK = 450.0  # Sm3/h

    def level(self, ts: float) -> float:
        """Leaking standard flow ``ts`` seconds after selection."""
        return self.LEAK * min(max((ts - LEAD_IN) / 60.0, 0.0), 1.0)

    def during(self, m: StationModel, ts: float) -> None:  # noqa: D102
        q = self.level(ts)
        m.faults.leak = {3: 3.0 * q / self.LEAK} if q > 0 else {}

    def after_step(self, m: StationModel, dt: float) -> None:  # noqa: D102
        q = self.level(self.ts)
        if q > 0:
            _add_metered(m, q, dt)


class RegulatorCreep(_Slow):
    """The active regulator of run 1 does not seal at lock-up: the outlet creeps up at zero flow.

    -    15 s  the city network is valved off for maintenance: demand falls to zero and
               run 1 locks up near 0.40 MPa (a tight lock-up: the pressure holds).
    -  7200 s  run 1's active regulator seat starts passing ~130 Sm3/h: the outlet pressure
               creeps up ~11 kPa/h (the monitor regulator, 0.42 MPa, stops it there).
    - ~2.4 h   the creep early warning (rise over 60 min at lock-up) passes 3 kPa/h.
    - ~3.8 h   outlet.pressure passes H 0.42 MPa.
    """

    name = "regulator_creep"
    expected_alarms = ("ew.reg_creep.h",)
    possible_alarms = ("outlet.pressure.h", "reg1.monitor.position.l")
    description = {
        "en": "Run 1 regulator does not seal at lock-up: outlet creeps up at zero flow (creep warning)",
        "zh": "1#调压器关闭不严：零流量时出口压力缓慢上升（关闭压力预警）",
    }
    speed = 600.0
    duration = 4 * 3600.0
    START = 7200.0
    CREEP = 130.0  # Sm3/h through the closed seat

    def during(self, m: StationModel, ts: float) -> None:  # noqa: D102
        if ts >= LEAD_IN:
            self._isolate_outlet(m)

    def after_step(self, m: StationModel, dt: float) -> None:  # noqa: D102
        if self.ts < self.START:
            return
        gas = m.gas
        # the monitor regulator (in series) throttles the creep as the outlet nears its set point
        mon = min(max((gas.runs[0].monitor_sp - gas.p_out) / PROP_BAND, 0.0), 1.0)
        q = self.CREEP * mon
        gas.p_out += q / 3600.0 * physics.P_ATM / V_NETWORK * dt
        m.v["reg1.flow"] = m.v.get("reg1.flow", 0.0) + q
        m.v["outlet.flow"] += q
        _add_metered(m, q, dt)


class IsolationLeak(_Slow):
    """A tightness hold of the isolated station section, then a passing vent valve.

    -    15 s  the station is taken out of service for a tightness check: the city is fed
               elsewhere (demand 0), the inlet ESD closes (10 s stroke) and both slam-shuts
               are tripped. The section between them (filters, meters, heater coil, 20 m3)
               holds ~3.9 MPa: filters.outlet.pressure stays flat.
    -  3600 s  a vent valve on the section starts passing 4 Sm3/h: its pressure decays
               ~20 kPa/h.
    - ~4700 s  the pressure-decay early warning (fall over 60 min while isolated) passes
               5 kPa/h; it settles near 20 kPa/h.
    Selecting another scenario puts the station back in service (ESD and slam-shuts reset).
    """

    name = "isolation_leak"
    expected_alarms = ("ew.isolation_decay.h",)
    possible_alarms = ("esd.open.discrete", "reg1.ssv.closed.discrete", "reg2.ssv.closed.discrete")
    description = {
        "en": "Tightness hold of the isolated station, then a passing vent valve (pressure-decay warning)",
        "zh": "站内隔离保压，放空阀内漏（保压压降预警）",
    }
    speed = 600.0
    duration = 4 * 3600.0
    START = 3600.0
    LEAK = 4.0  # Sm3/h

    def during(self, m: StationModel, ts: float) -> None:  # noqa: D102
        if ts >= LEAD_IN:
            self._isolate_outlet(m)
            m.gas.esd_tripped = True
            for run in m.gas.runs:
                run.ssv_tripped = True

    def after_step(self, m: StationModel, dt: float) -> None:  # noqa: D102
        if self.ts >= self.START and m.gas.esd_pos <= 0.05:
            m.gas.p_st -= self.LEAK / 3600.0 * physics.P_ATM / V_STATION * dt

    def leave(self, m: StationModel) -> None:  # noqa: D102
        super().leave(m)
        m.gas.esd_tripped = False
        for run in m.gas.runs:
            run.ssv_tripped = False


class FilterFouling(_Slow):
    """Filter run 1 fouls steadily: its dP at peak flow rises ~8 kPa a day.

    -   15 s  the duty filter's element starts loading with dust (after upstream pigging),
              4e-6 fouling units per second: at the day's peak flow its dP rises ~8 kPa per
              day and would reach H 50 kPa in about three days.
    - ~12 h   the filter-trend early warning (projected days to 50 kPa at the recent peak
              flow, from up to 24 h of history) falls below 7 days once the rise is
              significant and seen over half a day; H is days away.
    """

    name = "filter_fouling"
    expected_alarms = ("ew.flt1_days.l",)
    description = {
        "en": "Filter run 1 fouls ~8 kPa a day at peak flow (days-to-limit warning)",
        "zh": "1#过滤器逐日堵塞，高峰压差每天升约8 kPa（到限天数预警）",
    }
    speed = 600.0
    duration = 4 * 3600.0
    RATE = 4e-6

    def during(self, m: StationModel, ts: float) -> None:  # noqa: D102
        m.faults.filter_clog_rate = self.RATE if ts >= LEAD_IN else 0.0


class HeaterWeak(_Slow):
    """The heater's fire tube is sooted: the burner gives 40 % of its rating, cannot hold the bath.

    -   15 s  burner output falls to 40 % (200 kW of the demo's 500 kW). At night's low flow it
              still holds the bath
              (firing ~90 % of the time).
    - morning as demand rises (~06:00 local) the burner fires continuously and the bath sags;
              the heater-capacity early warning (bath > 3 degC below set point with the
              burner firing over 90 % of 30 min) passes its limit within the hour. About two
              hours later (bath ~37 degC at the morning peak) the gas after the regulators
              falls below 5 degC (L alarms). In the evening the bath recovers.
    """

    name = "heater_weak"
    expected_alarms = ("ew.heater_capacity.h",)
    possible_alarms = (
        "reg1.outlet.temperature.l",
        "outlet.temperature.l",
        "heater.water.temperature.l",
        "heater.gas_out.temperature.l",
    )
    description = {
        "en": "Sooted fire tube: the burner gives 40 % and cannot hold the bath at the morning peak",
        "zh": "火管积碳：燃烧器仅40%出力，早高峰水浴温度保持不住",
    }
    speed = 600.0
    duration = 4 * 3600.0
    DERATE = 0.4

    def during(self, m: StationModel, ts: float) -> None:  # noqa: D102
        m.faults.burner_derate = self.DERATE if ts >= LEAD_IN else 1.0


class OdorantUnderdose(_Slow):
    """The odorant pump's check valve wears: it injects 85 % of the set dose.

    -   15 s  the pump under-delivers by 15 %: ~17 mg/m3 instead of 20, inside the odor.dose
              deviation alarm's 5 mg/m3 band, so no alarm.
    - ~45 min the odorant-dose early warning (injected mass per metered volume over 1 h)
              passes -10 % and settles near -15 %.
    """

    name = "odorant_underdose"
    expected_alarms = ("ew.odorant_dose.l",)
    description = {
        "en": "Worn odorant pump check valve: 85 % of the set dose (dose warning)",
        "zh": "加臭泵单向阀磨损：仅注入设定量的85%（加臭量预警）",
    }
    speed = 600.0
    duration = 4 * 3600.0
    BIAS = -0.15

    def during(self, m: StationModel, ts: float) -> None:  # noqa: D102
        if ts >= LEAD_IN:
            m.odorizer.pump_ou.x = self.BIAS  # the pump error wanders around the bias


class PtzMismatch(_Slow):
    """Flow computer 2 corrects with a wrong compressibility after a gas-composition update.

    -   15 s  fc2's Z is 3 % low: its standard flow and totals read 3 % high, while its line
              flow, pressure and temperature are right.
    - ~15 min the PTZ cross-check of meter 2 (independent Vb = Vm (Pm/Pb)(Tb/Tm)(Zb/Zm) over
              30 min, Z by AGA8-92DC) passes its 0.5 % band and settles near +2.9 to +3.0 %;
              meter 1 stays within 0.1 % (the simulated flow computers' Z is an AGA8 fit).
    """

    name = "ptz_mismatch"
    expected_alarms = ("ew.ptz_m2.h",)
    possible_alarms = ("ew.mass_balance.h",)
    description = {
        "en": "Flow computer 2 corrects with a 3 % wrong Z (PTZ cross-check warning)",
        "zh": "2#流量计算机压缩因子偏差3%（PTZ校核预警）",
    }
    speed = 600.0
    duration = 4 * 3600.0
    ERROR = 0.03

    def after_step(self, m: StationModel, dt: float) -> None:  # noqa: D102
        if self.ts >= LEAD_IN:
            q = m.v["m2.flow.std"]
            m.v["m2.flow.std"] = q * (1.0 + self.ERROR)
            extra = q * self.ERROR * dt / 3600.0
            m.meters.total_std[1] += extra
            m.meters.today[1] += extra
            m.v["m2.total.std"] = float(int(m.meters.total_std[1]) % UINT32)
            m.v["m2.total.today"] = float(int(m.meters.today[1]) % UINT32)


SCENARIOS.update(
    {
        cls.name: cls
        for cls in (
            LeakSmall,
            RegulatorCreep,
            IsolationLeak,
            FilterFouling,
            HeaterWeak,
            OdorantUnderdose,
            PtzMismatch,
        )
    }
)
