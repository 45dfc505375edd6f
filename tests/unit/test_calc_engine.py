"""The calculation engine: every function, quality propagation, grouping, gas-day figures.

The engine is fed scans exactly as the runtime feeds it (indices, values, quality,
timestamps, reasons); timestamps are explicit so the windowed and stateful functions
are tested at chosen instants, independent of the wall clock.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from drivers.base import Quality
from hmi.config import load_station
from hmi.core.calc.engine import CalcEngine

GOOD, UNCERTAIN, BAD = int(Quality.GOOD), int(Quality.UNCERTAIN), int(Quality.BAD)
T0 = 1_750_000_000.0  # a fixed instant: nothing depends on today's date


def make(tmp_path: Path, exprs: dict[str, str], inputs: tuple[str, ...] = ("a", "b", "c")):
    lines = [
        "station: {id: s, name: S, timezone: Asia/Shanghai}",
        "devices:",
        "  - {id: plc, protocol: modbus_tcp, port: 15999}",
        "  - {id: calc, protocol: calc, gas_day_start: 8}",
        "tags:",
    ]
    for k, name in enumerate(inputs):
        lines.append(f'  - {{name: {name}, device: plc, address: "hr:{2 * k}:f32"}}')
    for name, expr in exprs.items():
        lines.append(f"  - name: {name}\n    device: calc\n    expr: {expr!r}")
    d = tmp_path / "st"
    d.mkdir(exist_ok=True)
    (d / "station.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = load_station(d)
    names = [t.name for t in cfg.tags]
    eng = CalcEngine(cfg, names, list(exprs), gas_day_start=8, timezone=cfg.station.timezone)
    return eng, names


class Feeder:
    """Feeds input values and collects the engine's results per tag."""

    def __init__(self, eng: CalcEngine, names: list[str]) -> None:
        self.eng, self.names = eng, names
        self.last: dict[str, tuple[float, int, str, float]] = {}

    def __call__(self, ts: float = T0, quality: int = GOOD, reason: str = "", **values: float):
        idx = np.array([self.names.index(k.replace("__", ".")) for k in values], np.int32)
        vals = np.array(list(values.values()), np.float64)
        n = len(idx)
        out = self.eng.feed(idx, vals, np.full(n, quality, np.uint8), np.full(n, ts), [reason] * n)
        for b in out:
            q = np.broadcast_to(np.asarray(b.quality), len(b.indices))
            tss = np.broadcast_to(np.asarray(b.source_ts), len(b.indices))
            for k, i in enumerate(b.indices.tolist()):
                self.last[self.names[i]] = (float(b.values[k]), int(q[k]), b.reason, float(tss[k]))
        return self

    def v(self, name: str) -> float:
        return self.last[name][0]


@pytest.mark.parametrize(
    ("expr", "a", "b", "c", "want"),
    [
        ("a + b * c", 1, 2, 3, 7),
        ("(a + b) * c", 1, 2, 3, 9),
        ("a - b / c", 1, 3, 2, -0.5),
        ("a % 3 + b ** 2", 7, 3, 0, 10),
        ("-a + +b", 1, 5, 0, 4),
        ("a < b", 1, 2, 0, 1),
        ("a >= b", 1, 2, 0, 0),
        ("a == 1 and b != 1", 1, 2, 0, 1),
        ("a > 5 or not b", 1, 0, 0, 1),
        ("if(a > b, a, b)", 4, 9, 0, 9),
        ("min(a, b, c)", 4, 9, -1, -1),
        ("max(a, b, c)", 4, 9, -1, 9),
        ("avg(a, b, c)", 4, 9, -1, 4),
        ("sum(a, b, c)", 4, 9, -1, 12),
        ("abs(c)", 0, 0, -2.5, 2.5),
        ("sqrt(a)", 16, 0, 0, 4),
        ("clamp(a, b, c)", 12, 0, 10, 10),
        ("clamp(a, b, c)", -3, 0, 10, 0),
        ("any(a > 5, b > 5)", 1, 6, 0, 1),
        ("all(a > 5, b > 5)", 1, 6, 0, 0),
        ("count(a > 0, b > 0, c > 0)", 1, 6, 0, 2),
        ("a * 0 + true + false * 2", 0, 0, 0, 1),
        ("1e-3 * a", 500, 0, 0, 0.5),
    ],
)
def test_plain_functions_and_operators(tmp_path, expr, a, b, c, want):
    eng, names = make(tmp_path, {"x": expr})
    f = Feeder(eng, names)(a=a, b=b, c=c)
    assert f.v("x") == pytest.approx(want)
    assert f.last["x"][1] == GOOD


