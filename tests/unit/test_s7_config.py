"""An S7 station config: valid ones load, bad addresses and settings name file:line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

from hmi.cli import main as cli_main
from hmi.cli.simulate import specs_from_config
from hmi.config import ConfigError, load_station

STATION = """\
station:
  id: s7_station
  name: {en: S7 station, zh: S7站}
"""

DEVICES = """\
devices:
  - id: plc
    protocol: s7
    host: 127.0.0.1
    port: 10102
    rack: 0
    slot: 1
    poll_groups: {default: 1.0}
"""

TAGS = """\
tags:
  - name: outlet.pressure
    device: plc
    address: DB10.DBD4:real
    unit: MPa
    range: [0, 0.6]
  - name: esd.closed
    device: plc
    address: DB10.DBX0.3
    type: bool
  - name: heater.name
    device: plc
    address: DB10.DBB20:string[16]
    type: string
"""


def make_station(tmp_path: Path, devices: str = DEVICES, tags: str = TAGS) -> Path:
    d = tmp_path / "st"
    d.mkdir(exist_ok=True)
    for name, text in (("station.yaml", STATION), ("devices.yaml", devices), ("tags.yaml", tags)):
        (d / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return d


def problems(d: Path) -> list[str]:
    try:
        load_station(d)
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_s7_station_loads_and_the_simulator_serves_it(tmp_path):
    d = make_station(tmp_path)
    cfg = load_station(d)
    dev = cfg.devices[0]
    assert dev.protocol == "s7" and dev.tsaps() == (0x0100, 0x0101)
    assert dev.driver_params()["pdu_size"] == 480
    devices, points = specs_from_config(cfg)
    assert (devices[0].protocol, devices[0].host, devices[0].port) == ("s7", "127.0.0.1", 10102)
    assert [p.address for p in points] == ["DB10.DBD4:real", "DB10.DBX0.3", "DB10.DBB20:string[16]"]


def test_bad_s7_address_names_file_line_and_key(tmp_path):
    d = make_station(tmp_path, tags=TAGS.replace("DB10.DBX0.3", "DB10.DBX0.9"))
    out = problems(d)
    assert len(out) == 1, out
    assert out[0].startswith(str(d / "tags.yaml") + ":9: tags[esd.closed].address:")
    assert "bit number 9 is outside 0..7" in out[0]


def test_width_mismatch_and_unknown_area(tmp_path):
    tags = TAGS.replace("DB10.DBD4:real", "DB10.DBW4:real").replace("DB10.DBX0.3", "X3.1")
    out = problems(make_station(tmp_path, tags=tags))
    assert len(out) == 2, out
    assert ":4: tags[outlet.pressure].address:" in out[0] and "use a D address" in out[0]
    assert ":9: tags[esd.closed].address:" in out[1] and "e.g. DB10.DBD4:real" in out[1]


def test_bad_s7_settings_name_their_line(tmp_path):
    devices = DEVICES.replace("slot: 1", "slot: 40").replace("rack: 0", "remote_tsap: 03XX")
    out = problems(make_station(tmp_path, devices=devices))
    assert any(":6: devices[plc].remote_tsap:" in p and "4 hex digits" in p for p in out), out
    assert any(":7: devices[plc].slot:" in p for p in out), out


def test_tsaps_go_together(tmp_path):
    out = problems(make_station(tmp_path, devices=DEVICES.replace("rack: 0", "local_tsap: '0100'")))
    assert len(out) == 1 and "devices.yaml:2: devices[plc]:" in out[0]
    assert "local_tsap and remote_tsap go together" in out[0]


def test_cli_check_rejects_a_bad_s7_address(tmp_path, capsys):
    d = make_station(tmp_path, tags=TAGS.replace("string[16]", "string[300]"))
    assert cli_main(["check", str(d)]) != 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "tags.yaml:13: tags[heater.name].address:" in text and "1..254" in text
