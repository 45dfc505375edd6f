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
from typing import TYPE_CHECKING

from drivers.sim import physics
from drivers.sim.gastrain import PROP_BAND, V_NETWORK, V_STATION
from drivers.sim.process import UINT32

if TYPE_CHECKING:
    from drivers.sim.model import StationModel

#: model seconds of normal operation before a scenario's first event
LEAD_IN = 15.0


class Scenario:
    """Normal operation: demand follows the daily profile, nothing fails."""

    name = "normal"

    def apply(self, m: StationModel, ts: float) -> None:
        """Set the model's faults for ``ts`` model seconds after selection."""

    @classmethod
    def timeline(cls) -> str:
        """Human-readable timeline (the class docstring)."""
        return inspect.cleandoc(cls.__doc__ or "")


class OutletOverpressure(Scenario):
    """Run 1 active regulator fails open, then its monitor; the slam-shut trips.

    The ladder is the demo's (station config ``protection``): run 1 active 0.40, monitor 0.42,
    relief 0.43, slam-shut 0.435 MPa; standby run 2 active 0.38, slam-shut 0.44 MPa.

    -   15 s  run 1 active regulator fails wide open; outlet pressure climbs.
    -  ~27 s  the monitor regulator starts throttling (reg1.monitor.position < 100 %);
    -  ~32 s  outlet.pressure passes H 0.41 MPa; the monitor holds about 0.415 MPa.
    -  120 s  the monitor's pilot sticks open too; outlet pressure climbs again.
    - ~132 s  outlet.pressure passes HH 0.425 MPa; ~137 s the token relief starts venting.
    - ~140 s  it reaches the slam-shut set point 0.435 MPa; 1 s later the run 1 slam-shut
              trips (reg1.ssv.closed = 1, ~144 s) and closes in 2 s, the peak stays below
              0.44 MPa. The outlet network then falls: HH clears ~158 s, H ~184 s, and
              standby run 2 (0.38 MPa; its own slam-shut is set at 0.44 MPa and stays open)
              takes over near 0.375 MPa from ~230 s.
    -  375 s  run 1's regulators are repaired. The slam-shut stays closed until an operator
              writes reg1.ssv.reset = 1 (refused at or above its reset limit, 0.41 MPa); run
              1 then holds 0.40 again.
    """

    name = "outlet_overpressure"

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        f = m.faults
        f.reg_fail_open[1] = LEAD_IN <= ts < 375.0
        f.mon_fail_open[1] = 120.0 <= ts < 375.0


class GasLeak(Scenario):
    """A leak near the run 1 regulators: detector gd05 rises to ~30 then ~60 %LEL, then back.

    -   15 s  gd05 (regulator run 1) starts rising; gd06 next to it sees about a third.
    -  ~35 s  gd05 passes level 1 (20 %LEL); holds about 30 %LEL from 45 s.
    -  105 s  the leak grows; gd05 passes level 2 (50 %LEL) at ~130 s, holds ~60 %LEL.
    -  195 s  the leak is isolated; gd05 falls below 50 %LEL at ~210 s, below 20 %LEL at
              ~255 s and is back at its background (< 2 %LEL) by 285 s.
    """

    name = "gas_leak"

    DETECTOR = 5
    NEIGHBOUR = 6

    @staticmethod
    def level(ts: float) -> float:
        """%LEL of leaking gas at gd05, ``ts`` seconds after selection."""
        points = (
            (LEAD_IN, 0.0),
            (45.0, 30.0),
            (105.0, 30.0),
            (135.0, 60.0),
            (195.0, 60.0),
            (285.0, 0.0),
        )
        if ts <= points[0][0] or ts >= points[-1][0]:
            return 0.0
        for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False):
            if t0 <= ts <= t1:
                return v0 + (v1 - v0) * (ts - t0) / (t1 - t0)
        return 0.0  # pragma: no cover

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        level = self.level(ts)
        m.faults.leak = {self.DETECTOR: level, self.NEIGHBOUR: level * 0.35} if level > 0 else {}


