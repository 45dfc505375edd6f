"""``gas-hmi users``: manage the station's local users (users.db in the data directory).

    gas-hmi users add NAME --role viewer|operator|engineer|admin --data-dir DIR [--password-stdin]
    gas-hmi users passwd NAME --data-dir DIR [--password-stdin]
    gas-hmi users role NAME ROLE --data-dir DIR
    gas-hmi users disable|enable NAME --data-dir DIR
    gas-hmi users list --data-dir DIR [--format table|json]

The command line is trusted as the OS account that owns the data directory (it is
also how a forgotten admin password is reset); every change is audited with origin
"cli" and the OS user name. Passwords are read with getpass (twice) or, for scripts,
one line from standard input; they are never echoed, logged or stored in clear.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from hmi.cli._common import fail, fmt_ts, print_json, print_table, read_new_secret

ROLES = ("viewer", "operator", "engineer", "admin")


def register(sub: Any) -> None:
    """Add the ``users`` command group."""
    p = sub.add_parser(
        "users", help="local users: add, passwd, role, disable, enable, list (users.db)"
    )
    us = p.add_subparsers(dest="users_command", metavar="ACTION")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--data-dir", required=True, help="the station's data directory (holds users.db)"
        )

    q = us.add_parser("add", help="create a user (the first one must be an admin)")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=ROLES)
    q.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from one line of standard input",
    )
    common(q)
    q.set_defaults(func=cmd_add)
    q = us.add_parser("passwd", help="set a user's password (clears a lockout)")
    q.add_argument("name")
    q.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from one line of standard input",
    )
    common(q)
    q.set_defaults(func=cmd_passwd)
    q = us.add_parser("role", help="change a user's role")
    q.add_argument("name")
    q.add_argument("role", choices=ROLES)
    common(q)
    q.set_defaults(func=cmd_role)
    for name, enabled in (("disable", False), ("enable", True)):
        q = us.add_parser(
            name,
            help="allow login again (clears a lockout)"
            if enabled
            else "refuse logins (users are never deleted)",
        )
        q.add_argument("name")
        common(q)
        q.set_defaults(func=cmd_enable, enabled=enabled)
    q = us.add_parser("list", help="name, role, enabled, last login, locked until (never hashes)")
    common(q)
    q.add_argument("--format", choices=("table", "json"), default="table")
    q.set_defaults(func=cmd_list)
    p.set_defaults(func=lambda _a: (p.print_help(), 2)[1])


def _open(data_dir: str, create: bool = True) -> Any:
    """The user store, or None after a clear message."""
    from hmi.core.users import StoreError, UserStore

    try:
        return UserStore(data_dir, create=create)
    except StoreError as exc:
        fail(
            str(exc)
            if create
            else f"{exc} (create the first admin with `gas-hmi users add NAME --role admin --data-dir {data_dir}`)"
        )
        return None


def _with_store(data_dir: str, body: Callable[[Any], int], create: bool = False) -> int:
    """Open the user store, return ``body(store)`` and close the store (1 when it cannot be opened)."""
    store = _open(data_dir, create=create)
    if store is None:
        return 1
    try:
        return body(store)
    finally:
        store.close()


def _read_password(args: argparse.Namespace, name: str) -> str | None:
    """The new password from stdin or two getpass prompts; None (after a message) when unusable."""
    return read_new_secret(
        args.password_stdin,
        f"new password for {name}: ",
        what="password",
        stdin_flag="--password-stdin",
        nothing="changed",
    )


def _managed(fn: Any, *args: Any, done: str) -> int:
    """Run a store call; print ``done`` on success, turn the expected errors into one clear line."""
    from hmi.core.users import PasswordError, StoreError, UserError

    try:
        fn(*args)
    except (UserError, PasswordError, StoreError, ValueError) as exc:
        return fail(str(exc))
    print(done)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    """Create a user."""
    from hmi.core.users.passwords import password_problems

    def body(store: Any) -> int:
        if store.get(args.name) is not None:
            return fail(
                f"user {args.name!r} already exists (use `gas-hmi users passwd` to change the password)"
            )
        if store.needs_first_admin() and args.role != "admin":
            print(
                "gas-hmi: note: there is no admin yet; create one with `--role admin`",
                file=sys.stderr,
            )
        password = _read_password(args, args.name)
        if password is None:
            return 1
        problems = password_problems(password, args.name, store.policy.min_password_chars)
        if problems:
            return fail("password rejected: " + "; ".join(problems))
        return _managed(
            store.add_user,
            args.name,
            password,
            args.role,
            done=f"user {args.name} ({args.role}) added",
        )

    return _with_store(args.data_dir, body, create=True)


def cmd_passwd(args: argparse.Namespace) -> int:
    """Set a password."""

    def body(store: Any) -> int:
        if store.get(args.name) is None:
            return fail(f"no user {args.name!r} in {store.path}")
        password = _read_password(args, args.name)
        if password is None:
            return 1
        return _managed(
            store.set_password, args.name, password, done=f"password of {args.name} changed"
        )

    return _with_store(args.data_dir, body)


def cmd_role(args: argparse.Namespace) -> int:
    """Change a role."""
    done = f"{args.name} is now {args.role}"
    return _with_store(
        args.data_dir, lambda store: _managed(store.set_role, args.name, args.role, done=done)
    )


def cmd_enable(args: argparse.Namespace) -> int:
    """Enable or disable a user."""
    done = f"{args.name} {'enabled' if args.enabled else 'disabled'}"
    return _with_store(
        args.data_dir, lambda store: _managed(store.set_enabled, args.name, args.enabled, done=done)
    )


def cmd_list(args: argparse.Namespace) -> int:
    """List users (no hashes)."""
    import time

    store = _open(args.data_dir, create=False)
    if store is None:
        return 1
    try:
        users = store.list_users()
        first = store.needs_first_admin()
    finally:
        store.close()
    if args.format == "json":
        print_json([u.as_dict() for u in users])
        return 0
    now = time.time()
    rows = [
        (
            u.name,
            u.role.label,
            "yes" if u.enabled else "no",
            fmt_ts(u.last_login or 0),
            fmt_ts(u.locked_until or 0) if u.locked(now) else "-",
        )
        for u in users
    ]
    print_table(("name", "role", "enabled", "last login", "locked until"), rows)
    if first:
        print(
            "gas-hmi: no enabled admin: create one with `gas-hmi users add NAME --role admin`",
            file=sys.stderr,
        )
    return 0
