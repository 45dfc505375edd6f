"""IEC 104 addresses, options and device parameters; `gas-hmi check` on IEC 104 stations."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from drivers.base import device_problems, options_problems, validate_address, value_type
from drivers.iec104.address import Iec104Address, parse_address
from drivers.iec104.driver import Iec104Driver
from hmi.cli import main as cli_main
from hmi.config import ConfigError, load_station


@pytest.mark.parametrize(
    ("text", "kind", "ioa", "vtype"),
    [
        ("M_ME_NC_1:4001", "M_ME_NC_1", 4001, "float"),
        ("m_me_tf_1:4002", "M_ME_TF_1", 4002, "float"),
        ("M_ME_NB_1:4101", "M_ME_NB_1", 4101, "int"),
        ("M_ME_NA_1:4201", "M_ME_NA_1", 4201, "float"),
        ("M_SP_NA_1:1001", "M_SP_NA_1", 1001, "bool"),
        ("M_SP_TB_1:1002", "M_SP_TB_1", 1002, "bool"),
        ("M_DP_NA_1:1101", "M_DP_NA_1", 1101, "int"),
        ("M_IT_NA_1:5001", "M_IT_NA_1", 5001, "int"),
        ("M_IT_TB_1: 5002", "M_IT_TB_1", 5002, "int"),
        ("C_SC_NA_1:2001", "C_SC_NA_1", 2001, "bool"),
        ("C_DC_NA_1:2101", "C_DC_NA_1", 2101, "int"),
        ("C_SE_NC_1:6001", "C_SE_NC_1", 6001, "float"),
        ("M_ME_NC_1:0.15.161", "M_ME_NC_1", 0x0F << 8 | 161, "float"),
        ("M_SP_NA_1:16777215", "M_SP_NA_1", 16777215, "bool"),
    ],
)
def test_addresses_parse_with_their_value_type(text, kind, ioa, vtype):
    addr = parse_address(text)
    assert (addr.type, addr.ioa) == (kind, ioa)
    assert parse_address(str(addr)) == addr
    assert value_type("iec104", text) == vtype
    assert validate_address("iec104", text) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("4001", "must look like TYPE:IOA"),
        ("M_ME_XX_1:4001", "unknown or unsupported type 'M_ME_XX_1'"),
        ("M_SP_TA_1:1", "CP24Time2a types are not used on IEC 104"),
        ("M_ME_NC_1:x", "IOA 'x' is not a whole number"),
        ("M_ME_NC_1:16777216", "IOA 16777216 is outside 0..16777215"),
        ("M_ME_NC_1:1.2.300", "each octet of IOA '1.2.300' must be 0..255"),
        ("M_ME_NC_1:", "must look like TYPE:IOA"),
    ],
)
def test_bad_addresses_say_what_is_wrong(text, words):
    message = validate_address("iec104", text)
    assert message is not None and words in message, message


def test_options_and_command_pairing():
    assert options_problems("iec104", {"command": "C_SC_NA_1:2001", "select": True}) == []
    assert "select: 'yes' must be true or false" in options_problems("iec104", {"select": "yes"})
    assert any(
        "monitored type" in m for m in options_problems("iec104", {"command": "M_SP_NA_1:1"})
    )
    assert any("unknown IEC 104 option 'sbo'" in m for m in options_problems("iec104", {"sbo": 1}))
    assert any("pulse" in m for m in options_problems("iec104", {"pulse": "medium"}))
    probs = device_problems("iec104", [("v", "M_SP_NA_1:1", {"command": "C_SE_NC_1:2"})])
    assert probs and "cannot be read back" in probs[0][1]


def test_duplicate_ioa_in_one_device():
    items = [
        ("a", "M_SP_NA_1:1001", {"command": "C_SC_NA_1:2001"}),
        ("b", "M_ME_NC_1:1001", {}),  # same IOA as a's monitored point
        ("c", "C_SC_NA_1:2001", {}),  # same IOA as a's command
        ("d", "M_ME_NC_1:3001", {}),
    ]
    probs = device_problems("iec104", items)
    assert [p for p, _ in probs] == [1, 2]
    assert (
        "duplicate IOA 1001 (M_ME_NC_1:1001): already used by M_SP_NA_1:1001 of tag a"
        in probs[0][1]
    )
    assert "duplicate IOA 2001" in probs[1][1]


def test_address_object_validates_itself():
    with pytest.raises(ValueError, match="outside"):
        Iec104Address("M_SP_NA_1", -1)


def test_params_validation_names_the_key():
    assert Iec104Driver.validate_params({"port": 2404, "common_address": 1}) == []
    probs = Iec104Driver.validate_params({"common_address": 0})
    assert any(p.startswith("common_address:") for p in probs), probs
    probs = Iec104Driver.validate_params({"t1": 10, "t2": 10})
    assert any("t2 (10 s) must be below t1 (10 s)" in p for p in probs)


STATION = """\
station:
  id: rtu_station
  name: RTU station
