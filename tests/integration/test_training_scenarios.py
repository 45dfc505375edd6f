"""Every training scenario through the real runtime raises its expected alarms and no others.

For each scenario the simulator serves a Modbus-only copy of the demo city gate (free loopback
ports) at the scenario's own drill speed (>= 10), from a fixed weekday 10:00 start and seed, and
a headless runtime polls it. Every alarm the runtime raises is recorded with the model time it
was raised at (not those suppressed by design: they are journaled but never shown or sounded). The drills run a few at a time in threads (each with its own station copy, ports
and databases); each parametrized test then judges one scenario:

* every ``expected_alarms`` entry was raised;
* nothing was raised outside ``expected_alarms`` + ``possible_alarms`` (those depend on the
  drill speed or the time of day) -- except rate-of-change alarms: their 10 s window is wall
  time, so at x10-x150 they see the model's rates multiplied by the speed, and the normal
  day's demand wander already passes outlet.flow.roc (4000 Sm3/h per min) at x10. A roc alarm
  a scenario expects must still be raised. The HMI host's own system alarms (``sys.*``:
  CPU, disk, poll availability) depend on the test machine, not the scenario.

The runtime's view of a few faults is also checked on the tag itself (a BAD transmitter, a
gateway exception, a stuck transmitter that stays GOOD).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from drivers.base import Quality
from drivers.sim.scenarios import SCENARIOS, TimelineScenario
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.core.runtime import Runtime
from tests.helpers import wait_until
from tests.stations import DEMO_STATION, REGULATOR_STATION, demo_station_copy

pytestmark = pytest.mark.timeout(900)

START = 1704852000.0  # Wednesday 2024-01-10 10:00 Asia/Shanghai
SEED = 7
WORKERS = 4
#: scenarios for other stations' protocols (RTU framing, IEC 104 flags): no effect on Modbus TCP
OTHER_STATIONS = {"malformed_reply", "rtu_quality"}
DRILLS = sorted(
    name
    for name, cls in SCENARIOS.items()
    if issubclass(cls, TimelineScenario) and name not in OTHER_STATIONS
) + ["normal"]

#: tag checks read at the end of a drill: name -> (tag, what it must show)
TAG_CHECKS: dict[str, tuple[str, Callable[[Any, Quality, str], bool]]] = {
    "transmitter_underrange": ("outlet.pressure", lambda v, q, r: q == Quality.BAD),
    "transmitter_stuck": ("outlet.pressure", lambda v, q, r: q == Quality.GOOD),
    "serial_gateway_fault": (
        "m1.flow.std",
        lambda v, q, r: q == Quality.BAD and "gateway target device failed to respond" in r,
    ),
}


#: drills that apply to the regulator station too (its own lists: the timeline's stations:)
REGULATOR_DRILLS = (
    "comms_loss",
    "frozen_values",
    "intrusion",
    "plc_stop",
    "power_loss",
)


@dataclass
class Drill:
    name: str
    expected: tuple[str, ...] = ()
    possible: tuple[str, ...] = ()
    raised: dict[str, float] = field(default_factory=dict)  # alarm id -> model time raised
    tag: tuple[Any, Quality, str] | None = None
    wall: float = 0.0
    model_end: float = 0.0
    error: str = ""
    #: devices whose IEC 104 start-up timed out (t1) during the drill (see _judge)
    start_stalls: tuple[str, ...] = ()


def _run_drill(name: str, tmp_root, station=DEMO_STATION) -> Drill:
    cls = SCENARIOS[name]
    t0 = time.monotonic()
    st, _ = demo_station_copy(tmp_root / name, exclude=("opcua.yaml",), station=station)
    cfg = load_station(st)
    drill = Drill(name, *cls.alarms_for(cfg.station.id))
    lock = threading.Lock()
    sim = start_simulator_thread(
        cfg, scenario=name, seed=SEED, speed=max(cls.speed, 10.0), start_time=START
    )
    try:
        rt = Runtime(cfg, tmp_root / name / "data")

        def on_event(ev: dict[str, Any]) -> None:
            # suppressed by design (e.g. the standby run's monitor): journaled, never shown
            if ev.get("transition") == "raise" and not ev.get("suppressed"):
                with lock:
                    drill.raised.setdefault(ev["alarm_id"], sim.model.t)

        rt.alarms.add_listener(on_event)
        rt.start()
        try:
            expected = set(drill.expected)

            def done() -> bool:
                with lock:
                    seen = set(drill.raised)
                return sim.model.t >= cls.duration and expected <= seen

            try:
                wait_until(
                    done,
                    timeout=cls.duration / max(cls.speed, 10.0) + 45.0,
                    interval=0.2,
                    what=f"{name}: {sorted(expected)}",
                )
            except AssertionError as exc:
                drill.error = str(exc)
            if name in TAG_CHECKS:
                value, quality, _ts, reason = rt.tags.get(TAG_CHECKS[name][0])
                drill.tag = (value, quality, reason)
            drill.model_end = sim.model.t
            drill.start_stalls = tuple(
                str(dg.get("device_id"))
                for dg in rt.device_diagnostics()
                if "no end of the start-up" in str(dg.get("last_error") or "")
            )
            rt.alarms.flush(10)
        finally:
            rt.stop()
    finally:
        sim.stop()
    drill.wall = time.monotonic() - t0
    return drill


@pytest.fixture(scope="module")
def drills(request, tmp_path_factory) -> dict[str, Drill]:
    root = tmp_path_factory.mktemp("drills")
    t0 = time.monotonic()
    wanted = {  # only the drills the selected tests judge (pytest -k); the heater test's own
        item.callspec.params["name"] if hasattr(item, "callspec") else "heater_trip"
        for item in request.session.items
        if item.module is request.module and "drills" in item.fixturenames
    }
    # longest first, so that the pool ends together
    order = sorted(wanted, key=lambda n: -SCENARIOS[n].duration / max(SCENARIOS[n].speed, 10.0))
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="drill") as pool:
        results = dict(zip(order, pool.map(lambda n: _run_drill(n, root), order), strict=True))
    total = time.monotonic() - t0
    print(f"\n{len(results)} drills in {total:.0f} s wall ({WORKERS} at a time)")
    for d in sorted(results.values(), key=lambda d: -d.wall):
        print(f"  {d.name:<24} {d.wall:5.1f} s wall, model {d.model_end / 60:5.1f} min")
    return results


def _speed_or_host(alarm_id: str) -> bool:
    """Rate-of-change alarms (wall-clock window, see above) and the HMI host's own system
    alarms (sys.*: CPU, disk, a device's poll availability on this loaded test machine)."""
    return alarm_id.endswith(".roc") or alarm_id.startswith("sys.")


@pytest.mark.parametrize("name", DRILLS)
def test_scenario_raises_its_expected_alarms_and_only_those(drills, name):
    d = drills[name]
    _judge(d)
    if name in TAG_CHECKS:
        tag, ok = TAG_CHECKS[name]
        assert d.tag is not None and ok(*d.tag), f"{name}: {tag} is {d.tag}"


def _judge(d: Drill, where: str = "") -> None:
    raised = set(d.raised)
    expected, possible = set(d.expected), set(d.possible)
    assert expected <= raised, (
        f"{d.name}{where}: not raised {sorted(expected - raised)} of {d.raised}; {d.error}"
    )
    # an IEC 104 start-up that waited past t1 for the end of its interrogation (seen now and
    # then on this machine; the reconnect 1 s later works) raises that RTU's comm alarm:
    # allowed only when the device's own diagnostics name that stall, and said in the
    # test summary. A likely cause, c104's state callbacks reaching the loop out of order,
    # is fixed (the driver reads the link state); a stall seen after that has another.
    if d.start_stalls:
        warnings.warn(
            f"{d.name}{where}: IEC 104 start-up stalled past t1 on {list(d.start_stalls)}",
            stacklevel=2,
        )
    possible |= {f"{dev}.comm" for dev in d.start_stalls}
    extra = {a for a in raised - expected - possible if not _speed_or_host(a)}
    assert not extra, f"{d.name}{where}: also raised {sorted(extra)} (at model s {d.raised})"


def test_generic_drills_on_the_regulator_station_raise_its_own_expected_alarms(tmp_path):
    """The drills that apply to any station, on the regulator station (S7 PLC, RS-485 flow
    computer, IEC 104 telecontrol) with the expected lists its timeline entry gives."""
    with ThreadPoolExecutor(2, thread_name_prefix="drill") as pool:  # its RS-485 line is slow
        results = list(
            pool.map(lambda n: _run_drill(n, tmp_path, REGULATOR_STATION), REGULATOR_DRILLS)
        )
    for d in results:
        spec = SCENARIOS[d.name].spec  # type: ignore[attr-defined]
        assert "demo_regulator_station" in spec.stations, f"{d.name}: no lists for the station"
        assert d.expected, f"{d.name}: no expected alarm on the regulator station"
        _judge(d, " on the regulator station")


def test_heater_trip_takes_at_least_20_model_minutes_to_its_low_alarm(drills):
    d = drills["heater_trip"]
    assert "heater.burner.trip.discrete" in d.raised
    trip = 15.0  # the timeline's flame failure (the runtime may start polling a little later)
    low = d.raised["heater.water.temperature.l"]
    assert low - trip >= 20 * 60.0, f"low alarm {(low - trip) / 60:.1f} model min after the trip"
