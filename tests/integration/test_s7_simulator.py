"""The simulator's S7 CPU (python-snap7's server fed by the station model) read by the S7 driver.

The simulator runs in its own thread as in ``gas-hmi simulate``; the driver polls it over
loopback. Checked: served values are the model's, bit writes touch one bit, writes reach
the model or are refused with the S7 return code, and the faults (comms loss, a mute CPU,
short replies) give BAD with the reason and recover.
"""

from __future__ import annotations

import asyncio

import pytest

from drivers.base import DeviceState, PointSpec, Quality, WriteStatus
from drivers.s7.driver import S7Driver
from drivers.sim.runner import SimulatorThread
from drivers.sim.spec import SimDeviceSpec, SimPointSpec
from tests.helpers import async_wait_until, free_port
from tests.integration.test_s7_driver import Recorder, run

START = 1704852000.0
GAIN = 6.0 / 27648  # raw analog input 0..27648 = 0..6 MPa
POINTS = [
    SimPointSpec("inlet", "plc", "DB1.DBD0:real", "inlet.pressure"),
    SimPointSpec("esd_closed", "plc", "DB1.DBX4.0", "esd.closed"),
    SimPointSpec("esd_open", "plc", "DB1.DBX4.1", "esd.open"),
    SimPointSpec("cmd", "plc", "DB1.DBX4.2", None, writable=True),
    SimPointSpec("sp", "plc", "DB1.DBD6:real", "heater.water.setpoint", writable=True),
    SimPointSpec("count", "plc", "DB2.DBW0:int", None, writable=True),
    SimPointSpec("name", "plc", "DB2.DBB2:string[10]", None, writable=True),
    SimPointSpec("mw", "plc", "MW10:int", {"signal": "const", "base": 42}),
    SimPointSpec("ai", "plc", "IW64", "inlet.pressure", gain=GAIN),
    SimPointSpec("q", "plc", "Q0.1", "esd.open"),
]


@pytest.fixture
def sim():
    """The CPU alone, the model frozen so that values stand still."""
    device = SimDeviceSpec("plc", "s7", "127.0.0.1", free_port())
    st = SimulatorThread([device], POINTS, seed=3, start_time=START).start()
    st.call(setattr, st.simulator, "paused", True)
    yield st
    st.stop()


def _driver(sim, rec: Recorder, **params) -> S7Driver:
    port = sim.simulator.devices[0].port
    base = {"port": port, "timeout": 0.3, "retries": 0, "backoff_initial": 0.1, "backoff_max": 0.3}
    points = [PointSpec(i, p.name, p.address, 0.1, p.writable) for i, p in enumerate(POINTS)]
    return S7Driver("plc", {**base, **params}, points, rec.sink, rec.on_state)


def served(sim, name: str) -> float | str:
    return sim.call(sim.simulator.servers["plc"].eng_value, name)


def test_served_values_are_the_models(sim):
    rec = Recorder()

    async def body():
        drv = _driver(sim, rec)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(*range(len(POINTS))), 5, what="all GOOD")
        finally:
            await drv.stop()
        d = drv.diagnostics().as_dict()
        assert (d["cpu_state"], d["pdu_size"], d["errors"]) == ("run", 480, 0)

    run(body())
    inlet = served(sim, "inlet")
    assert 0.5 < inlet < 10 and rec.value(0) == pytest.approx(inlet, rel=1e-6)
    assert rec.value(1) == served(sim, "esd_closed") and rec.value(2) == served(sim, "esd_open")
    assert rec.value(7) == 42.0
    assert rec.value(8) * GAIN == pytest.approx(inlet, abs=GAIN)  # raw counts, scaled by the tag
    assert rec.value(9) == served(sim, "esd_open")


def test_writes_bit_access_model_and_refusals(sim):
    rec = Recorder()

    async def body():
        drv = _driver(sim, rec)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(1, 2), 5, what="GOOD")
            before = (await drv.read([1, 2])).values.tolist()
            assert (await drv.write(3, True)).ok
            back = await drv.read([1, 2, 3])
            assert back.values.tolist() == [*before, 1.0]  # the neighbouring bits are untouched
            assert (await drv.write(4, 55.0)).ok
            assert (await drv.write(5, -12)).ok and (await drv.write(6, "RUN-2")).ok
            values = (await drv.read([4, 5, 6])).values.tolist()
            assert values == [55.0, -12.0, "RUN-2"]
            out_of_range = await drv.write(4, 95.0)
            readonly = await drv.write(2, True)  # esd_open: read-only in the CPU
        finally:
            await drv.stop()
        assert out_of_range.status is WriteStatus.REJECTED and "0x07" in out_of_range.message
        assert readonly.status is WriteStatus.INVALID  # refused by the driver: access r

    run(body())
    model = sim.model
    assert sim.call(lambda: float(model.values_of(["heater.water.setpoint"])[0])) == 55.0


