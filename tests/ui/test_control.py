"""Faceplate control: set point and valve commands through the command service.

The first test runs the real thing: the demo station's simulator (Modbus and OPC UA
servers on free loopback ports), the Runtime polling it, the HMI offscreen. An operator
logs in, enters the outlet-pressure set point, checks the confirmation dialog and
executes; the PLC's holding register (read with a plain pymodbus client) and the audit
trail both show the change. The others use the devices-less SecuredRuntime of
test_login.py for interlocks, refusals and result texts.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from pymodbus.client import ModbusTcpClient
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from hmi.config import load_station
from hmi.core.commands import CommandResult, CommandStatus
from hmi.core.users import TEST_PARAMS
from tests.helpers import wait_until
from tests.stations import demo_station_copy
from tests.ui.conftest import close_window
from tests.ui.imaging import content
from tests.ui.test_login import PW, SecuredRuntime, add_user, login, secured, win  # noqa: F401 - fixtures

SETPOINT = "reg1.active.setpoint"  # run 1 active regulator: the station's outlet pressure set point, hr:0:f32


@pytest.fixture(scope="module")
def station(demo_cfg: Any, qapp: Any) -> Any:
    from hmi.ui.app import show_main_window
    from hmi.ui.screenshot import live_station
    from hmi.ui.tasks import wait_pool

    with live_station(demo_cfg, "normal", seed=5) as (rt, sim):
        rt.users.params = TEST_PARAMS  # a throwaway users.db: cheap hashes keep the test quick
        rt.users.add_user("zhang", PW, "operator", by="test")
        w = show_main_window(rt, lang="en", theme="light", horn=False, period_ms=200)
        w.resize(1920, 1080)
        try:
            yield rt, sim, w
        finally:
            w.close()
            wait_pool()
            w.deleteLater()


def _read_setpoint_register(rt: Any) -> float:
    plc = next(d for d in rt.cfg.devices if d.id == "plc")
    c = ModbusTcpClient("127.0.0.1", port=plc.port, timeout=3, retries=0)
    assert c.connect(), f"cannot connect to the simulated PLC on port {plc.port}"
    try:
        r = c.read_holding_registers(0, count=2, device_id=1)
        assert not r.isError(), r
        return float(struct.unpack(">f", struct.pack(">HH", *r.registers))[0])  # abcd
    finally:
        c.close()


def test_operator_changes_the_outlet_pressure_set_point(station, qtbot):
    rt, _sim, w = station
    qtbot.waitUntil(lambda: w.live.value(SETPOINT)[1] == 192, timeout=20000)
    # every device polls, the OPC UA controller too (its password comes from the throwaway keyring)
    up = lambda: {d["device_id"] for d in w.live.devices if d["state"] == "up"}  # noqa: E731
    qtbot.waitUntil(
        lambda: {"plc", "fc1", "fc2", "gd", "hoc"} <= up() and len(up()) == len(w.live.devices),
        timeout=30000,
    )
    login(w, qtbot, "zhang")
    qtbot.waitUntil(lambda: w.header.user.text().startswith("zhang · "), timeout=10000)
    before = _read_setpoint_register(rt)
    new = 0.39 if abs(before - 0.39) > 0.005 else 0.41  # below the monitor (0.42 MPa)
    fp = w.open_faceplate(SETPOINT)
    assert fp.write_button.isEnabled()
    seen: dict[str, str] = {}

    def click_execute() -> None:  # the confirmation dialog is modal: answer it like an operator
        dlg = QApplication.activeModalWidget()
        if dlg is None or dlg.objectName() != "confirmWrite":
            QTimer.singleShot(50, click_execute)
            return
        seen.update(old=dlg.old.text(), new=dlg.new.text(), who=dlg.who.text())
        qtbot.mouseClick(dlg.execute, Qt.MouseButton.LeftButton)

    QTimer.singleShot(50, click_execute)
    fp.entry.setText(f"{new:.3f}")
    qtbot.mouseClick(fp.write_button, Qt.MouseButton.LeftButton)
    assert seen == {"old": f"{before:.3f} MPa", "new": f"{new:.3f} MPa", "who": "zhang (operator)"}
    qtbot.waitUntil(lambda: fp.result.property("state") in ("ok", "bad"), timeout=20000)
    assert fp.result.property("state") == "ok", fp.result.text()
    assert fp.result.text().startswith(f"Write {SETPOINT} = {new:g}: Done")
    assert _read_setpoint_register(rt) == pytest.approx(new, abs=1e-6)
    writes = [r for r in rt.audit.records(action="write") if r.target == SETPOINT]
    assert [r.result for r in writes] == ["requested", "success"]
    assert all(r.user == "zhang" and r.origin == "local" for r in writes)
    assert writes[0].details["old"] == pytest.approx(before, abs=1e-6) and writes[0].details[
        "new"
    ] == pytest.approx(new)
    assert writes[0].details["action"] == "write_setpoint"
    fp.close()


def test_login_and_confirmation_screenshots(station, tmp_path):
    from hmi.ui.screenshot import capture

    _rt, _sim, w = station
    login = content(capture(w, "login", tmp_path / "login.png", after=0.2, size=(1366, 768)))
    assert (login.width, login.height) == (1366, 768)
    login.assert_drawn()
    assert login.dark > 0.001, "no text drawn"
    out = capture(
        w, f"confirm:{SETPOINT}=0.39", tmp_path / "confirm.png", after=0.2, size=(1366, 768)
    )
    confirm = content(out)
    assert confirm.width == 1366
    confirm.assert_drawn()
    assert confirm != login, "the confirmation shows the same picture as the login"
    assert not any(fp.isVisible() for fp in w.faceplates.values())
    with pytest.raises(ValueError, match="needs a number"):
        capture(w, f"confirm:{SETPOINT}=lots", tmp_path / "x.png", after=0.0)


# ---------------------------------------------------------------------- without devices
@pytest.fixture
def interlocked(demo_cfg: Any, tmp_path: Any) -> Any:
    """SecuredRuntime on a demo copy whose set point is interlocked with the slam-shut's closed switch."""
    folder, _ports = demo_station_copy(tmp_path)
    path = folder / "tags_heating_regulation.yaml"
    text = path.read_text(encoding="utf-8")
    anchor = f"  - name: {SETPOINT}\n"
    block = (
        "    interlocks:\n"
        "      - {tag: reg1.ssv.closed, equals: 1, message: {en: Slam-shut of run 1 is closed, zh: 1#切断阀已关闭}}\n"
    )
    head, tail = text.split(anchor, 1)
    first, rest = tail.split("\n", 1)
    path.write_text(head + anchor + first + "\n" + block + rest, encoding="utf-8")
    rt = SecuredRuntime(load_station(folder), tmp_path / "data")
    rt.fill_normal()
    yield rt
    rt.close()


