"""Block planner: fewest requests, request limits, gap thresholds, whole multi-register values."""

from __future__ import annotations

import random

import pytest

from drivers.modbus.address import parse_address
from drivers.modbus.planner import minimum_requests, plan_blocks


def _pts(*texts: str):
    return [(i, parse_address(t)) for i, t in enumerate(texts)]


def _check_constraints(
    blocks, points, max_registers=125, max_bits=2000, max_gap_registers=10, max_gap_bits=64
):
    seen = []
    for b in blocks:
        limit, gap = (
            (max_bits, max_gap_bits)
            if b.table in ("co", "di")
            else (max_registers, max_gap_registers)
        )
        assert 1 <= b.count <= limit
        end = b.start
        for _key, a in b.points:
            assert a.table == b.table
            assert b.start <= a.offset and a.end <= b.end  # the value is read whole
            assert a.offset - end <= gap  # never reads across a gap over the threshold
            end = max(end, a.end)
        assert end == b.end  # a block reads nothing past its last value
        seen.extend(k for k, _ in b.points)
    assert sorted(seen) == sorted(k for k, _ in points)


def test_contiguous_registers_make_one_block_with_the_right_function_code():
    points = _pts("hr:0", "hr:1:f32", "hr:3:i16", "hr:4:f64")
    blocks = plan_blocks(points)
    assert [(b.table, b.start, b.count, b.function_code) for b in blocks] == [("hr", 0, 8, 3)]
    assert [k for k, _ in blocks[0].points] == [0, 1, 2, 3]


def test_tables_never_mix_and_get_their_function_codes():
    blocks = plan_blocks(_pts("co:1", "di:1", "hr:1", "ir:1"))
    assert sorted((b.table, b.function_code) for b in blocks) == [
        ("co", 1),
        ("di", 2),
        ("hr", 3),
        ("ir", 4),
    ]


def test_gap_threshold():
    # a gap of exactly 10 unread registers is bridged, 11 is not
    assert len(plan_blocks(_pts("hr:0", "hr:11"))) == 1
    assert len(plan_blocks(_pts("hr:0", "hr:12"))) == 2
    assert len(plan_blocks(_pts("hr:0", "hr:12"), max_gap_registers=11)) == 1
    assert len(plan_blocks(_pts("hr:0", "hr:1"), max_gap_registers=0)) == 1
    assert len(plan_blocks(_pts("hr:0", "hr:2"), max_gap_registers=0)) == 2
    # the gap is measured from the end of a multi-register value
    assert len(plan_blocks(_pts("hr:0:f64", "hr:14"))) == 1
    assert len(plan_blocks(_pts("hr:0:f64", "hr:15"))) == 2
    # bits use their own threshold
    assert len(plan_blocks(_pts("co:0", "co:65"))) == 1
    assert len(plan_blocks(_pts("co:0", "co:66"))) == 2


def test_request_size_limits():
    regs = _pts(*[f"hr:{i}" for i in range(300)])
    blocks = plan_blocks(regs)
    assert [b.count for b in blocks] == [125, 125, 50]
    _check_constraints(blocks, regs)
    bits = _pts(*[f"di:{i}" for i in range(4500)])
    blocks = plan_blocks(bits)
    assert [b.count for b in blocks] == [2000, 2000, 500]
    assert len(plan_blocks(regs, max_registers=100)) == 3
    assert len(plan_blocks(regs, max_registers=50)) == 6


def test_multi_register_values_are_never_split():
    # 62 float32 fill 124 registers; the 63rd would straddle the 125 limit and starts the next block
    points = _pts(*[f"hr:{2 * i}:f32" for i in range(63)])
    blocks = plan_blocks(points)
    assert [(b.start, b.count) for b in blocks] == [(0, 124), (124, 2)]
    strings = _pts("hr:0:str:100", "hr:100:str:30")
    assert [(b.start, b.count) for b in plan_blocks(strings)] == [(0, 100), (100, 30)]


def test_point_larger_than_a_request_is_an_error():
    with pytest.raises(ValueError, match="spans 100 registers"):
        plan_blocks(_pts("hr:0:str:100"), max_registers=50)


def test_overlapping_points_share_a_block():
    points = _pts("hr:7:bit:0", "hr:7:bit:3", "hr:7", "hr:6:f32", "hr:6:f32")
    blocks = plan_blocks(points)
    assert [(b.start, b.count) for b in blocks] == [(6, 2)]
    assert len(blocks[0].points) == 5


def test_bare_addresses_are_accepted_as_points():
    a = parse_address("ir:3:u32")
    (block,) = plan_blocks([a])
    assert block.points == ((a, a),) and (block.start, block.count) == (3, 2)


@pytest.mark.parametrize("seed", range(12))
def test_planner_reaches_the_minimum_on_random_layouts(seed):
    rng = random.Random(seed)
    texts = []
    offset = {"hr": 0, "ir": 0, "co": 0, "di": 0}
    for _ in range(rng.randint(50, 400)):
        table = rng.choice(["hr", "hr", "ir", "co", "di"])
        if table in ("co", "di"):
            offset[table] += rng.choice([1, 1, 2, 30, 70, 500])
            texts.append(f"{table}:{offset[table]}")
        else:
            offset[table] += rng.choice([0, 1, 2, 4, 8, 11, 12, 40])
            typ = rng.choice(["u16", "i16", "f32:cdab", "u32", "f64", "bit:3", "str:5"])
            texts.append(f"{table}:{offset[table]}:{typ}")
            offset[table] += parse_address(texts[-1]).count - 1
    points = _pts(*texts)
    limits = {
        "max_registers": rng.choice([125, 60, 20]),
        "max_gap_registers": rng.choice([0, 10, 30]),
    }
    blocks = plan_blocks(points, **limits)
    _check_constraints(
        blocks,
        points,
        max_registers=limits["max_registers"],
        max_gap_registers=limits["max_gap_registers"],
    )
    assert len(blocks) == minimum_requests(points, **limits)


def test_minimum_requests_counts_tables_separately():
    assert minimum_requests(_pts("hr:0", "hr:1", "co:0", "ir:0", "ir:500")) == 4
    assert minimum_requests([]) == 0
