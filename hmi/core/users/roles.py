"""Roles and the per-action permission table (the one place that says who may do what).

Roles are ordered: viewer < operator < engineer < admin. Each action names the
lowest role allowed to perform it; every higher role may too. docs/SECURITY.md
repeats this table for reviewers — change both together.
"""

from __future__ import annotations

import enum


class Role(enum.IntEnum):
    """A user's role; a higher value includes every right of the lower ones."""

    VIEWER = 0
    OPERATOR = 1
    ENGINEER = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """Lower-case name as stored and typed on the command line."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str | Role) -> Role:
        """'operator' -> Role.OPERATOR; ValueError naming the choices otherwise."""
        if isinstance(text, Role):
            return text
        try:
            return cls[str(text).strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown role {text!r} (choose {', '.join(r.label for r in cls)})"
            ) from None


class Action(enum.StrEnum):
    """Something a user does that needs a permission."""

    VIEW = "view"  # see screens, trends, alarms (the console is never blank)
    ACKNOWLEDGE = "acknowledge"  # acknowledge alarms
    SHELVE = "shelve"  # shelve / unshelve an alarm for a limited time, reason required
    WRITE_SETPOINT = "write_setpoint"  # enter an analog set point
    OPERATE_VALVE = "operate_valve"  # open / close / stop a valve, start / stop a command tag
    RESET = "reset"  # reset a slam-shut or a latched alarm
    MANUAL_ENTRY = "manual_entry"  # type in a manual-entry tag (local gauge, odorant delivered)
    MANAGE_ALARMS = "manage_alarms"  # take an alarm out of service / back into service
    EXIT_APPLICATION = "exit_application"  # close the HMI (leaves the station unwatched)
    EDIT_USERS = "edit_users"  # add users, change roles, reset passwords, enable / disable
    RUN_TRAINING = "run_training"  # start / stop a training drill on the simulated station


#: action -> lowest role allowed
PERMISSIONS: dict[Action, Role] = {
    Action.VIEW: Role.VIEWER,
    Action.ACKNOWLEDGE: Role.OPERATOR,
    Action.SHELVE: Role.OPERATOR,
    Action.WRITE_SETPOINT: Role.OPERATOR,
    Action.OPERATE_VALVE: Role.OPERATOR,
    Action.RESET: Role.OPERATOR,
    Action.MANUAL_ENTRY: Role.OPERATOR,
    Action.MANAGE_ALARMS: Role.ENGINEER,
    Action.EXIT_APPLICATION: Role.ENGINEER,
    Action.EDIT_USERS: Role.ADMIN,
    Action.RUN_TRAINING: Role.ENGINEER,
}


def can(role: Role, action: Action | str) -> bool:
    """True when ``role`` may perform ``action`` (unknown actions are denied)."""
    try:
        needed = PERMISSIONS[Action(action)]
    except (ValueError, KeyError):
        return False
    return role >= needed


def allowed_actions(role: Role) -> list[Action]:
    """Every action ``role`` may perform, in table order."""
    return [a for a in PERMISSIONS if can(role, a)]


def permission_table() -> list[tuple[str, dict[str, bool]]]:
    """(action, {role: allowed}) rows, for docs and the user-management page."""
    return [(a.value, {r.label: can(r, a) for r in Role}) for a in PERMISSIONS]
