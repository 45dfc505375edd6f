"""System tags (edge health): config checks, availability, SNTP clock offset, a running runtime.

The runtime test runs the real runtime with a system device and a Modbus device whose
port nothing listens on (a device that is down, for real), a real SNTP responder on a
loopback UDP port, and the real alarm engine judging the system tags' alarms.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from drivers.base import Quality
from hmi.config import ConfigError, load_station
from hmi.core.analytics.health import NTP_EPOCH, AvailabilityTracker, sntp_offset
from hmi.core.runtime import Runtime
from hmi.core.system_tags import SystemDriver
from tests.helpers import free_port, wait_until

GOOD = int(Quality.GOOD)


def write_station(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "station.yaml").write_text("station: {id: s1, name: S1}\n", encoding="utf-8")
    (folder / "system.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return folder


GOOD_STATION = """
devices:
  - {id: plc, protocol: modbus_tcp, host: 127.0.0.1, port: PORT, timeout: 0.2, retries: 0, backoff_initial: 0.2, backoff_max: 0.5, comm_alarm: {enabled: false}}
  - {id: system, protocol: system, ntp_server: "127.0.0.1:NTP", poll_groups: {default: 0.2}}
tags:
  - {name: plc.x, device: plc, address: "hr:0:u16"}
  - {name: sys.cpu, device: system, address: host.cpu}
  - {name: sys.memory, device: system, address: host.memory}
  - name: sys.disk_free
    device: system
    address: host.disk_free
    alarms: [{kind: L, limit: 101, priority: 3, message: {en: disk, zh: 磁盘}}]
  - {name: sys.clock, device: system, address: host.clock_offset, unit: s, range: [-100, 100]}
  - {name: sys.queue, device: system, address: historian.queue, range: [0, 1000000]}
  - {name: sys.size, device: system, address: historian.size_mb}
  - {name: sys.uplink, device: system, address: uplink.connected}
  - {name: sys.dropped, device: system, address: uplink.dropped}
  - {name: sys.active, device: system, address: alarms.active}
  - {name: sys.uptime, device: system, address: runtime.uptime}
  - name: sys.plc.avail
    device: system
    address: device.plc.availability
    alarms: [{kind: L, limit: 99, priority: 4, message: {en: plc unreliable, zh: PLC不稳定}}]
  - {name: sys.plc.up, device: system, address: device.plc.up}
  - {name: sys.plc.rtt, device: system, address: device.plc.rtt, range: [0, 10000]}
  - {name: sys.mb, device: system, address: warning.balance}
analytics:
  interval: 1
  warnings:
    - {id: balance, kind: mass_balance, inlet: [plc.x], outlet: [plc.x], window: 60}
