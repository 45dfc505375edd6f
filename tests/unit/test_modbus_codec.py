"""Modbus codec: scalar round trips for every type and order, the documented words, blocks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivers.modbus.address import parse_address
from drivers.modbus.codec import BlockDecoder, decode, encode, merge_bit

ORDERS = ["abcd", "badc", "cdab", "dcba"]
SAMPLES = {
    "i32": [0, 1, -1, -123456, 2**31 - 1, -(2**31)],
    "u32": [0, 1, 123456, 2**32 - 1],
    "i64": [0, -1, -(2**40) - 7, 2**63 - 1, -(2**63)],
    "u64": [0, 2**40 + 7, 2**64 - 1],
    "f32": [0.0, 123456.0, -1.5, 3.25e-5],
    "f64": [0.0, 123456.789, -2.5e300, math.pi],
}


def test_documented_words_of_123456():
    assert encode(parse_address("hr:0:f32"), 123456.0) == [0x47F1, 0x2000]
    assert encode(parse_address("hr:0:f32:cdab"), 123456.0) == [0x2000, 0x47F1]
    assert encode(parse_address("hr:0:f32:badc"), 123456.0) == [0xF147, 0x0020]
    assert encode(parse_address("hr:0:f32:dcba"), 123456.0) == [0x0020, 0xF147]
    assert decode(parse_address("hr:0:f32:cdab"), [0x2000, 0x47F1]) == 123456.0


def test_64bit_orders_generalize_word_and_byte_swaps():
    words = encode(parse_address("hr:0:u64"), 0x0102030405060708)
    assert words == [0x0102, 0x0304, 0x0506, 0x0708]
    assert encode(parse_address("hr:0:u64:cdab"), 0x0102030405060708) == [
        0x0708,
        0x0506,
        0x0304,
        0x0102,
    ]
    assert encode(parse_address("hr:0:u64:badc"), 0x0102030405060708) == [
        0x0201,
        0x0403,
        0x0605,
        0x0807,
    ]
    assert encode(parse_address("hr:0:u64:dcba"), 0x0102030405060708) == [
        0x0807,
        0x0605,
        0x0403,
        0x0201,
    ]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_round_trip_wide_types(type_, order):
    addr = parse_address(f"hr:10:{type_}:{order}")
    for value in SAMPLES[type_]:
        words = encode(addr, value)
        assert len(words) == addr.count and all(0 <= w <= 0xFFFF for w in words)
        back = decode(addr, words)
        if type_ == "f32":
            assert back == pytest.approx(value, rel=1e-7)
        else:
            assert back == value and type(back) is type(value)


def test_16bit_and_boolean_types():
    assert encode(parse_address("hr:0:i16"), -2) == [0xFFFE]
    assert decode(parse_address("hr:0:i16"), [0xFFFE]) == -2
    assert decode(parse_address("hr:0:u16"), [0xFFFE]) == 65534
    assert encode(parse_address("hr:0:bool"), True) == [1]
    assert decode(parse_address("hr:0:bool"), [7]) is True
    assert encode(parse_address("co:3"), 1) == [True]
    assert decode(parse_address("di:3"), [False]) is False


def test_bit_in_register():
    addr = parse_address("hr:7:bit:3")
    assert encode(addr, True) == [0b1000]
    assert encode(addr, False) == [0]
    assert decode(addr, [0b1000]) is True
    assert decode(addr, [0b0111]) is False
    assert merge_bit(0b0001, 3, True) == 0b1001
    assert merge_bit(0xFFFF, 3, False) == 0xFFF7
    assert merge_bit(0b1001, 3, False) == 0b0001


def test_strings():
    addr = parse_address("hr:200:str:4")
    words = encode(addr, "PT-101")
    assert words == [0x5054, 0x2D31, 0x3031, 0x0000]  # "PT", "-1", "01", NULs: high byte first
    assert decode(addr, words) == "PT-101"
    assert decode(addr, [0x4142, 0x2020, 0, 0]) == "AB"  # trailing spaces and NULs stripped
    assert decode(addr, encode(addr, "")) == ""
    assert decode(addr, encode(addr, "12345678")) == "12345678"


@pytest.mark.parametrize(
    ("text", "value", "message"),
    [
        ("hr:0:i16", 40000, "outside the int16 range"),
        ("hr:0:u16", -1, "outside the uint16 range"),
        ("hr:0:u32", 2**32, "outside the uint32 range"),
        ("hr:0:i64", 2**63, "outside the int64 range"),
        ("hr:0:u16", 1.5, "not a whole number"),
        ("hr:0:u16", "7", "not a number"),
        ("hr:0:f32", "1.0", "not a number"),
        ("hr:0:f32", 1e39, "too large for float32"),
        ("hr:0:f64", float("nan"), "not a finite number"),
        ("hr:0:f32", True, "not a number"),
        ("co:0", 2, "not a boolean"),
        ("hr:0:bit:1", "yes", "not a boolean"),
        ("hr:0:str:2", 5, "not text"),
        ("hr:0:str:2", "ABCDE", "does not fit in 2 registers"),
    ],
)
def test_encode_rejects_what_does_not_fit(text, value, message):
    with pytest.raises(ValueError, match=message):
        encode(parse_address(text), value)


def test_encode_accepts_whole_floats_for_ints():
    assert encode(parse_address("hr:0:u16"), 5.0) == [5]


def test_decode_short_input_is_an_error():
    with pytest.raises(ValueError, match="needs 2 registers, got 1"):
        decode(parse_address("hr:0:f32"), [1])


def test_block_decoder_mixes_every_type_and_order():
    texts = [
        "hr:100:u16",
        "hr:101:i16",
        "hr:102:f32",
        "hr:104:f32:cdab",
        "hr:106:i32:badc",
        "hr:108:u32:dcba",
        "hr:110:f64:cdab",
        "hr:114:i64",
        "hr:118:bit:0",
        "hr:118:bit:15",
        "hr:119:bool",
        "hr:120:str:3",
        "hr:124:f32:dcba",
    ]
    addrs = [parse_address(t) for t in texts]
    values = [
        65000,
        -300,
        1.5,
        -2.25,
        -70000,
        4_000_000_000,
        1e-3,
        -(2**40),
        True,
        True,
        True,
        "ABCDE",
        7.0,
    ]
    regs = [0] * 26
    for a, v in zip(addrs, values, strict=True):
        words = encode(a, v)
        if a.type == "bit":
            regs[a.offset - 100] |= words[0]
        else:
            regs[a.offset - 100 : a.offset - 100 + len(words)] = words
    dec = BlockDecoder(100, addrs)
    assert dec.size == 26
    out = dec.decode(regs)
    numeric = [v for a, v in zip(addrs, values, strict=True) if a.type != "string"]
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, np.asarray(numeric, dtype=np.float64), rtol=1e-7)
    assert list(dec.numeric) == [i for i, a in enumerate(addrs) if a.type != "string"]
    assert list(dec.strings) == [11]
    assert list(dec.decode_strings(regs)) == ["ABCDE"]
    # a numpy input works the same as a list from the wire
    np.testing.assert_array_equal(dec.decode(np.asarray(regs, dtype=np.uint16)), out)


def test_block_decoder_agrees_with_scalar_decode_on_random_words():
    rng = np.random.default_rng(7)
    addrs = [
        parse_address(f"hr:{4 * k}:{t}:{o}")
        for k, (t, o) in enumerate((t, o) for t in SAMPLES for o in ORDERS)
    ]
    regs = rng.integers(0, 65536, size=4 * len(addrs) + 4).tolist()
    out = BlockDecoder(0, addrs).decode(regs)
    for a, got in zip(addrs, out, strict=True):
        want = decode(a, regs[a.offset : a.offset + a.count])
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(got)
        else:
            assert got == pytest.approx(float(want), rel=1e-12)


def test_block_decoder_bits_and_short_reply():
    addrs = [parse_address(t) for t in ("co:10", "co:12", "co:13")]
    dec = BlockDecoder(10, addrs)
    bits = [True, False, False, True, False, False, False, False]  # pymodbus pads to whole bytes
    assert dec.decode(bits).tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="short reply: 3 of 4 bits"):
        dec.decode(bits[:3])
    with pytest.raises(ValueError, match="short reply: 1 of 2 registers"):
        BlockDecoder(0, [parse_address("hr:0:f32")]).decode([1])


def test_block_decoder_groups_outputs_by_type_and_maps_them_back():
    addrs = [
        parse_address(t)
        for t in ("hr:0", "hr:1:f32", "hr:3", "hr:4:bit:2", "hr:4:bit:0", "hr:5:f32", "hr:7:i16")
    ]
    values = [11, 2.5, 33, True, False, -4.0, -7]
    regs = [11, *encode(addrs[1], 2.5), 33, 0b100, *encode(addrs[5], -4.0), 0xFFF9]
    dec = BlockDecoder(0, addrs)
    out = dec.decode(regs)
    assert sorted(dec.numeric.tolist()) == list(range(7))
    assert dec.numeric.tolist() != list(range(7))  # grouped by type: u16, f32, bit, i16
    for pos, got in zip(dec.numeric, out, strict=True):
        assert got == float(values[pos])
    # into a caller's buffer (the driver's per-scan array), longer replies are cut to the block
    buf = np.full(9, np.nan)
    dec.decode([*regs, 999, 999], out=buf[2:9])
    np.testing.assert_array_equal(buf[2:9], out)
