"""Login at the console: viewer by default, wrong password, lockout, idle logout, first admin, closing.

``secured`` is the devices-less table runtime of conftest.py (real users.db with the cheap
test scrypt cost, real AuditTrail and CommandService, an acquisition loop thread) with
nobody logged in; nothing is mocked.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QCloseEvent

from hmi.core.users import SecurityPolicy
from tests.helpers import wait_until
from tests.ui.conftest import PW, TableRuntime, open_window

SecuredRuntime = (
    TableRuntime  # users.db, audit trail, command service, acquisition loop (conftest.py)
)


@pytest.fixture
def secured(demo_cfg: Any, tmp_path: Any) -> Any:
    rt = SecuredRuntime(demo_cfg, tmp_path)
    rt.fill_normal()
    yield rt
    rt.close()


@pytest.fixture
def win(hmi_app: Any, secured: SecuredRuntime, qtbot: Any) -> Any:
    yield from open_window(secured, qtbot, user=None)


def add_user(rt: SecuredRuntime, name: str, role: str, pw: str = PW) -> None:
    rt.users.add_user(name, pw, role, by="test")


def login(win: Any, qtbot: Any, name: str, pw: str = PW) -> Any:
    """Log in through the header's user button and the login dialog."""
    if win.actions.session.logged_in:
        dlg = win.login.show_login()
    else:
        qtbot.mouseClick(win.header.user, Qt.MouseButton.LeftButton)
        dlg = win.login.dialog
    dlg.name.setText(name)
    dlg.password.setText(pw)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    return dlg


def test_viewer_sees_live_screens_with_commands_disabled(win, secured, qtbot):
    secured.set({"gd05.lel": 62.0})  # HH, unacknowledged: the banner has something to acknowledge
    wait_until(lambda: (win.live.refresh(), win.banner.ordered)[1], 10, what="alarm in the banner")
    assert not win.actions.session.logged_in
    assert win.header.user.text() == "Log in"
    assert not win.banner.ack.isEnabled()
    assert "needs operator or higher" in win.banner.ack.toolTip()
    page = win.alarms
    assert (
        not page.b_ack.isEnabled() and not page.b_shelve.isEnabled() and not page.b_oos.isEnabled()
    )
    assert "Taking alarms out of service needs engineer or higher" in page.b_oos.toolTip()
    fp = win.open_faceplate("reg1.active.setpoint")
    assert not fp.write_button.isEnabled() and not fp.entry.isEnabled()
    assert "Entering a set point needs operator or higher" in fp.write_button.toolTip()
    fv = win.open_faceplate("esd.close_cmd")
    assert fv.cmd_buttons and not any(b.isEnabled() for b, _k in fv.cmd_buttons)
    # the view stays live: values still arrive
    secured.set({"outlet.pressure": 0.377})
    win.live.refresh()
    assert win.open_faceplate("outlet.pressure").value.text() == "0.377 MPa"
    # a write forced past the disabled button is refused by the command service (and audited)
    fp.request_write(0.41)
    assert "needs operator or higher" in fp.result.text()
    assert secured.writes == []


def test_wrong_password_is_clear_and_audited_then_lockout(win, secured, qtbot):
    add_user(secured, "zhang", "operator")
    dlg = login(win, qtbot, "zhang", "not-the-password-1")
    qtbot.waitUntil(lambda: dlg.message.text() == "Wrong user name or password", timeout=10000)
    assert dlg.isVisible() and dlg.password.text() == "" and not win.actions.session.logged_in
    failed = secured.audit_rows("login_failed")
    assert (
        failed and failed[-1].user == "zhang" and failed[-1].details["reason"] == "wrong password"
    )
    # an unknown name gets the very same words
    dlg.name.setText("nobody")
    dlg.password.setText("whatever-123")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: dlg.isEnabled() and secured.audit_rows("login_failed")[-1].user == "nobody",
        timeout=10000,
    )
    assert dlg.message.text() == "Wrong user name or password"
    # four more wrong passwords: the fifth in a row locks the name
    for n in range(2, 6):
        dlg.name.setText("zhang")
        dlg.password.setText(f"wrong-guess-{n}")
        qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda n=n: (
                dlg.isEnabled()
                and len([r for r in secured.audit_rows("login_failed") if r.user == "zhang"]) == n
            ),
            timeout=10000,
        )
    assert "Too many failed logins: zhang is locked until" in dlg.message.text()
    assert secured.audit_rows("lockout")[-1].user == "zhang"
    # locked: even the right password is refused
    dlg.name.setText("zhang")
    dlg.password.setText(PW)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            dlg.isEnabled() and secured.audit_rows("login_failed")[-1].details["reason"] == "locked"
        ),
        timeout=10000,
    )
    assert "locked until" in dlg.message.text() and not win.actions.session.logged_in
    dlg.reject()


