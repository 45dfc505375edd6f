"""Permissives from the ``interlocks:`` section and the protection ladder, as the command
service checks them. The tag values come from a plain dict standing in for the tag table."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.base import Quality
from hmi.config import ConfigError, load_station
from hmi.core.permissives import permissive_refusal

DEMO = Path(__file__).resolve().parents[2] / "station_configs" / "demo_city_gate"


@pytest.fixture(scope="module")
def cfg():
    return load_station(DEMO)


def getter(values: dict[str, float], bad: tuple[str, ...] = ()):
    def get(name: str):
        if name not in values:
            raise KeyError(name)
        return values[name], Quality.BAD if name in bad else Quality.GOOD, 0.0, ""

    return get


def test_active_setpoint_bounded_by_the_monitor(cfg):
    sp = cfg.tag("reg1.active.setpoint")
    assert permissive_refusal(cfg, sp, 0.41, getter({})) is None
    msg, hint = permissive_refusal(cfg, sp, 0.42, getter({}))
    assert "below its monitor (0.42 MPa)" in msg and "监控调压器" in hint["zh"]
    assert permissive_refusal(cfg, cfg.tag("reg2.active.setpoint"), 0.405, getter({})) is None
    assert permissive_refusal(cfg, cfg.tag("reg2.active.setpoint"), 0.41, getter({}))


def test_slam_shut_reset_and_esd_open_need_their_permissive(cfg):
    reset, esd = cfg.tag("reg1.ssv.reset"), cfg.tag("esd.reset_cmd")
    assert permissive_refusal(cfg, reset, 1, getter({"reg1.outlet.pressure": 0.38})) is None
    msg, hint = permissive_refusal(cfg, reset, 1, getter({"reg1.outlet.pressure": 0.43}))
    assert "needs reg1.outlet.pressure below 0.41 (is 0.43)" in msg and "复位限值" in hint["zh"]
    assert permissive_refusal(cfg, reset, 0, getter({"reg1.outlet.pressure": 0.43})) is None
    msg, _ = permissive_refusal(
        cfg, reset, 1, getter({"reg1.outlet.pressure": 0.3}, ("reg1.outlet.pressure",))
    )
    assert "has no good value" in msg  # a permissive that cannot be checked refuses
    ok = {"inlet.pressure": 3.85, "filters.outlet.pressure": 3.80}
    assert permissive_refusal(cfg, esd, 1, getter(ok)) is None
    msg, _ = permissive_refusal(cfg, esd, 1, getter({**ok, "filters.outlet.pressure": 0.4}))
    assert "|inlet.pressure - filters.outlet.pressure| below 0.1 (is 3.45)" in msg


def test_interlock_on_a_read_only_or_unknown_tag_is_a_config_error(tmp_path):
    import shutil

    st = tmp_path / "st"
    shutil.copytree(DEMO, st)
    f = st / "station.yaml"
    text = f.read_text(encoding="utf-8")
    f.write_text(text.replace("  - command: reg2.ssv.reset", "  - command: reg2.ssv.closed")
                 .replace("{tag: reg2.outlet.pressure, below: 0.41}", "{tag: reg9.p, below: 0.41}"),
                 encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError) as ei:
        load_station(st)
    msgs = [str(p) for p in ei.value.problems]
    assert any(
        "station.yaml:" in m and "interlocks[2].command: reg2.ssv.closed is read-only" in m
        for m in msgs
    ), msgs
    assert any("interlocks[2].require[0].tag: unknown tag 'reg9.p'" in m for m in msgs), msgs