class HeaterRoomLeak(Scenario):
    """A leak in the heater room: level 1 on gd04 starts the room's exhaust fan, which fails.

    -   15 s  gd04 (heater room) starts rising toward ~30 %LEL.
    -  ~35 s  gd04 passes level 1 (20 %LEL): the PLC commands the heater-room exhaust fan
              (heater_room.fan.cmd = 1), but the fan does not start.
    -  ~45 s  no running feedback after 10 s: heater_room.fan.fail = 1.
    -  150 s  the leak is isolated; gd04 is back at its background by ~200 s. The gas alarm
              stays latched until reset; the fan command runs on for 5 minutes.
    """

    name = "heater_room_leak"

    DETECTOR = 4

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        if LEAD_IN <= ts < 150.0:
            level = min(30.0, 30.0 * (ts - LEAD_IN) / 30.0)
        elif 150.0 <= ts < 200.0:
            level = 30.0 * (200.0 - ts) / 50.0
        else:
            level = 0.0
        m.faults.leak = {self.DETECTOR: level} if level > 0 else {}
        m.faults.fan_fail = {"heater_room"} if LEAD_IN <= ts < 400.0 else set()


class FilterClog(Scenario):
    """Filter run 1 clogs: its differential pressure rises past H (50 kPa) to about 75 kPa.

    -   15 s  the element of filter run 1 (the duty run) starts clogging at a rate that
              would take its dP to ~75 kPa in 100 s at the flow of that moment.
    -  ~75 s  flt1.dp passes H 50 kPa (later at night when flow is low, as dP ~ flow^2).
    -  115 s  clogging stops; dP stays high (it still follows flow squared).
              Writing filters.duty = 2 changes over to the clean run 2 and clears the alarm.
    """

    name = "filter_clog"

    def __init__(self) -> None:
        self.rate: float | None = None

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        if LEAD_IN <= ts < 115.0:
            if self.rate is None:
                fouling = m.gas.fouling[0]
                clean = max(m.gas.dp[0] / (1.0 + fouling), 2.0) if m.gas.dp[0] > 0 else 12.0
                self.rate = max((75.0 / clean - 1.0 - fouling) / 100.0, 0.0)
            m.faults.filter_clog_rate = self.rate
        else:
            m.faults.filter_clog_rate = 0.0


class HeaterTrip(Scenario):
    """The heater burner trips; the bath cools and the gas after the regulators falls below 5 degC.

    -   15 s  flame failure: heater.burner.trip = 1, the burner stays off.
    - ~180 s  heater.water.temperature passes L (40 degC).
    - ~220 s  heater.gas_out.temperature passes L (20 degC).
    - ~275 s  reg1.outlet.temperature, then (~285 s) outlet.temperature, fall below 5 degC:
              the Joule-Thomson cooling of ~14 degC across the regulators is no longer
              made up by the heater.
    -  615 s  the burner fault clears; writing heater.burner.reset = 1 restarts the burner
              (refused before that) and the bath reheats over several minutes.
    """

    name = "heater_trip"

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        m.faults.burner_fail = LEAD_IN <= ts < 615.0


class SupplyLoss(Scenario):
    """The upstream pipeline loses pressure: inlet falls through L and LL, then recovers.

    -   15 s  supply pressure starts falling 0.015 MPa/s from ~3.9 MPa.
    -  ~61 s  inlet.pressure passes L (3.2 MPa).
    - ~108 s  inlet.pressure passes LL (2.5 MPa).
    - ~192 s  supply bottoms out at 1.2 MPa; run 1 alone can no longer pass the demand,
              the outlet sags below 0.38 MPa and standby run 2 opens to help (~285 s).
    -  375 s  supply recovers (time constant 60 s); LL clears ~416 s, L ~457 s.
    """

    name = "supply_loss"

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        f = m.faults
        if LEAD_IN <= ts < 375.0:
            f.supply_target, f.supply_rate = 1.2, 0.015
        else:
            f.supply_target = None


class CommsLoss(Scenario):
    """One device stops answering for 60 s, then returns.

    -   15 s  the chosen device (``--comms-device``, default the second configured device)
              drops its connections and stops listening.
    -   75 s  it listens again with its values intact.
    """

    name = "comms_loss"

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        m.faults.comms_offline = LEAD_IN <= ts < 75.0


