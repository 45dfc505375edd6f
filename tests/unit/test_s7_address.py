"""S7 addresses, the S7 codec and the read planner (no server needed)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from drivers.base import validate_address, value_type
from drivers.s7.address import S7Address, parse_address
from drivers.s7.codec import RangeDecoder, decode, encode
from drivers.s7.planner import lower_bound, max_item_bytes, plan

GOOD = {
    "DB10.DBD4:real": S7Address("DB", 10, 4, "real"),
    "DB10.DBX0.3": S7Address("DB", 10, 0, "bool", 3),
    "DB10.DBW2:int": S7Address("DB", 10, 2, "int"),
    "DB10.DBB1:byte": S7Address("DB", 10, 1, "byte"),
    "DB5.DBD8:dint": S7Address("DB", 5, 8, "dint"),
    "DB5.DBD8:udint": S7Address("DB", 5, 8, "udint"),
    "DB5.DBD8": S7Address("DB", 5, 8, "dword"),
    "MW20:int": S7Address("M", 0, 20, "int"),
    "MD24:real": S7Address("M", 0, 24, "real"),
    "M3.1": S7Address("M", 0, 3, "bool", 1),
    "I0.1": S7Address("I", 0, 0, "bool", 1),
    "E0.1": S7Address("I", 0, 0, "bool", 1),
    "Q1.0": S7Address("Q", 0, 1, "bool", 0),
    "A1.0": S7Address("Q", 0, 1, "bool", 0),
    "IW64": S7Address("I", 0, 64, "word"),
    "QB3:sint": S7Address("Q", 0, 3, "sint"),
    "db10.dbb20:string[16]": S7Address("DB", 10, 20, "string", None, 16),
    "DB1.DBB0:char": S7Address("DB", 1, 0, "char"),
}


@pytest.mark.parametrize("text", list(GOOD))
def test_good_addresses_parse_and_print_back(text):
    addr = parse_address(text)
    assert addr == GOOD[text]
    assert parse_address(str(addr)) == addr


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("DB10.DBX0.8", "bit number 8 is outside 0..7"),
        ("DB10.DBX0", "needs its bit number"),
        ("DB0.DBW0", "DB number 0 is outside"),
        ("DB10.DBW2:real", "use a D address"),
        ("DB10.DBD2:int", "use a W address"),
        ("MW2:string[4]", "a string starts at a byte address"),
        ("DB1.DBB0:string", "needs its maximum length"),
        ("DB1.DBB0:string[255]", "outside 1..254"),
        ("DB1.DBW0.1", "only bit addresses"),
        ("DB1.DBW0:float", "unknown type 'float'"),
        ("X1.0", "e.g. DB10.DBD4:real"),
        ("DB1.DBD65534:real", "runs past byte 65535"),
        ("M1.0:int", "a bit address is a bool"),
    ],
)
def test_bad_addresses_say_what_is_wrong(text, words):
    with pytest.raises(ValueError, match="S7 address") as err:
        parse_address(text)
    assert words in str(err.value)
    assert validate_address("s7", text) == str(err.value)


def test_value_types_for_the_tag_table():
    assert [
        value_type("s7", a) for a in ("DB1.DBD0:real", "M0.0", "MW2", "DB1.DBB4:string[3]")
    ] == [
        "float",
        "bool",
        "int",
        "string",
    ]


CASES = [
    ("DB1.DBD0:real", -2.5, struct.pack(">f", -2.5)),
    ("DB1.DBW0:int", -2, struct.pack(">h", -2)),
    ("DB1.DBW0", 0xBEEF, bytes([0xBE, 0xEF])),
    ("DB1.DBD0:dint", -(2**31), struct.pack(">i", -(2**31))),
    ("DB1.DBD0:udint", 2**32 - 1, b"\xff\xff\xff\xff"),
    ("DB1.DBB0:sint", -128, b"\x80"),
    ("DB1.DBB0:string[4]", "ab", bytes([4, 2]) + b"ab\x00\x00"),
    ("DB1.DBB0:char", "Z", b"Z"),
]


@pytest.mark.parametrize(("text", "value", "raw"), CASES)
def test_codec_is_big_endian_both_ways(text, value, raw):
    a = parse_address(text)
    assert encode(a, value) == raw
    assert decode(a, raw) == value


def test_codec_refuses_what_does_not_fit():
    with pytest.raises(ValueError, match="0..255"):
        encode(parse_address("DB1.DBB0"), 256)
    with pytest.raises(ValueError, match="Latin-1"):
        encode(parse_address("DB1.DBB0:string[8]"), "调压站")
    with pytest.raises(ValueError, match="REAL"):
        encode(parse_address("DB1.DBD0:real"), float("inf"))


def test_string_with_a_bad_actual_length_is_clipped_to_its_maximum():
    a = parse_address("DB1.DBB0:string[3]")
    assert decode(a, bytes([3, 200]) + b"abc") == "abc"


def test_range_decoder_matches_the_scalar_codec():
    texts = ["DB1.DBX0.0", "DB1.DBX0.7", "DB1.DBW2:int", "DB1.DBD4:real", "DB1.DBB8:sint",
             "DB1.DBD10:udint", "DB1.DBB14:string[5]", "DB1.DBW22"]  # fmt: skip
    addrs = [parse_address(t) for t in texts]
    rng = np.random.default_rng(7)
    data = bytes(rng.integers(0, 256, 24, dtype=np.uint8))
    data = data[:14] + bytes([5, 3]) + b"xyz" + data[19:]
    dec = RangeDecoder(0, addrs)
    numeric = dec.decode(data)
    expected = [decode(a, data[a.byte : a.end]) for a in addrs]
    assert numeric.tolist() == [float(v) for k, v in enumerate(expected) if k != 6]
    assert dec.decode_strings(data).tolist() == ["xyz"]
    with pytest.raises(ValueError, match="needs 24"):
        dec.decode(data[:20])


def _pts(*texts: str):
    return [(i, parse_address(t)) for i, t in enumerate(texts)]


def test_planner_merges_across_small_gaps_only():
    ranges, requests = plan(
        _pts("DB1.DBW0", "DB1.DBW10", "DB1.DBW40", "DB2.DBW0", "MW0"), pdu_size=480
    )
    assert [(r.area, r.db, r.start, r.size) for r in ranges] == [
        ("M", 0, 0, 2), ("DB", 1, 0, 12), ("DB", 1, 40, 2), ("DB", 2, 0, 2)]  # fmt: skip
    assert len(requests) == 1 and len(requests[0].items) == 4


def test_planner_keeps_20_variables_a_request():
    points = _pts(*[f"DB{n}.DBW0" for n in range(1, 46)])
    ranges, requests = plan(points, pdu_size=960)
    assert [len(r.items) for r in requests] == [20, 20, 5]
    assert len(requests) == lower_bound(ranges, pdu_size=960)


def test_planner_respects_the_reply_budget_of_a_small_pdu():
    # 10 DBs x 100 bytes: PDU 240 carries 2 of them a reply (14 + 2 x 104 = 222)
    points = _pts(*[f"DB{n}.DBB0:string[98]" for n in range(1, 11)])
    ranges, requests = plan(points, pdu_size=240)
    assert len(requests) == 5 and all(
        r.reply_bytes <= 240 and r.request_bytes <= 240 for r in requests
    )
    assert len(requests) == lower_bound(ranges, pdu_size=240)


def test_a_value_longer_than_a_pdu_is_split_into_items():
    ranges, requests = plan(_pts("DB1.DBB0:string[254]", "DB1.DBW300"), pdu_size=240)
    assert [(r.start, r.size) for r in ranges] == [(0, 256), (300, 2)]
    chunk = max_item_bytes(240)
    sizes = sorted(it.size for r in requests for it in r.items)
    assert sizes == sorted([2, chunk, 256 - chunk])


def test_config_check_never_imports_snap7():
    """Addresses and parameters are checked without the protocol library (gas-hmi check)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "drivers" / "s7"
    for name in ("address.py", "params.py", "planner.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        mods = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        mods += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in mods if m.split(".")[0] in ("snap7", "s7")], name


def test_packed_arrays_and_scattered_values_decode_alike():
    """A run of REALs back to back is decoded as one view; interleaved types by gathers."""
    texts = [f"DB1.DBD{4 * i}:real" for i in range(50)] + ["DB1.DBW200:int", "DB1.DBD202:dint"]
    texts += ["DB1.DBW206:int", "DB1.DBX208.5"]
    addrs = [parse_address(t) for t in texts]
    values = np.linspace(-3, 3, 52, dtype=np.float32)
    data = bytearray(
        struct.pack(">50f", *values[:50]) + struct.pack(">hih", -9, -70000, 7) + b"\x20"
    )
    dec = RangeDecoder(0, addrs)
    assert [(d, n) for d, _o, n, _s in dec._packed] == [(">f4", 50), (">i4", 1)]
    out = dec.decode(bytes(data))
    assert out[:50].tolist() == values[:50].astype(np.float64).tolist()
    assert out[50:].tolist() == [-9.0, -70000.0, 7.0, 1.0]


def test_snap7_per_connection_logs_are_demoted(caplog):
    import logging

    from drivers.s7 import logfilter

    logfilter.install("snap7.test")
    lg = logging.getLogger("snap7.test")
    with caplog.at_level(logging.INFO, logger="snap7.test"):
        lg.info("Connected to 10.0.0.1:102, PDU size: 480")
        lg.warning("Memory area 132#7 not registered")
        lg.warning("Something new")
    assert [r.getMessage() for r in caplog.records] == ["Something new"]
