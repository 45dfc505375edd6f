"""Who is at the console: a :class:`Session` with role, permissions and an idle timer.

A logged-out console is a *viewer* session (``user == ""``): screens stay live,
nothing can be operated. A logged-in session expires after ``idle_timeout``
seconds without :meth:`Session.touch`; an expired session keeps only viewer rights
until the console replaces it (see :class:`hmi.core.users.console.Console`).

Idle time runs on a monotonic clock so that a wall-clock step (NTP, DST) neither
logs an operator out early nor keeps a console logged in for hours.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hmi.core.users.roles import Action, Role, can

ANONYMOUS = ""


class Session:
    """One logged-in user (or the anonymous viewer) at a console or on the command line."""

    def __init__(
        self,
        user: str,
        role: Role,
        *,
        idle_timeout: float = 0.0,
        origin: str = "local",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.user = user
        self.role = Role(role)
        self.origin = origin  # local | cli
        self.idle_timeout = float(idle_timeout)
        self._clock = clock
        self.started_at = time.time()  # wall time, for display and audit
        self.last_activity = clock()

    @classmethod
    def viewer(cls, origin: str = "local") -> Session:
        """The anonymous, never-expiring viewer session of a logged-out console."""
        return cls(ANONYMOUS, Role.VIEWER, origin=origin)

    @property
    def logged_in(self) -> bool:
        """False for the anonymous viewer."""
        return self.user != ANONYMOUS

    def touch(self, now: float | None = None) -> None:
        """Record operator activity (a key press, a click): restarts the idle timer."""
        self.last_activity = self._clock() if now is None else now

    def idle_for(self, now: float | None = None) -> float:
        """Seconds since the last activity."""
        return max(0.0, (self._clock() if now is None else now) - self.last_activity)

    def remaining(self, now: float | None = None) -> float:
        """Seconds until the idle logout (inf when the session never expires)."""
        if not self.logged_in or self.idle_timeout <= 0:
            return float("inf")
        return max(0.0, self.idle_timeout - self.idle_for(now))

    def expired(self, now: float | None = None) -> bool:
        """True once the idle timeout has passed (never for the anonymous viewer)."""
        return self.remaining(now) <= 0.0

    def effective_role(self, now: float | None = None) -> Role:
        """The role that counts now: viewer once expired."""
        return Role.VIEWER if self.expired(now) else self.role

    def can(self, action: Action | str, now: float | None = None) -> bool:
        """True when this session may perform ``action`` now."""
        return can(self.effective_role(now), action)

    @property
    def display_name(self) -> str:
        """User name, or 'viewer' for the anonymous session."""
        return self.user or "viewer"

    def __repr__(self) -> str:
        return f"Session(user={self.display_name!r}, role={self.role.label}, origin={self.origin})"