devices:
  - id: rtu
    protocol: iec104
    host: 127.0.0.1
    port: 2404
    common_address: 47
tags:
  - name: valve.pos
    device: rtu
    address: M_DP_NA_1:1101
    access: rw
    options: {command: "C_DC_NA_1:2101", select: true}
  - name: cp.potential
    device: rtu
    address: M_ME_NC_1:4001
  - name: intrusion
    device: rtu
    address: M_SP_NA_1:1101
"""


def _station(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "st"
    d.mkdir(exist_ok=True)
    (d / "station.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return d


def test_check_rejects_a_duplicate_ioa_with_file_and_line(tmp_path, capsys):
    d = _station(tmp_path, STATION)
    assert cli_main(["check", str(d)]) == 1
    out = capsys.readouterr().out
    assert (
        "station.yaml:21: tags[intrusion].address: duplicate IOA 1101 (M_SP_NA_1:1101): "
        "already used by M_DP_NA_1:1101 of tag valve.pos"
    ) in out, out
    assert "Traceback" not in out
    (d / "station.yaml").write_text(STATION.replace("M_SP_NA_1:1101", "M_SP_NA_1:1001"))
    assert cli_main(["check", str(d)]) == 0, capsys.readouterr().out


def test_bad_params_are_config_errors_with_line(tmp_path):
    d = _station(
        tmp_path, STATION.replace("common_address: 47", "common_address: 70000\n    t2: 20")
    )
    with pytest.raises(ConfigError) as ei:
        load_station(d)
    text = str(ei.value)
    assert "station.yaml:9: devices[rtu].common_address:" in text, text
    assert "less than or equal to 65534" in text
    cfg = load_station(_station(tmp_path, STATION.replace("M_SP_NA_1:1101", "M_SP_NA_1:1001")))
    dev = cfg.device("rtu")
    assert dev.protocol == "iec104" and dev.common_address == 47 and dev.t1 == 15
    assert cfg.tag("valve.pos").options == {"command": "C_DC_NA_1:2101", "select": True}


def test_cp56_time_base_local_reads_the_wire_fields_as_local_time():
    """c104 reads CP56Time2a as UTC into a naive local datetime; an RTU on local time is
    corrected. The time zone is switched for this process only (TZ + tzset), then restored."""
    import datetime
    import os
    import time as _time

    from drivers.iec104.codec import source_time

    class Info:  # stands in for a c104 Information (only its time tag is read)
        recorded_at: datetime.datetime | None = None

    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    _time.tzset()
    try:
        wire = datetime.datetime(2024, 3, 1, 8, 0, 0)  # the RTU's clock said 08:00 Beijing time
        as_utc = wire.replace(tzinfo=datetime.UTC).timestamp()
        info = Info()
        info.recorded_at = datetime.datetime.fromtimestamp(as_utc)  # what c104 hands over
        assert source_time(info, local_base=False) == as_utc
        assert source_time(info, local_base=True) == as_utc - 8 * 3600
        info.recorded_at = None
        assert source_time(info, local_base=True) is None
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        _time.tzset()
