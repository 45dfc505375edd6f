"""hmi.core.reasons: the drivers' and services' English reasons in Chinese for the zh screens.

Three sources of reason texts: each rule's own example, the reason f-strings of the drivers
and services (collected from their source, placeholders filled with a number), and the
real texts of a Modbus driver against a stopped port, a silent server and a pymodbus
server answering with an exception. Each must come out with no English word left (ids,
addresses, units, numbers and protocol acronyms may stay).
"""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path

import pytest

from drivers.base import Batch, DeviceState, PointSpec
from drivers.iec104.driver import Iec104Driver
from drivers.modbus.driver import ModbusDriver
from drivers.opcua.driver import OpcUaDriver
from drivers.s7.driver import S7Driver
from hmi.core import reasons
from hmi.core.reasons import RULES, to_zh
from tests.helpers import async_wait_until, free_port
from tests.modbus_server import ModbusTestServer

ROOT = Path(__file__).resolve().parents[2]

#: what may stay ASCII in a Chinese reason: protocol names, acronyms, units, type names
_ALLOWED = {"Modbus", "OPC", "UA", "IEC", "RTU", "DB", "PDU", "CPU", "PUT", "GET", "IOA", "S7"}
_ALLOWED |= {"s", "MPa", "Float", "str", "STARTDT", "NT", "SB"}


def english_words(text: str) -> list[str]:
    """ASCII words of ``text`` that are not ids, addresses, numbers, units or acronyms."""
    left = []
    for token in re.split(r"[\s（）()，、：；“”？！'\"]+", text):
        if not token or not token.isascii() or re.search(r"[\d_.:/=+\-]", token):
            continue  # Chinese, an id (odor.dose.setpoint, C_SC_NA_1:3001) or a number
        for word in re.findall(r"[A-Za-z]+", token):
            camel_id = re.fullmatch(r"[A-Z][a-z]+[A-Z]\w*", word)  # BadTimeout, RuntimeError
            if word not in _ALLOWED and not word.isupper() and not camel_id:
                left.append(word)
    return left


def assert_chinese(text: str) -> None:
    zh = to_zh(text)
    assert zh != text, f"no rule translates {text!r}"
    assert not english_words(zh), f"{text!r} -> {zh!r} leaves {english_words(zh)}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.example[:50])
def test_each_rule_translates_its_example(rule):
    first = next(r for r in RULES if r.pattern.match(rule.example))
    assert first is rule, f"{rule.example!r} is taken by the earlier rule {first.example!r}"
    assert_chinese(rule.example)


def test_groups_are_kept_and_nested_reasons_translated():
    assert to_zh("timeout after 1.0 s on hr 100-109 (3 failed cycles); retry in 4 s") == (
        "保持寄存器 100-109：超时（1.0 s 无应答）（连续 3 个周期失败）；4 s 后重试"
    )
    assert to_zh("connection refused 10.1.2.3:1502") == "连接被拒绝：10.1.2.3:1502"
    # a Chinese alarm headline keeps its text, the reason after the colon is translated
    assert to_zh("通信中断：timeout after 2 s") == "通信中断：超时（2 s 无应答）"


def test_unknown_and_chinese_texts_pass_through():
    for text in ("", "some new failure nobody has seen", "超压报警", "通信中断：whatever"):
        assert to_zh(text) == text
    assert not reasons.is_known("some new failure nobody has seen")


def test_words_from_the_caller_win():
    assert to_zh("device plc1 is not connected (backoff)", {"backoff": "退避"}) == (
        "设备 plc1 未连接（退避）"
    )