def test_patterns_reduce_over_matching_tags(tmp_path):
    exprs = {
        "l1": 'any("gd*.lel" >= 20)',
        "n": 'count("gd*.lel" >= 20)',
        "ok": 'all("gd*.lel" < 50)',
        "hi": 'max("gd*.lel")',
        "mean": 'avg("gd*.lel", a)',
    }
    eng, names = make(tmp_path, exprs, ("a", "gd1.lel", "gd2.lel", "gd3.lel"))
    f = Feeder(eng, names)
    f(a=0, gd1__lel=0, gd2__lel=25, gd3__lel=60)
    assert (f.v("l1"), f.v("n"), f.v("ok"), f.v("hi"), f.v("mean")) == (1, 2, 0, 60, 85 / 4)
    f(gd2__lel=5, gd3__lel=5)
    assert (f.v("l1"), f.v("n"), f.v("ok"), f.v("hi")) == (0, 0, 1, 5)


def test_quality_bad_names_the_input_and_ts_is_newest(tmp_path):
    eng, names = make(tmp_path, {"x": "a + b", "y": "x * 2"})
    f = Feeder(eng, names)
    f(ts=T0, a=1)
    # b never read: the result is BAD and says which input is missing
    assert f.last["x"][1] == BAD and "input b is BAD: not read yet" in f.last["x"][2]
    f(ts=T0 + 5, b=2)
    assert f.last["x"] == (3.0, GOOD, "", T0 + 5)
    assert f.last["y"] == (6.0, GOOD, "", T0 + 5)  # a chain: evaluated in the same pass
    f(ts=T0 + 6, quality=BAD, reason="device plc: timeout", b=math.nan)
    assert f.last["x"][1] == BAD and f.last["x"][2] == "input b is BAD: device plc: timeout"
    assert f.last["y"][1] == BAD and f.last["y"][2].startswith("input x is BAD: input b is BAD")
    f(ts=T0 + 7, quality=UNCERTAIN, reason="stale: no fresh value from the device", b=2)
    assert f.last["x"][1] == UNCERTAIN and "input b is uncertain: stale" in f.last["x"][2]
    assert f.last["x"][0] == 3.0  # last known value, marked


def test_a_changed_result_never_repeats_its_timestamp(tmp_path):
    """An input with an older source time (OPC UA) must not put a GOOD result on the instant of
    the BAD one before it: the historian keeps one sample per tag and instant."""
    eng, names = make(tmp_path, {"x": "a + b"})
    f = Feeder(eng, names)
    f(ts=T0, a=1)
    assert f.last["x"][1] == BAD and f.last["x"][3] == T0
    f(ts=T0 - 2, b=2)  # b's source time predates a's
    assert f.last["x"][:2] == (3.0, GOOD) and f.last["x"][3] == pytest.approx(T0 + 0.001, abs=1e-6)
    f(ts=T0 + 5, a=2)  # a newer input: its own time again
    assert f.last["x"] == (4.0, GOOD, "", T0 + 5)


def test_non_finite_result_is_bad(tmp_path):
    eng, names = make(tmp_path, {"x": "a / b", "y": "sqrt(a)"})
    f = Feeder(eng, names)(a=-1, b=0)
    assert f.last["x"][1] == BAD and "not a finite number" in f.last["x"][2]
    assert f.last["y"][1] == BAD


def test_same_shape_tags_are_one_group_and_agree_with_one_by_one(tmp_path):
    inputs = tuple(f"p{i}" for i in range(40))
    exprs = {f"dp{i}": f"p{2 * i} - p{2 * i + 1} * 0.5" for i in range(20)}
    exprs["other"] = "p0 * 2 + 1"
    eng, names = make(tmp_path, exprs, inputs)
    assert len(eng.groups) == 2
    rng = np.random.default_rng(7)
    values = {f"p{i}": float(rng.uniform(0, 100)) for i in range(40)}
    f = Feeder(eng, names)(**values)
    for i in range(20):
        assert f.v(f"dp{i}") == pytest.approx(values[f"p{2 * i}"] - values[f"p{2 * i + 1}"] * 0.5)
    # only the touched member is evaluated again
    before = eng.evaluations
    f(p6=1.0)
    assert eng.evaluations - before == 1 and f.v("dp3") == pytest.approx(1.0 - values["p7"] * 0.5)


