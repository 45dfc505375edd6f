"""The write checks on their own (hmi.core.write_checks), on the demo city gate station;
the tag values come from a plain dict standing in for the tag table, no user store."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.base import Quality
from hmi.config import load_station
from hmi.core.command_model import CommandStatus, RemoteIdentity
from hmi.core.users.roles import Role
from hmi.core.users.session import Session
from hmi.core.write_checks import WriteChecks

DEMO = Path(__file__).resolve().parents[2] / "station_configs" / "demo_city_gate"
SP = "reg1.active.setpoint"  # rw, 0.2..0.6 MPa, bounded by its monitor (0.42 MPa)


class Values:
    def __init__(self, **values: tuple[float, Quality]) -> None:
        self.values = {k.replace("__", "."): v for k, v in values.items()}

    def get(self, name: str) -> tuple[float, Quality, float, str]:
        value, quality = self.values[name]
        return value, quality, 0.0, ""


@pytest.fixture(scope="module")
def cfg():
    return load_station(DEMO)


def test_a_valid_write_passes_with_the_value_to_write_and_the_current_one(cfg):
    checks = WriteChecks(cfg, Values(reg1__active__setpoint=(0.4, Quality.GOOD)), None)
    refusal, tag, new, old = checks.check(SP, "0.41", Session("op", Role.OPERATOR))
    assert refusal is None and tag is cfg.tag(SP)
    assert (new, old) == (pytest.approx(0.41), pytest.approx(0.4))


@pytest.mark.parametrize(
    ("tag", "value", "who", "status", "words"),
    [
        ("nope", 1, Session("op", Role.OPERATOR), CommandStatus.INVALID, "unknown tag 'nope'"),
        (SP, 0.41, Session.viewer(), CommandStatus.DENIED, "no permission"),
        (
            SP,
            0.9,
            Session("op", Role.OPERATOR),
            CommandStatus.INVALID,
            "outside the engineering range",
        ),
        (SP, 0.45, Session("op", Role.OPERATOR), CommandStatus.INTERLOCKED, "monitor"),
        (SP, 0.41, RemoteIdentity("scada"), CommandStatus.DENIED, "denied: remote"),
    ],
)
def test_each_refusal_names_its_reason(cfg, tag, value, who, status, words):
    checks = WriteChecks(cfg, Values(), None)
    refusal, _tag, _new, _old = checks.check(tag, value, who)
    assert refusal is not None and refusal.status is status and words in refusal.message


def test_a_read_only_tag_and_a_changed_confirmed_value_are_refused(cfg):
    values = Values(reg1__active__setpoint=(0.38, Quality.GOOD))
    checks = WriteChecks(cfg, values, None)
    op = Session("op", Role.OPERATOR)
    read_only = next(t.name for t in cfg.tags if t.access == "r")
    refusal, *_ = checks.check(read_only, 1, op)
    assert refusal is not None and refusal.message == f"{read_only} is read-only"
    refusal, *_ = checks.check(SP, 0.41, op, confirm_old=0.4)
    assert refusal is not None and refusal.status is CommandStatus.CHANGED
    assert checks.check(SP, 0.41, op, confirm_old=0.38)[0] is None


def test_current_value_is_none_when_bad_or_unknown(cfg):
    values = Values(reg1__active__setpoint=(0.4, Quality.BAD))
    checks = WriteChecks(cfg, values, None)
    assert checks.current_value(SP) is None and checks.current_value("nope") is None
    values.values[SP] = (0.4, Quality.UNCERTAIN)
    assert checks.current_value(SP) == pytest.approx(0.4)
