"""The uplink outbox (real SQLite files): order, stable ids, budget policy, persistent state."""

from __future__ import annotations

import json

from hmi.core.tagtable import TagTable
from hmi.core.uplink import Uplink
from hmi.core.uplink.outbox import (
    KIND_ALARM,
    KIND_EVENT,
    KIND_REPLY,
    KIND_TELEMETRY,
    Outbox,
    Row,
)
from tests.helpers import free_port, wait_until
from tests.mqtt_broker import feed, uplink_station


def test_rows_come_back_in_creation_order_and_ids_are_never_reused(tmp_path):
    ob = Outbox(tmp_path / "outbox.db", 10_000_000)
    ob.append([(KIND_TELEMETRY, 1.0, b"a"), (KIND_ALARM, 2.0, b"b"), (KIND_TELEMETRY, 3.0, b"c")])
    rows = ob.read(0, None, 10)
    assert [r.body for r in rows] == [b"a", b"b", b"c"] and [r.kind for r in rows] == [0, 2, 0]
    assert rows[1].created == 2.0 and ob.depth == 3 and ob.oldest_created(0) == 1.0
    assert [r.body for r in ob.read(rows[0].id, rows[1].id, 10)] == [b"b"]  # (after, upto]
    assert ob.delete([r.id for r in rows]) == 3 and ob.depth == 0 and ob.total_bytes == 0
    last = ob.max_id()
    ob.close()
    ob = Outbox(tmp_path / "outbox.db", 10_000_000)  # reopen: the sequence goes on
    ob.append([(KIND_TELEMETRY, 4.0, b"d")])
    assert ob.read(0, None, 10)[0].id == last + 1 and ob.oldest_created(0) == 4.0
    ob.close()


def test_ids_of_unstored_messages_are_reserved_and_never_handed_out_again(tmp_path):
    ob = Outbox(tmp_path / "outbox.db", 10_000_000)
    ob.append([(KIND_TELEMETRY, 1.0, b"a")])
    first = ob.allocate(3, stored=False)  # published from memory, never stored
    assert first == 2 and ob.max_id() == 4
    late = ob.allocate(1, stored=False)
    assert ob.delete([1]) == 1
    ob.store([Row(late, KIND_TELEMETRY, 2.0, b"spilled")])  # stored after all, with its id
    assert ob.oldest_created(0) == 2.0
    ob.store([Row(first, KIND_TELEMETRY, 1.5, b"older")])  # a lower id after a higher one
    assert [r.body for r in ob.read(0, None, 10)] == [b"older", b"spilled"]
    assert ob.oldest_created(60.0) == 1.5  # not the cached answer
    ob.close()
    ob = Outbox(tmp_path / "outbox.db", 10_000_000)  # a crash after publishing ids 2-5
    ob.append([(KIND_TELEMETRY, 3.0, b"b")])
    assert ob.last_rows[0].id > 5
    ob.close()


def test_budget_drops_oldest_telemetry_first_then_events_never_alarms_or_replies(tmp_path):
    body = b"x" * 52  # 100 bytes per row with the overhead
    ob = Outbox(tmp_path / "outbox.db", 2_000)
    items = []
    for i in range(10):
        items += [(KIND_TELEMETRY, float(i), body), (KIND_ALARM, float(i), body)]
    items += [(KIND_EVENT, 20.0, body), (KIND_REPLY, 21.0, body)]
    assert (
        ob.append(items) == 4
    )  # 2,200 bytes > 2,000: down to 90 % -> the four oldest telemetry rows
    kinds = [(r.kind, r.created) for r in ob.read(0, None, 100)]
    assert (KIND_TELEMETRY, 3.0) not in kinds and (KIND_TELEMETRY, 4.0) in kinds
    assert sum(k == KIND_ALARM for k, _c in kinds) == 10
    assert ob.dropped == 4
    # now only alarms and replies beyond the budget: telemetry and events go, alarms stay
    protected = next(
        r.id for r in ob.read(0, None, 100) if r.kind == KIND_TELEMETRY
    )  # pretend it is in flight
    dropped = ob.append([(KIND_ALARM, 30.0 + i, body) for i in range(15)], protect=[protected])
    left = ob.read(0, None, 100)
    assert (
        sum(r.kind == KIND_ALARM for r in left) == 25
        and sum(r.kind == KIND_REPLY for r in left) == 1
    )
    assert [r.id for r in left if r.kind == KIND_TELEMETRY] == [protected]
    assert not any(r.kind == KIND_EVENT for r in left)
    assert dropped == 6 and ob.dropped == 10
    ob.close()
    assert Outbox(tmp_path / "outbox.db", 2_000).dropped == 10  # the count is persisted