def test_windowed_functions(tmp_path):
    exprs = {f"{fn}": f'{fn}(a, "1m")' for fn in ("avg", "min", "max", "sum", "rate")}
    eng, names = make(tmp_path, exprs)
    f = Feeder(eng, names)
    for k, v in enumerate([10, 20, 30, 40]):  # one sample every 20 s
        f(ts=T0 + 20 * k, a=v)
    # window of 60 s at T0+60 holds the samples of T0..T0+60
    assert f.v("avg") == 25 and f.v("min") == 10 and f.v("max") == 40 and f.v("sum") == 100
    assert f.v("rate") == pytest.approx(0.5)  # 30 units in 60 s
    f(ts=T0 + 100, a=0)  # samples before T0+40 leave the window (its start is inclusive)
    assert f.v("min") == 0 and f.v("max") == 40 and f.v("sum") == 70
    assert f.v("rate") == pytest.approx(-30 / 60)


def test_integral_counter_runtime(tmp_path):
    exprs = {
        "vol": 'integral(a, "h")',
        "starts": "counter(b > 0)",
        "hours": "runtime(b > 0)",
    }
    eng, names = make(tmp_path, exprs)
    f = Feeder(eng, names)
    f(ts=T0, a=3600, b=0)
    f(ts=T0 + 1800, a=3600, b=1)  # half an hour of 3600 /h, pump starts
    f(ts=T0 + 3600, a=0, b=1)  # flow ramps to 0; the pump ran 30 min
    f(ts=T0 + 5400, a=0, b=0)  # pump stops after another 30 min
    f(ts=T0 + 6000, a=0, b=1)  # second start
    assert f.v("vol") == pytest.approx(1800 + 900)
    assert f.v("starts") == 2
    assert f.v("hours") == pytest.approx(1.0)
    # a BAD input is a gap: nothing is integrated or counted across it
    f(ts=T0 + 6100, quality=BAD, reason="timeout", a=math.nan, b=math.nan)
    f(ts=T0 + 9700, a=3600, b=1)
    f(ts=T0 + 9701, a=3600, b=1)
    assert f.v("vol") == pytest.approx(2700 + 1)
    assert f.v("hours") == pytest.approx(1.0 + 1 / 3600)


def test_delta_since_follows_the_gas_day(tmp_path):
    eng, names = make(
        tmp_path, {"today": 'delta_since(a, "day")', "hour": 'delta_since(a, "hour")'}
    )
    f = Feeder(eng, names)
    tz = ZoneInfo("Asia/Shanghai")

    def at(h: int, m: int = 0, day: int = 1) -> float:
        return dt.datetime(2025, 3, day, h, m, tzinfo=tz).timestamp()

    f(ts=at(7, 0), a=1000)  # first value: the baseline
    f(ts=at(7, 59), a=1100)
    assert f.v("today") == 100
    f(ts=at(8, 1), a=1120)  # 08:00 starts a new gas day: baseline = last value before it
    assert f.v("today") == 20 and f.v("hour") == 20
    f(ts=at(23, 30), a=1500)
    f(ts=at(1, 0, day=2), a=1600)  # past midnight: still the same gas day
    assert f.v("today") == 500


def test_state_dump_and_load_roundtrip(tmp_path):
    eng, names = make(tmp_path, {"starts": "counter(a > 0)", "hours": "runtime(a > 0)"})
    f = Feeder(eng, names)
    f(ts=T0, a=0)
    f(ts=T0 + 1, a=1)
    f(ts=T0 + 3601, a=1)
    saved = {k: st.dump() for k, st in eng.state_items()}
    assert saved == {
        "starts#0:counter": {"count": 1, "last": True},
        "hours#0:runtime": {"hours": 1.0},
    }
    eng2, _ = make(tmp_path, {"starts": "counter(a > 0)", "hours": "runtime(a > 0)"})
    for k, st in eng2.state_items():
        st.load(saved[k])
    f2 = Feeder(eng2, names)(ts=T0 + 7200, a=0)
    f2(ts=T0 + 7201, a=1)
    assert f2.v("starts") == 2 and f2.v("hours") == pytest.approx(1.0)