# ---------------------------------------------------------------- reasons in the source code
#: files whose f-strings become reasons, write results and refusals on the screen
SOURCES = [
    "drivers/base.py",
    "drivers/modbus/client.py",
    "drivers/modbus/driver.py",
    "drivers/s7/client.py",
    "drivers/s7/driver.py",
    "drivers/iec104/driver.py",
    "drivers/opcua/connection.py",
    "drivers/opcua/driver.py",
    "hmi/core/writer.py",
    "hmi/core/write_checks.py",
    "hmi/core/diskwatch.py",
    "hmi/core/uplink/connection.py",
    "hmi/core/uplink/service.py",
]
#: calls and assignments whose text argument is a reason
_SINKS = {"WriteResult", "_set_state", "record_error", "bad", "_refuse", "_fail_all", "_lose"}
_SINKS |= {"ConnectError", "_error", "_end_session", "_connect_failed"}  # the uplink's status
#: attributes that hold a reason (the uplink connection's "lost" and "refused")
_REASON_ATTRS = {"lost", "refused"}
#: reason texts that wrap another reason or name an internal failure (tested by rule examples)
_NOT_SHOWN_ALONE = re.compile(r"^(7|7: 7|7 on 7|7 \(7\)|7 7|7; 7|7 7 7)$")


#: a sample value per placeholder expression (others: 7; an endpoint: host:port)
_SAMPLES = {
    "cb.where": "hr 0-9",
    "cr.range.where": "DB1 bytes 0-9",
    "where": "hr:10",
    "unit": "registers",
    "t.unit": "MPa",
    "self._client.cpu_state": "run",
    "who": "user 'op1'",
    "hint": "wrong user name or password",
    "who.user": "op1",
    "who.display_name": "op1",
}


def _sample(expr: ast.AST) -> str:
    text = ast.unparse(expr)
    if text in _SAMPLES:
        return _SAMPLES[text]
    return "127.0.0.1:502" if "endpoint" in text or "peer" in text else "7"


