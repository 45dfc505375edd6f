"""Tag metadata, business routes and the config hash against a real mosquitto.

* Sparkplug: DBIRTH metrics carry engUnit/engLow/engHigh/Documentation/Label/zh/Area/
  InstrumentTag/Alarm/HH; NBIRTH carries Properties/Config Hash; with routes, one
  Sparkplug device per route, an aggregating route's window as ``<tag>/min`` ... DDATA;
* JSON: the retained meta document validated against docs/schemas/uplink-meta; routes
  on their own topics at their own QoS, aggregates validated against uplink-route;
* the config hash in the status changes after an edit of the station's YAML.

The uplink's clock is a settable one so that a 10 s aggregation window closes without
waiting 10 s (the only fake here: the broker, the outbox and the subscriber are real).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from hmi.config import load_station
from hmi.config.schema import StationConfig, Text
from hmi.core.tagtable import TagTable
from hmi.core.uplink import Uplink
from hmi.core.uplink.meta import config_hash
from tests.helpers import wait_until
from tests.mqtt_broker import MosquittoBroker, Recorder, feed, sp_payload, uplink_station

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
ROUTES = [
    {"name": "safety", "match": ["pt.*"], "qos": 1},
    {"name": "energy", "tags": ["tt.inlet", "fq.total"], "qos": 0, "rate": "10s"},
]


class Clock:
    """A wall clock the test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    b = MosquittoBroker(tmp_path_factory.mktemp("mq"), extra="max_queued_messages 10000").start()
    try:
        yield b
    finally:
        b.stop()


def _with_metadata(cfg: StationConfig) -> StationConfig:
    """The test station with an ISA number and labels on pt.inlet."""
    tags = [
        t.model_copy(
            update={
                "instrument": "PT-501",
                "area": "inlet",
                "label": t.label.model_copy(update={"en": "Inlet pressure", "zh": "进站压力"}),
            }
        )
        if t.name == "pt.inlet"
        else t.model_copy(update={"states": {0: Text(en="Closed", zh="关"), 1: Text(en="Open")}})
        if t.name == "xv.outlet"
        else t
        for t in cfg.tags
    ]
    return cfg.model_copy(update={"tags": tags})


def _schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"uplink-{name}.schema.json").read_text())


def _props(metric) -> dict:
    out = {}
    for k, v in zip(metric.properties.keys, metric.properties.values, strict=True):
        out[k] = getattr(v, v.WhichOneof("value"))
    return out


def test_dbirth_carries_tag_metadata_and_nbirth_the_config_hash(broker, tmp_path):
    cfg = _with_metadata(uplink_station([broker], "sparkplug"))
    tags = TagTable(cfg.tags)
    feed(tags, None, {"pt.inlet": 4.2})
    rec = Recorder(broker, "spBv1.0/#").start()
    up = Uplink(cfg, tmp_path, tags)
    up.start()
    try:
        rec.wait_for(lambda ms: len([m for m in ms if "/DBIRTH/" in m.topic]) >= 2, 20, "births")
    finally:
        up.stop()
        rec.stop()
    nbirth = sp_payload(rec.on("/NBIRTH/")[0])
    node = {m.name: m for m in nbirth.metrics}
    assert node["Properties/Config Hash"].string_value == config_hash(cfg)
    assert len(config_hash(cfg)) == 16
    assert node["Properties/Software Version"].string_value
    dbirth = sp_payload(next(m for m in rec.on("/DBIRTH/") if m.topic.endswith("/plc1")))
    pt = next(m for m in dbirth.metrics if m.name == "pt.inlet")
    props = _props(pt)
    assert props["engUnit"] == "MPa"
    assert (props["engLow"], props["engHigh"]) == (0.0, 10.0)
    assert props["Documentation"] == "Inlet pressure" == pt.metadata.description
    assert props["Label/zh"] == "进站压力"
    assert props["Area"] == "inlet"
    assert props["InstrumentTag"] == "PT-501"
    assert props["formatString"] == "#,##0.00"  # Ignition's pattern for precision 2
    assert props["Alarm/HH"] == 6.0
    assert props["Quality"] == 192
    assert pt.double_value == pytest.approx(4.2)
    plc2 = sp_payload(next(m for m in rec.on("/DBIRTH/") if m.topic.endswith("/plc2")))
    xv = _props(next(m for m in plc2.metrics if m.name == "xv.outlet"))
    states = {k: v for k, v in xv.items() if k.startswith("State/")}
    assert states == {
        "State/0": "Closed",
        "State/0/zh": "关",
        "State/1": "Open",
        "State/1/zh": "Open",
    }
    fq = next(m for m in dbirth.metrics if m.name == "fq.total")
    assert "engUnit" not in _props(fq) and "InstrumentTag" not in _props(fq)  # none configured


