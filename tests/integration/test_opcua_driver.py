"""OPC UA driver against a real asyncua server (the simulator's, secured with a user).

One server for the whole module (it takes ~2 s to start), run by the simulator in
its own thread; each test runs the driver on its own event loop. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from asyncua import ua

from drivers.base import Batch, DeviceState, PointSpec, Quality, WriteStatus
from drivers.opcua.driver import OpcUaDriver
from drivers.sim.runner import SimulatorThread
from drivers.sim.spec import SimDeviceSpec, SimPointSpec
from tests.helpers import async_wait_until, free_port

NS = "urn:gas-hmi:sim"
USER, PASSWORD = "hmi", "s3cret-demo"

# name, address, sim source, type, writable
POINTS = [
    ("water_temp", f"nsu={NS};s=Heater.WaterTemp", None, "float", False),
    ("water_sp", f"nsu={NS};s=Heater.WaterSetpoint", "heater.water.setpoint", "float", True),
    ("burner_on", f"nsu={NS};s=Heater.BurnerOn", None, "bool", True),
    ("pump_count", f"nsu={NS};s=Odorizer.Strokes", None, "int", True),
    ("tank_level", f"nsu={NS};s=Odorizer.TankLevel", None, "float", False),
    ("firmware", f"nsu={NS};s=Controller.Firmware", None, "string", True),
    ("by_index", "ns=2;s=Controller.Spare", None, "float", False),
    ("one_shot", f"nsu={NS};s=Controller.Total", None, "float", False),
]


class Harness:
    """The simulator thread plus helpers to reach its OPC UA server."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.endpoint = f"opc.tcp://127.0.0.1:{self.port}"
        params = {
            "endpoint": self.endpoint, "security_policy": "Basic256Sha256", "security_mode": "SignAndEncrypt",
            "username": USER, "password": PASSWORD, "pki_dir": str(tmp / "sim-pki"), "update_period": 0.05,
        }  # fmt: skip
        dev = SimDeviceSpec("hoc", "opcua", "127.0.0.1", self.port, params=params)
        pts = [SimPointSpec(n, "hoc", a, s, type=t, writable=w) for n, a, s, t, w in POINTS]
        self.sim = SimulatorThread([dev], pts, seed=3).start()
        self.tmp = tmp

    @property
    def server(self):  # noqa: ANN201 - the simulator's OpcUaSimServer
        return self.sim.simulator.servers["hoc"]

    def set(self, name: str, value: object, source_ts: float | None = None) -> None:
        self.sim.call(self.server.set_value, name, value, source_ts)

    def status(self, name: str, code: int | None) -> None:
        self.sim.call(self.server.set_status, name, code)


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory):
    harness = Harness(tmp_path_factory.mktemp("opcua"))
    harness.set("water_temp", 48.5)
    harness.set("tank_level", 70.0)
    harness.set("firmware", "v2.4.1")
    yield harness
    harness.sim.stop()