@pytest.fixture
def op_window(hmi_app: Any, interlocked: SecuredRuntime, qtbot: Any) -> Any:
    from hmi.ui.app import show_main_window

    add_user(interlocked, "op", "operator")
    w = show_main_window(interlocked, lang="en", theme="light", horn=False, start=False)
    try:
        login(w, qtbot, "op")
        qtbot.waitUntil(lambda: w.header.user.text().startswith("op · "), timeout=10000)
        yield w
    finally:
        close_window(w)


def test_interlock_hint_refusal_and_changed_value(op_window, interlocked, qtbot):
    w, rt = op_window, interlocked
    rt.set({SETPOINT: 0.40, "reg1.ssv.closed": 0.0})
    w.live.refresh()
    fp = w.open_faceplate(SETPOINT)
    shown: list[Any] = []

    def accept(dlg):
        shown.append([n.text() for n in dlg.notes])
        return True

    fp.confirm = accept
    assert fp.request_write(0.41)
    wait_until(lambda: rt.writes, 10, what="write sent")
    assert shown == [["Interlock checked, not active: Slam-shut of run 1 is closed"]]
    assert rt.writes == [(SETPOINT, 0.41, "op")]
    qtbot.waitUntil(lambda: "Done" in fp.result.text(), timeout=10000)
    # slam-shut closed: the command is disabled with the reason, and refused if forced
    rt.set({"reg1.ssv.closed": 1.0})
    w.live.refresh()
    assert not fp.write_button.isEnabled() and "Slam-shut of run 1 is closed" in fp.interlock.text()
    assert not fp.request_write(0.395)
    assert fp.result.text().startswith("Refused by interlock: Slam-shut of run 1 is closed")
    assert fp.result.property("state") == "bad" and len(rt.writes) == 1
    # the interlock trips between confirmation and execution: the service refuses and audits
    rt.set({"reg1.ssv.closed": 0.0})
    w.live.refresh()

    def trip_then_accept(dlg):
        rt.set({"reg1.ssv.closed": 1.0})
        return True

    fp.confirm = trip_then_accept
    assert fp.request_write(0.39)
    qtbot.waitUntil(lambda: "Refused by interlock" in fp.result.text(), timeout=10000)
    assert rt.audit.records(action="write")[-1].result == "interlocked" and len(rt.writes) == 1
    # the value moves while the operator confirms: refused as changed, confirm again
    rt.set({"reg1.ssv.closed": 0.0})

    def moved_then_accept(dlg):
        rt.set({SETPOINT: 0.45})
        return True

    fp.confirm = moved_then_accept
    assert fp.request_write(0.41)
    qtbot.waitUntil(lambda: "The value has changed" in fp.result.text(), timeout=10000)
    assert rt.audit.records(action="write")[-1].result == "changed" and len(rt.writes) == 1
    # in Chinese: headline and the interlock's own Chinese text
    rt.set({"reg1.ssv.closed": 1.0})
    w.toggle_language()
    try:
        fp.request_write(0.395)
        assert fp.result.text() == "联锁禁止：1#切断阀已关闭"
    finally:
        w.toggle_language()