"""


def test_loader_accepts_system_devices_and_checks_their_addresses(tmp_path):
    st = write_station(tmp_path / "ok", GOOD_STATION.replace("PORT", "15999").replace("NTP", "123"))
    cfg = load_station(st)
    assert cfg.device("system").protocol == "system"
    assert SystemDriver.validate_address("device.plc.rtt") is None
    assert "unknown system address" in SystemDriver.validate_address("host.coffee")

    bad = GOOD_STATION.replace("PORT", "15999").replace('ntp_server: "127.0.0.1:NTP", ', "")
    bad = bad.replace("device.plc.up", "device.fc9.up").replace("warning.balance", "warning.nope")
    bad = bad.replace("address: host.memory}", "address: host.memory, options: {x: 1}}")
    bad = bad.replace("address: historian.queue", "address: historian.qeue")
    with pytest.raises(ConfigError) as err:
        load_station(write_station(tmp_path / "bad", bad))
    text = str(err.value)
    assert "system.yaml:" in text
    assert "host.clock_offset needs the system device's ntp_server" in text
    assert "unknown device 'fc9'" in text
    assert "no early-warning detector 'nope'" in text
    assert "system tags take no options" in text
    assert "unknown system address 'historian.qeue'" in text


def test_loader_checks_the_analytics_section(tmp_path):
    body = GOOD_STATION.replace("PORT", "15999").replace("NTP", "123")
    body = body.replace(
        "analytics:\n",
        "analytics:\n  meters: [{id: m1, total: m1.total}]\n  forecast: {meters: [m2], ambient: air}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_station(write_station(tmp_path / "a", body))
    text = str(err.value)
    assert "analytics.meters[m1].total: unknown tag 'm1.total'" in text
    assert "analytics.forecast.meters[0]: unknown meter 'm2'" in text
    assert "analytics.forecast.ambient: unknown tag 'air'" in text


def test_availability_is_the_share_of_time_up():
    tr = AvailabilityTracker(window=3600.0)
    t0 = 1_000_000.0
    assert tr.availability("a", t0) is None
    for k in range(0, 3601, 10):
        tr.sample("a", not (1800 <= k < 2700), t0 + k)  # down for a quarter of the hour
    assert tr.availability("a", t0 + 3600) == pytest.approx(75.0, abs=0.5)
    tr.sample("a", True, t0 + 7200)  # up for the whole next hour
    assert tr.availability("a", t0 + 7200) == pytest.approx(100.0, abs=2.0)


class SntpResponder:
    """A real SNTP server on a loopback UDP port whose clock runs ``offset`` seconds ahead."""

    def __init__(self, offset: float) -> None:
        self.offset = offset
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.answered = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sntp-test", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            now = time.time() + self.offset + NTP_EPOCH
            reply = bytearray(48)
            reply[0], reply[1] = (4 << 3) | 4, 2  # version 4, server; stratum 2
            reply[24:32] = data[40:48]  # originate = the client's transmit time
            for off in (32, 40):
                struct.pack_into("!II", reply, off, int(now), int((now % 1) * 2**32))
            self.sock.sendto(bytes(reply), addr)
            self.answered += 1

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def sntp():
    s = SntpResponder(offset=2.5)
    yield s
    s.close()


def test_sntp_offset_against_a_real_responder(sntp):
    off = asyncio.run(sntp_offset(f"127.0.0.1:{sntp.port}", timeout=2.0))
    assert off == pytest.approx(2.5, abs=0.05)
    silent = free_port()  # nothing answers there (UDP: the request just vanishes or is refused)
    with pytest.raises((TimeoutError, OSError)):
        asyncio.run(sntp_offset(f"127.0.0.1:{silent}", timeout=0.3))


def test_system_tags_in_a_running_station(tmp_path, sntp):
    st = write_station(
        tmp_path / "st",
        GOOD_STATION.replace("PORT", str(free_port())).replace("NTP", str(sntp.port)),
    )
    cfg = load_station(st)
    rt = Runtime(cfg, tmp_path / "data")
    rt.start()
    try:

        def val(name: str) -> tuple[float, int]:
            v, q, _ts, _why = rt.tags.get(name)
            return float(v), int(q)

        health = [
            "sys.cpu",
            "sys.memory",
            "sys.disk_free",
            "sys.clock",
            "sys.queue",
            "sys.size",
            "sys.uplink",
            "sys.dropped",
            "sys.active",
            "sys.uptime",
            "sys.plc.avail",
            "sys.plc.up",
        ]
        wait_until(
            lambda: all(val(n)[1] == GOOD for n in health), timeout=20, what="system tags GOOD"
        )
        assert 0.0 <= val("sys.cpu")[0] <= 100.0 and 0.0 < val("sys.memory")[0] < 100.0
        assert 0.0 < val("sys.disk_free")[0] <= 100.0
        assert val("sys.clock")[0] == pytest.approx(2.5, abs=0.1)
        assert val("sys.uplink") == (0.0, GOOD) and val("sys.dropped") == (
            0.0,
            GOOD,
        )  # uplink disabled
        assert val("sys.plc.up") == (0.0, GOOD)  # nothing listens on the PLC's port
        assert val("sys.plc.avail")[0] == pytest.approx(0.0, abs=1e-9)
        rtt, q = val("sys.plc.rtt")
        assert q != GOOD  # no round trip to a device that is down
        # the alarm engine judges system tags like any tag: both L alarms come in
        wait_until(
            lambda: (
                {v.alarm_id for v in rt.alarms.snapshot()[1]}
                >= {"sys.disk_free.l", "sys.plc.avail.l"}
            ),
            timeout=10,
            what="system-tag alarms",
        )
        wait_until(lambda: val("sys.active")[0] >= 2, timeout=10, what="alarms.active counts them")
        # the warning tag: the analytics service ran; plc.x has no data, so it is not judged
        wait_until(
            lambda: (
                rt.tags.get("sys.mb")[3] not in ("", "not read yet", "analytics not computed yet")
            ),
            timeout=15,
            what="analytics result on the warning tag",
        )
        v, q, _, why = rt.tags.get("sys.mb")
        assert q == int(Quality.UNCERTAIN) and np.isnan(v) and "not enough data" in why
        assert rt.historian.flush(10)
        d = rt.historian.raw("sys.cpu", time.time() - 60, time.time() + 1)
        assert len(d) >= 1 and (d.quality == GOOD).all()
        assert any(t.name == "analytics" for t in threading.enumerate())
    finally:
        rt.stop()
    assert not any(t.name == "analytics" for t in threading.enumerate())