def test_login_enables_commands_and_idle_logout_returns_to_viewer(win, secured, qtbot):
    add_user(secured, "li", "operator")
    secured.users.policy = SecurityPolicy(idle_logout=2.0)  # read at login
    fp = win.open_faceplate("reg1.active.setpoint")
    dlg = login(win, qtbot, "li")
    qtbot.waitUntil(lambda: win.header.user.text().startswith("li · "), timeout=10000)
    assert not dlg.isVisible()
    assert win.header.user.text() == "li · operator"
    assert fp.write_button.isEnabled() and fp.entry.isEnabled()
    assert secured.audit_rows("login")[-1].user == "li"
    # input restarts the idle timer
    s = win.actions.session
    before = s.last_activity
    qtbot.keyClick(fp.entry, Qt.Key.Key_5)
    assert s.last_activity > before
    # then nothing: the console drops to the viewer by itself
    qtbot.waitUntil(lambda: not win.actions.session.logged_in, timeout=10000)
    qtbot.waitUntil(lambda: not fp.write_button.isEnabled(), timeout=5000)
    assert win.header.user.text() == "Log in"
    wait_until(lambda: secured.audit_rows("logout"), 5, what="logout audited")
    out = secured.audit_rows("logout")[-1]
    assert out.user == "li" and out.details["reason"] == "inactivity"
    qtbot.waitUntil(
        lambda: "li was logged out after 0.0333333 min without input" in win.status_label.text(),
        timeout=5000,
    )


def test_banner_acknowledge_is_audited_with_the_logged_in_user(win, secured, qtbot):
    from hmi.core.alarms.journal import open_db, read_journal

    add_user(secured, "night-op", "operator")
    login(win, qtbot, "night-op")
    qtbot.waitUntil(lambda: win.header.user.text().startswith("night-op · "), timeout=10000)
    secured.set({"gd05.lel": 62.0})
    wait_until(
        lambda: (win.live.refresh(), any(v.alarm_id == "gd05.lel.hh" for v in win.banner.ordered))[
            1
        ],
        10,
        what="gd05 HH shown",
    )
    win.banner.selected_id = "gd05.lel.hh"
    win.banner._gate()
    assert win.banner.ack.isEnabled()
    qtbot.mouseClick(win.banner.ack, Qt.MouseButton.LeftButton)
    wait_until(lambda: secured.audit_rows("ack"), 10, what="ack audited")
    row = secured.audit_rows("ack")[-1]
    assert (row.user, row.origin, row.target, row.result) == (
        "night-op",
        "local",
        "gd05.lel.hh",
        "ok",
    )
    secured.alarms.flush()
    eng = open_db(secured.data_dir / "alarms.db", readonly=True)
    try:
        acks = [e for e in read_journal(eng) if e["transition"] == "ack"]
    finally:
        eng.dispose()
    assert acks and acks[-1]["alarm_id"] == "gd05.lel.hh" and acks[-1]["user"] == "night-op"
    qtbot.waitUntil(lambda: "Acknowledge: Done" in win.status_label.text(), timeout=5000)


def test_first_run_creates_the_admin_then_user_menu(win, secured, qtbot):
    assert secured.users.needs_first_admin()
    dlg = win.login.offer_first_admin()
    assert dlg is not None and dlg.name.text() == "admin"
    dlg.password.setText("short")
    dlg.repeat.setText("short")
    dlg.submit()
    assert (
        "Password not accepted" in dlg.message.text()
        and "at least 8 characters" in dlg.message.text()
    )
    dlg.password.setText(PW)
    dlg.repeat.setText(PW + "x")
    dlg.submit()
    assert dlg.message.text() == "The two passwords differ"
    dlg.repeat.setText(PW)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.header.user.text().startswith("admin · "), timeout=10000)
    assert not secured.users.needs_first_admin()
    assert [r.target for r in secured.audit_rows("user_add")] == ["admin"]
    assert win.login.offer_first_admin() is None  # only while no admin exists
    menu = win.login.open_menu()
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts[0] == "admin · admin"
    assert {"Change password…", "Manage users…", "Log out", "Close the HMI…"} <= set(texts)
    menu.close()
    win.login.logout()
    qtbot.waitUntil(
        lambda: win.header.user.text() == "Log in", timeout=10000
    )  # after the audit row
    assert secured.audit_rows("logout")[-1].details["reason"] == "user"


def test_change_own_password(win, secured, qtbot):
    add_user(secured, "wang", "operator")
    login(win, qtbot, "wang")
    qtbot.waitUntil(lambda: win.header.user.text().startswith("wang · "), timeout=10000)
    dlg = win.login.change_password()
    dlg.old.setText("wrong-old-pw-1")
    dlg.password.setText("Valve-2468")
    dlg.repeat.setText("Valve-2468")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: dlg.isEnabled() and dlg.message.text() == "Wrong user name or password",
        timeout=10000,
    )
    dlg.old.setText(PW)
    dlg.password.setText("Valve-2468")
    dlg.repeat.setText("Valve-2468")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=10000)
    assert secured.users.authenticate("wang", "Valve-2468").name == "wang"


