"""Payload codecs, publish policy, command policy and the --uplink override (no broker needed)."""

from __future__ import annotations

import concurrent.futures
import json
from pathlib import Path

import jsonschema
import pytest

from hmi.core.tagtable import TagTable
from hmi.core.uplink import override_uplink
from hmi.core.uplink import sparkplug_b_pb2 as pb
from hmi.core.uplink.commands import Command, Commands
from hmi.core.uplink.jsonmode import JsonMode
from hmi.core.uplink.outbox import KIND_ALARM, KIND_REPLY, KIND_TELEMETRY, Outbox, Row
from hmi.core.uplink.policy import PublishPolicy
from hmi.core.uplink.sparkplug import Sparkplug
from tests.mqtt_broker import feed, uplink_station

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


@pytest.fixture
def station(tmp_path):
    cfg = uplink_station([("127.0.0.1", 1883)], "sparkplug")
    ob = Outbox(tmp_path / "outbox.db", 1_000_000)
    yield cfg, TagTable(cfg.tags), ob
    ob.close()


def test_override_uplink_parses_urls_and_modes():
    base = uplink_station([], "sparkplug").uplink
    up = override_uplink(base, "mqtts://edge@broker.example:8884", "json")
    assert up.enabled and up.mode == "json" and up.username == "edge"
    assert [(b.host, b.port, b.tls) for b in up.brokers] == [("broker.example", 8884, True)]
    assert override_uplink(base, "mqtt://10.0.0.5", None).brokers[0].port == 1883
    assert override_uplink(base, None, None) is base
    for bad, words in [
        ("http://x:1", "mqtt://"),
        ("mqtt://u:pw@x:1", "keyring"),
        ("mqtt://x:99999", "port"),
        ("mqtt://:1883", "host"),
    ]:
        with pytest.raises(ValueError, match=words):
            override_uplink(base, bad, None)
    with pytest.raises(ValueError, match="sparkplug"):
        override_uplink(base, None, "xml")


def test_policy_keeps_uplink_tags_splits_by_device_and_types_values(station):
    cfg, tags, _ob = station
    pol = PublishPolicy(cfg, tags)
    upd = feed(
        tags, None, {"pt.inlet": 1.25, "fq.total": 12.0, "hidden.diag": 3.0, "xv.outlet": 1.0}
    )
    rows = [json.loads(b) for b in pol.telemetry(upd)]
    by_dev = {r["d"]: {v[0]: v for v in r["v"]} for r in rows}
    assert set(by_dev) == {"plc1", "plc2"} and "hidden.diag" not in by_dev["plc1"]
    assert by_dev["plc1"]["fq.total"][1] == 12 and isinstance(by_dev["plc1"]["fq.total"][1], int)
    assert by_dev["plc2"]["xv.outlet"][1] is True and by_dev["plc1"]["pt.inlet"][2] == 192
    bad = [json.loads(b) for b in pol.telemetry(feed(tags, None, {"pt.inlet": 5.0}, quality=0))]
    assert (
        bad[0]["v"][0][1] is None and bad[0]["v"][0][2] == 0 and bad[0]["v"][0][4]
    )  # BAD: no number, a reason
    assert pol.telemetry(feed(tags, None, {"hidden.diag": 9.0})) == []


def _row(rid: int, kind: int, body: object) -> Row:
    return Row(rid, kind, 100.0, json.dumps(body).encode())


def test_sparkplug_data_uses_aliases_only_and_seq_wraps(station):
    cfg, tags, ob = station
    sp = Sparkplug(cfg, ob.aliases)
    births = sp.online(3, PublishPolicy(cfg, tags).current(), {}, 100.0)
    assert [m.topic for m in births] == [
        "spBv1.0/gas-stations/NBIRTH/gs1",
        "spBv1.0/gas-stations/DBIRTH/gs1/plc1",
        "spBv1.0/gas-stations/DBIRTH/gs1/plc2",
    ]
    row = _row(
        1,
        KIND_TELEMETRY,
        {
            "d": "plc1",
            "i": 0,
            "v": [["pt.inlet", 2.0, 192, 5000, ""], ["gone.tag", 1, 192, 5000, ""]],
        },
    )
    seqs = []
    for _ in range(300):
        msg = sp.encode(row, historical=True, now=101.0)
        p = pb.Payload.FromString(msg.payload)
        seqs.append(p.seq)
    assert seqs[0] == 3 and seqs[252] == 255 and seqs[253] == 0
    m = p.metrics
    assert (
        len(m) == 1 and not m[0].name and m[0].alias == sp.alias["pt.inlet"] and m[0].is_historical
    )
    assert m[0].timestamp == 5000 and not m[0].HasField("datatype")
    assert (
        sp.encode(
            _row(2, KIND_TELEMETRY, {"d": "plc1", "i": 0, "v": [["gone.tag", 1, 192, 0, ""]]}),
            False,
            1.0,
        )
        is None
    )
    reply = pb.Payload.FromString(
        sp.encode(_row(3, KIND_REPLY, {"id": "x", "ok": True}), False, 1.0).payload
    )
    assert reply.metrics[0].alias == 3 and json.loads(reply.metrics[0].string_value)["id"] == "x"


