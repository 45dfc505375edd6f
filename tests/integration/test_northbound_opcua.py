"""The station's northbound OPC UA server, read by OPC UA clients gas-hmi did not write.

The demo station (without its own OPC UA device) runs against the simulator's real
Modbus servers with ``northbound.opcua`` on a free loopback port, Basic256Sha256
SignAndEncrypt only. asyncua's command-line tools ``uals`` and ``uaread`` browse and read
it as a third-party client would; an asyncua ``Client`` checks the engineering units,
ranges, status codes and writes. One account is read-only, one is mapped to the station
user ``ops`` (operator); a third account's secret is missing on purpose.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from drivers.base import DeviceState, Quality
from drivers.opcua.certs import generate_self_signed
from hmi.cli.simulate import start_simulator_thread
from hmi.config import load_station
from hmi.core.northbound.status import status_for
from hmi.core.runtime import Runtime
from hmi.core.secrets import set_secret
from hmi.core.users import TEST_PARAMS, UserStore
from tests.helpers import free_port, wait_until
from tests.stations import demo_station_copy

PW_READ, PW_OPS, PW_USER = "Dispatch-read-1", "Dispatch-ops-2", "Gate-station-7"
SP = "reg1.active.setpoint"  # rw in the PLC, 0.2-0.6 MPa
PT = "outlet.pressure"
BIN = Path(sys.executable).parent


def _northbound_yaml(port: int) -> str:
    return f"""northbound:
  opcua:
    enabled: true
    endpoint: opc.tcp://127.0.0.1:{port}
    security: [Basic256Sha256_SignAndEncrypt]
    accounts:
      - {{username: dispatch, password_secret: nb_dispatch}}
      - {{username: scada, password_secret: nb_scada, station_user: ops}}
      - {{username: nokey, password_secret: nb_missing, station_user: ops}}
