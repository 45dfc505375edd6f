"""Sparkplug B edge node against a real mosquitto: births, aliases, seq, bdSeq/Will, commands."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from hmi.core.alarms import AlarmEngine
from hmi.core.tagtable import TagTable
from hmi.core.uplink import Uplink
from hmi.core.uplink import sparkplug_b_pb2 as pb
from tests.helpers import wait_until
from tests.mqtt_broker import MosquittoBroker, Recorder, feed, mosquitto, sp_payload, uplink_station  # noqa: F401

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
NS = "spBv1.0/gas-stations"


class Rig:
    """A recorder on the broker plus uplinks made on demand (all stopped at the end)."""

    def __init__(self, broker: MosquittoBroker, tmp: Path) -> None:
        self.broker, self.tmp = broker, tmp
        self.rec = Recorder(broker).start()
        self.uplinks: list[Uplink] = []
        self.calls: list[tuple] = []

    def make(
        self, engine: bool = False, values: dict | None = None, **uplink: object
    ) -> tuple[Uplink, TagTable]:
        cfg = uplink_station([self.broker], "sparkplug", **uplink)
        tags = TagTable(cfg.tags)
        if values:  # current values before the uplink starts: its births carry them
            feed(tags, None, values)
        ack = None
        if engine:
            self.engine = AlarmEngine(cfg, self.tmp / "alarms.db")
            ack = lambda ids, user, comment: _ok(self.engine.ack(ids, user, comment, remote=True))  # noqa: E731
        up = Uplink(cfg, self.tmp, tags, ack_handler=ack, command_handler=self._write)
        if engine:
            self.engine.add_listener(up.on_alarm)
        self.uplinks.append(up)
        up.start()
        return up, tags

    def _write(self, tag: str, value: object, user: str) -> tuple[bool, str]:
        self.calls.append((tag, value, user))
        return True, "written"

    def close(self) -> None:
        for u in self.uplinks:
            u.stop()
        if hasattr(self, "engine"):
            self.engine.close()
        self.rec.stop()

    def births(self, n: int = 1) -> None:
        wait_until(
            lambda: len(self.rec.on("/NBIRTH/")) >= n and len(self.rec.on("/DBIRTH/")) >= 2 * n,
            20,
            what=f"{n} birth(s)",
        )

    def ncmd(self, *metrics: tuple[str, int, object]) -> None:
        p = pb.Payload()
        for name, dtype, value in metrics:
            m = p.metrics.add()
            m.name, m.datatype = name, dtype
            if dtype == pb.Boolean:
                m.boolean_value = bool(value)
            else:
                m.string_value = str(value)
        self.rec.publish(f"{NS}/NCMD/gs1", p.SerializeToString())

    def replies(self) -> list[dict]:
        out = []
        for msg in self.rec.on("/NDATA/gs1"):
            for m in sp_payload(msg).metrics:
                if m.alias == 3:  # Commands/Reply
                    out.append(json.loads(m.string_value))
        return out


def _ok(result) -> tuple[bool, str]:
    return result.ok, result.message or "ok"


@pytest.fixture
def rig(mosquitto, tmp_path):  # noqa: F811
    r = Rig(mosquitto, tmp_path)
    try:
        yield r
    finally:
        r.close()


def _metrics(msg) -> dict[str, pb.Payload.Metric]:
    return {m.name: m for m in sp_payload(msg).metrics}


def _quality(m) -> int:
    return dict(zip(m.properties.keys, [v.int_value for v in m.properties.values], strict=True))[
        "Quality"
    ]


def test_births_carry_every_metric_with_alias_then_ddata_by_exception_with_aliases_only(rig):
    up, tags = rig.make(values={"pt.inlet": 2.5, "tt.inlet": 12.0, "fq.total": 1234.0})
    rig.births()
    nb = rig.rec.on("/NBIRTH/gs1")[0]
    p = sp_payload(nb)
    assert p.seq == 0 and nb.qos == 0 and not nb.retain
    node = _metrics(nb)
    assert node["bdSeq"].datatype == pb.Int64 and node["bdSeq"].long_value == up.status()["bdseq"]
    assert (
        node["Node Control/Rebirth"].datatype == pb.Boolean
        and node["Node Control/Rebirth"].boolean_value is False
    )
    for name in (
        "Alarms/Ack",
        "Commands/Reply",
        "Alarms/Event",
        "Diagnostics/Outbox Depth",
        "Alarms/pt.inlet.hh/State",
        "Alarms/plc1.comm/State",
    ):
        assert name in node, name
    d1 = rig.rec.on("/DBIRTH/gs1/plc1")[0]
    assert sp_payload(d1).seq in (1, 2)
    dm = _metrics(d1)
    assert {"pt.inlet", "tt.inlet", "fq.total", "Device Info/State"} <= set(dm)
    assert "hidden.diag" not in dm  # uplink: false
    assert dm["pt.inlet"].datatype == pb.Double and dm["pt.inlet"].double_value == pytest.approx(
        2.5
    )
    assert dm["fq.total"].datatype == pb.Int64 and dm["fq.total"].long_value == 1234
    assert _quality(dm["pt.inlet"]) == 192
    d2 = _metrics(rig.rec.on("/DBIRTH/gs1/plc2")[0])
    assert d2["xv.outlet"].datatype == pb.Boolean and d2["gc.status"].datatype == pb.String
    assert d2["xv.outlet"].is_null and _quality(d2["xv.outlet"]) == 0  # never read: BAD, no value
    aliases = [m.alias for msg in rig.rec.on("/DBIRTH/") for m in sp_payload(msg).metrics]
    aliases += [m.alias for m in p.metrics if m.name != "bdSeq"]
    assert len(aliases) == len(set(aliases))  # unique across the node

    feed(tags, up.on_changes, {"pt.inlet": 2.52})  # within the 0.05 deadband: nothing
    feed(tags, up.on_changes, {"pt.inlet": 3.0, "tt.inlet": 12.0})  # only pt.inlet moved
    feed(tags, up.on_changes, {"xv.outlet": 1.0})
    feed(tags, up.on_changes, {"tt.inlet": 0.0}, quality=0)
    wait_until(lambda: len(rig.rec.on("/DDATA/")) >= 3, 20, what="3 DDATA")
    dd = [sp_payload(m) for m in rig.rec.on("/DDATA/")]
    first = dd[0].metrics
    assert len(first) == 1 and first[0].name == "" and first[0].alias == dm["pt.inlet"].alias
    assert first[0].double_value == pytest.approx(3.0) and not first[0].is_historical
    assert (
        dd[1].metrics[0].alias == d2["xv.outlet"].alias and dd[1].metrics[0].boolean_value is True
    )
    bad = dd[2].metrics[0]
    assert bad.alias == dm["tt.inlet"].alias and bad.is_null and _quality(bad) == 0
    seqs = [p.seq] + [sp_payload(m).seq for m in rig.rec.on("/DBIRTH/")] + [d.seq for d in dd]
    assert sorted(seqs) == list(range(6))

    # aliases are stable and bdSeq moves on across a restart of the edge node
    first_bdseq = node["bdSeq"].long_value
    up.stop()
    rig.rec.clear()
    up2, _ = rig.make()
    rig.births()
    node2 = _metrics(rig.rec.on("/NBIRTH/gs1")[0])
    assert node2["bdSeq"].long_value == (first_bdseq + 1) % 256
    assert _metrics(rig.rec.on("/DBIRTH/gs1/plc1")[0])["pt.inlet"].alias == dm["pt.inlet"].alias


def test_seq_wraps_from_255_to_0(rig):
    up, tags = rig.make()
    rig.births()
    for i in range(300):
        feed(tags, up.on_changes, {"pt.inlet": float(i % 2) * 5.0})
    wait_until(lambda: len(rig.rec.on("/DDATA/")) >= 300, 30, what="300 DDATA")
    seqs = [sp_payload(m).seq for m in rig.rec.on("/DDATA/")]
    assert seqs[0] == 3  # NBIRTH 0, DBIRTH 1 and 2
    assert all(b == (a + 1) % 256 for a, b in zip(seqs, seqs[1:], strict=False))
    k = seqs.index(255)
    assert seqs[k + 1] == 0


def test_unclean_loss_gives_ndeath_with_the_births_bdseq_then_a_new_session(rig):
    up, tags = rig.make()
    rig.births()
    bd = _metrics(rig.rec.on("/NBIRTH/")[0])["bdSeq"].long_value
    up._conn.drop_socket()  # noqa: SLF001 - the socket dies without DISCONNECT: the broker sends the Will
    wait_until(lambda: rig.rec.on("/NDEATH/gs1"), 20, what="NDEATH")
    death = rig.rec.on("/NDEATH/gs1")[0]
    assert death.qos == 1
    assert _metrics(death)["bdSeq"].long_value == bd
    rig.births(2)
    assert _metrics(rig.rec.on("/NBIRTH/")[1])["bdSeq"].long_value == (bd + 1) % 256
    assert sp_payload(rig.rec.on("/NBIRTH/")[1]).seq == 0


def test_ncmd_rebirth_republishes_births_with_same_bdseq(rig):
    up, tags = rig.make()
    rig.births()
    bd = _metrics(rig.rec.on("/NBIRTH/")[0])["bdSeq"].long_value
    feed(tags, up.on_changes, {"pt.inlet": 4.0})
    wait_until(lambda: rig.rec.on("/DDATA/"), 20)
    rig.ncmd(("Node Control/Rebirth", pb.Boolean, True))
    rig.births(2)
    nb = rig.rec.on("/NBIRTH/")[1]
    assert sp_payload(nb).seq == 0 and _metrics(nb)["bdSeq"].long_value == bd
    assert _metrics(rig.rec.on("/DBIRTH/gs1/plc1")[1])["pt.inlet"].double_value == pytest.approx(
        4.0
    )


def _dcmd(rig, device: str, alias: int, value: bool) -> None:
    p = pb.Payload()
    m = p.metrics.add()
    m.alias, m.datatype, m.boolean_value = alias, pb.Boolean, value
    m.properties.keys.append("User")
    pv = m.properties.values.add()
    pv.type, pv.string_value = pb.String, "dispatch.li"
    rig.rec.publish(f"{NS}/DCMD/gs1/{device}", p.SerializeToString())


def test_dcmd_is_denied_by_default(rig):
    up, tags = rig.make()
    rig.births()
    alias = _metrics(rig.rec.on("/DBIRTH/gs1/plc2")[0])["xv.outlet"].alias
    _dcmd(rig, "plc2", alias, True)
    wait_until(rig.replies, 20, what="a reply")
    reply = rig.replies()[0]
    assert (
        reply["ok"] is False and reply["message"].startswith("denied") and reply["cmd"] == "write"
    )
    assert rig.calls == []


def test_dcmd_is_accepted_when_enabled_and_the_tag_allows_it(rig):
    up, tags = rig.make(remote_commands=True)
    rig.births()
    birth = _metrics(rig.rec.on("/DBIRTH/gs1/plc2")[0])
    _dcmd(rig, "plc2", birth["xv.outlet"].alias, True)
    _dcmd(rig, "plc2", birth["pic.sp"].alias, True)  # remote_write is false for this tag
    wait_until(lambda: len(rig.replies()) >= 2, 20, what="two replies")
    by_tag = {r["tag"]: r for r in rig.replies()}
    assert by_tag["xv.outlet"]["ok"] is True and by_tag["xv.outlet"]["user"] == "dispatch.li"
    assert by_tag["pic.sp"]["ok"] is False and "denied" in by_tag["pic.sp"]["message"]
    assert rig.calls == [("xv.outlet", True, "dispatch.li")]


def test_alarm_goes_up_and_remote_ack_through_ncmd(rig):
    up, tags = rig.make(engine=True)
    rig.births()
    rig.engine.process(feed(tags, up.on_changes, {"pt.inlet": 7.0}))
    wait_until(
        lambda: any(m.alias == 4 for msg in rig.rec.on("/NDATA/") for m in sp_payload(msg).metrics),
        20,
        what="alarm NDATA",
    )
    schema = json.loads((SCHEMAS / "uplink-alarm.schema.json").read_text())
    event_schema = {"$ref": "#/$defs/event", "$defs": schema["$defs"]}
    state_alias = _metrics(rig.rec.on("/NBIRTH/")[0])["Alarms/pt.inlet.hh/State"].alias
    raised = [sp_payload(m) for m in rig.rec.on("/NDATA/")][0]
    ev = json.loads(next(m.string_value for m in raised.metrics if m.alias == 4))
    jsonschema.validate(ev, event_schema)
    assert ev["alarm_id"] == "pt.inlet.hh" and ev["transition"] == "raise"
    assert next(m.string_value for m in raised.metrics if m.alias == state_alias) == "ACTIVE_UNACK"

    rig.ncmd(
        (
            "Alarms/Ack",
            pb.String,
            json.dumps(
                {
                    "id": "r1",
                    "alarm_ids": ["pt.inlet.hh"],
                    "user": "dispatch.wang",
                    "comment": "seen",
                }
            ),
        )
    )
    wait_until(rig.replies, 20, what="ack reply")
    assert rig.replies()[0] == {**rig.replies()[0], "id": "r1", "cmd": "ack", "ok": True}

    def acked() -> list[dict]:
        evs = [
            json.loads(m.string_value)
            for msg in rig.rec.on("/NDATA/")
            for m in sp_payload(msg).metrics
            if m.alias == 4
        ]
        return [e for e in evs if e["transition"] == "ack"]

    wait_until(acked, 20, what="ack transition")
    assert acked()[0]["remote"] is True and acked()[0]["user"] == "dispatch.wang"


def test_primary_host_state_gates_the_births(rig):
    up, tags = rig.make(primary_host="scada1")
    wait_until(lambda: up.status()["state"] == "waiting for primary host", 20)
    assert rig.rec.on("/NBIRTH/") == []
    rig.rec.publish(
        "spBv1.0/STATE/scada1", json.dumps({"online": True, "timestamp": 1}), retain=True
    )
    rig.births()
    assert up.status()["connected"]
    rig.rec.publish(
        "spBv1.0/STATE/scada1", json.dumps({"online": False, "timestamp": 2}), retain=True
    )
    wait_until(lambda: rig.rec.on("/NDEATH/"), 20, what="NDEATH after the host went offline")
    wait_until(lambda: up.status()["state"] == "waiting for primary host", 20)
    rig.rec.publish(
        "spBv1.0/STATE/scada1", json.dumps({"online": True, "timestamp": 3}), retain=True
    )
    rig.births(2)
    assert (
        _metrics(rig.rec.on("/NDEATH/")[0])["bdSeq"].long_value
        == _metrics(rig.rec.on("/NBIRTH/")[0])["bdSeq"].long_value
    )