def test_json_meta_document_is_retained_and_valid_and_status_has_the_hash(broker, tmp_path):
    cfg = _with_metadata(uplink_station([broker], "json"))
    tags = TagTable(cfg.tags)
    up = Uplink(cfg, tmp_path, tags)
    up.start()
    try:
        wait_until(lambda: up.status()["connected"], 20, what="online")
        late = Recorder(broker, ["gas/gs1/meta", "gas/gs1/status"]).start()  # after publication
        try:
            late.wait_for(lambda ms: len(ms) >= 2, 10, "retained meta and status")
        finally:
            late.stop()
    finally:
        up.stop()
    meta_msg = late.on("gas/gs1/meta")[0]
    assert meta_msg.retain
    doc = json.loads(meta_msg.payload)
    jsonschema.validate(doc, _schema("meta"))
    assert doc["config_hash"] == config_hash(cfg) and doc["parts"] == 1
    by_tag = {t["tag"]: t for t in doc["tags"]}
    assert "hidden.diag" not in by_tag  # not an uplink tag
    assert by_tag["pt.inlet"] == {
        "tag": "pt.inlet",
        "engUnit": "MPa",
        "engLow": 0.0,
        "engHigh": 10.0,
        "Documentation": "Inlet pressure",
        "Label/zh": "进站压力",
        "Area": "inlet",
        "InstrumentTag": "PT-501",
        "formatString": "#,##0.00",
        "Alarm/HH": 6.0,
    }
    assert by_tag["xv.outlet"]["State/0/zh"] == "关" and by_tag["xv.outlet"]["State/1"] == "Open"
    status = json.loads(late.on("gas/gs1/status")[0].payload)
    jsonschema.validate(status, _schema("status"))
    assert status["config_hash"] == config_hash(cfg) and status["version"]


def _live(rec: Recorder, route: str) -> list[dict]:
    bodies = [json.loads(m.payload) for m in rec.on(f"gas/gs1/{route}")]
    return [b for b in bodies if not b.get("integrity")]


def test_json_routes_every_change_and_windowed_aggregates(broker, tmp_path):
    cfg = uplink_station([broker], "json", routes=ROUTES)
    tags = TagTable(cfg.tags)
    clock = Clock()
    rec = Recorder(broker, "gas/gs1/#").start()
    up = Uplink(cfg, tmp_path, tags, clock=clock)
    up.start()
    try:
        wait_until(lambda: up.status()["connected"], 20, what="online")
        for k, (p, t) in enumerate([(1.0, 10.0), (2.0, 14.0), (3.0, 12.0)]):
            feed(tags, up.on_changes, {"pt.inlet": p, "tt.inlet": t, "fq.total": 100 + k})
            wait_until(lambda n=k + 1: len(_live(rec, "safety")) >= n, 10, what="safety")
        clock.offset += 10.0  # the window closes
        rec.wait_for(lambda ms: [m for m in ms if m.topic == "gas/gs1/energy"], 10, "aggregate")
    finally:
        up.stop()
        rec.stop()
    route_schema = _schema("route")
    safety = _live(rec, "safety")
    for body in safety:
        jsonschema.validate(body, route_schema)
    assert [v["value"] for b in safety for v in b["values"]] == [1.0, 2.0, 3.0]
    assert all(m.qos == 1 for m in rec.on("gas/gs1/safety"))
    energy_msgs = rec.on("gas/gs1/energy")
    assert len(energy_msgs) == 1 and energy_msgs[0].qos == 0
    agg = json.loads(energy_msgs[0].payload)
    jsonschema.validate(agg, route_schema)
    assert agg["route"] == "energy" and agg["window"] == 10.0
    assert agg["window_start"] % 10 == 0
    tt = next(v for v in agg["values"] if v["tag"] == "tt.inlet")
    assert (tt["min"], tt["max"], tt["last"], tt["count"]) == (10.0, 14.0, 12.0, 3)
    assert tt["avg"] == pytest.approx(12.0)
    fq = next(v for v in agg["values"] if v["tag"] == "fq.total")
    assert (fq["min"], fq["max"], fq["last"]) == (100, 102, 102)
    # routed tags leave the per-device telemetry; the others stay there
    tel = [v["tag"] for m in rec.on("gas/gs1/telemetry") for v in json.loads(m.payload)["values"]]
    assert "pt.inlet" not in tel and "tt.inlet" not in tel


