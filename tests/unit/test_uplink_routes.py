"""Routes config (validated with file:line), aggregation windows, size splitting, meta parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmi.config import ConfigError, load_station
from hmi.config.routes import parse_rate
from hmi.core.uplink.aggregator import Aggregator
from hmi.core.uplink.meta import config_hash, meta_documents
from hmi.core.uplink.split import ENVELOPE, entry_size, split_entries


def _station(tmp: Path, routes_yaml: str) -> Path:
    (tmp / "station.yaml").write_text(
        "station:\n  id: gs7\n  name: Routes\nuplink:\n  enabled: true\n  mode: json\n"
        "  routes:\n" + routes_yaml
    )
    (tmp / "devices.yaml").write_text("devices:\n  - id: plc1\n    protocol: modbus_tcp\n")
    (tmp / "tags.yaml").write_text(
        "tags:\n"
        "  - name: pt.a\n    device: plc1\n    address: hr:0\n    area: inlet\n"
        "  - name: ft.a\n    device: plc1\n    address: hr:1\n    area: metering\n"
    )
    return tmp


def _problems(tmp: Path, routes_yaml: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_station(_station(tmp, routes_yaml))
    return [str(p) for p in exc.value.problems]


def test_good_routes_load(tmp_path):
    cfg = load_station(
        _station(
            tmp_path,
            "    - name: metering\n      areas: [metering]\n      rate: 5m\n"
            "    - name: safety\n      match: ['pt.*']\n      qos: 0\n",
        )
    )
    metering, safety = cfg.uplink.routes
    assert metering.window == 300.0 and safety.window == 0.0 and safety.qos == 0
    assert metering.selects("ft.a", "metering") and not metering.selects("pt.a", "inlet")
    assert safety.selects("pt.a", "") and cfg.uplink.max_payload_kb == 256


@pytest.mark.parametrize(
    ("routes", "line", "key", "text"),
    [
        (
            "    - name: safety\n      tags: [pt.zz]\n",
            9,
            "uplink.routes[safety].tags[0]",
            "unknown tag 'pt.zz'",
        ),
        (
            "    - name: safety\n      areas: [nowhere]\n",
            9,
            "uplink.routes[safety].areas[0]",
            "no tag has area",
        ),
        (
            "    - name: safety\n      match: ['x.*']\n",
            8,
            "uplink.routes[safety]",
            "selects no uplink tag",
        ),
        (
            "    - name: safety\n      match: ['pt.*']\n      rate: 5s\n",
            10,
            "uplink.routes[safety].rate",
            "10 s to 1 h",
        ),
        (
            "    - name: safety\n      match: ['pt.*']\n      rate: often\n",
            10,
            "uplink.routes[safety].rate",
            "'change' or",
        ),
        (
            "    - name: status\n      match: ['pt.*']\n",
            8,
            "uplink.routes[status].name",
            "taken by the JSON topics",
        ),
        (
            "    - name: Safety\n      match: ['pt.*']\n",
            8,
            "uplink.routes[Safety].name",
            "lower-case",
        ),
        ("    - name: safety\n", 8, "uplink.routes[safety]", "selects nothing"),
        (
            "    - name: a\n      match: ['pt.*']\n    - name: a\n      match: ['ft.*']\n",
            10,
            "uplink.routes[a].name",
            "duplicate route name",
        ),
    ],
)
def test_route_problems_name_file_line_and_key(tmp_path, routes, line, key, text):
    problems = _problems(tmp_path, routes)
    assert len(problems) == 1, problems
    assert f"station.yaml:{line}: {key}: " in problems[0], problems[0]
    assert text in problems[0]


def test_parse_rate():
    assert parse_rate("change") == 0.0
    assert parse_rate("10s") == 10.0 and parse_rate("1h") == 3600.0 and parse_rate(60) == 60.0
    for bad in ("2h", "9s", "fast", 0):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_aggregator_windows_repeat_unchanged_tags_and_mark_bad():
    agg = Aggregator(10.0, ["min", "max", "avg", "last"])
    agg.add([["a", 1.0, 192, 1000, ""], ["a", 3.0, 192, 2000, ""]], now=100.0)
    assert agg.due(109.9) == []
    ((start, entries),) = agg.due(110.0)
    assert start == 100.0 and entries == [["a", 1.0, 3.0, 2.0, 3.0, 2, 0, 192, 2000]]
    ((start, entries),) = agg.due(120.0)  # nothing reported: the last value repeats
    assert start == 110.0 and entries == [["a", 3.0, 3.0, 3.0, 3.0, 0, 0, 192, 2000]]
    agg.add([["a", None, 0, 3000, "lost"]], now=121.0)
    ((_s, entries),) = agg.due(130.0)
    assert entries[0][5:8] == [0, 1, 0]  # no good value, one BAD sample, BAD quality
    ((_s, entries),) = agg.due(140.0)
    assert entries[0][7] == 0  # still BAD until a good value arrives


def test_split_never_drops_and_stays_under_the_cap():
    entries = [[f"tag.{i:05d}", float(i) * 1.1, 192, 1733300000123, ""] for i in range(5000)]
    chunks = split_entries(entries, 16 * 1024)
    assert [e for c in chunks for e in c] == entries
    assert all(sum(entry_size(e) for e in c) <= 16 * 1024 - ENVELOPE for c in chunks)
    huge = [["s", "x" * 40_000, 192, 0, ""]]
    assert split_entries(huge, 16 * 1024) == [huge]  # too big alone: still sent, never dropped


def test_config_hash_is_stable_and_follows_edits(tmp_path):
    station = _station(tmp_path, "    - name: safety\n      match: ['pt.*']\n")
    a, b = load_station(station), load_station(station)
    assert config_hash(a) == config_hash(b)
    text = (station / "tags.yaml").read_text().replace("hr:1", "hr:2")
    (station / "tags.yaml").write_text(text)
    assert config_hash(load_station(station)) != config_hash(a)
    docs = meta_documents(a, list(a.tags), 4096, 0.0)
    assert len(docs) == 1 and docs[0]["config_hash"] == config_hash(a)
