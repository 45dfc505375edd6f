"""``gas-hmi users``: first admin, add/passwd/role/disable/enable/list, clear errors.

Runs the real command in-process with the default (slow) hash cost; standard input is
a StringIO (``--password-stdin``) and, in one test, ``getpass.getpass`` is replaced to
play the terminal.
"""

from __future__ import annotations

import io
import json

import pytest

from hmi.cli import main
from hmi.core.users import AuthError, Role, UserStore

PW = "Gate-station-7"


def run(capsys, monkeypatch, *argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_first_run_and_user_lifecycle(tmp_path, capsys, monkeypatch):
    d = str(tmp_path)
    rc, _out, err = run(capsys, monkeypatch, "users", "list", "--data-dir", d)
    assert rc == 1 and "users add NAME --role admin" in err

    rc, out, _err = run(
        capsys,
        monkeypatch,
        "users",
        "add",
        "admin",
        "--role",
        "admin",
        "--password-stdin",
        "--data-dir",
        d,
        stdin=PW + "\n",
    )
    assert rc == 0 and "admin (admin) added" in out
    rc, _out, err = run(
        capsys,
        monkeypatch,
        "users",
        "add",
        "op",
        "--role",
        "operator",
        "--password-stdin",
        "--data-dir",
        d,
        stdin="short\n",
    )
    assert rc == 1 and "password rejected: at least 8 characters" in err
    rc, out, _err = run(
        capsys,
        monkeypatch,
        "users",
        "add",
        "op",
        "--role",
        "operator",
        "--password-stdin",
        "--data-dir",
        d,
        stdin="Op-console-42\r\n",
    )
    assert rc == 0
    rc, _out, err = run(
        capsys,
        monkeypatch,
        "users",
        "add",
        "op",
        "--role",
        "operator",
        "--password-stdin",
        "--data-dir",
        d,
        stdin="Op-console-42\n",
    )
    assert rc == 1 and "already exists" in err

    rc, _out, err = run(capsys, monkeypatch, "users", "disable", "admin", "--data-dir", d)
    assert rc == 1 and "last enabled admin" in err
    assert run(capsys, monkeypatch, "users", "disable", "op", "--data-dir", d)[0] == 0
    assert run(capsys, monkeypatch, "users", "role", "op", "engineer", "--data-dir", d)[0] == 0

    rc, out, _err = run(capsys, monkeypatch, "users", "list", "--data-dir", d)
    lines = out.splitlines()
    assert rc == 0 and lines[0].split() == [
        "name",
        "role",
        "enabled",
        "last",
        "login",
        "locked",
        "until",
    ]
    assert lines[2].split()[:3] == ["admin", "admin", "yes"] and lines[3].split()[:3] == [
        "op",
        "engineer",
        "no",
    ]
    assert "scrypt" not in out

    rc, out, _err = run(capsys, monkeypatch, "users", "list", "--data-dir", d, "--format", "json")
    users = {u["name"]: u for u in json.loads(out)}
    assert (
        users["op"]["enabled"] is False
        and "password_hash" not in users["op"]
        and "scrypt" not in out
    )

    assert run(capsys, monkeypatch, "users", "enable", "op", "--data-dir", d)[0] == 0
    rc, out, _err = run(
        capsys,
        monkeypatch,
        "users",
        "passwd",
        "op",
        "--password-stdin",
        "--data-dir",
        d,
        stdin="Other-console-43\n",
    )
    assert rc == 0 and "password of op changed" in out

    store = UserStore(d)
    try:
        assert (
            store.login("op", "Other-console-43").role is Role.ENGINEER
        )  # "\r\n" was stripped, new password counts
        with pytest.raises(AuthError):
            store.login("admin", "Op-console-42")
        cli_rows = [
            (r.action, r.target, r.origin) for r in store.audit.records() if r.origin == "cli"
        ]
        assert ("user_add", "admin", "cli") in cli_rows and ("user_passwd", "op", "cli") in cli_rows
        assert ("user_role", "op", "cli") in cli_rows and ("user_disable", "op", "cli") in cli_rows
        assert store.audit.verify().ok
    finally:
        store.close()


def test_prompted_password_must_match(tmp_path, capsys, monkeypatch):
    answers = iter(["Gate-station-7", "Gate-station-8"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))  # plays the terminal
    rc, _out, err = run(
        capsys, monkeypatch, "users", "add", "admin", "--role", "admin", "--data-dir", str(tmp_path)
    )
    assert rc == 1 and "differ" in err
    rc, _out, err = run(
        capsys,
        monkeypatch,
        "users",
        "passwd",
        "ghost",
        "--password-stdin",
        "--data-dir",
        str(tmp_path),
    )
    assert rc == 1 and "no user 'ghost'" in err


def test_unknown_role_and_missing_action_are_usage_errors(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as exc:
        main(["users", "add", "x", "--role", "god", "--data-dir", str(tmp_path)])
    assert exc.value.code == 2
    assert main(["users"]) == 2
    assert "add" in capsys.readouterr().out