def test_readonly_point_is_refused_by_the_cpu(sim):
    """A tag the runtime thinks writable but the CPU does not: the S7 return code comes back."""
    rec = Recorder()
    port = sim.simulator.devices[0].port
    params = {"port": port, "timeout": 0.3, "retries": 0}
    points = [PointSpec(0, "esd_open", "DB1.DBX4.1", 0.5, True)]

    async def body():
        drv = S7Driver("plc", params, points, rec.sink, rec.on_state)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(0), 5, what="GOOD")
            result = await drv.write(0, not rec.value(0))
        finally:
            await drv.stop()
        assert result.status is WriteStatus.REJECTED and "0x03" in result.message

    run(body())


def test_comms_loss_and_recovery(sim):
    rec = Recorder()

    async def body():
        drv = _driver(sim, rec)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(0), 5, what="GOOD")
            await asyncio.to_thread(sim.run, sim.simulator.set_device_online("plc", False))
            await async_wait_until(lambda: rec.bad(0), 5, what="BAD after comms loss")
            await async_wait_until(lambda: drv.state is DeviceState.BACKOFF, 5, what="BACKOFF")
            await asyncio.to_thread(sim.run, sim.simulator.set_device_online("plc", True))
            await async_wait_until(lambda: rec.good(0), 10, what="GOOD again")
        finally:
            await drv.stop()
        assert drv.diag.reconnects >= 1

    run(body())


def test_mute_cpu_times_out_and_recovers(sim):
    rec = Recorder()
    server = sim.simulator.servers["plc"]

    async def body():
        drv = _driver(sim, rec)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(0), 5, what="GOOD")
            sim.call(server.set_fault, "mute")
            await async_wait_until(lambda: rec.bad(0, reason="timeout after 0.3 s"), 5, what="BAD")
            assert drv.diag.timeouts >= 1
            sim.call(server.set_fault, "")
            await async_wait_until(lambda: rec.good(0), 10, what="GOOD again")
        finally:
            await drv.stop()

    run(body())


def test_short_replies_are_malformed_then_degrade_and_recover(sim):
    rec = Recorder()
    server = sim.simulator.servers["plc"]

    async def body():
        drv = _driver(sim, rec, degrade_after=2)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(0), 5, what="GOOD")
            sim.call(server.set_fault, "short")
            await async_wait_until(lambda: rec.bad(0, reason="malformed reply"), 5, what="BAD")
            await async_wait_until(
                lambda: any(new is DeviceState.DEGRADED for _o, new, _r in rec.states), 5
            )
            await async_wait_until(lambda: drv.state is DeviceState.BACKOFF, 5, what="BACKOFF")
            sim.call(server.set_fault, "")
            await async_wait_until(lambda: rec.good(0), 10, what="GOOD again")
        finally:
            await drv.stop()
        assert rec.latest[0][1] == Quality.GOOD

    run(body())


def test_cpu_without_put_get_access_stays_up_with_the_reason(sim):
    rec = Recorder()
    server = sim.simulator.servers["plc"]

    async def body():
        drv = _driver(sim, rec)
        await drv.start()
        try:
            await async_wait_until(lambda: rec.good(0), 5, what="GOOD")
            sim.call(server.set_fault, "no_putget")
            await async_wait_until(lambda: rec.bad(0, 5, reason="enable PUT/GET"), 5, what="BAD")
            refused = await drv.write(5, 1)
            assert drv.state is DeviceState.UP  # the CPU answers: it only refuses
            sim.call(server.set_fault, "")
            await async_wait_until(lambda: rec.good(0, 5), 5, what="GOOD again")
        finally:
            await drv.stop()
        assert refused.status is WriteStatus.REJECTED and "0x8104" in refused.message

    run(body())