"""


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("northbound")
    before = keyring.get_keyring()
    kr = PlaintextKeyring()
    kr.file_path = str(tmp / "keyring.cfg")
    keyring.set_keyring(kr)
    folder, _ = demo_station_copy(tmp, exclude=("opcua.yaml",))
    port = free_port()
    (folder / "northbound.yaml").write_text(_northbound_yaml(port), encoding="utf-8")
    cfg = load_station(folder)
    set_secret(cfg.station.id, "nb_dispatch", PW_READ)
    set_secret(cfg.station.id, "nb_scada", PW_OPS)
    users = UserStore(tmp / "data", params=TEST_PARAMS, station_id=cfg.station.id)
    users.add_user("ops", PW_USER, "operator", by="setup")
    users.close()
    cert, key = tmp / "client" / "cert.der", tmp / "client" / "key.pem"
    generate_self_signed(cert, key, "urn:test:third-party-client", "third-party client")
    sim = start_simulator_thread(cfg)
    rt = Runtime(cfg, tmp / "data")
    try:
        rt.start()
        wait_until(
            lambda: (
                rt.drivers["plc"].state is DeviceState.UP and rt.tags.get(PT)[1] is Quality.GOOD
            ),
            30,
            what="PLC up",
        )
        yield {"rt": rt, "sim": sim, "port": port, "cert": cert, "key": key, "cfg": cfg}
    finally:
        rt.stop()
        sim.stop()
        keyring.set_keyring(before)


def _security(st: dict) -> str:
    return f"Basic256Sha256,SignAndEncrypt,{st['cert']},{st['key']}"


def _tool(st: dict, tool: str, *args: str, user: str = "dispatch", pw: str = PW_READ) -> str:
    cmd = [str(BIN / tool), "-u", f"opc.tcp://127.0.0.1:{st['port']}", "--timeout", "10",
           "--security", _security(st), "--user", user, "--password", pw, *args]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _ns(st: dict) -> str:
    return f"nsu=urn:gas-hmi:{st['cfg'].station.id};s="


def test_third_party_tools_browse_and_read_the_station(station):
    st = station
    listing = _tool(st, "uals", "-n", "i=85", "-d", "3")
    for name in (st["cfg"].station.id, "metering", "gas_detection", PT, "m1.total.std"):
        assert name in listing, name
    nsidx = st["rt"].northbound.server._nodes[PT].NamespaceIndex
    value = float(_tool(st, "uaread", "-n", f"ns={nsidx};s={PT}").strip())
    live = float(st["rt"].tags.get(PT)[0])
    assert math.isfinite(value) and abs(value - live) < 0.05  # MPa, a moving process value


async def _client(st: dict, user: str, pw: str):
    from asyncua import Client

    client = Client(f"opc.tcp://127.0.0.1:{st['port']}", timeout=10)
    client.set_user(user)
    client.set_password(pw)
    await client.set_security_string(_security(st))
    await client.connect()
    return client


def test_units_ranges_timestamps_and_quality(station):
    st = station

    async def run():
        from asyncua import ua

        client = await _client(st, "dispatch", PW_READ)
        try:
            ns = await client.get_namespace_index(f"urn:gas-hmi:{st['cfg'].station.id}")
            node = client.get_node(ua.NodeId(PT, ns))
            dv = await node.read_data_value()
            eu = await (await node.get_child(["0:EngineeringUnits"])).read_value()
            rng = await (await node.get_child(["0:EURange"])).read_value()
            return dv, eu, rng
        finally:
            await client.disconnect()

    dv, eu, rng = asyncio.run(run())
    tag = st["cfg"].tag(PT)
    assert dv.StatusCode.is_good()
    assert dv.SourceTimestamp is not None
    assert eu.DisplayName.Text == tag.unit == "MPa"
    assert (rng.Low, rng.High) == (tag.range[0], tag.range[1])


def test_bad_quality_is_a_bad_status_without_a_value():
    assert status_for(Quality.GOOD) == "Good"
    assert status_for(Quality.UNCERTAIN, "stale: no fresh value") == "UncertainLastUsableValue"
    assert status_for(Quality.BAD, "timeout after 1.0 s on hr 0-9") == "BadTimeout"
    assert status_for(Quality.BAD, "not connected: connection refused") == "BadNotConnected"
    assert status_for(Quality.BAD, "not read yet") == "BadWaitingForInitialData"
    assert status_for(Quality.BAD, "something else") == "BadCommunicationError"


def test_device_loss_reaches_the_client_as_bad_status(station):
    st = station
    sim = st["sim"]
    sim.run(sim.simulator.set_device_online("plc", False))
    try:
        wait_until(lambda: st["rt"].tags.get(PT)[1] is Quality.BAD, 30, what="PLC tags BAD")

        async def read_status():
            from asyncua import ua

            client = await _client(st, "dispatch", PW_READ)
            try:
                ns = await client.get_namespace_index(f"urn:gas-hmi:{st['cfg'].station.id}")
                node = client.get_node(ua.NodeId(PT, ns))
                for _ in range(100):  # the server pushes every 0.25 s
                    dv = await node.read_data_value(raise_on_bad_status=False)
                    if not dv.StatusCode.is_good():
                        return dv
                    await asyncio.sleep(0.1)
                return dv
            finally:
                await client.disconnect()

        dv = asyncio.run(read_status())
        assert dv.StatusCode.is_bad()
        assert dv.Value.Value is None  # never a plausible number
    finally:
        sim.run(sim.simulator.set_device_online("plc", True))
        wait_until(lambda: st["rt"].tags.get(PT)[1] is Quality.GOOD, 30, what="PLC back")


def _write(st: dict, user: str, pw: str, tag: str, value: float):
    async def run():
        from asyncua import ua

        client = await _client(st, user, pw)
        try:
            ns = await client.get_namespace_index(f"urn:gas-hmi:{st['cfg'].station.id}")
            node = client.get_node(ua.NodeId(tag, ns))
            params = ua.WriteParameters()
            params.NodesToWrite = [
                ua.WriteValue(
                    NodeId=node.nodeid,
                    AttributeId=ua.AttributeIds.Value,
                    Value=ua.DataValue(ua.Variant(value, ua.VariantType.Double)),
                )
            ]
            return (await client.uaclient.write(params))[0]
        finally:
            await client.disconnect()

    return asyncio.run(run())


def test_writes_go_through_the_command_service_with_the_mapped_user(station):
    st = station
    rt = st["rt"]
    old = float(rt.tags.get(SP)[0])
    new = 0.39 if abs(old - 0.39) > 0.005 else 0.385
    status = _write(st, "scada", PW_OPS, SP, new)
    assert status.is_good(), status
    wait_until(lambda: abs(float(rt.tags.get(SP)[0]) - new) < 1e-4, 10, what="read-back")
    rows = [r for r in rt.audit.records() if r.action == "write" and r.target == SP]
    assert rows[-1].user == "ops" and rows[-1].origin == "opcua" and rows[-1].result == "success"


def test_read_only_account_and_read_only_tag_are_refused(station):
    st = station
    rt = st["rt"]
    before = len(rt.audit.records())
    assert _write(st, "dispatch", PW_READ, SP, 0.39).name == "BadUserAccessDenied"
    assert _write(st, "scada", PW_OPS, PT, 0.3).name == "BadNotWritable"
    assert len(rt.audit.records()) == before  # neither reached the command service


def test_wrong_password_and_missing_secret_cannot_log_in(station):
    st = station
    with pytest.raises(Exception):  # noqa: B017 - asyncua raises its own BadUserAccessDenied
        asyncio.run(_client(st, "dispatch", "wrong"))
    with pytest.raises(Exception):  # noqa: B017
        asyncio.run(_client(st, "nokey", ""))
    problems = st["rt"].northbound.problems
    assert any("nokey" in p and "nb_missing" in p for p in problems), problems


def test_alarm_states_are_served(station):
    st = station
    rt = st["rt"]
    alarm_id = rt.alarms.alarm_ids()[0]

    async def run():
        from asyncua import ua

        client = await _client(st, "dispatch", PW_READ)
        try:
            ns = await client.get_namespace_index(f"urn:gas-hmi:{st['cfg'].station.id}")
            return await client.get_node(ua.NodeId(f"alarm:{alarm_id}.State", ns)).read_value()
        finally:
            await client.disconnect()

    view = rt.alarms.view(alarm_id)
    assert asyncio.run(run()) == view.state
