"""Simulator scenarios through the real runtime raise the expected alarms (ISA-18.2 states).

The simulator serves the demo station (Modbus devices; faster than real time) on free loopback
ports; the headless runtime polls it. We read the results the way an engineer does: through
``gas-hmi alarms --active`` and ``--journal`` on the station's alarms.db.
"""

from __future__ import annotations

import json

import pytest

from drivers.base import Quality
from hmi.cli import main as cli_main
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.core.runtime import Runtime
from tests.helpers import wait_until
from tests.stations import demo_station_copy

SPEED = 15.0
START = 1704852000.0  # a weekday 10:00 at the station: the timelines do not move with the clock


@pytest.fixture
def station(tmp_path):
    st, _ = demo_station_copy(tmp_path, exclude=("opcua.yaml",))
    return load_station(st), tmp_path / "data"


def _state(rt: Runtime, alarm_id: str) -> str:
    v = rt.alarms.view(alarm_id)
    return v.state if v is not None else "NORMAL"


def _cli_json(capsys, *args: str) -> list[dict]:
    capsys.readouterr()
    assert cli_main(["alarms", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _raises(journal: list[dict], alarm_id: str) -> list[dict]:
    return [e for e in journal if e["alarm_id"] == alarm_id and e["transition"] == "raise"]


def _run_scenario(
    cfg, data, scenario: str, expect_active: list[str], expect_rtn: list[str], held=()
):
    sim = start_simulator_thread(cfg, scenario=scenario, seed=7, speed=SPEED, start_time=START)
    try:
        rt = Runtime(cfg, data)
        rt.start()
        try:
            for aid in expect_active:
                wait_until(
                    lambda a=aid: _state(rt, a) in ("ACTIVE_UNACK", "RTN_UNACK"),
                    timeout=60,
                    what=f"{aid} raised",
                )
            for aid in expect_rtn:
                wait_until(
                    lambda a=aid: _state(rt, a) == "RTN_UNACK",
                    timeout=90,
                    what=f"{aid} back to normal, unacknowledged",
                )
            for aid in held:  # latched: the gas is gone, the alarm waits for a reset
                wait_until(
                    lambda a=aid: (v := rt.alarms.view(a)) is not None and v.latched,
                    timeout=90,
                    what=f"{aid} back to normal, held by its latch",
                )
                assert _state(rt, aid) == "ACTIVE_UNACK"
            assert rt.alarms.flush(10)
        finally:
            rt.stop()
    finally:
        sim.stop()


def test_outlet_overpressure_raises_h_hh_then_slam_shut(station, capsys):
    cfg, data = station
    h, hh, ssv = "outlet.pressure.h", "outlet.pressure.hh", "reg1.ssv.closed.discrete"
    take1, take2 = "reg1.monitor.position.l", "reg2.monitor.position.l"
    _run_scenario(cfg, data, "outlet_overpressure", [h, hh, ssv, take1], [h, hh])

    active = {a["alarm_id"]: a for a in _cli_json(capsys, "--active", "--data-dir", str(data))}
    assert (
        active[h]["priority"] == 3 and active[hh]["priority"] == 1 and active[ssv]["priority"] == 2
    )
    assert active[h]["state"] == active[hh]["state"] == "RTN_UNACK"
    assert active[ssv]["state"] == "ACTIVE_UNACK"  # the slam-shut stays closed until reset on site
    journal = _cli_json(capsys, "--journal", "--since", "1h", "--data-dir", str(data))
    t_h, t_hh, t_ssv = (_raises(journal, a)[0]["ts"] for a in (h, hh, ssv))
    # HH no later than the slam-shut's scan: on a loaded machine the simulator may pass both
    # in one step, and the blocks of one poll carry timestamps a few ms apart
    assert t_h < t_hh <= t_ssv + 0.1, "expected H, then HH, then the slam-shut"
    # run 1's monitor takes over and says so; run 2 stands by with its monitor part-open
    # (its set point is near the outlet's) and its take-over alarm is suppressed by design
    assert not any(e["suppressed"] for e in _raises(journal, take1))
    assert _raises(journal, take2) and all(e["suppressed"] for e in _raises(journal, take2))
    assert active.get(take2, {}).get("state", "NORMAL") in ("NORMAL", "ACTIVE_UNACK")
    assert not active.get(take2) or active[take2]["suppressed"]

    # a restart neither re-raises nor forgets anything
    before = {a: len(_raises(journal, a)) for a in (h, hh, ssv)}
    sim = start_simulator_thread(cfg, scenario="normal", seed=7, speed=1.0)
    try:
        rt = Runtime(cfg, data)
        # the persisted states come back as they were, before any scan
        assert {a: _state(rt, a) for a in (h, hh, ssv)} == {
            h: "RTN_UNACK",
            hh: "RTN_UNACK",
            ssv: "ACTIVE_UNACK",
        }
        rt.start()
        try:
            wait_until(
                lambda: rt.stats["batches"] > 20, timeout=30, what="a few scans after the restart"
            )
            # the fresh simulator has the slam-shut open again: still unacknowledged, not forgotten
            assert _state(rt, ssv) in ("ACTIVE_UNACK", "RTN_UNACK")
            rt.alarms.flush(10)
        finally:
            rt.stop()
    finally:
        sim.stop()
    journal = _cli_json(capsys, "--journal", "--since", "1h", "--data-dir", str(data))
    assert {a: len(_raises(journal, a)) for a in (h, hh, ssv)} == before


def test_gas_leak_raises_level_1_then_level_2(station, capsys):
    cfg, data = station
    l1, l2 = "gd05.lel.h", "gd05.lel.hh"
    _run_scenario(cfg, data, "gas_leak", [l1, l2], [], held=[l1, l2])
    active = {a["alarm_id"]: a for a in _cli_json(capsys, "--active", "--data-dir", str(data))}
    assert (active[l1]["priority"], active[l2]["priority"]) == (2, 1)
    assert active[l1]["latched"] and active[l2]["latched"]  # GB/T 50493: reset required
    assert "GD-05" in active[l2]["message"]["en"] and "二级报警" in active[l2]["message"]["zh"]
    journal = _cli_json(capsys, "--journal", "--since", "1h", "--data-dir", str(data))
    assert len(_raises(journal, l1)) == 1 and len(_raises(journal, l2)) == 1
    assert _raises(journal, l1)[0]["ts"] < _raises(journal, l2)[0]["ts"]
    # gd06 stands next to gd05 and sees about a third of the cloud (level 1 at most)
    others = {e["alarm_id"] for e in journal if e["transition"] == "raise"} - {l1, l2, "gd06.lel.h"}
    assert not any(a.startswith("gd") for a in others), (
        f"detectors away from the leak alarmed: {others}"
    )


def test_gateway_fault_and_underrange_raise_their_alarms_and_clear(station):
    """A unit behind a gateway answering 0x0B is a comm loss (with the gateway's reason); a
    transmitter below 3.6 mA while the PLC talks is an instrument fault; both clear on repair."""
    cfg, data = station
    sim = start_simulator_thread(cfg, scenario="normal", seed=7, speed=SPEED, start_time=START)
    try:
        rt = Runtime(cfg, data)
        rt.start()
        try:
            ids = ("fc1.comm", "fc2.comm", "plc.comm", "outlet.pressure.bad_pv")
            wait_until(
                lambda: (
                    rt.tags.get("m1.flow.std")[1] == Quality.GOOD
                    and rt.tags.get("outlet.pressure")[1] == Quality.GOOD
                ),
                timeout=30,
                what="first good values",
            )
            f = sim.model.faults  # whole sets assigned: the simulator thread iterates them
            f.gateway_fault = {"fc1"}
            f.underrange = {"outlet.pressure"}
            wait_until(
                lambda: (
                    _state(rt, "fc1.comm") == _state(rt, "outlet.pressure.bad_pv") == "ACTIVE_UNACK"
                ),
                timeout=60,
                what="fc1.comm and outlet.pressure.bad_pv raised",
            )
            msg = rt.alarms.view("fc1.comm").message_en
            assert "exception 11 (gateway target device failed to respond)" in msg, msg
            assert rt.alarms.view("outlet.pressure.bad_pv").message_en == (
                "Outlet pressure transmitter PT-501 fault: bad value"
            )
            _v, q, _ts, reason = rt.tags.get("m1.flow.std")
            assert q == Quality.BAD and "gateway target device failed to respond" in reason
            # the other flow computer and the PLC talk: no comm loss there
            assert [_state(rt, a) for a in ids[1:3]] == ["NORMAL", "NORMAL"]
            f.gateway_fault = set()
            f.underrange = set()
            wait_until(
                lambda: (
                    _state(rt, "fc1.comm") == _state(rt, "outlet.pressure.bad_pv") == "RTN_UNACK"
                ),
                timeout=60,
                what="both back to normal, unacknowledged",
            )
            assert rt.tags.get("m1.flow.std")[1] == Quality.GOOD
            assert rt.alarms.flush(10)
        finally:
            rt.stop()
    finally:
        sim.stop()
