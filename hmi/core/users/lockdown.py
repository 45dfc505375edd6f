"""Recovery lock-down of the user store: after users.db was damaged, nobody logs in at the console.

A salvaged users.db may have lost users, roles or the admin. Starting on it as if nothing
happened could open the first-run door ("no admin yet: create one") to whoever stands at
the console, or let a user whose role was lost fall back to something unintended. So the
repair writes a lock-down message into ``meta``: while it is there the HMI is the read-only
viewer console (live process and alarms on screen, nobody logged in, no first-admin
offer), and every console login is refused with the message, which tells the admin what
to do. The lock-down survives restarts and lifts when an administrator, with the OS
access to the station PC that the command line needs, sets an admin's password or adds
an admin there (``gas-hmi users passwd <admin>`` / ``gas-hmi users add <name> --role
admin``), or when a backup of users.db is put back.
"""

from __future__ import annotations

import sqlalchemy as sa

from hmi.core.users import db

KEY = "recovery_lockdown"


def message(engine: sa.Engine) -> str:
    """The lock-down message, or "" when logins are allowed."""
    with engine.connect() as conn:
        return db.get_meta(conn, KEY) or ""


def lock(engine: sa.Engine, text: str) -> None:
    """Refuse console logins with ``text`` until :func:`lift`."""
    with db.write_tx(engine) as conn:
        db.set_meta(conn, KEY, text)


def lift(engine: sa.Engine) -> bool:
    """Allow logins again; True when a lock-down was in force."""
    with db.write_tx(engine) as conn:
        was = db.get_meta(conn, KEY) is not None
        conn.execute(sa.delete(db.meta).where(db.meta.c.key == KEY))
    return was


def help_text(damaged: str, data_dir: str) -> str:
    """What the admin reads at the console after users.db was damaged."""
    return (
        f"the user database was damaged and is set aside as {damaged}; console logins are off "
        f"(viewer only) until an administrator restores users.db from a backup (stop gas-hmi, "
        f"copy the backup to {data_dir}/users.db) or, at the station PC, sets an admin "
        f"password: gas-hmi users passwd <admin> --data-dir {data_dir} (or gas-hmi users add "
        f"<name> --role admin --data-dir {data_dir} if no admin was salvaged)"
    )
