"""JSON payload mode against a real mosquitto: documented schemas, remote ack round trip, writes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import create_engine

from drivers.base import DeviceState
from hmi.core.alarms import AlarmEngine
from hmi.core.alarms.journal import read_journal
from hmi.core.tagtable import TagTable
from hmi.core.uplink import Uplink
from tests.helpers import wait_until
from tests.mqtt_broker import MosquittoBroker, Recorder, feed, mosquitto, uplink_station  # noqa: F401

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"uplink-{name}.schema.json").read_text())


class Rig:
    """Broker recorder + one JSON-mode uplink with a real alarm engine behind the ack handler."""

    def __init__(self, broker: MosquittoBroker, tmp: Path, **uplink: object) -> None:
        self.tmp = tmp
        self.rec = Recorder(broker).start()
        self.cfg = uplink_station([broker], "json", **uplink)
        self.tags = TagTable(self.cfg.tags)
        self.engine = AlarmEngine(self.cfg, tmp / "alarms.db")
        self.writes: list[tuple] = []
        self.up = Uplink(
            self.cfg, tmp, self.tags, ack_handler=self._ack, command_handler=self._write
        )
        self.engine.add_listener(self.up.on_alarm)
        self.up.start()
        wait_until(lambda: self.rec.on("gas/gs1/status"), 20, what="online status")

    def _ack(self, ids, user, comment):
        r = self.engine.ack(ids, user, comment, remote=True)
        return r.ok, r.message or "ok"

    def _write(self, tag, value, user):
        self.writes.append((tag, value, user))
        return True, "ok"

    def close(self) -> None:
        self.up.stop()
        self.engine.close()
        self.rec.stop()

    def payloads(self, topic: str) -> list[dict]:
        return [
            json.loads(m.payload) for m in self.rec.take(lambda m: m.topic == f"gas/gs1/{topic}")
        ]

    def command(self, kind: str, body: dict | bytes) -> None:
        self.rec.publish(
            f"gas/gs1/cmd/{kind}", body if isinstance(body, bytes) else json.dumps(body)
        )

    def reply(self, rid: str) -> dict:
        wait_until(
            lambda: [r for r in self.payloads("cmd/reply") if r["id"] == rid],
            20,
            what=f"reply {rid}",
        )
        return next(r for r in self.payloads("cmd/reply") if r["id"] == rid)


@pytest.fixture
def rig(mosquitto, tmp_path):  # noqa: F811
    r = Rig(mosquitto, tmp_path)
    try:
        yield r
    finally:
        r.close()


def test_every_topic_matches_its_documented_schema(rig, mosquitto):  # noqa: F811
    late = Recorder(
        mosquitto, "gas/gs1/status"
    ).start()  # subscribes after the fact: gets the retained status
    try:
        wait_until(late.take, 10, what="retained status")
        status = late.take()[0]
    finally:
        late.stop()
    assert status.retain
    jsonschema.validate(json.loads(status.payload), schema("status"))
    assert json.loads(status.payload)["online"] is True

    feed(rig.tags, rig.up.on_changes, {"pt.inlet": 3.5, "fq.total": 77.0, "hidden.diag": 1.0})
    feed(rig.tags, rig.up.on_changes, {"xv.outlet": 1.0, "gc.status": "RUN"})
    rig.engine.process(feed(rig.tags, rig.up.on_changes, {"pt.inlet": 6.5}))
    rig.up.on_device_state("plc1", DeviceState.UP, DeviceState.BACKOFF, "connection refused")
    rig.command("ack", {"id": "a1", "alarm_ids": ["pt.inlet.hh"], "user": "dispatch.zhao"})
    rig.reply("a1")
    wait_until(
        lambda: (
            len(rig.payloads("telemetry")) >= 5
            and rig.payloads("alarms")
            and rig.payloads("events")
        ),
        20,
    )

    tel = rig.payloads("telemetry")
    for t in tel:
        jsonschema.validate(t, schema("telemetry"))
    integrity = [t for t in tel if t["integrity"]]
    assert {t["device"] for t in integrity} == {"plc1", "plc2"}  # sent on connect
    live = [t for t in tel if not t["integrity"]]
    values = {v["tag"]: v["value"] for t in live for v in t["values"]}
    assert (
        values["pt.inlet"] == pytest.approx(6.5)
        and values["fq.total"] == 77
        and values["xv.outlet"] is True
    )
    assert values["gc.status"] == "RUN" and "hidden.diag" not in values
    assert [t["msg_id"] for t in tel] == sorted(t["msg_id"] for t in tel)
    for a in rig.payloads("alarms"):
        jsonschema.validate(a, schema("alarm"))
    for e in rig.payloads("events"):
        jsonschema.validate(e, schema("event"))
    assert rig.payloads("events")[0]["new"] == "backoff"
    jsonschema.validate(rig.payloads("cmd/reply")[0], schema("cmd-reply"))

    # the Will: an unclean loss leaves the retained status "offline"
    rig.up._conn.drop_socket()  # noqa: SLF001
    wait_until(
        lambda: any(not p["online"] for p in rig.payloads("status")), 20, what="offline Will"
    )
    will = next(p for p in rig.payloads("status") if not p["online"])
    jsonschema.validate(will, schema("status"))
    assert will["state"] == "offline"
    # ... and a new session says online again
    wait_until(lambda: rig.payloads("status")[-1]["online"], 20, what="online again")


def test_remote_ack_round_trip(rig):
    rig.engine.process(feed(rig.tags, rig.up.on_changes, {"pt.inlet": 7.0}))
    wait_until(
        lambda: [a for a in rig.payloads("alarms") if a["transition"] == "raise"], 20, what="raise"
    )

    rig.command(
        "ack",
        {"id": "r1", "alarm_ids": ["pt.inlet.hh"], "user": "dispatch.li", "comment": "crew sent"},
    )
    r1 = rig.reply("r1")
    assert r1["ok"] is True and r1["message"] and r1["alarm_ids"] == ["pt.inlet.hh"]
    wait_until(
        lambda: [a for a in rig.payloads("alarms") if a["transition"] == "ack"],
        20,
        what="ack transition",
    )
    ack = next(a for a in rig.payloads("alarms") if a["transition"] == "ack")
    assert ack["remote"] is True and ack["user"] == "dispatch.li" and ack["comment"] == "crew sent"
    assert ack["state"] == "ACTIVE_ACK"

    rig.command("ack", {"id": "r2", "alarm_ids": ["pt.inlet.hh"], "user": "dispatch.li"})
    assert "already acknowledged" in rig.reply("r2")["message"]
    rig.command("ack", {"id": "r3", "alarm_ids": ["no.such.alarm"], "user": "dispatch.li"})
    r3 = rig.reply("r3")
    assert r3["ok"] is False and "unknown alarm" in r3["message"]
    rig.command("ack", b"{not json")
    wait_until(lambda: [r for r in rig.payloads("cmd/reply") if r["cmd"] == "invalid"], 20)
    assert (
        "malformed"
        in next(r for r in rig.payloads("cmd/reply") if r["cmd"] == "invalid")["message"]
    )

    # the alarm journal holds the remote acknowledgement
    rig.engine.flush()
    eng = create_engine(f"sqlite:///{rig.tmp / 'alarms.db'}")
    try:
        acks = [e for e in read_journal(eng) if e["transition"] == "ack"]
    finally:
        eng.dispose()
    assert len(acks) == 1 and acks[0]["remote"] is True and acks[0]["user"] == "dispatch.li"


def test_local_ack_goes_up_so_dispatch_screens_clear(rig):
    rig.engine.process(feed(rig.tags, rig.up.on_changes, {"pt.inlet": 7.0}))
    res = rig.engine.ack(["pt.inlet.hh"], "operator.chen", "checked on site")
    assert res.ok
    wait_until(
        lambda: [a for a in rig.payloads("alarms") if a["transition"] == "ack"],
        20,
        what="local ack",
    )
    ack = next(a for a in rig.payloads("alarms") if a["transition"] == "ack")
    assert ack["remote"] is False and ack["user"] == "operator.chen"


def test_remote_write_denied_by_default(rig):
    rig.command("write", {"id": "w1", "tag": "xv.outlet", "value": True, "user": "dispatch.li"})
    w1 = rig.reply("w1")
    assert w1["ok"] is False and w1["message"].startswith("denied")
    assert rig.writes == []


def test_remote_write_accepted_only_for_remote_write_tags_when_enabled(mosquitto, tmp_path):  # noqa: F811
    rig = Rig(mosquitto, tmp_path, remote_commands=True)
    try:
        rig.command(
            "write", {"id": "w1", "tag": "xv.outlet", "value": False, "user": "dispatch.li"}
        )
        rig.command("write", {"id": "w2", "tag": "pic.sp", "value": 0.4, "user": "dispatch.li"})
        rig.command("write", {"id": "w3", "tag": "no.such", "value": 1, "user": "dispatch.li"})
        rig.command("write", {"id": "w4", "tag": "xv.outlet", "value": True})  # no user
        assert rig.reply("w1")["ok"] is True
        assert "denied" in rig.reply("w2")["message"]
        assert "unknown tag" in rig.reply("w3")["message"]
        assert "user" in rig.reply("w4")["message"]
        assert rig.writes == [("xv.outlet", False, "dispatch.li")]
    finally:
        rig.close()


def test_daily_report_goes_up_as_an_event(rig):
    report = {
        "date": "2026-11-23",
        "station": {"volume_nm3": 612345.0},
        "runs": {"fc1": 300000.0, "fc2": 312345.0},
    }
    rig.up.on_report(report)
    wait_until(
        lambda: [e for e in rig.payloads("events") if e.get("type") == "daily_report"],
        20,
        what="report event",
    )
    ev = next(e for e in rig.payloads("events") if e.get("type") == "daily_report")
    assert ev["report"] == report
    jsonschema.validate(ev, schema("event"))
