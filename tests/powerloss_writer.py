"""Child process of the power-loss test: a real runtime writing history, alarms and outbox flat out.

``python -m tests.powerloss_writer STATION_DIR DATA_DIR`` loads the station, disables its
devices (no server needed: the values come from here, through the runtime's own entry
point for driver batches, ``Runtime._on_batch`` on the acquisition thread), enables the
uplink in JSON mode towards a loopback port where no broker listens (every message stays
in the outbox), and then feeds batches as fast as the runtime takes them: alarmed tags
alternate across their limits (a raise or a clear per batch: the alarm journal writes
flat out), every value changes (history and outbox write flat out). It prints ``fed N``
every 100 batches and runs until it is killed.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from drivers.base import Batch, Quality
from hmi.config import load_station
from hmi.core.runtime import Runtime
from tests.helpers import free_port


def main(station_dir: str, data_dir: str) -> None:
    """Run until killed."""
    cfg = load_station(station_dir)
    tags = []
    for t in cfg.tags:  # alarms without delays or latches: a transition on every batch
        quick = [
            a.model_copy(update={"on_delay": 0.0, "off_delay": 0.0, "latched": False})
            for a in t.alarms
        ]
        tags.append(t.model_copy(update={"alarms": quick}))
    cfg = cfg.model_copy(
        update={
            "devices": [d.model_copy(update={"enabled": False}) for d in cfg.devices],
            "tags": tags,
        }
    )
    up = cfg.uplink.model_copy(
        update={
            "enabled": True,
            "mode": "json",
            "brokers": [cfg.uplink.brokers[0].model_copy(update={"port": free_port()})],
        }
    )
    rt = Runtime(cfg, data_dir, uplink=up)
    rt.start()
    alarmed = []
    for t in cfg.tags:
        limits = [float(a.limit) for a in t.alarms if a.kind in ("H", "HH") and a.enabled]
        if limits and t.type != "string" and cfg.device(t.device).protocol == "modbus_tcp":
            alarmed.append((rt.tags.index[t.name], max(limits), t))
    alarmed = alarmed[:20]
    idx = np.array([i for i, _, _ in alarmed], dtype=np.int32)
    gain = np.array([(t.scale.gain_offset() if t.scale else (1.0, 0.0))[0] for _, _, t in alarmed])
    off = np.array([(t.scale.gain_offset() if t.scale else (1.0, 0.0))[1] for _, _, t in alarmed])
    high = np.array([lim + 0.05 * (t.range[1] - t.range[0]) for _, lim, t in alarmed])
    low = np.array([t.range[0] + 0.001 for _, _, t in alarmed])
    print(f"alarmed tags {len(idx)}", flush=True)
    k = 0
    while True:
        k += 1
        eng = (
            np.minimum(high + 0.001 * (k % 7), [t.range[1] for _, _, t in alarmed])
            if k % 2
            else low
        )
        raw = (eng - off) / gain
        now = time.time()
        batch = Batch(idx, raw.astype(np.float64), int(Quality.GOOD), "", now, now)
        rt.call(rt._on_batch, batch).result(10)
        if k % 100 == 0:
            print(f"fed {k}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
