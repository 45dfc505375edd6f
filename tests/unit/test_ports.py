"""The runtime and the UI tests' devices-less station provide every member of their ports.

mypy checks the same statically (``_provides_ports`` in hmi/core/runtime.py,
``_is_a_station`` in tests/ui/conftest.py); this test catches a renamed or removed member
at run time, without mypy, on real objects.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from hmi import paths
from hmi.config import load_station
from hmi.core import ports
from hmi.core.runtime import Runtime
from hmi.core.stats import StatsCollector

PROTOCOLS = [
    obj
    for _name, obj in inspect.getmembers(ports, inspect.isclass)
    if obj.__module__ == ports.__name__
]


def members(proto: type) -> set[str]:
    """Public members a protocol declares (its own and its protocol bases')."""
    out: set[str] = set()
    for klass in proto.__mro__:
        if klass.__module__ != ports.__name__:
            continue
        out |= {n for n in vars(klass) if not n.startswith("_")}
        out |= set(getattr(klass, "__annotations__", {}))
    return out


def test_every_port_declares_something() -> None:
    assert {p.__name__ for p in PROTOCOLS} >= {"Station", "CommandPort", "StatsSource"}
    for proto in PROTOCOLS:
        assert members(proto) or "__call__" in vars(proto), proto


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    cfg = load_station(paths.station_configs_dir() / "demo_city_gate")
    rt = Runtime(cfg, tmp_path_factory.mktemp("ports"))  # built, not started
    yield rt
    rt.users.close()
    if rt.alarms is not None:
        rt.alarms.close()


@pytest.mark.parametrize(
    ("part", "port"),
    [
        ("", ports.Station),
        ("commands", ports.CommandPort),
        ("alarms", ports.AlarmOps),
        ("tags", ports.TagReader),
        ("", ports.Executor),
        ("", ports.DerivedSink),
    ],
)
def test_runtime_parts_provide_their_ports(runtime: Runtime, part: str, port: type) -> None:
    obj = getattr(runtime, part) if part else runtime
    missing = sorted(m for m in members(port) if not hasattr(obj, m))
    assert missing == [], f"{type(obj).__name__} lacks {missing} of {port.__name__}"


def test_the_ui_fixture_is_a_station(tmp_path: Path) -> None:
    from tests.ui.conftest import TableRuntime

    rt = TableRuntime(load_station(paths.station_configs_dir() / "demo_city_gate"), tmp_path)
    try:
        missing = sorted(m for m in members(ports.Station) if not hasattr(rt, m))
        assert missing == []
    finally:
        rt.close()


def test_the_stats_collector_is_a_stats_source(tmp_path: Path) -> None:
    c = StatsCollector(tmp_path, counters=dict, devices=list, historian=dict)
    assert all(hasattr(c, m) for m in members(ports.StatsSource))
