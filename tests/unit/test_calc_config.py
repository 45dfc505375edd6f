"""Calculated tags at load and check: syntax, unknown tags, types, cycles, units, `gas-hmi tags`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from hmi.cli import main as cli_main
from hmi.config import ConfigError, load_station
from hmi.config.calc_expr import ExprError, parse

STATION = """\
station:
  id: calc_station
  name: Calc station
devices:
  - id: plc
    protocol: modbus_tcp
    port: 15999
  - id: calc
    protocol: calc
    gas_day_start: 8
"""

BASE_TAGS = """\
tags:
  - {name: run1.p_in, device: plc, address: "hr:0:f32", unit: kPa, range: [0, 6000]}
  - {name: run1.p_out, device: plc, address: "hr:2:f32", unit: kPa, range: [0, 6000]}
  - {name: outlet.p, device: plc, address: "hr:4:f32", unit: MPa, range: [0, 1]}
  - {name: gd1.lel, device: plc, address: "hr:6:f32", unit: "%LEL"}
  - {name: gd2.lel, device: plc, address: "hr:8:f32", unit: "%LEL"}
  - {name: meter.id, device: plc, address: "hr:20:str:8", type: string}
"""


def station(tmp_path: Path, calc_tags: str) -> Path:
    d = tmp_path / "st"
    d.mkdir(exist_ok=True)
    (d / "station.yaml").write_text(STATION, encoding="utf-8")
    (d / "tags.yaml").write_text(BASE_TAGS, encoding="utf-8")
    (d / "calc.yaml").write_text(textwrap.dedent(calc_tags), encoding="utf-8")
    return d


def problems(d: Path) -> list[str]:
    with pytest.raises(ConfigError) as ei:
        load_station(d)
    return [str(p) for p in ei.value.problems]


GOOD = """\
tags:
  - name: run1.dp
    device: calc
    expr: run1.p_in - run1.p_out
    unit: kPa
    alarms: [{kind: H, limit: 80}]
  - name: gas.any_l1
    device: calc
    expr: any("gd*.lel" >= 20)
  - name: odorant.delivered
    device: calc
    access: manual
    manual_role: engineer
    unit: kg
"""


def test_valid_calc_tags_load(tmp_path):
    cfg = load_station(station(tmp_path, GOOD))
    assert cfg.tag("run1.dp").expr == "run1.p_in - run1.p_out"
    assert cfg.tag("odorant.delivered").access == "manual"
    assert cfg.device("calc").gas_day_start == 8


@pytest.mark.parametrize(
    ("expr", "col", "words"),
    [
        ("run1.p_in +", 12, "ends too early"),
        ("run1.p_in + * 2", 13, "unexpected '*'"),
        ("run1.p_in ? 2", 11, "unexpected character '?'"),
        ("(run1.p_in", 11, "ends too early"),
        ("foo(run1.p_in)", 1, "unknown function 'foo'"),
        ("clamp(run1.p_in, 0)", 1, "takes 3 argument(s), got 2"),
        ('rate(run1.p_in, "often")', 1, "needs a window"),
        ('delta_since(run1.p_in, "week")', 24, "period must be one of"),
        ('"gd*" + 1', 1, "pattern only inside"),
    ],
)
def test_syntax_errors_give_the_column(expr, col, words):
    with pytest.raises(ExprError) as ei:
        parse(expr)
    assert ei.value.col == col and words in ei.value.message


def test_check_reports_file_line_and_position(tmp_path):
    d = station(
        tmp_path,
        """\
        tags:
          - name: a
            device: calc
            expr: run1.p_in + * 2
          - name: b
            device: calc
            expr: run1.p_in + nosuch.tag
          - name: c
            device: calc
            expr: meter.id * 2
          - name: e
            device: calc
            expr: any("xx*.lel" > 1)
          - name: f
            device: plc
            address: "hr:30:f32"
            expr: run1.p_in
          - name: g
            device: calc
          - name: h
            device: calc
            access: rw
            expr: run1.p_in
        """,
    )
    out = problems(d)
    text = "\n".join(out)
    assert "calc.yaml:4: tags[a].expr: col 13: syntax error: unexpected '*'" in text
    assert "calc.yaml:7: tags[b].expr: col 13: unknown tag 'nosuch.tag'" in text
    assert "calc.yaml:10: tags[c].expr: col 1: meter.id is a text tag" in text
    assert "calc.yaml:13: tags[e].expr: col 5: pattern 'xx*.lel' matches no tag" in text
    assert "calc.yaml:17: tags[f].expr: expr needs a device with protocol: calc" in text
    assert "calc.yaml:18: tags[g]: a calc tag needs expr:" in text
    assert "calc.yaml:22: tags[h].access: an expression tag is read-only" in text
    assert len(out) == 7, text


def test_cycles_are_reported(tmp_path):
    d = station(
        tmp_path,
        """\
        tags:
          - {name: x, device: calc, expr: "y + 1"}
          - {name: y, device: calc, expr: "z * 2"}
          - {name: z, device: calc, expr: "x - run1.p_in"}
          - {name: self, device: calc, expr: "self + 1"}
          - {name: ok, device: calc, expr: "x + 1"}
        """,
    )
    out = problems(d)
    cycles = [p for p in out if "cycle" in p]
    assert len(cycles) == 2, out
    assert any("x -> y -> z -> x" in p and "calc.yaml:2: tags[x].expr" in p for p in cycles)
    assert any("self -> self" in p and "calc.yaml:5" in p for p in cycles)


def test_check_warns_on_mixed_units(tmp_path, capsys):
    d = station(
        tmp_path,
        """\
        tags:
          - {name: bad_sum, device: calc, expr: "run1.p_in + outlet.p", unit: kPa}
          - {name: good_sum, device: calc, expr: "run1.p_in + outlet.p * 1000", unit: kPa}
          - {name: bad_cmp, device: calc, expr: "if(outlet.p > run1.p_out, 1, 0)"}
          - {name: wrong_unit, device: calc, expr: "run1.p_in - run1.p_out", unit: MPa}
        """,
    )
    assert cli_main(["check", str(d)]) == 0
    out = capsys.readouterr().out
    assert "calc.yaml:2: tags[bad_sum].expr: col 11: adding kPa and MPa" in out
    assert "calc.yaml:4: tags[bad_cmp].expr: col 13: comparing MPa and kPa" in out
    assert "tags[wrong_unit].unit: the expression gives kPa but the tag's unit is MPa" in out
    assert "good_sum" not in out
    assert "3 warning(s)" in out


def test_cli_tags_shows_expression_and_inputs(tmp_path, capsys):
    d = station(tmp_path, GOOD)
    assert cli_main(["tags", str(d), "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["run1.dp"]["expr"] == "run1.p_in - run1.p_out"
    assert rows["run1.dp"]["inputs"] == ["run1.p_in", "run1.p_out"]
    assert rows["gas.any_l1"]["inputs"] == ["gd1.lel", "gd2.lel"]
    assert rows["odorant.delivered"]["access"] == "manual"
    assert cli_main(["tags", str(d)]) == 0
    table = capsys.readouterr().out
    assert "= run1.p_in - run1.p_out" in table and "run1.p_in,run1.p_out" in table
