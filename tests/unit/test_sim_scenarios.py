"""Each scenario crosses its thresholds on its documented timeline (model alone, no servers)."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.sim.model import StationModel
from drivers.sim.scenarios import LEAD_IN, SCENARIOS, make_scenario

START = 1704852000.0  # Wednesday 10:00 in Asia/Shanghai


def trace(
    scenario: str, seconds: float, names: list[str], seed: int = 1, start: float = START
) -> tuple[StationModel, dict[str, np.ndarray]]:
    """Run ``scenario`` for ``seconds`` (1 s resolution) and record ``names``; index i is t = i + 1."""
    m = StationModel(seed=seed, start_time=start, scenario=scenario)
    rec: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(int(seconds)):
        m.step(1.0)
        for n in names:
            rec[n].append(m.get(n))
    return m, {n: np.asarray(v) for n, v in rec.items()}


def first(cond: np.ndarray) -> int:
    """Model second at which ``cond`` first holds (assertion error if never)."""
    hits = np.flatnonzero(cond)
    assert hits.size, "threshold never crossed"
    return int(hits[0]) + 1


def test_scenarios_start_after_a_normal_lead_in():
    assert 10.0 <= LEAD_IN <= 20.0
    assert set(SCENARIOS) >= {
        "normal",
        "outlet_overpressure",
        "gas_leak",
        "filter_clog",
        "heater_trip",
        "supply_loss",
        "comms_loss",
    }
    for name, cls in SCENARIOS.items():
        assert cls().name == name and cls.timeline()
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        make_scenario("nope")


def test_normal_stays_inside_every_alarm_limit():
    _m, r = trace(
        "normal",
        900,
        [
            "inlet.pressure",
            "outlet.pressure",
            "flt1.dp",
            "outlet.temperature",
            "gd05.lel",
            "heater.water.temperature",
        ],
    )
    assert r["inlet.pressure"].min() > 3.6
    assert 0.37 < r["outlet.pressure"].min() and r["outlet.pressure"].max() < 0.41
    assert r["flt1.dp"].max() < 40.0
    assert r["outlet.temperature"].min() > 6.0
    assert r["gd05.lel"].max() < 5.0
    assert r["heater.water.temperature"].min() > 42.0


def test_outlet_overpressure_h_then_hh_then_slam_shut_then_recovery():
    m, r = trace(
        "outlet_overpressure",
        370,
        [
            "outlet.pressure",
            "reg1.ssv.closed",
            "reg2.ssv.closed",
            "reg2.flow",
            "reg1.monitor.position",
            "relief.open",
        ],
    )
    p = r["outlet.pressure"]
    assert p[: int(LEAD_IN) - 1].max() < 0.41
    t_mon = first(r["reg1.monitor.position"] < 99.0)  # the monitor takes over ...
    t_h, t_hh, t_trip = first(p > 0.41), first(p > 0.425), first(r["reg1.ssv.closed"] > 0.5)
    assert LEAD_IN < t_mon <= t_h < 60 and 120 < t_hh < 180 and t_hh < t_trip < 200
    assert 0.41 < p[45:115].mean() < 0.42  # ... and holds below its 0.42 MPa set point
    assert t_hh < first(r["relief.open"] > 0.5) < t_trip  # the token relief vents first
    assert 0.435 < p.max() < 0.44  # reached run 1's slam-shut set point, not run 2's
    assert r["reg2.ssv.closed"].max() == 0.0  # the standby run's slam-shut (0.44) stays open
    assert first(r["reg2.flow"] > 1000.0) > t_trip  # the standby run takes over ...
    assert 0.36 < p[-30:].mean() < 0.39  # ... near its 0.38 MPa set point
    m.step(380.0 - m.t)
    assert m.get("reg1.ssv.closed") == 1.0  # latched: the repair at 375 s does not reopen it
    m.write("reg1.ssv.reset", 1)
    m.step(120.0)
    assert m.get("reg1.ssv.open") == 1.0 and 0.39 < m.get("outlet.pressure") < 0.41


def test_gas_leak_level_1_then_level_2_then_back():
    _m, r = trace("gas_leak", 300, ["gd05.lel", "gd06.lel", "gd01.lel", "gd.relay.level2"])
    g = r["gd05.lel"]
    t1, t2 = first(g >= 20.0), first(g >= 50.0)
    assert 25 < t1 < 45 and 115 < t2 < 140
    assert 25.0 < g[60:100].mean() < 35.0 and 55.0 < g[140:190].mean() < 65.0
    assert first((g < 20.0) & (np.arange(1, g.size + 1) > t2)) < 270
    assert g[-5:].max() < 3.0
    assert 10.0 < r["gd06.lel"].max() < 30.0 and r["gd01.lel"].max() < 5.0
    assert r["gd.relay.level2"].max() == 1.0


def test_filter_clog_passes_h_and_changeover_clears_it():
    m, r = trace("filter_clog", 150, ["flt1.dp"])
    assert r["flt1.dp"][: int(LEAD_IN) - 1].max() < 30.0
    assert LEAD_IN < first(r["flt1.dp"] > 50.0) < 110
    assert r["flt1.dp"][-10:].mean() > 60.0
    m.write("filters.duty", 2)
    m.step(5.0)
    assert m.get("flt1.dp") < 1.0 and 1.0 < m.get("flt2.dp") < 50.0


def test_heater_trip_takes_at_least_20_minutes_to_the_low_alarm():
    m, r = trace(
        "heater_trip",
        3600,
        ["heater.burner.trip", "heater.water.temperature", "heater.gas_out.temperature"],
    )
    assert r["heater.burner.trip"][: int(LEAD_IN) - 1].max() == 0.0
    assert first(r["heater.burner.trip"] > 0.5) <= LEAD_IN + 1
    minutes = (first(r["heater.water.temperature"] < 40.0) - LEAD_IN) / 60.0
    assert 30.0 <= minutes <= 60.0, minutes  # a water bath, not a kettle
    assert first(r["heater.gas_out.temperature"] < 20.0) > first(
        r["heater.water.temperature"] < 40.0
    )
    m.write("heater.burner.reset", 1)  # refused while the fault persists
    m.step(10.0)
    assert m.get("heater.burner.trip") == 1.0
    m.step(90 * 60.0 + 5.0 - m.t)
    m.write("heater.burner.reset", 1)
    m.step(10.0)
    assert m.get("heater.burner.trip") == 0.0 and m.get("heater.burner.on") == 1.0


def test_heater_trip_at_night_cools_slower_still():
    night = START - 7 * 3600.0  # 03:00, the night trough
    _m, r = trace("heater_trip", 5400, ["heater.water.temperature"], start=night)
    day = trace("heater_trip", 3600, ["heater.water.temperature"])[1]
    assert (
        first(r["heater.water.temperature"] < 40.0)
        > first(day["heater.water.temperature"] < 40.0) + 600
    )


def test_supply_loss_is_a_slow_decline_that_depends_on_the_send_out():
    m, r = trace("supply_loss", 2400, ["inlet.pressure", "outlet.pressure"])
    p = r["inlet.pressure"]
    t_l, t_ll = first(p < 3.2), first(p < 2.5)
    assert 8 * 60 < t_l < 25 * 60 and t_l < t_ll < 45 * 60  # line pack: minutes, not seconds
    assert r["outlet.pressure"].min() > 0.36  # the regulators still hold the city
    night = trace("supply_loss", 2400, ["inlet.pressure"], start=START - 7 * 3600.0)[1]
    assert first(night["inlet.pressure"] < 3.2) > 1.3 * t_l  # less send-out, slower decline
    m.step(75 * 60.0 - m.t)
    m.step(3600.0)
    assert m.get("inlet.pressure") > 3.5  # the feed returns and refills the line


def test_comms_loss_flags_one_device_off_for_3_minutes():
    m = StationModel(seed=1, start_time=START, scenario="comms_loss")
    seen = []
    for _ in range(220):
        m.step(1.0)
        seen.append(m.faults.comms_offline)
    assert not any(seen[:14]) and all(seen[16:194]) and not any(seen[196:])


def test_power_loss_runs_the_station_on_ups_and_stops_what_is_not_on_it():
    m, r = trace(
        "power_loss",
        200,
        ["power.mains_ok", "ups.on_battery", "ups.battery", "heater.burner.on", "odor.rate"],
    )
    assert r["power.mains_ok"][:14].min() == 1.0 and r["power.mains_ok"][20:].max() == 0.0
    assert r["ups.on_battery"][-1] == 1.0 and r["ups.battery"][-1] < 97.0
    assert r["heater.burner.on"][20:].max() == 0.0 and r["odor.rate"][20:].max() == 0.0
    assert not m.utilities.dark


def test_long_outage_runs_the_ups_flat_then_the_station_goes_dark():
    m, r = trace("power_outage_long", 4000, ["ups.battery", "ups.load"])
    flat = first(r["ups.battery"] <= 0.0)
    assert 50 * 60 < flat < 70 * 60  # ~1 h at ~35 % load
    assert m.utilities.dark
    ups_heater = StationModel(
        seed=1, start_time=START, scenario="power_loss", params={"ups_loads": ["plc", "heater"]}
    )
    ups_heater.step(120.0)
    assert ups_heater.utilities.powered("heater") and not ups_heater.utilities.powered("odorizer")
    with pytest.raises(ValueError, match="ups_loads: unknown load"):
        StationModel(seed=1, start_time=START, params={"ups_loads": ["kettle"]})


def test_switching_scenario_restarts_its_timeline():
    m = StationModel(seed=1, start_time=START)
    m.step(100.0)
    m.set_scenario("gas_leak")
    m.step(10.0)
    assert m.get("gd05.lel") < 5.0  # still in the lead-in
    m.step(40.0)
    assert m.get("gd05.lel") > 20.0
    m.set_scenario("normal")
    m.step(1.0)
    assert m.get("gd05.lel") < 5.0


def test_slam_shut_reset_is_refused_while_the_outlet_is_still_high():
    m, r = trace("outlet_overpressure", 150, ["reg1.ssv.closed", "outlet.pressure"])
    assert r["reg1.ssv.closed"][-1] == 1.0 and m.gas.p_out > 0.41  # reset limit 0.41 MPa
    m.write("reg1.ssv.reset", 1)
    m.step(5.0)
    assert m.get("reg1.ssv.closed") == 1.0


def test_heater_room_leak_starts_the_exhaust_fan_which_fails_to_start():
    _m, r = trace(
        "heater_room_leak",
        240,
        ["gd04.lel", "heater_room.fan.cmd", "heater_room.fan.running", "heater_room.fan.fail",
         "odorizer_room.fan.cmd"],
    )  # fmt: skip
    t1 = first(r["gd04.lel"] >= 20.0)
    assert 25 < t1 < 45
    assert first(r["heater_room.fan.cmd"] > 0.5) == t1  # level 1 starts the room's fan ...
    assert r["heater_room.fan.running"].max() == 0.0  # ... which does not run
    assert 9 <= first(r["heater_room.fan.fail"] > 0.5) - t1 <= 12  # failure to start, 10 s
    assert r["heater_room.fan.cmd"][-1] == 1.0  # runs on after the gas has cleared
    assert r["gd04.lel"][-5:].max() < 3.0 and r["odorizer_room.fan.cmd"].max() == 0.0


def test_fan_runs_when_it_can_and_the_chromatograph_publishes_an_analysis():
    m, r = trace("normal", 5, ["gc.hs", "gc.rd", "gc.ch4", "odorizer_room.fan.running"])
    assert 36.0 < r["gc.hs"][-1] < 40.0 and 0.55 < r["gc.rd"][-1] < 0.65
    total = sum(m.get(f"gc.{k}") for k in ("ch4", "c2h6", "c3h8", "c4", "n2", "co2"))
    assert total == pytest.approx(100.0) and 85.0 < r["gc.ch4"][-1] < 97.0
    m.faults.leak = {7: 40.0}
    m.step(3.0)
    assert m.get("odorizer_room.fan.cmd") == 1.0 and m.get("odorizer_room.fan.running") == 1.0
    assert m.get("odorizer_room.fan.fail") == 0.0
