"""Local users in ``<data_dir>/users.db``: roles, scrypt hashes, lockout, logins.

Every login, failed login, lockout, logout and user change is written to the audit
trail in the same file. User management needs :attr:`Action.EDIT_USERS` when the
caller passes a :class:`Session` (the HMI); a plain string caller is the command
line, trusted because it runs under the OS account that owns users.db (see
docs/SECURITY.md). Users are disabled, never deleted: the audit trail names them.

Hashing is slow by design (about 0.4 s): call :meth:`UserStore.login` off the GUI thread.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from hmi.core.users import db, lockdown
from hmi.core.users.db import StoreError
from hmi.core.users.passwords import (
    DEFAULT_PARAMS,
    ScryptParams,
    check_password,
    hash_params,
    hash_password,
    verify_password,
)
from hmi.core.users.policy import SecurityPolicy
from hmi.core.users.roles import Action, Role
from hmi.core.users.session import Session

if TYPE_CHECKING:
    from hmi.core.audit import AuditTrail

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[^\W\d_][\w.\-]{0,31}$")
RESERVED = {"system", "viewer", "remote", "cli"}
BAD_CREDENTIALS = "wrong user name or password"


class UserError(ValueError):
    """A user-management request cannot be done (unknown user, name taken, last admin...)."""


class AuthError(Exception):
    """A login was refused. ``reason``: bad_credentials, locked or disabled."""

    def __init__(self, message: str, reason: str, locked_until: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.locked_until = locked_until


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as shown in lists (never the hash)."""

    name: str
    role: Role
    enabled: bool
    created: float
    created_by: str
    password_changed: float
    last_login: float | None
    failed_attempts: int
    locked_until: float | None

    def locked(self, now: float | None = None) -> bool:
        """True while a lockout is running."""
        return (
            self.locked_until is not None
            and (time.time() if now is None else now) < self.locked_until
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {
            "name": self.name,
            "role": self.role.label,
            "enabled": self.enabled,
            "created": self.created,
            "created_by": self.created_by,
            "password_changed": self.password_changed,
            "last_login": self.last_login,
            "failed_attempts": self.failed_attempts,
            "locked_until": self.locked_until,
        }


def _ms(ts: float) -> int:
    return int(round(ts * 1000))


def _s(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000.0


def _info(r: sa.RowMapping) -> UserInfo:
    return UserInfo(
        r["name"],
        Role.parse(r["role"]),
        bool(r["enabled"]),
        r["created"] / 1000.0,
        r["created_by"],
        r["password_changed"] / 1000.0,
        _s(r["last_login"]),
        int(r["failed_attempts"]),
        _s(r["locked_until"]),
    )


def os_user() -> str:
    """Name of the OS account running the command line (for audit rows)."""
    try:
        import getpass

        return getpass.getuser() or "cli"
    except (OSError, KeyError, ImportError):
        return "cli"


class UserStore:
    """Users, passwords and logins of one station."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        audit: AuditTrail | None = None,
        policy: SecurityPolicy | None = None,
        params: ScryptParams = DEFAULT_PARAMS,
        station_id: str = "",
        clock: Callable[[], float] = time.time,
        create: bool = True,
    ) -> None:
        from hmi.core.audit import AuditTrail

        self.path = db.db_path(path)
        self._engine = db.open_engine(self.path, create=create)
        self.audit = audit if audit is not None else AuditTrail(self.path, station_id, clock=clock)
        self.policy = policy or SecurityPolicy()
        self.params = params
        self._clock = clock
        self._lock = threading.Lock()
        self._dummy_hash = ""

    def close(self) -> None:
        """Release the database connections (and the audit trail's)."""
        self._engine.dispose()
        self.audit.close()

    # ------------------------------------------------------------------ reading
    def get(self, name: str) -> UserInfo | None:
        """One user (names match ignoring case), or None."""
        with self._engine.connect() as conn:
            r = conn.execute(sa.select(db.users).where(db.users.c.name == name)).mappings().first()
        return None if r is None else _info(r)

    def list_users(self) -> list[UserInfo]:
        """Every user, by name."""
        with self._engine.connect() as conn:
            return [
                _info(r)
                for r in conn.execute(sa.select(db.users).order_by(db.users.c.name)).mappings()
            ]

    def needs_first_admin(self) -> bool:
        """True while no enabled admin exists (the HMI then offers to create one)."""
        if self.lockdown():  # a damaged store never opens the first-run door
            return False
        with self._engine.connect() as conn:
            n = conn.execute(
                sa.select(sa.func.count()).where(
                    db.users.c.role == Role.ADMIN.label, db.users.c.enabled == 1
                )
            ).scalar_one()
        return int(n) == 0

    def lockdown(self) -> str:
        """Why console logins are refused after a damaged users.db ("" when they are not)."""
        return lockdown.message(self._engine)

    def lock_down(self, text: str) -> None:
        """Refuse console logins with ``text`` (see :mod:`hmi.core.users.lockdown`)."""
        lockdown.lock(self._engine, text)
        log.error("console logins refused: %s", text)

    def _lift_lockdown(self, actor: str, origin: str, role: Role) -> None:
        if origin == "cli" and role is Role.ADMIN and lockdown.lift(self._engine):
            self.audit.append("lockdown_lifted", user=actor, origin=origin, target="users.db")
            log.warning("console logins allowed again by %s", actor)

    # ------------------------------------------------------------------ user management
    def _actor(
        self,
        by: Session | str,
        origin: str | None,
        target: str,
        action: str,
        first_admin: bool = False,
    ) -> tuple[str, str]:
        """(actor name, origin) after checking the permission of a Session caller."""
        if isinstance(by, Session):
            if by.can(Action.EDIT_USERS) or (first_admin and self.needs_first_admin()):
                return by.display_name, by.origin
            self.audit.append(
                action,
                user=by.display_name,
                origin=by.origin,
                target=target,
                result="denied",
                details={"reason": "no permission"},
            )
            raise PermissionError(
                f"{by.display_name} ({by.effective_role().label}) may not edit users"
            )
        return (by or os_user()), (origin or "cli")

    def _write(self, what: str, fn: Callable[[sa.Connection], Any]) -> Any:
        try:
            with self._lock, db.write_tx(self._engine) as conn:
                return fn(conn)
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"cannot {what} in {self.path}: {exc.orig}") from None

    def add_user(
        self,
        name: str,
        password: str,
        role: Role | str,
        *,
        by: Session | str = "",
        origin: str | None = None,
    ) -> UserInfo:
        """Create a user; the first admin may be created by anyone while none exists."""
        role = Role.parse(role)
        if not NAME_RE.match(name) or name.lower() in RESERVED:
            raise UserError(
                f"invalid user name {name!r}: 1-32 letters, digits, '_', '.', '-', starting with a letter (not {', '.join(sorted(RESERVED))})"
            )
        actor, origin = self._actor(by, origin, name, "user_add", first_admin=role is Role.ADMIN)
        check_password(password, name, self.policy.min_password_chars)
        digest = hash_password(password, self.params)
        now = _ms(self._clock())

        def insert(conn: sa.Connection) -> None:
            if (
                conn.execute(sa.select(db.users.c.name).where(db.users.c.name == name)).first()
                is not None
            ):
                raise UserError(f"user {name!r} already exists")
            conn.execute(
                db.users.insert().values(
                    name=name,
                    role=role.label,
                    password_hash=digest,
                    enabled=1,
                    created=now,
                    created_by=actor,
                    password_changed=now,
                    failed_attempts=0,
                )
            )

        self._write("add a user", insert)
        self.audit.append(
            "user_add", user=actor, origin=origin, target=name, details={"role": role.label}
        )
        self._lift_lockdown(actor, origin, role)
        log.info("user %s (%s) added by %s", name, role.label, actor)
        return self._require(name)

    def _require(self, name: str) -> UserInfo:
        info = self.get(name)
        if info is None:
            raise UserError(f"no user {name!r}")
        return info

    def _enabled_admins(self, conn: sa.Connection) -> list[str]:
        rows = conn.execute(
            sa.select(db.users.c.name).where(
                db.users.c.role == Role.ADMIN.label, db.users.c.enabled == 1
            )
        )
        return [r[0] for r in rows]

    def set_password(
        self, name: str, password: str, *, by: Session | str = "", origin: str | None = None
    ) -> None:
        """Set a new password for ``name`` (admin or command line); clears a lockout."""
        info = self._require(name)
        actor, origin = self._actor(by, origin, info.name, "user_passwd")
        self._store_password(info.name, password)
        self.audit.append("user_passwd", user=actor, origin=origin, target=info.name)
        log.info("password of %s changed by %s", info.name, actor)
        self._lift_lockdown(actor, origin, info.role)

    def change_own_password(self, name: str, old: str, new: str, origin: str = "local") -> None:
        """A user changes their own password (the old one is checked like a login)."""
        info = self._check_credentials(name, old, origin)
        self._store_password(info.name, new)
        self.audit.append(
            "user_passwd", user=info.name, origin=origin, target=info.name, details={"own": True}
        )

    def _store_password(self, name: str, password: str) -> None:
        check_password(password, name, self.policy.min_password_chars)
        digest = hash_password(password, self.params)
        now = _ms(self._clock())
        self._write(
            "change a password",
            lambda conn: conn.execute(
                sa.update(db.users)
                .where(db.users.c.name == name)
                .values(
                    password_hash=digest, password_changed=now, failed_attempts=0, locked_until=None
                )
            ),
        )

    def set_role(
        self, name: str, role: Role | str, *, by: Session | str = "", origin: str | None = None
    ) -> None:
        """Change a user's role (the last enabled admin cannot be demoted)."""
        role = Role.parse(role)
        info = self._require(name)
        actor, origin = self._actor(by, origin, info.name, "user_role")

        def update(conn: sa.Connection) -> None:
            if (
                info.role is Role.ADMIN
                and role is not Role.ADMIN
                and self._enabled_admins(conn) == [info.name]
            ):
                raise UserError(f"{info.name} is the last enabled admin: add another admin first")
            conn.execute(
                sa.update(db.users).where(db.users.c.name == info.name).values(role=role.label)
            )

        self._write("change a role", update)
        self.audit.append(
            "user_role",
            user=actor,
            origin=origin,
            target=info.name,
            details={"old": info.role.label, "new": role.label},
        )
        log.info("role of %s: %s -> %s by %s", info.name, info.role.label, role.label, actor)

    def set_enabled(
        self, name: str, enabled: bool, *, by: Session | str = "", origin: str | None = None
    ) -> None:
        """Disable (no login) or enable a user; enabling also clears a lockout."""
        info = self._require(name)
        action = "user_enable" if enabled else "user_disable"
        actor, origin = self._actor(by, origin, info.name, action)

        def update(conn: sa.Connection) -> None:
            if (
                not enabled
                and info.enabled
                and info.role is Role.ADMIN
                and self._enabled_admins(conn) == [info.name]
            ):
                raise UserError(f"{info.name} is the last enabled admin: add another admin first")
            values: dict[str, Any] = {"enabled": int(enabled)}
            if enabled:
                values.update(failed_attempts=0, locked_until=None)
            conn.execute(sa.update(db.users).where(db.users.c.name == info.name).values(**values))

        self._write("change a user", update)
        self.audit.append(action, user=actor, origin=origin, target=info.name)
        log.info("user %s %s by %s", info.name, "enabled" if enabled else "disabled", actor)

    # ------------------------------------------------------------------ logins
    def _burn_time(self, password: str) -> None:
        """Spend a hash's worth of time on an unknown name so timing does not reveal which names exist."""
        if not self._dummy_hash:
            self._dummy_hash = hash_password("not-a-password-0", self.params)
        verify_password(password, self._dummy_hash)

    def _login_failed(self, name: str, origin: str, reason: str) -> None:
        self.audit.append(
            "login_failed",
            user=name,
            origin=origin,
            target=name,
            result="denied",
            details={"reason": reason},
        )

    def _check_credentials(self, name: str, password: str, origin: str) -> UserInfo:
        now = self._clock()
        refused = self.lockdown() if origin != "cli" else ""
        if refused:
            self._login_failed(name, origin, "lockdown")
            raise AuthError(refused, "lockdown")
        info = self.get(name)
        if info is None:
            self._burn_time(password)
            self._login_failed(name, origin, "unknown user")
            raise AuthError(BAD_CREDENTIALS, "bad_credentials")
        if info.locked(now):
            self._login_failed(info.name, origin, "locked")
            until = time.strftime("%H:%M:%S", time.localtime(info.locked_until or 0))
            raise AuthError(
                f"user {info.name} is locked until {until} after too many failed logins",
                "locked",
                info.locked_until,
            )
        with self._engine.connect() as conn:
            stored = conn.execute(
                sa.select(db.users.c.password_hash).where(db.users.c.name == info.name)
            ).scalar_one()
        if not verify_password(password, stored):
            self._count_failure(info.name, now, origin)
        if not info.enabled:
            self._login_failed(info.name, origin, "disabled")
            raise AuthError(f"user {info.name} is disabled", "disabled")
        old = hash_params(stored)
        if old is None or old.is_weaker_than(self.params):
            self._store_hash_upgrade(info.name, password)
        return info

    def _count_failure(self, name: str, now: float, origin: str) -> None:
        pol = self.policy

        def bump(conn: sa.Connection) -> tuple[int, int | None]:
            r = conn.execute(
                sa.select(db.users.c.failed_attempts, db.users.c.locked_until).where(
                    db.users.c.name == name
                )
            ).first()
            failed = 0 if r is None or (r[1] is not None and r[1] <= _ms(now)) else int(r[0])
            failed += 1
            locked = _ms(now + pol.lockout_duration) if failed >= pol.lockout_attempts else None
            conn.execute(
                sa.update(db.users)
                .where(db.users.c.name == name)
                .values(failed_attempts=0 if locked else failed, locked_until=locked)
            )
            return failed, locked

        failed, locked = self._write("count a failed login", bump)
        self.audit.append(
            "login_failed",
            user=name,
            origin=origin,
            target=name,
            result="denied",
            details={"reason": "wrong password", "attempt": failed},
        )
        if locked is not None:
            self.audit.append(
                "lockout",
                user=name,
                origin=origin,
                target=name,
                result="locked",
                details={"attempts": failed, "until": locked / 1000.0},
            )
            log.warning(
                "user %s locked for %.0f s after %d failed logins",
                name,
                pol.lockout_duration,
                failed,
            )
            raise AuthError(
                f"{BAD_CREDENTIALS}; too many failed logins: {name} is locked for {pol.lockout_duration / 60:g} min",
                "locked",
                locked / 1000.0,
            )
        raise AuthError(BAD_CREDENTIALS, "bad_credentials")

    def _store_hash_upgrade(self, name: str, password: str) -> None:
        digest = hash_password(password, self.params)
        self._write(
            "upgrade a hash",
            lambda conn: conn.execute(
                sa.update(db.users).where(db.users.c.name == name).values(password_hash=digest)
            ),
        )

    def authenticate(self, name: str, password: str, origin: str = "local") -> UserInfo:
        """Check a name and password; raise :class:`AuthError` (audited) when refused."""
        info = self._check_credentials(name, password, origin)
        now = _ms(self._clock())
        self._write(
            "record a login",
            lambda conn: conn.execute(
                sa.update(db.users)
                .where(db.users.c.name == info.name)
                .values(last_login=now, failed_attempts=0, locked_until=None)
            ),
        )
        return info

    def login(
        self,
        name: str,
        password: str,
        origin: str = "local",
        clock: Callable[[], float] = time.monotonic,
    ) -> Session:
        """Authenticate and open a session with the policy's idle timeout (audited)."""
        info = self.authenticate(name, password, origin)
        self.audit.append(
            "login",
            user=info.name,
            origin=origin,
            target=info.name,
            details={"role": info.role.label},
        )
        log.info("%s logged in (%s, %s)", info.name, info.role.label, origin)
        return Session(
            info.name, info.role, idle_timeout=self.policy.idle_logout, origin=origin, clock=clock
        )

    def logout(self, session: Session, reason: str = "user") -> Session:
        """Close a session (audited; ``reason``: user, inactivity, replaced); returns the viewer session."""
        if session.logged_in:
            self.audit.append(
                "logout",
                user=session.user,
                origin=session.origin,
                target=session.user,
                details={"reason": reason},
            )
            log.info("%s logged out (%s)", session.user, reason)
        return Session.viewer(session.origin)