class Recorder:
    """Sink + state listener that keeps what the driver delivered."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.states: list[tuple[DeviceState, DeviceState, str]] = []

    def sink(self, batch: Batch) -> None:
        self.batches.append(batch)

    def on_state(self, _dev: str, old: DeviceState, new: DeviceState, reason: str) -> None:
        self.states.append((old, new, reason))

    def last(self, index: int) -> tuple[object, int, str, float] | None:
        """(value, quality, reason, source_ts) most recently delivered for a point."""
        for b in reversed(self.batches):
            hit = np.nonzero(b.indices == index)[0]
            if len(hit):
                k = int(hit[0])
                q = int(b.quality if np.isscalar(b.quality) else b.quality[k])
                ts = float(b.source_ts if np.isscalar(b.source_ts) else b.source_ts[k])
                return b.values[k], q, b.reason, ts
        return None


def specs(only: list[str] | None = None) -> list[PointSpec]:
    out = []
    for i, (name, addr, _src, _t, w) in enumerate(POINTS):
        if only is not None and name not in only:
            continue
        opts = {"subscribe": False} if name == "one_shot" else {}
        if name == "tank_level":
            opts = {"deadband": {"type": "absolute", "value": 1.0}}
        out.append(PointSpec(i, name, addr, 0.2, w, opts))
    return out


def params(h: Harness, pki: Path, **kw: object) -> dict[str, object]:
    p: dict[str, object] = {
        "endpoint": h.endpoint, "security_policy": "Basic256Sha256", "security_mode": "SignAndEncrypt",
        "username": USER, "password": PASSWORD, "pki_dir": str(pki), "trust_on_first_use": True,
        "timeout": 3.0, "backoff_initial": 0.2, "backoff_max": 1.0, "keepalive": 0.5,
    }  # fmt: skip
    p.update(kw)
    return p


def idx(name: str) -> int:
    return [p[0] for p in POINTS].index(name)


async def run_driver(drv: OpcUaDriver, body) -> None:  # noqa: ANN001
    await drv.start()
    try:
        await body()
    finally:
        await drv.stop()
        # nothing of the driver or of asyncua may outlive stop()
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert left == [], left


def test_secure_connect_subscribe_and_source_timestamps(h: Harness, tmp_path: Path) -> None:
    rec = Recorder()
    drv = OpcUaDriver("hoc", params(h, tmp_path / "pki"), specs(), rec.sink, rec.on_state)

    async def body() -> None:
        await async_wait_until(lambda: drv.state is DeviceState.UP, 20, what="driver UP")
        await async_wait_until(
            lambda: rec.last(idx("water_temp")) is not None, 10, what="first value"
        )
        assert rec.last(idx("water_temp"))[:2] == (48.5, Quality.GOOD)
        # a change on the server arrives with the server's source timestamp
        h.set("water_temp", 51.25, source_ts=1_700_000_000.5)
        await async_wait_until(
            lambda: rec.last(idx("water_temp"))[0] == 51.25, 10, what="notification"
        )
        value, q, _reason, ts = rec.last(idx("water_temp"))
        assert q == Quality.GOOD and ts == pytest.approx(1_700_000_000.5, abs=1e-3)
        assert drv.diag.notifications >= 2
        # text points come as text; the model's set point through nsu= resolution
        assert rec.last(idx("firmware"))[0] == "v2.4.1"
        assert rec.last(idx("water_sp"))[:2] == (50.0, Quality.GOOD)
        # ns=2 is the first registered namespace: the same one as nsu=urn:gas-hmi:sim
        await async_wait_until(lambda: rec.last(idx("by_index")) is not None, 10, what="ns= point")
        assert rec.last(idx("by_index"))[1] == Quality.GOOD
        # one-shot reads (subscribe: false) arrive every poll period
        n0 = drv.diag.requests
        await async_wait_until(lambda: drv.diag.requests >= n0 + 3, 10, what="periodic reads")
        assert rec.last(idx("one_shot"))[1] == Quality.GOOD
        # an unchanged value is confirmed each period, so it never turns stale
        t_before = time.time()
        await async_wait_until(
            lambda: any(
                idx("firmware") in b.indices and b.recv_ts > t_before for b in rec.batches
            ), 5, what="confirmation of an unchanged value",
        )  # fmt: skip
        d = drv.diagnostics().as_dict()
        assert d["state"] == "up" and d["rtt_avg_ms"] > 0 and d["errors"] == 0

    asyncio.run(run_driver(drv, body))
    assert (DeviceState.CONNECTING, DeviceState.UP) in [(o, n) for o, n, _ in rec.states]
    assert list((tmp_path / "pki" / "trusted").glob("*.der")), "TOFU stores the server certificate"
    assert (tmp_path / "pki" / "own" / "cert.der").is_file(), (
        "client certificate generated on first use"
    )


def test_status_codes_map_to_quality_and_deadband_filters(h: Harness, tmp_path: Path) -> None:
    rec = Recorder()
    drv = OpcUaDriver(
        "hoc", params(h, tmp_path / "pki"), specs(["water_temp", "tank_level"]), rec.sink
    )

    async def body() -> None:
        await async_wait_until(
            lambda: rec.last(idx("tank_level")) is not None, 20, what="first value"
        )
        h.status("water_temp", ua.StatusCodes.BadSensorFailure)
        await async_wait_until(
            lambda: rec.last(idx("water_temp"))[1] == Quality.BAD, 10, what="Bad status"
        )
        value, _q, reason, _ts = rec.last(idx("water_temp"))
        assert reason == "BadSensorFailure" and np.isnan(value)
        h.status("water_temp", ua.StatusCodes.UncertainLastUsableValue)
        await async_wait_until(
            lambda: rec.last(idx("water_temp"))[1] == Quality.UNCERTAIN, 10, what="Uncertain"
        )
        assert rec.last(idx("water_temp"))[2] == "UncertainLastUsableValue"
        h.status("water_temp", None)
        await async_wait_until(
            lambda: rec.last(idx("water_temp"))[1] == Quality.GOOD, 10, what="Good again"
        )
        # absolute deadband 1.0: a 0.5 step is filtered by the server, a 2.0 step is not
        n0 = drv.diag.notifications
        h.set("tank_level", 70.5)
        h.set("tank_level", 72.5)
        await async_wait_until(
            lambda: rec.last(idx("tank_level"))[0] == 72.5, 10, what="beyond deadband"
        )
        seen = [
            v
            for b in rec.batches
            for i, v in zip(b.indices, b.values, strict=True)
            if i == idx("tank_level")
        ]
        assert 70.5 not in seen
        assert drv.diag.notifications > n0

    asyncio.run(run_driver(drv, body))


def test_writes_use_the_node_data_type_and_report_rejections(h: Harness, tmp_path: Path) -> None:
    rec = Recorder()
    # tank_level is writable in this config but read-only on the server
    pts = [p for p in specs() if p.name != "tank_level"] + [
        PointSpec(idx("tank_level"), "tank_level", POINTS[4][1], 0.2, True)
    ]
    drv = OpcUaDriver("hoc", params(h, tmp_path / "pki"), pts, rec.sink)

    async def body() -> None:
        await async_wait_until(lambda: drv.state is DeviceState.UP, 20, what="driver UP")
        # the simulator answers BadTypeMismatch unless the variant type is the node's own
        assert (await drv.write(idx("pump_count"), 42.0)).status is WriteStatus.SUCCESS
        assert (await drv.write(idx("burner_on"), 1.0)).status is WriteStatus.SUCCESS
        assert (await drv.write(idx("firmware"), "v2.5")).status is WriteStatus.SUCCESS
        ok = await drv.write(idx("water_sp"), 55.5)
        assert ok.ok, ok
        back = await drv.read([idx("pump_count"), idx("burner_on"), idx("water_sp")])
        assert list(back.values) == [42.0, 1.0, 55.5]
        assert h.sim.call(lambda: h.sim.model.get("heater.water.setpoint")) == 55.5
        # the model refuses 500 degC: BadOutOfRange is the operator's message
        res = await drv.write(idx("water_sp"), 500.0)
        assert res.status is WriteStatus.REJECTED and res.message == "BadOutOfRange"
        # a value that does not fit the node's data type never leaves the HMI
        res = await drv.write(idx("pump_count"), 1e12)
        assert res.status is WriteStatus.INVALID and "Int32" in res.message
        # read-only in the config: refused locally; read-only on the server: BadNotWritable
        assert (await drv.write(idx("water_temp"), 1.0)).status is WriteStatus.INVALID
        res = await drv.write(idx("tank_level"), 10.0)
        assert res.status is WriteStatus.REJECTED and res.message == "BadNotWritable"

    asyncio.run(run_driver(drv, body))


def test_wrong_password_is_a_clear_error_and_points_are_bad(h: Harness, tmp_path: Path) -> None:
    rec = Recorder()
    drv = OpcUaDriver(
        "hoc",
        params(h, tmp_path / "pki", password="wrong"),
        specs(["water_temp"]),
        rec.sink,
        rec.on_state,
    )

    async def body() -> None:
        await async_wait_until(lambda: drv.state is DeviceState.BACKOFF, 20, what="BACKOFF")
        assert "refused user 'hmi': wrong user name or password" in drv.diag.last_error
        value, q, reason, _ = rec.last(idx("water_temp"))
        assert q == Quality.BAD and "wrong user name or password" in reason
        res = await drv.write(idx("water_temp"), 1.0)
        assert res.status in (WriteStatus.INVALID, WriteStatus.NOT_CONNECTED)

    asyncio.run(run_driver(drv, body))


def test_untrusted_server_is_refused_then_trusted_by_the_engineer(
    h: Harness, tmp_path: Path
) -> None:
    rec = Recorder()
    pki = tmp_path / "pki"
    drv = OpcUaDriver(
        "hoc", params(h, pki, trust_on_first_use=False), specs(["water_temp"]), rec.sink
    )

    async def body() -> None:
        await async_wait_until(lambda: drv.state is DeviceState.BACKOFF, 20, what="refused")
        msg = drv.diag.last_error
        assert "is not trusted" in msg and "thumbprint" in msg and "CN=gas-hmi simulator hoc" in msg
        rejected = list((pki / "rejected").glob("*.der"))
        assert len(rejected) == 1 and str(pki / "trusted") in msg
        assert rec.last(idx("water_temp"))[1] == Quality.BAD
        # the engineer checks the thumbprint and moves the file: the driver recovers by itself
        (pki / "trusted").mkdir(exist_ok=True)
        rejected[0].rename(pki / "trusted" / rejected[0].name)
        await async_wait_until(lambda: drv.state is DeviceState.UP, 20, what="UP after trusting")

    asyncio.run(run_driver(drv, body))


def test_unknown_namespace_and_node_are_bad_points_not_a_dead_device(
    h: Harness, tmp_path: Path
) -> None:
    rec = Recorder()
    pts = specs(["water_temp"]) + [
        PointSpec(20, "ghost_ns", "nsu=urn:nowhere;s=X", 0.2),
        PointSpec(21, "ghost_node", f"nsu={NS};s=No.Such.Node", 0.2),
    ]
    drv = OpcUaDriver("hoc", params(h, tmp_path / "pki"), pts, rec.sink)

    async def body() -> None:
        await async_wait_until(
            lambda: rec.last(21) is not None and rec.last(idx("water_temp")) is not None, 20
        )
        assert drv.state is DeviceState.UP
        assert rec.last(20)[1] == Quality.BAD and "urn:nowhere" in rec.last(20)[2]
        assert rec.last(21)[1] == Quality.BAD and rec.last(21)[2] == "BadNodeIdUnknown"
        assert rec.last(idx("water_temp"))[1] == Quality.GOOD

    asyncio.run(run_driver(drv, body))


def test_browse_lists_variables_as_tags_that_load_back(
    h: Harness, tmp_path: Path, keyring_file, capsys
) -> None:
    import yaml

    from drivers.base import validate_address
    from hmi.cli import main
    from hmi.config.schema import TagConfig
    from hmi.core.secrets import set_secret

    set_secret("demo_city_gate", "hoc_opcua", PASSWORD)
    rc = main([
        "browse", h.endpoint, "--station", "demo_city_gate", "--secret", "hoc_opcua", "--user", USER,
        "--security", "Basic256Sha256:SignAndEncrypt", "--pki-dir", str(tmp_path / "pki"),
        "--trust-on-first-use", "--device", "hoc",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    tags = [TagConfig.model_validate(t) for t in yaml.safe_load(out)["tags"]]
    by_addr = {t.address: t for t in tags}
    for _name, addr, _src, typ, writable in POINTS:
        if addr.startswith("ns="):
            continue
        t = by_addr[addr]
        assert t.type == typ and t.access == ("rw" if writable else "r") and t.device == "hoc", t
        assert validate_address("opcua", t.address) is None
    assert by_addr[f"nsu={NS};s=Heater.WaterTemp"].name == "hoc.heater.water_temp"
    # a wrong password gives one clear line, no traceback
    set_secret("demo_city_gate", "hoc_opcua", "nope")
    rc = main(["browse", h.endpoint, "--station", "demo_city_gate", "--secret", "hoc_opcua", "--user", USER,
               "--security", "Basic256Sha256:SignAndEncrypt", "--pki-dir", str(tmp_path / "pki")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1 and "wrong user name or password" in err and "Traceback" not in err


def test_server_restart_recovers_and_recreates_subscriptions(h: Harness, tmp_path: Path) -> None:
    rec = Recorder()
    drv = OpcUaDriver(
        "hoc",
        params(h, tmp_path / "pki"),
        specs(["water_temp", "one_shot"]),
        rec.sink,
        rec.on_state,
    )

    async def body() -> None:
        await async_wait_until(lambda: drv.state is DeviceState.UP, 20, what="driver UP")
        await asyncio.to_thread(h.sim.run, h.server.set_online(False))
        await async_wait_until(lambda: drv.state is DeviceState.BACKOFF, 20, what="loss noticed")
        assert rec.last(idx("water_temp"))[1] == Quality.BAD
        assert "not connected" in rec.last(idx("water_temp"))[2]
        await asyncio.to_thread(h.sim.run, h.server.set_online(True), 30)
        await async_wait_until(lambda: drv.state is DeviceState.UP, 30, what="reconnected")
        assert drv.diag.reconnects == 1
        # the subscription was re-created on the new session: changes flow again
        h.set("water_temp", 33.75)
        await async_wait_until(lambda: rec.last(idx("water_temp"))[:2] == (33.75, Quality.GOOD), 10)

    asyncio.run(run_driver(drv, body))
    seq = [n for _, n, _ in rec.states if n is not DeviceState.DEGRADED]
    assert seq == [
        DeviceState.CONNECTING,
        DeviceState.UP,
        DeviceState.BACKOFF,
        DeviceState.UP,
        DeviceState.STOPPED,
    ]
