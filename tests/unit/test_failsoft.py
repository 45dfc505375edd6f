"""Fail-soft start with a driver whose ``start()`` raises, and a machine without a keyring.

The demo station with its real drivers (no simulator: the Modbus devices simply retry their
connections). The one thing faked is a driver that raises in ``start()``: a subclass of the
real Modbus driver that fails its first two starts for device ``gd`` (no real driver fails on
demand). The keyring is keyring's own "fail" backend, what a headless box without any
backend has.
"""

from __future__ import annotations

import keyring
import keyring.backends.fail
import pytest

import hmi.core.runtime as runtime_mod
from drivers.base import driver_class
from hmi.config import load_station
from hmi.core import failsoft
from hmi.core.failsoft import FailSoftDriver
from hmi.core.runtime import Runtime
from tests.helpers import wait_until
from tests.stations import demo_station_copy


@pytest.fixture
def station(tmp_path, monkeypatch):
    st, _ = demo_station_copy(tmp_path)
    monkeypatch.setattr(failsoft, "BACKOFF_INITIAL", 0.2)
    monkeypatch.setattr(failsoft, "BACKOFF_MAX", 0.4)
    return load_station(st), tmp_path / "data"


def test_a_driver_whose_start_raises_is_retried_then_runs(station, monkeypatch):
    cfg, data = station
    real = driver_class("modbus_tcp")
    starts = {"n": 0}

    class FlakyStart(real):  # type: ignore[misc, valid-type]
        async def start(self) -> None:
            if self.device_id == "gd" and starts["n"] < 2:
                starts["n"] += 1
                raise OSError(f"serial adapter busy (start {starts['n']})")
            await super().start()

    monkeypatch.setattr(
        runtime_mod, "driver_class", lambda p: FlakyStart if p == "modbus_tcp" else driver_class(p)
    )
    keyring.set_keyring(keyring.backends.fail.Keyring())  # and the OPC UA secret cannot be read
    rt = Runtime(cfg, data)
    rt.start()
    try:
        gd, hoc = rt.drivers["gd"], rt.drivers["hoc"]
        assert isinstance(gd, FailSoftDriver) and isinstance(hoc, FailSoftDriver)
        assert not isinstance(rt.drivers["plc"], FailSoftDriver)
        assert hoc.reason.startswith("no keyring backend for secret hoc_opcua: ")
        gd_tags = [rt.tags.index[t.name] for t in cfg.tags if t.device == "gd"]
        wait_until(lambda: gd.inner is not None, timeout=10, what="gd started on a retry")
        assert gd.attempts == 3 and isinstance(gd.inner, FlakyStart)
        assert rt._tag_driver[gd_tags[0]] is gd  # writes go through the stand-in to the driver
        diag = {d["device_id"]: d for d in rt.device_diagnostics()}
        assert diag["gd"]["state"] in ("connecting", "backoff")  # the real driver's own state
        assert "serial adapter" not in diag["gd"]["last_error"]
        assert diag["hoc"]["state"] == "backoff" and diag["hoc"]["last_error"] == hoc.reason
        assert hoc.inner is None and hoc.attempts >= 2  # still retried, still failing
    finally:
        rt.stop()
    assert rt.drivers["gd"].state.value == "stopped"
