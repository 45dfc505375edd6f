"""The simulator's vectorized register images encode exactly as the runtime's codec decodes."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.modbus import codec
from drivers.modbus.address import parse_address
from drivers.sim.regimage import TableImage
from drivers.sim.signals import SignalBank

ADDRESSES = [
    "hr:0:i16", "hr:1:u16", "hr:2:i32", "hr:4:u32:cdab", "hr:6:f32", "hr:8:f32:cdab", "hr:10:f32:badc",
    "hr:12:f32:dcba", "hr:14:i32:dcba", "hr:16:u32:badc", "hr:18:f64", "hr:22:f64:cdab", "hr:26:i64:dcba",
    "hr:40:bit:0", "hr:40:bit:3", "hr:40:bit:15", "hr:41:bool", "hr:50:str:4",
]  # fmt: skip


def raw_for(addr, rng):
    kind = addr.type
    if kind == "string":
        return 0.0
    if kind in ("bit", "bool"):
        return float(rng.integers(0, 2))
    if kind.startswith("float"):
        return float(rng.normal(0, 1e4))
    lo = {"int16": -30000, "int32": -(2**30), "int64": -(2**40)}.get(kind, 0)
    hi = {"int16": 30000, "uint16": 65000, "int32": 2**30, "uint32": 2**32 - 1, "int64": 2**40}[
        kind
    ]
    return float(rng.integers(lo, hi))


def test_every_type_and_order_round_trips_through_the_codec():
    addrs = [parse_address(a) for a in ADDRESSES]
    img = TableImage("hr", addrs)
    rng = np.random.default_rng(7)
    for _ in range(20):
        raw = np.array([raw_for(a, rng) for a in addrs])
        texts = ["" for _ in addrs]
        texts[-1] = "RUN-1"
        img.fill(raw, texts)
        for k, a in enumerate(addrs):
            got = codec.decode(a, [int(x) for x in img.read(a.offset, a.count)])
            if a.type == "string":
                assert got == "RUN-1"
            elif a.type == "float32":
                assert got == pytest.approx(raw[k], rel=1e-6)
            elif a.type in ("bit", "bool"):
                assert got == bool(raw[k])
            else:
                assert got == raw[k]
            if a.type != "string":
                # the same registers the codec itself would produce for this value
                value = (
                    bool(raw[k])
                    if a.type in ("bit", "bool")
                    else (raw[k] if a.type.startswith("float") else int(raw[k]))
                )
                if a.type != "bit":
                    assert [int(x) for x in img.read(a.offset, a.count)] == codec.encode(a, value)


def test_known_cdab_patterns():
    f = parse_address("hr:0:f32:cdab")
    u = parse_address("hr:2:u32:cdab")
    img = TableImage("hr", [f, u])
    img.fill(np.array([123456.0, 0x12345678]))
    assert list(img.read(0, 4)) == [0x2000, 0x47F1, 0x5678, 0x1234]


def test_span_covers_gaps_with_zeros_and_out_of_range_values_saturate():
    a, b = parse_address("ir:10:i16"), parse_address("ir:20:u16")
    img = TableImage("ir", [a, b])
    assert (img.lo, img.size) == (10, 11)
    img.fill(np.array([-99999.0, 1e9]))
    assert codec.decode(a, [int(img.read(10, 1)[0])]) == -32768
    assert int(img.read(20, 1)[0]) == 65535
    assert not img.read(11, 9).any()
    assert img.covered(11, 1)[1]  # a write into the gap is refused
    assert img.covered(10, 1) == ([0], "")


def test_bits_are_aligned_to_whole_words_and_packed_like_pymodbus():
    addrs = [parse_address(f"di:{n}") for n in (17, 18, 33)]
    img = TableImage("di", addrs)
    assert img.lo == 16 and img.size == 32
    img.fill(np.array([1.0, 0.0, 1.0]))
    assert img.packed(1, 2) == [0b10, 0b10]


def test_overlapping_points_are_refused():
    with pytest.raises(ValueError, match="overlaps"):
        TableImage("hr", [parse_address("hr:0:f32"), parse_address("hr:1:u16")])
    with pytest.raises(ValueError, match="overlaps"):
        TableImage("hr", [parse_address("hr:0:u16"), parse_address("hr:0:bit:1")])


def test_partial_writes_of_multi_register_values_are_refused():
    img = TableImage("hr", [parse_address("hr:0:f32"), parse_address("hr:2:u16")])
    assert "part of" in img.covered(1, 2)[1]
    assert img.covered(0, 3) == ([0, 1], "")


def test_generic_signals_are_deterministic_and_vectorized():
    sources = [
        {"signal": "sine", "base": 50, "amp": 10, "period": 60},
        {"signal": "ramp", "base": 0, "amp": 100, "period": 100, "phase": 0},
        {"signal": "step", "base": 1, "amp": 1, "period": 10, "phase": 0},
        {"signal": "noise", "base": 5, "amp": 2, "seed": 3},
        {"signal": "const", "base": 7},
    ]
    bank, again = SignalBank(sources, seed=1), SignalBank(sources, seed=1)
    ts = np.arange(0.0, 300.0, 0.5)
    vals = np.array([bank.values(t) for t in ts])
    assert np.array_equal(vals, np.array([again.values(t) for t in ts]))
    assert (
        40.0 - 1e-9 <= vals[:, 0].min() and vals[:, 0].max() <= 60.0 + 1e-9 and vals[:, 0].std() > 5
    )
    assert bank.values(25.0)[1] == pytest.approx(25.0) and bank.values(99.0)[1] == pytest.approx(
        99.0
    )
    assert bank.values(2.0)[2] == 1.0 and bank.values(7.0)[2] == 2.0
    assert 3.0 <= vals[:, 3].min() and vals[:, 3].max() <= 7.0 and len(set(vals[:, 3])) > 100
    assert bank.values(0.2)[3] == bank.values(0.7)[3]  # noise holds for a second of model time
    assert (vals[:, 4] == 7.0).all()
    big = SignalBank(
        [{"signal": "sine", "base": i, "amp": 1, "period": 30, "seed": i} for i in range(10000)]
    )
    out = big.values(12.0)
    assert out.shape == (10000,) and np.all(np.abs(out - np.arange(10000)) <= 1.0)
    assert SignalBank(sources, seed=2).values(10.0)[3] != bank.values(10.0)[3]
    noisy = [
        SignalBank([{"signal": "const", "base": 10, "noise": 0.5}]).values(t)[0] for t in range(50)
    ]
    assert len(set(noisy)) > 10 and min(noisy) >= 9.5 and max(noisy) <= 10.5