def _filled(node: ast.AST) -> str | None:
    """A reason literal with each placeholder replaced by a sample (None for other expressions)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
            elif isinstance(v, ast.FormattedValue):
                parts.append(_sample(v.value))
        return "".join(parts)
    return None


def source_reasons() -> set[str]:
    """Reason texts the drivers and services build, from their source."""
    found: set[str] = set()
    for rel in SOURCES:
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            texts: list[ast.AST] = []
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in _SINKS:
                    texts = list(node.args)
            elif isinstance(node, ast.Assign):
                names = [
                    n.id
                    for t in node.targets
                    for n in (t.elts if isinstance(t, ast.Tuple) else [t])
                    if isinstance(n, ast.Name)
                ]
                attrs = [t.attr for t in node.targets if isinstance(t, ast.Attribute)]
                if any(n in ("reason", "msg", "why") for n in names) or any(
                    a in _REASON_ATTRS for a in attrs
                ):
                    v = node.value
                    if isinstance(v, ast.BoolOp):  # self.lost = self.lost or f"..."
                        v = v.values[-1]
                    texts = list(v.elts) if isinstance(v, ast.Tuple) else [v]
            elif isinstance(node, ast.Return) and node.value is not None:
                v = node.value
                texts = list(v.elts) if isinstance(v, ast.Tuple) else [v]
            for t in texts:
                text = _filled(t)
                if text and " " in text.strip() and not _NOT_SHOWN_ALONE.match(text):
                    found.add(text)
    return found


#: source texts that are not shown as they are: object reprs, an S7 range name, and the
#: interlock refusals (the screen shows the interlock's own zh message, the result's hint)
_NOT_REASONS = re.compile(r"^(7 bytes 7-7|Session\(.*)$|^interlocked: ")


def test_every_reason_in_the_source_translates():
    texts = sorted(t for t in source_reasons() if not _NOT_REASONS.search(t))
    assert len(texts) > 40, texts  # the collector found the drivers' reasons
    untranslated = [t for t in texts if to_zh(t) == t or english_words(to_zh(t))]
    assert not untranslated, "\n".join(f"{t!r} -> {to_zh(t)!r}" for t in untranslated)


# ---------------------------------------------------------------- real texts of a real driver
class _Texts:
    """Every batch reason and state reason a driver produced."""

    def __init__(self) -> None:
        self.reasons: set[str] = set()
        self.states: list[DeviceState] = []

    def sink(self, batch: Batch) -> None:
        if batch.reason:
            self.reasons.add(batch.reason)

    def on_state(self, _dev: str, _old: DeviceState, new: DeviceState, reason: str) -> None:
        self.states.append(new)
        if reason:
            self.reasons.add(reason)


async def _drive(port: int, address: str, until, texts: _Texts) -> ModbusDriver:
    drv = ModbusDriver(
        "plc1",
        {"port": port, "timeout": 0.3, "retries": 0, "backoff_initial": 0.05, "backoff_max": 0.1},
        [PointSpec(0, "p", address, 0.1)],
        texts.sink,
        texts.on_state,
    )
    await drv.start()
    try:
        await async_wait_until(until, 10, what=f"driver reasons, got {texts.reasons}")
    finally:
        await drv.stop()
    return drv


def test_real_modbus_reasons_translate():
    async def body() -> set[str]:
        texts = _Texts()
        dead = free_port()  # nothing listens: connection refused, backoff
        await _drive(dead, "hr:1", lambda: DeviceState.BACKOFF in texts.states, texts)

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.read(1024):  # take requests, never answer: timeout
                pass
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await _drive(port, "hr:1", lambda: any("timeout" in r for r in texts.reasons), texts)
        finally:
            server.close()
            await server.wait_closed()

        async with ModbusTestServer() as modbus:
            modbus.image.illegal.add(("hr", 50))
            await _drive(
                modbus.port, "hr:50", lambda: any("exception" in r for r in texts.reasons), texts
            )
        return texts.reasons

    found = asyncio.run(asyncio.wait_for(body(), 60))
    want = ("connection refused 127.0.0.1:", "retry in", "timeout after", "Modbus exception 2")
    for piece in want:
        assert any(piece in r for r in found), (piece, found)
    for text in sorted(found):
        assert_chinese(text)


def _s7(port: int, texts: _Texts) -> S7Driver:
    params = {"port": port, "timeout": 0.3, "backoff_initial": 0.05, "backoff_max": 0.1}
    return S7Driver("s7", params, [PointSpec(0, "a", "DB1.DBW0", 0.2)], texts.sink, texts.on_state)


def _iec104(port: int, texts: _Texts) -> Iec104Driver:
    params = {"host": "127.0.0.1", "port": port, "backoff_initial": 0.05, "backoff_max": 0.1}
    points = [PointSpec(0, "a", "M_ME_NC_1:1001", 0.5)]
    return Iec104Driver("rtu", params, points, texts.sink, texts.on_state)


def _opcua(port: int, texts: _Texts) -> OpcUaDriver:
    params = {
        "endpoint": f"opc.tcp://127.0.0.1:{port}",
        "timeout": 0.5,
        "backoff_initial": 0.05,
        "backoff_max": 0.1,
    }
    points = [PointSpec(0, "a", "ns=2;s=X", 0.5)]
    return OpcUaDriver("ua", params, points, texts.sink, texts.on_state)


@pytest.mark.parametrize(
    ("make", "want"),
    [
        (_s7, "cannot connect to s7://127.0.0.1:"),
        (_iec104, "(refused or unreachable)"),
        (_opcua, "connection refused by 127.0.0.1:"),
    ],
    ids=["s7", "iec104", "opcua"],
)
def test_real_connect_failures_translate(make, want):
    async def body() -> set[str]:
        texts = _Texts()
        drv = make(free_port(), texts)  # nothing listens there
        await drv.start()
        try:
            await async_wait_until(
                lambda: DeviceState.BACKOFF in texts.states, 10, what=f"backoff, {texts.reasons}"
            )
        finally:
            await drv.stop()
        return texts.reasons

    found = asyncio.run(asyncio.wait_for(body(), 60))
    assert any(want in r for r in found), found
    if make is not _opcua:  # OPC UA's own reconnect names no retry delay
        assert any("retry in" in r for r in found), found
    for text in sorted(found):
        if text.startswith("opc.tcp://"):
            continue  # the OPC UA driver's connecting state names only the endpoint
        assert_chinese(text)