def test_aliases_are_stable_and_unique_across_reopen(tmp_path):
    ob = Outbox(tmp_path / "outbox.db", 1_000_000)
    a = ob.aliases(["t1", "t2"])
    assert a == {"t1": 1000, "t2": 1001}
    ob.meta_set("bdseq_next", "7")
    ob.close()
    ob = Outbox(tmp_path / "outbox.db", 1_000_000)
    assert ob.aliases(["t3", "t1"]) == {"t3": 1002, "t1": 1000}
    assert ob.meta_get("bdseq_next") == "7"
    ob.close()


def test_uplink_over_budget_drops_telemetry_raises_the_event_and_keeps_alarms(tmp_path):
    cfg = uplink_station(
        [("127.0.0.1", free_port())], "json", outbox_budget_mb=0.01
    )  # ~10 kB, no broker
    tags = TagTable(cfg.tags)
    events: list[dict] = []
    up = Uplink(cfg, tmp_path, tags, on_event=events.append)
    up.start()
    try:
        for i in range(150):
            feed(tags, up.on_changes, {"pt.inlet": float(i % 10), "tt.inlet": float(i)})
            if i % 30 == 0:
                up.on_alarm(
                    {
                        "seq": i,
                        "alarm_id": "pt.inlet.hh",
                        "transition": "raise",
                        "state": "ACTIVE_UNACK",
                        "ts": float(i),
                    }
                )
        wait_until(lambda: up.status()["dropped"] > 0, 20, what="drops")
        wait_until(lambda: events, 20, what="overflow event")
    finally:
        up.stop()
    assert events[0]["type"] == "outbox_overflow" and events[0]["dropped"] > 0
    assert up.status()["dropped"] >= events[-1]["total_dropped"] >= events[0]["dropped"]
    ob = Outbox(tmp_path / "outbox.db", 10_000)
    rows = ob.read(0, None, 1000)
    ob.close()
    alarms = [json.loads(r.body)["seq"] for r in rows if r.kind == KIND_ALARM]
    assert alarms == [0, 30, 60, 90, 120]
    # JSON mode stores a telemetry row in the message's shape (values as objects)
    tel = [json.loads(r.body)["values"][-1]["value"] for r in rows if r.kind == KIND_TELEMETRY]
    assert tel and tel[-1] == 149.0 and tel[0] > 0.0  # the newest kept, the oldest dropped
    assert sum(r.kind == KIND_TELEMETRY for r in rows) < 150


def test_status_before_start_and_stop_without_start(tmp_path):
    cfg = uplink_station([("127.0.0.1", free_port())], "sparkplug")
    tags = TagTable(cfg.tags)
    up = Uplink(cfg, tmp_path, tags)
    st = up.status()
    assert st["mode"] == "sparkplug" and st["outbox_depth"] == 0 and st["connected"] is False
    feed(tags, up.on_changes, {"pt.inlet": 1.0})
    up.stop()  # stores what was queued, closes the file
    ob = Outbox(tmp_path / "outbox.db", 1_000_000)
    assert ob.depth == 1
    ob.close()


def test_unreachable_broker_gives_a_clear_error_and_keeps_everything(tmp_path):
    port = free_port()
    cfg = uplink_station([("127.0.0.1", port)], "json")
    tags = TagTable(cfg.tags)
    up = Uplink(cfg, tmp_path, tags)
    up.start()
    try:
        for i in range(5):
            feed(tags, up.on_changes, {"pt.inlet": float(i)})
        wait_until(lambda: up.status()["outbox_depth"] == 5 and up.status()["last_error"], 20)
        st = up.status()
        assert f"127.0.0.1:{port}" in st["last_error"] and "refused" in st["last_error"]
        assert st["state"] == "offline" and st["oldest_age"] is not None
    finally:
        up.stop()
