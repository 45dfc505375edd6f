"""A drill is held from the uplink: the runtime in training mode forwards nothing (real mosquitto)."""

from __future__ import annotations

import json
import time

import numpy as np

from drivers.base import Batch
from hmi.core.runtime import Runtime
from tests.helpers import free_port, wait_until
from tests.mqtt_broker import Recorder, mosquitto, uplink_station  # noqa: F401


def test_training_values_and_alarms_never_reach_the_uplink(mosquitto, tmp_path):  # noqa: F811
    cfg = uplink_station([mosquitto], "json")
    # nothing listens on the devices' ports: they stay down, the test feeds the values
    devices = [d.model_copy(update={"host": "127.0.0.1", "port": free_port()}) for d in cfg.devices]
    cfg = cfg.model_copy(update={"devices": devices})
    rec = Recorder(mosquitto).start()
    rt = Runtime(cfg, tmp_path / "data")
    rt.start()
    try:
        wait_until(lambda: rec.on("gas/gs1/status"), 20, what="online status")
        seen: list[dict] = []
        rt.call(rt.alarms.add_listener, seen.append).result(5)
        index = rt.tags.index["pt.inlet"]

        def push(value: float) -> None:
            now = time.time()
            batch = Batch(np.array([index], dtype=np.int32), np.array([value]), 192, "", now, now)
            rt.call(rt._on_batch, batch).result(5)  # noqa: SLF001 - what a driver's sink does

        def telemetry() -> list[float]:
            out = []
            for m in rec.take(lambda m: m.topic == "gas/gs1/telemetry"):
                out += [
                    v["value"] for v in json.loads(m.payload)["values"] if v["tag"] == "pt.inlet"
                ]
            return out

        rt.set_training("drill-1")
        assert rt.commands.training == "drill-1"
        push(7.0)  # above HH 6.0: the alarm raises during the drill
        wait_until(lambda: any(e["transition"] == "raise" for e in seen), 10, what="raise")
        raise_ev = next(e for e in seen if e["transition"] == "raise")
        assert raise_ev["training"] == "drill-1"
        rt.set_training("")
        push(2.0)  # after the drill: forwarded again
        wait_until(lambda: 2.0 in telemetry(), 20, what="telemetry after the drill")
        assert 7.0 not in telemetry()
        alarms = [json.loads(m.payload) for m in rec.take(lambda m: m.topic == "gas/gs1/alarms")]
        assert not [a for a in alarms if a.get("transition") == "raise"], alarms
    finally:
        rt.stop()
        rec.stop()