class MalformedReply(Scenario):
    """One device answers with broken frames (servers that can break them: Modbus RTU).

    -   15 s  the chosen device (``--comms-device``) answers with a bad CRC,
    -   35 s  with truncated frames,
    -   55 s  with another unit id,
    -   75 s  properly again.
    """

    name = "malformed_reply"

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        kinds = ((35.0, "bad_crc"), (55.0, "truncated"), (75.0, "wrong_unit"))
        m.faults.malformed_reply = next((kind for end, kind in kinds if LEAD_IN <= ts < end), "")


class RtuQuality(Scenario):
    """The telecontrol RTU (IEC 104) flags its values: first not topical, then invalid.

    -   15 s  every IEC 104 device reports its values NT (not topical: its I/O card stopped
              refreshing them); the HMI shows them UNCERTAIN with the reason.
    -   45 s  the values turn IV (invalid); the HMI shows them BAD.
    -   75 s  the RTU reports good values again.
    """

    name = "rtu_quality"

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        m.faults.telemetry_quality = (
            "NT" if LEAD_IN <= ts < 45.0 else "IV" if 45.0 <= ts < 75.0 else ""
        )


class PowerLoss(Scenario):
    """Mains power fails for five minutes; the UPS carries the station.

    -   15 s  power.mains_ok = 0, ups.on_battery = 1; the battery discharges ~1.7 %/min.
    -  315 s  mains return; the battery recharges at 0.6 %/min.
    """

    name = "power_loss"

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        m.faults.mains_lost = LEAD_IN <= ts < 315.0


#: scenario name -> class
SCENARIOS: dict[str, type[Scenario]] = {
    cls.name: cls
    for cls in (
        Scenario,
        OutletOverpressure,
        GasLeak,
        HeaterRoomLeak,
        FilterClog,
        HeaterTrip,
        SupplyLoss,
        CommsLoss,
        MalformedReply,
        RtuQuality,
        PowerLoss,
    )
}


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
    RATE = 4e-6

    def during(self, m: StationModel, ts: float) -> None:  # noqa: D102
        m.faults.filter_clog_rate = self.RATE if ts >= LEAD_IN else 0.0


class HeaterWeak(_Slow):
    """The heater's fire tube is sooted: the burner gives half its rating and cannot hold the bath.

    -   15 s  burner output falls to 200 kW. At night's low flow it still holds the bath
              (firing ~90 % of the time).
    - morning as demand rises (~06:00 local) the burner fires continuously and the bath sags;
              the heater-capacity early warning (bath > 3 degC below set point with the
              burner firing over 90 % of 30 min) passes its limit within the hour. About two
              hours later (bath ~37 degC at the morning peak) the gas after the regulators
              falls below 5 degC (L alarms). In the evening the bath recovers.
    """

    name = "heater_weak"
    BURNER_KW = 200.0

    def during(self, m: StationModel, ts: float) -> None:  # noqa: D102
        if ts >= LEAD_IN:
            m.heater.BURNER_KW = self.BURNER_KW  # instance attribute shadows the rating

    def leave(self, m: StationModel) -> None:  # noqa: D102
        super().leave(m)
        m.heater.__dict__.pop("BURNER_KW", None)


class OdorantUnderdose(_Slow):
    """The odorant pump's check valve wears: it injects 85 % of the set dose.

    -   15 s  the pump under-delivers by 15 %: ~17 mg/m3 instead of 20, inside the odor.dose
              deviation alarm's 5 mg/m3 band, so no alarm.
    - ~45 min the odorant-dose early warning (injected mass per metered volume over 1 h)
              passes -10 % and settles near -15 %.
    """

    name = "odorant_underdose"
    BIAS = -0.15

    def during(self, m: StationModel, ts: float) -> None:  # noqa: D102
        if ts >= LEAD_IN:
            m.odorizer.pump_ou.x = self.BIAS  # the pump error wanders around the bias


class PtzMismatch(_Slow):
    """Flow computer 2 corrects with a wrong compressibility after a gas-composition update.

    -   15 s  fc2's Z is 3 % low: its standard flow and totals read 3 % high, while its line
              flow, pressure and temperature are right.
    - ~15 min the PTZ cross-check of meter 2 (independent Vb = Vm (Pm/Pb)(Tb/Tm)(Zb/Zm) over
              30 min) passes +1 % and settles near +2.6 %; meter 1 stays near -0.4 % (the
              cross-check's own compressibility correlation differs that much).
    """

    name = "ptz_mismatch"
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
