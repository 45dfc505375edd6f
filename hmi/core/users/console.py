"""The console's current session: login, logout and the automatic logout on inactivity.

The HMI keeps one :class:`Console`. Its session is the anonymous viewer until someone
logs in; :meth:`Console.check_idle` (called from a UI timer) drops an expired session
back to the viewer and records the logout, so the screens stay live and nothing can
be operated by whoever walks up to an unattended console.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from hmi.core.users.session import Session
from hmi.core.users.store import UserStore


class Console:
    """Holds the session of one operator console (thread-safe)."""

    def __init__(
        self, store: UserStore, origin: str = "local", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.origin = origin
        self._clock = clock
        self._lock = threading.Lock()
        self._session = Session.viewer(origin)

    @property
    def session(self) -> Session:
        """The current session (the viewer when nobody is logged in)."""
        return self._session

    def login(self, name: str, password: str) -> Session:
        """Log in (replacing whoever was logged in); raises AuthError when refused."""
        new = self.store.login(name, password, self.origin, clock=self._clock)
        with self._lock:
            old, self._session = self._session, new
        if old.logged_in:
            self.store.logout(old, "replaced")
        return new

    def logout(self, reason: str = "user") -> Session:
        """Log out; the console drops to the viewer session."""
        with self._lock:
            old, self._session = self._session, Session.viewer(self.origin)
        self.store.logout(old, reason)
        return self._session

    def touch(self) -> None:
        """Operator activity: restart the idle timer."""
        self._session.touch()

    def check_idle(self, now: float | None = None) -> bool:
        """Log out an expired session (audited as 'inactivity'); True when it did."""
        with self._lock:
            old = self._session
            if not (old.logged_in and old.expired(now)):
                return False
            self._session = Session.viewer(self.origin)
        self.store.logout(old, "inactivity")
        return True
