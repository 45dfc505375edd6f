"""Live rows handed over in memory after their commit: order, exactly once, past a full window."""

from __future__ import annotations

import json

from hmi.core.tagtable import TagTable
from hmi.core.uplink import Uplink
from hmi.core.uplink.publisher import MAX_INFLIGHT
from tests.helpers import wait_until
from tests.mqtt_broker import Recorder, feed, mosquitto, uplink_station  # noqa: F401


def test_a_burst_beyond_the_inflight_window_goes_out_once_in_id_order(mosquitto, tmp_path):  # noqa: F811
    rec = Recorder(mosquitto, "gas/gs1/telemetry").start()
    cfg = uplink_station([mosquitto], "json")
    tags = TagTable(cfg.tags)
    up = Uplink(cfg, tmp_path, tags)
    up.start()
    n = 3 * MAX_INFLIGHT
    try:
        wait_until(lambda: up.status()["connected"], 20, what="online")
        for i in range(n):  # faster than PUBACKs come back: the window fills up
            feed(tags, up.on_changes, {"tt.inlet": float(i % 2) * 10.0 + i * 1e-3})
        wait_until(
            lambda: len(_live(rec)) >= n and up.status()["outbox_depth"] == 0,
            30,
            what=f"{n} messages delivered and acknowledged",
        )
    finally:
        up.stop()
        rec.stop()
    bodies = _live(rec)  # without the integrity messages of the connect (one per device)
    ids = [b["msg_id"] for b in bodies]
    assert len(bodies) == n and ids == sorted(set(ids))  # each once, in id order
    assert not any(b["historical"] for b in bodies)
    got = [b["values"][0]["value"] for b in bodies]
    assert got == [float(i % 2) * 10.0 + i * 1e-3 for i in range(n)]  # creation order


def _live(rec: Recorder) -> list[dict]:
    bodies = [json.loads(m.payload) for m in rec.take()]
    return [b for b in bodies if not b["integrity"]]