def test_range_check_cancel_and_valve_command(op_window, interlocked, qtbot):
    w, rt = op_window, interlocked
    fp = w.open_faceplate(SETPOINT)
    fp.entry.setText("0.9")
    fp._write_entry()
    assert fp.result.text() == "Outside the range 0.2 … 0.6" and rt.writes == []
    fp.confirm = lambda dlg: False
    assert not fp.request_write(0.41)
    assert fp.result.text() == "Cancelled" and rt.writes == []
    valve = w.open_faceplate("esd.close_cmd")
    seen = {}

    def accept(dlg):
        seen.update(old=dlg.old.text(), new=dlg.new.text())
        return True

    valve.confirm = accept
    button = next(b for b, k in valve.cmd_buttons if k == 1.0)
    assert button.text() == "Yes" and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    wait_until(lambda: rt.writes, 10, what="valve command sent")
    assert seen == {"old": "No", "new": "Yes"}
    assert rt.writes == [("esd.close_cmd", 1, "op")]
    row = rt.audit.records(action="write")[-1]
    assert row.details["action"] == "operate_valve" and row.user == "op"


@pytest.mark.parametrize(
    ("status", "message", "text"),
    [
        (CommandStatus.SUCCESS, "written and read back", "Done: written and read back"),
        (
            CommandStatus.REJECTED,
            "Modbus exception 2 (illegal data address)",
            "Rejected by the device: Modbus exception 2 (illegal data address)",
        ),
        (
            CommandStatus.TIMEOUT,
            "read-back did not confirm",
            "No confirmation from the device (timeout): read-back did not confirm",
        ),
        (
            CommandStatus.NOT_CONNECTED,
            "device plc is not running",
            "Device not connected: device plc is not running",
        ),
        (
            CommandStatus.DENIED,
            "no permission: write_setpoint needs operator",
            "No permission: write_setpoint needs operator",
        ),
    ],
)
def test_result_texts_name_the_outcome(hmi_app, status, message, text):
    from hmi.ui.actions import result_text

    ok, shown = result_text(CommandResult(status, message))
    assert ok == (status is CommandStatus.SUCCESS) and shown == text


def test_engineer_takes_an_alarm_out_of_service_operator_may_not(op_window, interlocked, qtbot):
    w, rt = op_window, interlocked
    rt.set({"gd06.lel": 70.0})
    w.navigate("alarms")
    page = w.alarms
    wait_until(
        lambda: (w.live.refresh(), page.model.row_of("gd06.lel.hh") >= 0)[1], 10, what="gd06 listed"
    )
    assert not page.b_oos.isEnabled() and "needs engineer or higher" in page.b_oos.toolTip()
    assert page.b_ack.isEnabled()
    add_user(rt, "eng", "engineer")
    login(w, qtbot, "eng")
    qtbot.waitUntil(lambda: page.b_oos.isEnabled(), timeout=10000)
    page.table.selectRow(page.model.row_of("gd06.lel.hh"))

    def give_reason(dlg):
        dlg.reason.setText("detector replaced")
        return True

    page.confirm = give_reason
    page.out_of_service_selected()
    wait_until(lambda: rt.audit.records(action="out_of_service"), 10, what="out of service audited")
    row = rt.audit.records(action="out_of_service")[-1]
    assert (row.user, row.target, row.result, row.details["reason"]) == (
        "eng",
        "gd06.lel.hh",
        "ok",
        "detector replaced",
    )
    wait_until(
        lambda: (w.live.refresh(), page.supp_model.row_of("gd06.lel.hh") >= 0)[1],
        10,
        what="listed as out of service",
    )