def test_sparkplug_parses_ncmd_and_dcmd(station):
    cfg, _tags, ob = station
    sp = Sparkplug(cfg, ob.aliases)
    p = pb.Payload()
    m = p.metrics.add()
    m.alias, m.datatype, m.boolean_value = 1, pb.Boolean, True  # Node Control/Rebirth by alias
    m = p.metrics.add()
    m.name, m.datatype = "Alarms/Ack", pb.String
    m.string_value = json.dumps(
        {"id": "k", "alarm_ids": ["pt.inlet.hh"], "user": "u", "comment": "c"}
    )
    cmds = sp.parse("spBv1.0/gas-stations/NCMD/gs1", p.SerializeToString())
    assert [c.kind for c in cmds] == ["rebirth", "ack"] and cmds[1].alarm_ids == ["pt.inlet.hh"]
    d = pb.Payload()
    m = d.metrics.add()
    m.name, m.datatype, m.long_value = "fq.total", pb.Int64, (1 << 64) - 5  # -5 in two's complement
    (w,) = sp.parse("spBv1.0/gas-stations/DCMD/gs1/plc1", d.SerializeToString())
    assert (w.kind, w.tag, w.value, w.user) == ("write", "fq.total", -5, "sparkplug:host")
    (bad,) = sp.parse("spBv1.0/gas-stations/NCMD/gs1", b"\xff\xff\xff")
    assert bad.kind == "invalid"


def test_sparkplug_state_messages(tmp_path):
    cfg = uplink_station([], "sparkplug", primary_host="scada1")
    ob = Outbox(tmp_path / "o.db", 1_000_000)
    try:
        sp = Sparkplug(cfg, ob.aliases)
        t = "spBv1.0/STATE/scada1"
        assert "spBv1.0/STATE/scada1" in sp.subscriptions()
        assert sp.host_online(t, b'{"online": true, "timestamp": 10}') is True
        assert (
            sp.host_online(t, b'{"online": false, "timestamp": 5}') is None
        )  # older than the last one
        assert sp.host_online(t, b'{"online": false, "timestamp": 11}') is False
        assert sp.host_online(t, b"garbage") is None
        assert sp.host_online("other/topic", b"{}") is None
    finally:
        ob.close()


def test_json_rows_validate_against_the_schemas(station):
    cfg, _tags, _ob = station
    js = JsonMode(cfg)
    tel = js.encode(
        _row(
            5,
            KIND_TELEMETRY,
            {
                "d": "plc1",
                "i": 1,
                "v": [["pt.inlet", 2.0, 192, 5000, ""], ["tt.inlet", None, 0, 0, "timeout"]],
            },
        ),
        True,
        200.0,
    )
    body = json.loads(tel.payload)
    jsonschema.validate(body, json.loads((SCHEMAS / "uplink-telemetry.schema.json").read_text()))
    assert tel.topic == "gas/gs1/telemetry" and body["msg_id"] == 5 and body["historical"] is True
    assert body["values"][1] == {
        "tag": "tt.inlet",
        "value": None,
        "quality": 0,
        "ts": 0.0,
        "reason": "timeout",
    }
    event = {
        "seq": 1,
        "alarm_id": "a",
        "tag": "t",
        "kind": "HH",
        "priority": 1,
        "state": "ACTIVE_UNACK",
        "prev_state": "NORMAL",
        "transition": "raise",
        "ts": 1.0,
        "user": "",
        "comment": "",
        "remote": False,
        "message": {"en": "x", "zh": "x"},
    }
    alarm = js.encode(_row(6, KIND_ALARM, event), False, 2.0)
    jsonschema.validate(
        json.loads(alarm.payload), json.loads((SCHEMAS / "uplink-alarm.schema.json").read_text())
    )
    broken = json.loads(alarm.payload)
    del broken["transition"]
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail
        jsonschema.validate(broken, json.loads((SCHEMAS / "uplink-alarm.schema.json").read_text()))
    assert js.will(0).retain and json.loads(js.will(0).payload)["state"] == "offline"
    (bad,) = js.parse("gas/gs1/cmd/write", b'{"tag": "xv.outlet", "value": [1], "user": "u"}')
    assert bad.kind == "invalid" and "value" in bad.error


