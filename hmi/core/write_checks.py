"""The checks a write passes before it is audited and sent (:mod:`hmi.core.commands`).

In order: tag known -> remote policy (remote identities only) -> tag writable ->
permission of the session for the tag's action class (a user disabled or demoted since
the login counts at once) and the manual-entry role -> value valid for the tag (type,
engineering range, discrete states) -> interlocks from the config -> permissives
(:mod:`hmi.core.permissives`) -> the value the operator confirmed is still the current one.
Nothing here writes or audits: the command service does both around these checks.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from drivers.base import Quality
from hmi.config.schema import Interlock, StationConfig, TagConfig
from hmi.core.command_model import (
    CommandResult,
    CommandStatus,
    RemoteIdentity,
    Who,
    action_for,
    coerce_value,
    same_value,
    still_current,
)
from hmi.core.permissives import permissive_refusal
from hmi.core.users.roles import PERMISSIONS, Action, Role, can

if TYPE_CHECKING:
    from hmi.core.ports import TagReader
    from hmi.core.users import UserStore


class WriteChecks:
    """The write checks of one station: its config, the tag values and the users."""

    def __init__(self, cfg: StationConfig, tags: TagReader, users: UserStore | None) -> None:
        self.cfg = cfg
        self.tags = tags
        self.users = users

    def permission(self, who: Who, action: Action) -> str | None:
        """None when ``who`` may do ``action``, else why not."""
        if isinstance(who, RemoteIdentity):
            return None  # remote rights come from the station config, checked by the caller
        if not who.can(action):
            need = PERMISSIONS[action].label
            return f"no permission: {action.value} needs {need} or higher ({who.display_name} is {who.effective_role().label})"
        if who.logged_in and self.users is not None:
            info = self.users.get(
                who.user
            )  # disabled or demoted since the login: the change counts now
            if info is None or not info.enabled:
                return f"no permission: user {who.user} is disabled"
            if not can(min(info.role, who.role, key=int), action):
                return f"no permission: {action.value} needs {PERMISSIONS[action].label} or higher ({who.user} is now {Role(info.role).label})"
        return None

    @staticmethod
    def entry_role(who: Who, tag: TagConfig) -> str | None:
        """A manual-entry tag may ask for a higher role than the action's (``manual_role``)."""
        if tag.access != "manual" or isinstance(who, RemoteIdentity):
            return None
        need = Role.parse(tag.manual_role)
        if who.effective_role() < need:
            return f"no permission: entering {tag.name} needs {need.label} or higher"
        return None

    def interlock_state(
        self, tag: TagConfig, lang: str = "en"
    ) -> list[tuple[Interlock, bool | None]]:
        """Each interlock of ``tag`` with whether it blocks now (None: its tag has no good value)."""
        out: list[tuple[Interlock, bool | None]] = []
        for il in tag.interlocks:
            try:
                value, quality, _ts, _reason = self.tags.get(il.tag)
            except KeyError:
                out.append((il, None))
                continue
            if quality is not Quality.GOOD or isinstance(value, str) or not math.isfinite(value):
                out.append((il, None))
            else:
                out.append((il, same_value(float(value), float(il.equals))))
        return out

    def check(
        self, tag_name: str, value: Any, who: Who, confirm_old: Any = None
    ) -> tuple[CommandResult | None, TagConfig | None, Any, Any]:
        """(refusal or None, the tag, the value to write, its current value): every check
        of a write, in the order the module docstring gives."""
        tag = self.cfg.tag_map().get(tag_name)
        if tag is None:
            return (
                CommandResult(
                    CommandStatus.INVALID, f"unknown tag {tag_name!r}", tag_name, None, value
                ),
                None,
                value,
                None,
            )
        old = self.current(tag)
        if isinstance(who, RemoteIdentity):
            if not self.cfg.uplink.remote_commands:
                return self._refuse(
                    CommandStatus.DENIED,
                    "denied: remote commands are disabled at this station",
                    tag,
                    old,
                    value,
                )
            if not tag.remote_write:
                return self._refuse(
                    CommandStatus.DENIED,
                    f"denied: {tag.name} does not accept remote writes",
                    tag,
                    old,
                    value,
                )
        if tag.access not in ("rw", "manual"):
            return self._refuse(CommandStatus.INVALID, f"{tag.name} is read-only", tag, old, value)
        why = self.permission(who, action_for(tag)) or self.entry_role(who, tag)
        if why:
            return self._refuse(CommandStatus.DENIED, why, tag, old, value)
        new, err = coerce_value(tag, value)
        if err:
            return self._refuse(CommandStatus.INVALID, err, tag, old, value)
        for il, blocks in self.interlock_state(tag):
            if blocks is None:
                msg = f"interlocked: {il.tag} has no good value, so the interlock '{il.message.en}' cannot be checked"
            elif blocks:
                msg = f"interlocked: {il.message.en or il.message.zh} ({il.tag} = {il.equals:g})"
            else:
                continue
            hint = il.message.model_dump()
            res = CommandResult(CommandStatus.INTERLOCKED, msg, tag.name, old, new, hint=hint)
            return res, tag, new, old
        lock = permissive_refusal(self.cfg, tag, new, self.tags.get)
        if lock is not None:
            res = CommandResult(
                CommandStatus.INTERLOCKED, lock[0], tag.name, old, new, hint=lock[1]
            )
            return res, tag, new, old
        if confirm_old is not None and not still_current(tag, old, confirm_old):
            msg = f"{tag.name} changed from {confirm_old!r} to {old!r} since it was confirmed: confirm again"
            return self._refuse(CommandStatus.CHANGED, msg, tag, old, new)
        return None, tag, new, old

    @staticmethod
    def _refuse(
        status: CommandStatus, msg: str, tag: TagConfig, old: Any, new: Any
    ) -> tuple[CommandResult, TagConfig, Any, Any]:
        return CommandResult(status, msg, tag.name, old, new), tag, new, old

    def current_value(self, tag_name: str) -> Any:
        """The value a confirmation dialog shows as "old" (None when unknown or BAD)."""
        tag = self.cfg.tag_map().get(tag_name)
        return None if tag is None else self.current(tag)

    def current(self, tag: TagConfig) -> Any:
        """Current value for audit and confirmation (None when not GOOD/UNCERTAIN)."""
        try:
            value, quality, _ts, _reason = self.tags.get(tag.name)
        except KeyError:
            return None
        if quality is Quality.BAD or (isinstance(value, float) and not math.isfinite(value)):
            return None
        if tag.type == "bool":
            return bool(value)
        if tag.type == "int" or tag.states:
            return int(value) if isinstance(value, float) else value
        return value
