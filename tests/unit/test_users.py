"""Users: password hashing and rules, roles, the user store (lockout, disabled users), sessions.

Hashes use the cheap ``TEST_PARAMS`` passed explicitly; the default cost is checked
but never lowered. Clocks are injected so lockout expiry and idle logout need no sleep.
"""

from __future__ import annotations

import sqlite3

import pytest

from hmi.core.users import (
    DEFAULT_PARAMS,
    TEST_PARAMS,
    Action,
    AuthError,
    Console,
    PasswordError,
    Role,
    ScryptParams,
    SecurityPolicy,
    Session,
    UserError,
    UserStore,
    can,
    password_problems,
)
from hmi.core.users.passwords import hash_password, parse_hash, verify_password

PW = "Gate-station-7"


class Clock:
    """A settable clock (wall or monotonic), so expiry tests need no sleep."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    s = UserStore(tmp_path, params=TEST_PARAMS, station_id="st1", clock=clock)
    s.add_user("admin", PW, "admin", by="setup")
    s.add_user("op", PW, "operator", by="setup")
    yield s
    s.close()


def actions(store):
    return [(r.action, r.user, r.result, r.details.get("reason")) for r in store.audit.records()]


# ---------------------------------------------------------------- passwords
def test_same_password_gives_different_salted_hashes_that_verify():
    a, b = hash_password(PW, TEST_PARAMS), hash_password(PW, TEST_PARAMS)
    assert a != b
    assert parse_hash(a)[1] != parse_hash(b)[1]  # per-hash salt
    assert PW not in a
    assert verify_password(PW, a) and verify_password(PW, b)
    assert not verify_password(PW + "x", a)
    assert not verify_password(PW, "garbage") and not verify_password(PW, "scrypt$4$1$1$!!$!!")


def test_hash_carries_its_parameters_and_the_default_is_strong():
    assert parse_hash(hash_password(PW, TEST_PARAMS))[0] == TEST_PARAMS
    assert (DEFAULT_PARAMS.log2_n, DEFAULT_PARAMS.r, DEFAULT_PARAMS.p) >= (
        17,
        8,
        1,
    )  # OWASP scrypt minimum
    assert TEST_PARAMS.is_weaker_than(DEFAULT_PARAMS)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Ab1-xyz", "at least 8 characters"),
        ("abcdefghij", "two of"),
        ("1111111111", "repeated"),
        ("my-admin-99", "user name"),
        ("password123", "too common"),
        ("x" * 300 + "1", "at most"),
    ],
)
def test_password_rules(password, problem):
    assert any(problem in p for p in password_problems(password, "admin"))


def test_good_passwords_pass_the_rules():
    assert password_problems(PW, "admin") == []
    assert password_problems("调压站出口压力2号", "op") == []  # Chinese letters count as letters


def test_store_refuses_a_weak_password(store):
    with pytest.raises(PasswordError, match="at least 8"):
        store.add_user("op2", "short1", "operator", by="setup")
    assert store.get("op2") is None


# ---------------------------------------------------------------- roles
EXPECTED = {
    Role.VIEWER: {Action.VIEW},
    Role.OPERATOR: {
        Action.VIEW,
        Action.ACKNOWLEDGE,
        Action.SHELVE,
        Action.WRITE_SETPOINT,
        Action.OPERATE_VALVE,
        Action.RESET,
        Action.MANUAL_ENTRY,
    },
    Role.ENGINEER: {
        Action.VIEW,
        Action.ACKNOWLEDGE,
        Action.SHELVE,
        Action.WRITE_SETPOINT,
        Action.OPERATE_VALVE,
        Action.RESET,
        Action.MANUAL_ENTRY,
        Action.MANAGE_ALARMS,
        Action.EXIT_APPLICATION,
        Action.RUN_TRAINING,
    },
    Role.ADMIN: set(Action),
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_allowed_and_denied_actions(role):
    for action in Action:
        assert can(role, action) is (action in EXPECTED[role]), (role, action)
        assert Session("u", role, idle_timeout=60).can(action) is (action in EXPECTED[role])
    assert not can(role, "launch_missiles")


def test_role_parse():
    assert Role.parse("Engineer") is Role.ENGINEER
    with pytest.raises(ValueError, match="choose viewer, operator"):
        Role.parse("superuser")


# ---------------------------------------------------------------- store: logins
def test_login_success_records_last_login_and_audits(store, clock):
    session = store.login("op", PW)
    assert (session.user, session.role, session.logged_in) == ("op", Role.OPERATOR, True)
    assert store.get("op").last_login == pytest.approx(clock.t)
    assert store.get("OP").name == "op"  # names are unique ignoring case
    assert actions(store)[-1] == ("login", "op", "ok", None)


def test_wrong_password_and_unknown_user_give_the_same_message(store):
    with pytest.raises(AuthError) as e1:
        store.login("op", "Wrong-pass-1")
    with pytest.raises(AuthError) as e2:
        store.login("nobody", "Wrong-pass-1")
    assert str(e1.value) == str(e2.value) == "wrong user name or password"
    assert e1.value.reason == e2.value.reason == "bad_credentials"
    assert actions(store)[-2:] == [
        ("login_failed", "op", "denied", "wrong password"),
        ("login_failed", "nobody", "denied", "unknown user"),
    ]


def test_lockout_after_five_failures_and_its_expiry(store, clock):
    for _ in range(4):
        with pytest.raises(AuthError, match="wrong user name"):
            store.login("op", "Wrong-pass-1")
    with pytest.raises(AuthError, match="locked for 5 min") as exc:
        store.login("op", "Wrong-pass-1")
    assert exc.value.reason == "locked"
    assert store.get("op").locked(clock.t)
    # even the right password is refused while locked
    clock.t += 299
    with pytest.raises(AuthError, match="locked until") as exc:
        store.login("op", PW)
    assert exc.value.reason == "locked"
    assert [a[0] for a in actions(store)].count("lockout") == 1
    clock.t += 2  # 5 min are over
    assert not store.get("op").locked(clock.t)
    assert store.login("op", PW).user == "op"
    assert store.get("op").failed_attempts == 0


def test_failures_below_the_limit_are_forgotten_after_a_success(store):
    for _ in range(4):
        with pytest.raises(AuthError):
            store.login("op", "Wrong-pass-1")
    store.login("op", PW)
    for _ in range(4):
        with pytest.raises(AuthError, match="wrong user name"):
            store.login("op", "Wrong-pass-1")
    assert not store.get("op").locked()


def test_policy_changes_lockout(tmp_path, clock):
    s = UserStore(
        tmp_path,
        params=TEST_PARAMS,
        clock=clock,
        policy=SecurityPolicy(lockout_attempts=2, lockout_duration=60),
    )
    try:
        s.add_user("op", PW, "operator", by="t")
        with pytest.raises(AuthError):
            s.login("op", "Wrong-pass-1")
        with pytest.raises(AuthError, match="locked for 1 min"):
            s.login("op", "Wrong-pass-1")
    finally:
        s.close()


def test_disabled_user_cannot_log_in_and_enable_clears_lockout(store, clock):
    store.set_enabled("op", False, by="admin-cli")
    with pytest.raises(AuthError, match="op is disabled") as exc:
        store.login("op", PW)
    assert exc.value.reason == "disabled"
    with pytest.raises(
        AuthError, match="wrong user name"
    ):  # a wrong password does not reveal "disabled"
        store.login("op", "Wrong-pass-1")
    store.set_enabled("op", True, by="admin-cli")
    assert store.login("op", PW).user == "op"
    assert ("user_disable", "admin-cli", "ok", None) in actions(store)


def test_hash_is_never_stored_in_clear_and_file_is_private(store, tmp_path):
    con = sqlite3.connect(tmp_path / "users.db")
    try:
        hashes = [r[0] for r in con.execute("select password_hash from users")]
        dump = "\n".join(con.iterdump())
    finally:
        con.close()
    assert all(h.startswith("scrypt$") for h in hashes) and PW not in dump
    assert (tmp_path / "users.db").stat().st_mode & 0o077 == 0


def test_weaker_hash_is_upgraded_at_login(tmp_path):
    stronger = ScryptParams(log2_n=5, r=1, p=1)
    s = UserStore(tmp_path, params=TEST_PARAMS)
    s.add_user("op", PW, "operator", by="t")
    s.close()
    s = UserStore(tmp_path, params=stronger)
    try:
        s.login("op", PW)
        con = sqlite3.connect(tmp_path / "users.db")
        stored = con.execute("select password_hash from users").fetchone()[0]
        con.close()
        assert parse_hash(stored)[0] == stronger
    finally:
        s.close()


# ---------------------------------------------------------------- store: user management
def test_first_admin_path(tmp_path):
    s = UserStore(tmp_path, params=TEST_PARAMS)
    try:
        assert s.needs_first_admin()
        viewer = Session.viewer()
        with pytest.raises(PermissionError):  # the first user must be an admin
            s.add_user("op", PW, "operator", by=viewer)
        s.add_user("chief", PW, "admin", by=viewer)  # the GUI's create-admin dialog
        assert not s.needs_first_admin()
        with pytest.raises(PermissionError):  # once an admin exists, a viewer cannot add admins
            s.add_user("chief2", PW, "admin", by=viewer)
    finally:
        s.close()


def test_user_management_needs_edit_users(store):
    op = store.login("op", PW)
    with pytest.raises(PermissionError, match="may not edit users"):
        store.set_role("op", "admin", by=op)
    assert store.get("op").role is Role.OPERATOR
    admin = store.login("admin", PW)
    store.set_role("op", "engineer", by=admin)
    assert store.get("op").role is Role.ENGINEER
    assert ("user_role", "op", "denied", "no permission") in actions(store)


def test_last_admin_cannot_be_disabled_or_demoted(store):
    with pytest.raises(UserError, match="last enabled admin"):
        store.set_enabled("admin", False, by="t")
    with pytest.raises(UserError, match="last enabled admin"):
        store.set_role("admin", "operator", by="t")
    store.add_user("admin2", PW, "admin", by="t")
    store.set_enabled("admin", False, by="t")
    assert not store.get("admin").enabled


def test_bad_names_and_duplicates(store):
    for bad in ("", "9lives", "with space", "system", "x" * 40):
        with pytest.raises(UserError, match="invalid user name"):
            store.add_user(bad, PW, "operator", by="t")
    with pytest.raises(UserError, match="already exists"):
        store.add_user("OP", PW, "operator", by="t")
    with pytest.raises(UserError, match="no user"):
        store.set_password("ghost", PW, by="t")


def test_password_change_own_and_by_admin(store):
    store.change_own_password("op", PW, "New-secret-42")
    with pytest.raises(AuthError):
        store.login("op", PW)
    store.set_password("op", PW, by="t")
    assert store.login("op", PW).user == "op"
    with pytest.raises(AuthError):
        store.change_own_password("op", "Wrong-pass-1", "Other-secret-42")


# ---------------------------------------------------------------- sessions and idle logout
def test_session_idle_expiry_drops_to_viewer_rights(clock):
    s = Session("op", Role.OPERATOR, idle_timeout=900, clock=clock)
    assert s.can(Action.OPERATE_VALVE) and not s.expired()
    clock.t += 899
    s.touch()
    clock.t += 899
    assert not s.expired()
    clock.t += 2
    assert s.expired()
    assert s.effective_role() is Role.VIEWER
    assert s.can(Action.VIEW) and not s.can(Action.OPERATE_VALVE)


def test_viewer_session_never_expires(clock):
    v = Session.viewer()
    assert not v.logged_in and v.role is Role.VIEWER and v.display_name == "viewer"
    assert not v.expired(1e12) and v.can(Action.VIEW) and not v.can(Action.ACKNOWLEDGE)


def test_console_auto_logout_is_audited_and_keeps_the_view(store, clock):
    console = Console(store, clock=clock)
    assert not console.session.logged_in
    console.login("op", PW)
    clock.t += 600
    console.touch()
    clock.t += 600
    assert not console.check_idle()
    clock.t += 301
    assert console.check_idle()
    assert console.session.role is Role.VIEWER and console.session.can(Action.VIEW)
    assert actions(store)[-1][:3] == ("logout", "op", "ok")
    assert store.audit.records()[-1].details == {"reason": "inactivity"}
    assert not console.check_idle()  # once


def test_console_login_replaces_the_previous_user(store, clock):
    console = Console(store, clock=clock)
    console.login("op", PW)
    console.login("admin", PW)
    assert console.session.user == "admin"
    assert [(r.action, r.user, r.details.get("reason")) for r in store.audit.records()][-3:] == [
        ("login", "op", None),
        ("login", "admin", None),
        ("logout", "op", "replaced"),
    ]
    console.logout()
    assert not console.session.logged_in
