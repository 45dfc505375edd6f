"""Local users: roles and permissions, scrypt password hashes, lockout, sessions, idle logout.

Qt-free. The HMI uses :class:`Console` for its login state and :class:`UserStore`
for user management; every control action then goes through
:class:`hmi.core.commands.CommandService`, which checks :meth:`Session.can`.
"""

from hmi.core.users.console import Console
from hmi.core.users.db import StoreError
from hmi.core.users.passwords import (
    DEFAULT_PARAMS,
    TEST_PARAMS,
    PasswordError,
    ScryptParams,
    password_problems,
)
from hmi.core.users.policy import SecurityPolicy
from hmi.core.users.roles import PERMISSIONS, Action, Role, can, permission_table
from hmi.core.users.session import Session
from hmi.core.users.store import AuthError, UserError, UserInfo, UserStore

__all__ = [
    "DEFAULT_PARAMS",
    "PERMISSIONS",
    "TEST_PARAMS",
    "Action",
    "AuthError",
    "Console",
    "PasswordError",
    "Role",
    "ScryptParams",
    "SecurityPolicy",
    "Session",
    "StoreError",
    "UserError",
    "UserInfo",
    "UserStore",
    "can",
    "password_problems",
    "permission_table",
]
