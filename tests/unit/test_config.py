"""Station-config loading: valid configs load; every kind of problem names file:line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hmi.cli import main as cli_main
from hmi.config import ConfigError, load_station

STATION = """\
station:
  id: test_station
  name: {en: Test station, zh: 测试站}
"""

DEVICES = """\
devices:
  - id: plc
    protocol: modbus_tcp
    host: 127.0.0.1
    port: 15999
    poll_groups: {fast: 1.0, slow: 5.0}
"""

TAGS = """\
tags:
  - name: inlet.pressure
    device: plc
    address: hr:0:f32
    poll: fast
    unit: MPa
    range: [0, 6]
    label: {en: Inlet pressure, zh: 进站压力}
    alarms:
      - {kind: LL, limit: 1.0, priority: 1}
      - {kind: L, limit: 2.0, priority: 3}
  - name: outlet.setpoint
    device: plc
    address: hr:10:u16
    access: rw
    range: [0, 0.6]
    scale: {raw: [0, 6000], eng: [0, 0.6]}
"""


def make_station(tmp_path: Path, **files: str) -> Path:
    d = tmp_path / "st"
    d.mkdir(exist_ok=True)
    base = {"station.yaml": STATION, "devices.yaml": DEVICES, "tags.yaml": TAGS}
    base.update({k.replace("_yaml", ".yaml"): v for k, v in files.items()})
    for name, text in base.items():
        if text is not None:
            (d / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return d


def problems(d: Path) -> list[str]:
    with pytest.raises(ConfigError) as ei:
        load_station(d)
    return [str(p) for p in ei.value.problems]


def test_valid_station_loads(tmp_path):
    cfg = load_station(make_station(tmp_path))
    assert cfg.station.id == "test_station"
    assert [t.name for t in cfg.tags] == ["inlet.pressure", "outlet.setpoint"]
    assert cfg.tag("outlet.setpoint").scale.gain_offset() == pytest.approx((1e-4, 0.0))
    assert [a.kind for _, a in cfg.alarms()] == ["LL", "L"]
    assert cfg.tag("inlet.pressure").label.get("zh_CN") == "进站压力"


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    d = make_station(tmp_path, tags_yaml="tags:\n  - name: a\n    device: [plc\n")
    out = problems(d)
    assert len(out) == 1 and "tags.yaml:" in out[0] and "YAML syntax error" in out[0]


def test_unknown_key_points_at_its_line(tmp_path):
    d = make_station(
        tmp_path, tags_yaml=TAGS.replace("    unit: MPa\n", "    unit: MPa\n    untis: bar\n")
    )
    out = problems(d)
    assert len(out) == 1
    assert out[0].endswith("tags.yaml:7: tags[inlet.pressure].untis: unknown key")


def test_bad_modbus_address_is_reported(tmp_path):
    d = make_station(tmp_path, tags_yaml=TAGS.replace("hr:0:f32", "hx:0:f32"))
    out = problems(d)
    assert len(out) == 1
    assert "tags.yaml:4: tags[inlet.pressure].address:" in out[0]


def test_duplicate_tags_unknown_device_and_poll_group(tmp_path):
    extra = TAGS + textwrap.indent(
        textwrap.dedent(
            """\
            - name: inlet.pressure
              device: plc
              address: hr:20:u16
            - name: other
              device: nowhere
              address: hr:0:u16
            - name: third
              device: plc
              address: hr:30:u16
              poll: medium
            """
        ),
        "  ",
    )
    out = problems(make_station(tmp_path, tags_yaml=extra))
    joined = "\n".join(out)
    assert "duplicate tag name 'inlet.pressure'" in joined
    assert "tags[other].device: unknown device 'nowhere'" in joined
    assert "tags[third].poll: device 'plc' has no poll group 'medium'" in joined
    assert all(":" in p.split(" ")[0] for p in out)


def test_alarm_problems(tmp_path):
    bad = TAGS.replace(
        "{kind: L, limit: 2.0, priority: 3}", "{kind: H, priority: 7, suppressed_by: ghost}"
    )
    out = problems(make_station(tmp_path, tags_yaml=bad))
    assert len(out) == 1
    assert (
        "tags.yaml:11: tags[inlet.pressure].alarms[1].priority: Input should be less than or equal to 4"
        in out[0]
    )
    bad = TAGS.replace("{kind: L, limit: 2.0, priority: 3}", "{kind: H, priority: 2}")
    out = problems(make_station(tmp_path, tags_yaml=bad))
    assert len(out) == 1 and out[0].endswith(
        "tags.yaml:11: tags[inlet.pressure].alarms[1]: a H alarm needs 'limit'"
    )


def test_unknown_reference_in_alarm(tmp_path):
    bad = TAGS.replace(
        "{kind: L, limit: 2.0, priority: 3}", "{kind: L, limit: 2.0, suppressed_by: ghost}"
    )
    out = problems(make_station(tmp_path, tags_yaml=bad))
    assert out == [out[0]] and "alarms[1].suppressed_by: unknown tag 'ghost'" in out[0]


def test_unknown_section_duplicate_key_and_missing_station(tmp_path):
    d = make_station(
        tmp_path, station_yaml="stations:\n  id: x\n", devices_yaml=DEVICES + "devices: []\n"
    )
    out = "\n".join(problems(d))
    assert "station.yaml:1: stations: unknown section" in out
    assert "devices.yaml:7: devices: duplicate key" in out


def test_missing_required_key(tmp_path):
    d = make_station(tmp_path, tags_yaml="tags:\n  - name: x\n    device: plc\n")
    out = problems(d)
    assert out == [out[0]] and "tags.yaml:2: tags[x].address: required key is missing" in out[0]


def test_cli_check(tmp_path, capsys):
    good = make_station(tmp_path)
    assert cli_main(["check", str(good)]) == 0
    assert "ok: station test_station: 1 devices, 2 tags, 2 alarms" in capsys.readouterr().out
    (good / "tags.yaml").write_text(
        TAGS.replace("range: [0, 6]", "range: [6, 0]"), encoding="utf-8"
    )
    assert cli_main(["check", str(good)]) == 1
    out = capsys.readouterr().out
    assert "tags.yaml:7: tags[inlet.pressure].range: range [6.0, 0.0] is empty" in out
    assert "Traceback" not in out


def test_cli_check_not_a_directory(tmp_path, capsys):
    assert cli_main(["check", str(tmp_path / "nope")]) == 1
    assert "not a directory" in capsys.readouterr().out
