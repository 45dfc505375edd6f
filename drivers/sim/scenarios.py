"""Scripted situations for the station model, deterministic for a seed.

Every scenario runs normally for :data:`LEAD_IN` model seconds after it is selected,
then injects its faults on a fixed timeline (model seconds after selection; at
``--speed 10`` divide by ten for wall-clock time). The times in each docstring were
measured with the default demo parameters on a weekday at 10:00 (demand about
27,000 Nm3/h); crossings that depend on flow move a little with the time of day.
Alarm on-delays in the runtime are wall-clock seconds, so at high speed an alarm
appears a little later on the model's timeline than the crossing itself.
:meth:`Scenario.timeline` returns the docstring for ``gas-hmi simulate`` to print.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

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

    -   15 s  run 1 active regulator fails wide open; outlet pressure climbs.
    -  ~40 s  outlet.pressure passes H 0.42 MPa; the monitor regulator (set 0.44 MPa)
              takes control and holds about 0.435 MPa.
    -   75 s  the monitor's pilot sticks open too; outlet pressure climbs again.
    - ~110 s  outlet.pressure passes HH 0.47 MPa.
    - ~120 s  it reaches the slam-shut set point 0.48 MPa; 1 s later the run 1 slam-shut
              trips (reg1.ssv.closed = 1, ~122 s) and closes in 2 s. The outlet network
              then falls: HH clears ~138 s, H ~213 s, and standby run 2 (0.38 MPa; its own
              slam-shut is set at 0.50 MPa) takes over near 0.375 MPa from ~280 s.
    -  375 s  run 1's regulators are repaired. The slam-shut stays closed until an operator
              writes reg1.ssv.reset = 1 (refused above 0.45 MPa); run 1 then holds 0.40 again.
    """

    name = "outlet_overpressure"

    def apply(self, m: StationModel, ts: float) -> None:  # noqa: D102
        f = m.faults
        f.reg_fail_open[1] = LEAD_IN <= ts < 375.0
        f.mon_fail_open[1] = 75.0 <= ts < 375.0


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
        FilterClog,
        HeaterTrip,
        SupplyLoss,
        CommsLoss,
        PowerLoss,
    )
}


def make_scenario(name: str) -> Scenario:
    """A fresh scenario by name; ValueError naming the known ones otherwise."""
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})") from None