def _reply(commands: Commands, cmd: Command) -> dict:
    """The reply of a command whose handler answered at once (its future is already done)."""
    fut = commands.execute(cmd)
    assert fut.done()
    return fut.result()


def test_command_policy(station):
    cfg, _tags, _ob = station
    calls = []
    ack = lambda ids, user, comment: calls.append(("ack", ids)) or (True, "ok")  # noqa: E731
    write = lambda tag, value, user: calls.append(("write", tag)) or (True, "ok")  # noqa: E731
    default = Commands(cfg, ack, write)
    assert _reply(default, Command("ack", "1", ["a"], user="u"))["ok"] is True
    denied = _reply(default, Command("write", "2", tag="xv.outlet", value=1, user="u"))
    assert denied["message"].startswith("denied")
    no_ack = cfg.model_copy(update={"uplink": cfg.uplink.model_copy(update={"remote_ack": False})})
    no = _reply(Commands(no_ack, ack, write), Command("ack", "3", ["a"], user="u"))
    assert no["message"].startswith("denied")
    on = cfg.model_copy(update={"uplink": cfg.uplink.model_copy(update={"remote_commands": True})})
    ok = _reply(Commands(on, ack, write), Command("write", "4", tag="xv.outlet", value=1, user="u"))
    assert ok["ok"] is True
    sp = _reply(Commands(on, ack, write), Command("write", "5", tag="pic.sp", value=1, user="u"))
    assert sp["message"].startswith("denied")
    boom = _reply(Commands(cfg, lambda *a: 1 / 0, write), Command("ack", "6", ["a"], user="u"))
    assert boom["ok"] is False and "failed" in boom["message"]
    assert calls == [("ack", ["a"]), ("write", "xv.outlet")]


def test_command_reply_waits_for_the_handlers_future(station):
    """A handler that answers with a future (the runtime's command service) blocks nothing:
    execute returns at once and the reply is made when the future completes, on that thread."""
    cfg, _tags, _ob = station
    on = cfg.model_copy(update={"uplink": cfg.uplink.model_copy(update={"remote_commands": True})})
    pending: concurrent.futures.Future[tuple[bool, str]] = concurrent.futures.Future()
    refused: list[str] = []
    cmds = Commands(
        on, None, lambda tag, value, user: pending, on_refused=lambda c, m: refused.append(m)
    )
    reply = cmds.execute(Command("write", "7", tag="xv.outlet", value=1, user="u"))
    assert not reply.done()
    pending.set_result((False, "rejected: device exception 2"))
    r = reply.result(0)
    assert (r["id"], r["ok"], r["message"]) == ("7", False, "rejected: device exception 2")
    assert refused == []  # the handler (command service) audits its own refusals
    failing: concurrent.futures.Future[tuple[bool, str]] = concurrent.futures.Future()
    reply = Commands(on, None, lambda *a: failing).execute(
        Command("write", "8", tag="xv.outlet", value=1, user="u")
    )
    failing.set_exception(RuntimeError("runtime is not running"))
    assert reply.result(0)["ok"] is False and "runtime is not running" in reply.result(0)["message"]


def test_sparkplug_diagnostics_ndata(station):
    cfg, _tags, ob = station
    sp = Sparkplug(cfg, ob.aliases)
    status = {
        "outbox_depth": 12,
        "oldest_age": None,
        "dropped": 3,
        "sent": 40,
        "broker": "127.0.0.1:1883",
    }
    (msg,) = sp.diagnostics(status, 10.0)
    p = pb.Payload.FromString(msg.payload)
    by_alias = {m.alias: m for m in p.metrics}
    assert msg.topic.endswith("/NDATA/gs1") and all(not m.name for m in p.metrics)
    assert (
        by_alias[10].long_value == 12
        and by_alias[11].is_null
        and by_alias[14].string_value == "127.0.0.1:1883"
    )
