"""``gas-hmi alarms rationalization``: the demo station meets the ISA-18.2 targets; a duplicated
alarm, a missing response and too many priority-1 alarms are reported (exit 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hmi.cli import main as cli_main

DEMO = Path(__file__).resolve().parents[2] / "station_configs" / "demo_city_gate"


def _run(capsys, station: Path, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = cli_main(["alarms", "rationalization", str(station), *extra])
    return rc, capsys.readouterr().out


def test_demo_station_meets_the_distribution(capsys):
    rc, out = _run(capsys, DEMO, "--format", "json")
    r = json.loads(out)
    assert rc == 0 and r["problems"] == []
    total = r["total"]
    p = {int(k): v for k, v in r["by_priority"].items()}
    assert sum(p.values()) == total > 100
    assert p[1] / total <= 0.10 and (p[3] + p[4]) / total >= 0.60
    assert r["no_response"] == [] and r["no_time_to_respond"] == [] and r["duplicates"] == []
    assert r["by_area"]["gas_detection"]["1"] == 10  # level 2 of every detector is critical
    rc, text = _run(capsys, DEMO)
    assert rc == 0 and "P1 critical  11" in text and "rationalised: every target met" in text


def test_duplicate_missing_response_and_too_many_p1_are_reported(tmp_path, capsys):
    st = tmp_path / "st"
    shutil.copytree(DEMO, st)
    f = st / "opcua.yaml"
    text = f.read_text(encoding="utf-8")
    # the old mirror alarm: the controller's copy of the heater gas temperature alarms again
    anchor = "    sim: heater.gas_out.temperature\n"
    assert anchor in text
    f.write_text(
        text.replace(
            anchor,
            anchor
            + "    alarms:\n      - {kind: L, limit: 20, priority: 1, message: Copy}\n"
            + "      - {kind: H, limit: 90, priority: 1, message: Copy 2,"
            + " response: {en: Now (respond at once), zh: 立即（响应时间：立即）}}\n",
        ),
        encoding="utf-8",
    )
    rc, out = _run(capsys, st, "--format", "json")
    r = json.loads(out)
    assert rc == 1
    assert ["hoc.heater.gas_out_temp.l", "heater.gas_out.temperature.l",
            "same L on sim:heater.gas_out.temperature"] in r["duplicates"]  # fmt: skip
    assert r["no_response"] == ["hoc.heater.gas_out_temp.l"]
    p1 = [p for p in r["problems"] if p.startswith("priority 1 is ")]
    assert p1 and p1[0].endswith("(target <= 10%)"), r["problems"]
    assert float(p1[0].split()[3].rstrip("%")) > 10.0  # the copies pushed P1 over the target