def test_sparkplug_one_device_per_route_and_aggregate_ddata(broker, tmp_path):
    cfg = uplink_station([broker], "sparkplug", routes=ROUTES)
    tags = TagTable(cfg.tags)
    clock = Clock()
    rec = Recorder(broker, "spBv1.0/#").start()
    up = Uplink(cfg, tmp_path, tags, clock=clock)
    up.start()
    try:
        rec.wait_for(lambda ms: len([m for m in ms if "/DBIRTH/" in m.topic]) >= 4, 20, "births")
        feed(tags, up.on_changes, {"tt.inlet": 10.0, "fq.total": 5})
        feed(tags, up.on_changes, {"tt.inlet": 20.0, "fq.total": 6})
        wait_until(lambda: up.status()["outbox_depth"] == 0, 10, what="stored and sent")
        clock.offset += 10.0
        rec.wait_for(lambda ms: [m for m in ms if m.topic.endswith("DDATA/gs1/energy")], 10, "agg")
    finally:
        up.stop()
        rec.stop()
    devices = {m.topic.rsplit("/", 1)[1]: sp_payload(m) for m in rec.on("/DBIRTH/")}
    assert set(devices) == {"plc1", "plc2", "safety", "energy"}
    assert [m.name for m in devices["safety"].metrics] == ["pt.inlet"]
    energy_names = {m.name for m in devices["energy"].metrics}
    assert {"tt.inlet/min", "tt.inlet/max", "tt.inlet/avg", "tt.inlet/last"} <= energy_names
    assert "pt.inlet" not in {m.name for m in devices["plc1"].metrics}
    assert "Device Info/State" in {m.name for m in devices["plc1"].metrics}
    alias = {m.alias: m.name for m in devices["energy"].metrics}
    ddata = [sp_payload(m) for m in rec.on("/DDATA/gs1/energy")]
    got = {alias[m.alias]: m for p in ddata for m in p.metrics}
    assert got["tt.inlet/min"].double_value == 10.0
    assert got["tt.inlet/max"].double_value == 20.0
    assert got["tt.inlet/avg"].double_value == pytest.approx(15.0)
    assert got["tt.inlet/last"].double_value == 20.0


def _write_station(folder: Path, broker: MosquittoBroker, label: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "station.yaml").write_text(
        "station:\n  id: gs7\n  name: Hash test\n"
        "uplink:\n  enabled: true\n  mode: json\n  integrity_interval: 0\n"
        f"  brokers:\n    - host: {broker.host}\n      port: {broker.port}\n"
    )
    (folder / "devices.yaml").write_text("devices:\n  - id: plc1\n    protocol: modbus_tcp\n")
    (folder / "tags.yaml").write_text(
        f"tags:\n  - name: pt.a\n    device: plc1\n    address: hr:0\n    label: {label}\n"
    )
    return folder


def test_config_hash_in_status_changes_after_a_config_edit(broker, tmp_path):
    station = _write_station(tmp_path / "station", broker, "Inlet pressure")
    hashes = []
    for run, label in enumerate(["Inlet pressure", "Inlet pressure (edited)"]):
        _write_station(station, broker, label)
        cfg = load_station(station)
        up = Uplink(cfg, tmp_path / f"data{run}", TagTable(cfg.tags))
        up.start()
        try:
            wait_until(lambda u=up: u.status()["connected"], 20, what="online")
        finally:
            up.stop()
        rec = Recorder(broker, "gas/gs7/status").start()  # the retained (offline) status
        try:
            rec.wait_for(lambda ms: ms, 10, "retained status")
        finally:
            rec.stop()
        status = json.loads(rec.take()[0].payload)
        assert status["config_hash"] == config_hash(cfg)
        hashes.append(status["config_hash"])
    assert hashes[0] != hashes[1]
