"""Station model: deterministic for a seed, physically sane, commands change the physics."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.sim import physics
from drivers.sim.model import PULSE_SECONDS, ModelWriteError, StationModel

# Wednesday 2024-01-10 10:00 in Asia/Shanghai: a weekday-morning demand
START = 1704852000.0


def model(**kw) -> StationModel:
    kw.setdefault("seed", 1)
    kw.setdefault("start_time", START)
    return StationModel(**kw)


def run(m: StationModel, seconds: float, names: list[str]) -> dict[str, np.ndarray]:
    """Step in 1 s increments, recording ``names``."""
    out: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(int(seconds)):
        m.step(1.0)
        for n in names:
            out[n].append(m.get(n))
    return {n: np.asarray(v) for n, v in out.items()}


def test_same_seed_same_run_whatever_the_step_size():
    a, b, c = model(), model(), model(seed=2)
    a.step(120.0)
    for _ in range(240):
        b.step(0.5)
    c.step(120.0)
    assert a.v == b.v
    assert a.v != c.v
    assert a.t == pytest.approx(120.0)


def test_daily_profile_and_weather():
    assert (
        physics.demand_shape(8.0, weekend=False)
        > 1.2
        > 0.6
        > physics.demand_shape(3.0, weekend=False)
    )
    assert physics.demand_shape(18.5, weekend=False) > 1.3  # evening peak
    assert physics.demand_shape(7.0, weekend=True) < physics.demand_shape(
        7.0, weekend=False
    )  # later weekend morning
    temps = [physics.ambient_temperature(h, 4.0, 5.0) for h in range(24)]
    assert int(np.argmin(temps)) == 5 and int(np.argmax(temps)) == 14
    night = model(start_time=START - 7 * 3600)  # 03:00
    assert night.gas.demand < 0.7 * model().gas.demand


def test_regulator_holds_the_outlet_and_follows_its_set_point():
    m = model()
    rec = run(m, 600, ["outlet.pressure", "reg2.flow"])
    assert 0.385 < rec["outlet.pressure"].min() and rec["outlet.pressure"].max() < 0.405
    assert rec["reg2.flow"].max() == 0.0  # the standby run stays shut
    m.write(
        "reg1.active.setpoint", 0.42
    )  # proportional regulator: a little droop below the set point
    rec = run(m, 300, ["outlet.pressure"])
    assert 0.41 < rec["outlet.pressure"][-60:].mean() < 0.42
    m.write("reg1.active.setpoint", 0.30)  # below the standby run's 0.38: run 2 takes over
    rec = run(m, 300, ["outlet.pressure", "reg2.flow"])
    assert 0.37 < rec["outlet.pressure"][-60:].mean() < 0.38 and rec["reg2.flow"][-1] > 1000.0


def test_joule_thomson_cooling_per_bar_across_the_regulators():
    assert physics.jt_cooling(1.0) == pytest.approx(4.0)  # 0.4 degC per bar, 10 bar per MPa
    m = model()
    m.step(300.0)
    dp_bar = (m.get("filters.outlet.pressure") - m.get("outlet.pressure")) * 10.0
    drop = m.get("heater.gas_out.temperature") - m.get("reg1.outlet.temperature")
    assert dp_bar > 30.0
    assert drop == pytest.approx(0.4 * dp_bar, abs=0.8)


def test_flow_computer_corrects_line_flow_to_standard():
    m = model()
    m.step(60.0)
    line, std = m.get("m1.flow.line"), m.get("m1.flow.std")
    p, t = m.get("m1.pressure"), m.get("m1.temperature")
    assert std == pytest.approx(physics.std_from_line(line, p, t), rel=1e-12)
    assert 35.0 < std / line < 50.0  # ~3.9 MPa, ~8 degC, Z ~0.91
    assert 0.88 < m.get("m1.zfactor") < 0.94
    assert m.get("m1.flow.std") + m.get("m2.flow.std") == pytest.approx(
        m.get("outlet.flow"), rel=0.02
    )


def test_totals_increase_with_flow_and_roll_over():
    m = model(params={"total_start": [2**32 - 100, 1000]})
    before = m.get("m2.total.std")
    flow = m.get("m2.flow.std")
    m.step(60.0)
    assert m.get("m1.total.std") < 2000  # wrapped past 2**32 - 1
    gained = m.get("m2.total.std") - before
    assert gained == pytest.approx(flow / 60.0, rel=0.05)
    assert m.get("m1.total.line") > 0 and m.get("m1.total.today") > 0


def test_odorant_dose_follows_flow_and_the_tank_empties():
    m = model()
    level0 = m.get("odor.tank.level")
    rec = run(m, 600, ["odor.dose", "odor.rate", "outlet.flow"])
    assert rec["odor.dose"].mean() == pytest.approx(20.0, abs=1.5)
    grams_per_m3 = rec["odor.rate"] / rec["outlet.flow"] * 1000.0
    assert grams_per_m3.mean() == pytest.approx(20.0, abs=1.5)
    assert m.get("odor.tank.level") < level0
    m.write("odor.dose.setpoint", 30.0)
    rec = run(m, 300, ["odor.dose"])
    assert rec["odor.dose"].mean() == pytest.approx(30.0, abs=2.0)


def test_heater_cycles_its_burner_around_the_set_point():
    m = model()
    rec = run(m, 7200, ["heater.water.temperature", "heater.burner.on"])
    water = rec["heater.water.temperature"]
    assert 47.0 < water.min() and water.max() < 53.0
    starts = np.flatnonzero(np.diff(rec["heater.burner.on"]) > 0.5)
    assert len(starts) >= 3  # it switches on and off ...
    periods = np.diff(starts) / 60.0  # one sample per model second
    assert 15.0 <= periods.min() and periods.max() <= 30.0  # ... every 15-30 minutes
    m.write("heater.water.setpoint", 65.0)
    rec = run(m, 3600, ["heater.water.temperature"])
    assert rec["heater.water.temperature"][-120:].mean() > 60.0  # a big bath heats slowly


def test_heater_is_sized_from_the_design_flow():
    small = StationModel(seed=1, start_time=START, params={"base_flow": 3000.0})
    demo = StationModel(seed=1, start_time=START)
    assert demo.heater.rating_kw == pytest.approx(500.0, abs=10.0)
    assert small.heater.rating_kw == pytest.approx(demo.heater.rating_kw * 3000 / 22000, rel=0.05)
    assert demo.heater.bath_kj_per_k / small.heater.bath_kj_per_k == pytest.approx(
        demo.heater.rating_kw / small.heater.rating_kw, rel=0.05
    )
    own = StationModel(seed=1, start_time=START, params={"heater_kw": 800.0, "heater_bath_m3": 30})
    assert own.heater.rating_kw == 800.0 and own.heater.bath_kj_per_k > 30 * 4186


def test_esd_close_and_reset_commands():
    m = model()
    m.write("esd.close_cmd", 1)
    m.step(12.0)
    assert m.get("esd.closed") == 1.0 and m.get("esd.open") == 0.0
    assert m.get("esd.close_cmd") == 0.0  # a pulse: back to 0 after PULSE_SECONDS
    assert PULSE_SECONDS < 12.0
    m.step(240.0)
    assert m.get("outlet.pressure") < 0.35  # the station drains, the city keeps drawing
    m.write("esd.reset_cmd", 1)
    m.step(300.0)
    assert m.get("esd.open") == 1.0 and m.get("outlet.pressure") > 0.38


def test_refused_writes():
    m = model()
    with pytest.raises(ModelWriteError) as exc:
        m.write("inlet.pressure", 1.0)
    assert exc.value.code == "readonly"
    with pytest.raises(ModelWriteError) as exc:
        m.write("reg1.active.setpoint", 5.0)
    assert exc.value.code == "range"
    with pytest.raises(ModelWriteError) as exc:
        m.write("no.such.thing", 1.0)
    assert exc.value.code == "unknown"
    assert m.get("reg1.active.setpoint") == pytest.approx(0.40)


def test_detectors_have_noise_but_stay_near_zero():
    m = model()
    rec = run(m, 300, [f"gd{n:02d}.lel" for n in range(1, 11)])
    for values in rec.values():
        assert values.min() >= 0.0 and values.max() < 5.0
        assert values.std() > 0.01
    assert m.get("gd.relay.level1") == 0.0
