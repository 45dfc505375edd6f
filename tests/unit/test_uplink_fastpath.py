"""The uplink's per-block fast path: array-built entries, JSON rows spliced, ids of appended rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from hmi.core.tagtable import BAD, TagTable, TagUpdate
from hmi.core.uplink.jsonmode import JsonMode
from hmi.core.uplink.outbox import KIND_TELEMETRY, Outbox, Row
from hmi.core.uplink.policy import PublishPolicy
from tests.mqtt_broker import feed, uplink_station

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def _by_value(pol: PublishPolicy, upd: TagUpdate) -> list[list]:
    """The entries spelled value by value (the reference the array path must equal)."""
    out = []
    for k, i in enumerate(np.asarray(upd.indices).tolist()):
        if not (pol.uplink[i] and pol.device_of[i] >= 0):
            continue
        q = int(upd.quality[k])
        v = None if q == BAD else pol._value(i, upd.values[k])
        out.append([pol.tags.names[i], v, q, int(round(float(upd.ts[k]) * 1000)), upd.reasons[k]])
    return out


def _upd(tags: TagTable, names: list[str], values: list, quality: list[int]) -> TagUpdate:
    n = len(names)
    return TagUpdate(
        np.array([tags.index[x] for x in names], dtype=np.int32),
        np.array(values, dtype=object if any(isinstance(v, str) for v in values) else np.float64),
        np.array(quality, dtype=np.uint8),
        np.full(n, 1732400000.0125),
        ["" if q == 192 else "timeout" for q in quality],
    )


@pytest.mark.parametrize(
    ("names", "values", "quality"),
    [
        (["pt.inlet", "tt.inlet"], [1.25, -3.5], [192, 192]),  # one float block
        (["pt.inlet", "tt.inlet"], [math.nan, math.inf], [192, 192]),  # non-finite: null
        (["fq.total"], [12.6], [192]),  # int kind: rounded integer
        (["xv.outlet"], [1.0], [192]),  # bool
        (["pt.inlet", "fq.total", "xv.outlet", "hidden.diag"], [1.0, 7.0, 0.0, 3.0], [192] * 4),
        (["pt.inlet", "tt.inlet"], [5.0, 6.0], [0, 64]),  # BAD: null; UNCERTAIN keeps it
        (["gc.status", "pt.inlet"], ["RUN", 2.0], [192, 192]),  # a string: value by value
    ],
)
def test_block_entries_equal_the_value_by_value_spelling(names, values, quality):
    cfg = uplink_station([("127.0.0.1", 1883)], "json")
    tags = TagTable(cfg.tags)
    pol = PublishPolicy(cfg, tags)
    upd = _upd(tags, names, values, quality)
    _ii, got = pol._entries(upd)
    want = _by_value(pol, upd)
    assert got == want
    assert [type(e[1]) for e in got] == [type(e[1]) for e in want]  # 12 stays an int, True a bool


def test_json_rows_in_the_message_shape_publish_as_the_parsed_ones(tmp_path):
    """A wire row spliced with its envelope is the message the compact row makes."""
    cfg = uplink_station(
        [("127.0.0.1", 1883)],
        "json",
        routes=[{"name": "safety", "match": ["pt.*"], "qos": 0}],
    )
    tags = TagTable(cfg.tags)
    codec = JsonMode(cfg, 1)
    upd = feed(tags, None, {"pt.inlet": 1.25, "tt.inlet": 20.0, "fq.total": 5.0}, ts=1732400000.05)
    compact = PublishPolicy(cfg, tags).telemetry(upd)
    wire = PublishPolicy(cfg, tags, wire=True).telemetry(upd)
    assert len(compact) == len(wire) == 2  # plc1's unrouted tags, the safety route
    tel_schema = json.loads((SCHEMAS / "uplink-telemetry.schema.json").read_text())
    for historical in (False, True):
        for a, b in zip(compact, wire, strict=True):
            ra = Row(41, KIND_TELEMETRY, 1732400000.5, a)
            rb = Row(41, KIND_TELEMETRY, 1732400000.5, b)
            ma = codec.encode(ra, historical, 1732400001.25)
            mb = codec.encode(rb, historical, 1732400001.25)
            assert ma is not None and mb is not None
            assert (mb.topic, mb.qos, mb.retain) == (ma.topic, ma.qos, ma.retain)
            assert json.loads(mb.payload) == json.loads(ma.payload)
            assert list(json.loads(mb.payload)) == list(json.loads(ma.payload))  # key order
    msgs = [codec.encode(Row(7, KIND_TELEMETRY, 1.0, b), False, 2.0) for b in wire]
    topics = {m.topic: m for m in msgs if m is not None}
    assert (
        set(topics) == {"gas/gs1/telemetry", "gas/gs1/safety"} and topics["gas/gs1/safety"].qos == 0
    )
    jsonschema.validate(json.loads(topics["gas/gs1/telemetry"].payload), tel_schema)


def test_outbox_append_names_the_ids_it_committed(tmp_path):
    ob = Outbox(tmp_path / "outbox.db", 10_000_000)
    try:
        ob.append([(KIND_TELEMETRY, 1.0, b"a"), (KIND_TELEMETRY, 1.5, b"b")])
        first = ob.last_rows
        ob.delete([first[0].id])  # a gap below: ids are still never reused
        ob.append([(KIND_TELEMETRY, 2.0, b"c"), (KIND_TELEMETRY, 2.25, b"d"), (1, 3.0, b"e")])
        second = ob.last_rows
        stored = ob.read(0, None, 100)
    finally:
        ob.close()
    assert [r.id for r in second] == [first[-1].id + 1, first[-1].id + 2, first[-1].id + 3]
    assert stored == [first[1], *second]  # id, kind, created, body as read back


@pytest.mark.parametrize(
    ("names", "values", "quality", "ts"),
    [
        (["pt.inlet", "tt.inlet"], [1.25, -3.5], [192, 192], None),  # one read: the byte join
        (["pt.inlet", "tt.inlet"], [1e16, 3e-7], [192, 192], None),  # exponents, no commas
        (["pt.inlet", "tt.inlet"], [math.nan, 2.0], [192, 192], None),  # non-finite: null
        (["pt.inlet", "tt.inlet"], [5.0, 6.0], [64, 64], None),  # UNCERTAIN keeps its value
        (["fq.total"], [12.6], [192], None),  # int kind
        (["xv.outlet"], [1.0], [192], None),  # bool kind
    ],
)
def test_a_json_block_in_one_pass_is_the_general_paths_bytes(names, values, quality, ts):
    """The JSON mode's one-pass body of a read block is byte for byte the body the general
    path (entries, then objects) makes of it, and it is taken for every case above."""
    cfg = uplink_station([("127.0.0.1", 1883)], "json")
    tags = TagTable(cfg.tags)
    pol = PublishPolicy(cfg, tags, wire=True)
    upd = _upd(tags, names, values, quality)
    upd.reasons[:] = [""] * len(names)  # UNCERTAIN without a reason
    if ts is not None:
        upd.ts[:] = ts
    fast = pol._wire_block(upd, False)
    assert fast is not None
    ii, entries = pol._entries(upd)
    general = pol._body(pol.groups[int(pol.single[ii[0]])], entries, False)
    assert fast == general
    assert pol.telemetry(upd) == [fast]


def test_updates_the_one_pass_body_does_not_cover_take_the_general_path():
    cfg = uplink_station([("127.0.0.1", 1883)], "json")
    tags = TagTable(cfg.tags)
    pol = PublishPolicy(cfg, tags, wire=True)
    with_reason = _upd(tags, ["pt.inlet", "tt.inlet"], [1.0, 2.0], [192, 0])  # a BAD reason
    mixed_kinds = _upd(tags, ["pt.inlet", "fq.total"], [1.0, 7.0], [192, 192])
    string = _upd(tags, ["gc.status", "pt.inlet"], ["RUN", 2.0], [192, 192])
    qualities = _upd(tags, ["pt.inlet", "tt.inlet"], [5.0, 6.0], [192, 64])
    qualities.reasons[:] = ["", ""]
    times = _upd(tags, ["pt.inlet", "tt.inlet"], [5.0, 6.0], [192, 192])
    times.ts[:] = [1732400000.0125, 1732400001.5]
    for upd in (with_reason, mixed_kinds, string, qualities, times):
        assert pol._wire_block(upd, False) is None
        got = [v for body in pol.telemetry(upd) for v in json.loads(body)["values"]]
        want = [e[0] for e in _by_value(pol, upd)]
        assert sorted(v["tag"] for v in got) == sorted(want)
    reasons = {
        v["tag"]: v.get("reason") for v in json.loads(pol.telemetry(with_reason)[0])["values"]
    }
    assert reasons == {"pt.inlet": None, "tt.inlet": "timeout"}