class _WindowManagerClose(QCloseEvent):
    """A close as the window manager sends it (the title bar's X): spontaneous."""

    def spontaneous(self) -> bool:  # noqa: D102 - read by the close guard
        return True


def test_closing_the_window_needs_exit_permission(win, secured, qtbot):
    add_user(secured, "op", "operator")
    add_user(secured, "eng", "engineer")
    ev = _WindowManagerClose()
    assert (
        win.login.eventFilter(win, ev) is True and not ev.isAccepted()
    )  # swallowed: the viewer may not
    qtbot.waitUntil(
        lambda: win.login.dialog is not None and win.login.dialog.isVisible(), timeout=5000
    )
    dlg = win.login.dialog
    assert (
        "Closing the HMI needs engineer or higher"
        in dlg.findChild(type(dlg.message), "loginReason").text()
    )
    asked: list[str] = []

    def answer(box):
        asked.append(box.text())
        return True

    win.login.ask = answer
    dlg.name.setText("op")
    dlg.password.setText(PW)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.header.user.text().startswith("op · "), timeout=10000)
    qtbot.waitUntil(
        lambda: "Closing the HMI needs engineer or higher" in win.status_label.text(), timeout=5000
    )
    assert win.isVisible() and asked == []
    # an engineer may, after confirming; the exit is audited
    win.login.request_exit()
    dlg = win.login.dialog
    dlg.name.setText("eng")
    dlg.password.setText(PW)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=10000)
    assert asked and "Close the HMI?" in asked[0]
    exits = secured.audit_rows("exit")
    assert [(r.user, r.result) for r in exits] == [("eng", "ok")]
    # a programmatic close (SIGTERM handler, tests) is never held up
    win.show()
    win.login._exit_allowed = False
    plain = QCloseEvent()
    assert plain.type() == QEvent.Type.Close and win.login.eventFilter(win, plain) is False


def test_admin_manages_users_and_an_operator_may_not(win, secured, qtbot):
    from hmi.core.users import Role

    add_user(secured, "admin", "admin")
    add_user(secured, "zhao", "operator")
    login(win, qtbot, "zhao")
    qtbot.waitUntil(lambda: win.header.user.text().startswith("zhao · "), timeout=10000)
    menu = win.login.open_menu()
    assert "Manage users…" not in [a.text() for a in menu.actions()]
    menu.close()
    assert (
        win.login.manage_users() is None
        and "Managing users needs admin or higher" in win.status_label.text()
    )
    login(win, qtbot, "admin")
    qtbot.waitUntil(lambda: win.header.user.text().startswith("admin · "), timeout=10000)
    page = win.login.manage_users()
    assert page.table.rowCount() == 2

    def fill(dlg):
        dlg.name.setText("sun")
        dlg.role.setCurrentIndex(dlg.role.findData("engineer"))
        dlg.password.setText(PW)
        dlg.repeat.setText(PW)
        dlg._check()
        return dlg.result() == 1

    page.confirm = fill
    page.add_user()
    qtbot.waitUntil(lambda: page.table.rowCount() == 3, timeout=10000)
    assert secured.users.get("sun").role is Role.ENGINEER
    page.table.selectRow(next(r for r in range(3) if page.table.item(r, 0).text() == "zhao"))
    page._change("disable")
    qtbot.waitUntil(lambda: page.isEnabled() and "done" in page.message.text(), timeout=10000)
    assert not secured.users.get("zhao").enabled
    assert [(r.user, r.target) for r in secured.audit_rows("user_disable")] == [("admin", "zhao")]
    page.close()


def test_damaged_user_store_keeps_the_console_viewer_only(win, secured, qtbot):
    """After users.db was damaged (hmi.core.dbrepair locks the store down): nobody is logged
    in, no first-admin offer, every login says what the admin must do; live values go on."""
    add_user(secured, "zhang", "operator")
    secured.users.lock_down(
        "the user database was damaged; gas-hmi users passwd <admin> --data-dir /srv/st"
    )
    assert win.login.offer_first_admin() is None
    assert not win.actions.session.logged_in and win.header.user.text() == "Log in"
    dlg = login(win, qtbot, "zhang")
    qtbot.waitUntil(lambda: "Logins are off" in dlg.message.text(), timeout=10000)
    assert "gas-hmi users passwd" in dlg.message.text() and not win.actions.session.logged_in
    assert secured.audit_rows("login_failed")[-1].details["reason"] == "lockdown"
    dlg.reject()
    secured.set({"outlet.pressure": 0.377})
    win.live.refresh()
    assert win.open_faceplate("outlet.pressure").value.text() == "0.377 MPa"
