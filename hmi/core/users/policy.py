"""Security settings: idle logout, lockout, password length.

Defaults suit a staffed control room. A station config may override them in an
optional ``security:`` section (read with :meth:`SecurityPolicy.from_config`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hmi.core.users.passwords import MIN_PASSWORD_CHARS


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """How long a console stays logged in, when a name is locked, how long a password must be."""

    idle_logout: float = 15 * 60.0  # s of inactivity before the console drops to viewer; 0 = never
    lockout_attempts: int = 5  # failed logins in a row that lock the name
    lockout_duration: float = 5 * 60.0  # s the name stays locked
    min_password_chars: int = MIN_PASSWORD_CHARS

    def __post_init__(self) -> None:
        if self.idle_logout < 0 or self.lockout_duration < 0:
            raise ValueError("idle_logout and lockout_duration must not be negative")
        if self.lockout_attempts < 1:
            raise ValueError("lockout_attempts must be at least 1")
        if self.min_password_chars < MIN_PASSWORD_CHARS:
            raise ValueError(f"min_password_chars must be at least {MIN_PASSWORD_CHARS}")

    @classmethod
    def from_config(cls, cfg: Any) -> SecurityPolicy:
        """Policy from ``cfg.security`` (any object or dict with these field names); defaults otherwise."""
        sec = getattr(cfg, "security", None)
        if sec is None:
            return cls()
        if not isinstance(sec, dict):
            sec = sec.model_dump() if hasattr(sec, "model_dump") else vars(sec)
        known = {
            k: sec[k]
            for k in ("idle_logout", "lockout_attempts", "lockout_duration", "min_password_chars")
            if k in sec
        }
        return cls(**known)
