"""The command service: the one path every control action takes.

Faceplates, the command line and the cloud uplink all call :class:`CommandService`.
A write goes: tag known and writable -> remote policy (remote identities only) ->
permission of the session for the tag's action class -> value valid for the tag
(type, engineering range, discrete states) -> interlocks from the config -> the
value the operator confirmed is still the current one -> audit "requested" ->
the :class:`~hmi.core.ports.TagWriter` the runtime gave this service, and nobody else
(driver write + read-back verification) -> audit the result. Every refusal is audited
too, with the reason. The checks themselves are :class:`~hmi.core.write_checks.WriteChecks`.

Alarm actions (acknowledge, shelve, unshelve, reset, out of service) are checked and
audited the same way and then run on the acquisition thread through the
:class:`~hmi.core.ports.Executor`.

The coroutines may be awaited on any event loop: the driver write always runs on the
runtime's acquisition loop, and audit appends (a durable SQLite commit) and the user
checks (users.db) run in a worker thread so the acquisition loop never waits for the
disk. Remote commands return a future at once; nothing blocks while they run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from drivers.base import WriteResult, WriteStatus
from hmi.config.schema import Interlock, StationConfig, TagConfig
from hmi.core.audit import AuditError, AuditTrail
from hmi.core.command_model import (
    CommandResult,
    CommandStatus,
    RemoteIdentity,
    Who,
    action_for,
    then,
)
from hmi.core.users.roles import Action
from hmi.core.write_checks import WriteChecks

if TYPE_CHECKING:
    from hmi.core.alarms.model import OpResult
    from hmi.core.ports import AlarmOps, Executor, TagReader, TagWriter
    from hmi.core.users import UserStore

log = logging.getLogger(__name__)

T = TypeVar("T")


class CommandService:
    """Checks, audits and executes control actions for one station.

    It gets only its ports: the tag reader (interlocks, old values), the executor (the
    acquisition loop), the tag writer (the device stage, given to nobody else), the alarm
    engine, the users (a session's user must still be enabled, with the role it had) and
    the audit trail.
    """

    def __init__(
        self,
        cfg: StationConfig,
        tags: TagReader,
        executor: Executor,
        writer: TagWriter,
        users: UserStore | None,
        audit: AuditTrail,
        alarms: AlarmOps | None = None,
    ) -> None:
        #: every check of a write (:mod:`hmi.core.write_checks`)
        self.checks = WriteChecks(cfg, tags, users)
        self.cfg = cfg
        self.tags = tags
        self.executor = executor
        self._writer = writer
        self.users = users
        self.audit = audit
        self.alarms = alarms
        #: the running training drill's id ('' when live): audit rows carry it
        self.training = ""

    def replace(
        self,
        *,
        cfg: StationConfig | None = None,
        users: UserStore | None = None,
        audit: AuditTrail | None = None,
    ) -> CommandService:
        """The same pipeline with another config, user store or audit trail (tools, tests)."""
        return CommandService(
            cfg if cfg is not None else self.cfg,
            self.tags,
            self.executor,
            self._writer,
            users if users is not None else self.users,
            audit if audit is not None else self.audit,
            self.alarms,
        )

    # ------------------------------------------------------------------ identity and permission
    @staticmethod
    def identity(who: Who) -> tuple[str, str]:
        """(user, origin) for audit rows."""
        if isinstance(who, RemoteIdentity):
            return who.user, "remote"
        return who.display_name, who.origin

    # ------------------------------------------------------------------ checks (also for the confirmation dialog)
    def interlock_state(
        self, tag: TagConfig, lang: str = "en"
    ) -> list[tuple[Interlock, bool | None]]:
        """Each interlock of ``tag`` with whether it blocks now (None: its tag has no good value)."""
        return self.checks.interlock_state(tag, lang)

    def check_write(
        self, tag_name: str, value: Any, who: Who, confirm_old: Any = None
    ) -> CommandResult | None:
        """Every check of :meth:`write` without writing or auditing: None when it may go ahead.

        The faceplate calls it before its confirmation step (to show the refusal, or old
        and new value); :meth:`write` runs the same checks again at the moment of writing.
        """
        refusal, _tag, _v, _old = self.checks.check(tag_name, value, who, confirm_old)
        return refusal

    def current_value(self, tag_name: str) -> Any:
        """The value a confirmation dialog shows as "old" (None when unknown or BAD)."""
        return self.checks.current_value(tag_name)

    # ------------------------------------------------------------------ audit helper
    def _audit_row(
        self, action: str, who: Who, target: str, result: str, details: dict[str, Any]
    ) -> int:
        """Append one audit row now (a durable SQLite commit: worker threads only)."""
        user, origin = self.identity(who)
        if isinstance(who, RemoteIdentity) and who.source:
            details = {**details, "source": who.source}
        if self.training:  # a drill on the simulated station: never mistaken for live
            details = {**details, "training": self.training}
        rec = self.audit.append(
            action, user=user, origin=origin, target=target, result=result, details=details
        )
        return rec.seq

    def _audit_row_safe(
        self, action: str, who: Who, target: str, result: str, details: dict[str, Any]
    ) -> tuple[int, str]:
        """Audit an outcome that has already happened: (seq, "") or (0, a note for the operator)."""
        try:
            return self._audit_row(action, who, target, result, details), ""
        except AuditError as exc:
            return 0, f" (NOT AUDITED: {exc})"

    async def _on_runtime(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the acquisition loop, wherever the caller runs."""
        loop = self.executor.loop
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if loop is None or loop is here:
            return await coro
        return await asyncio.wrap_future(self.executor.submit(coro))

    # ------------------------------------------------------------------ writes
    async def write(
        self, tag: str, value: Any, who: Who, confirm_old: Any = None, comment: str = ""
    ) -> CommandResult:
        """Check, audit, write and verify one value; never raises for an expected failure.

        No audit row, no action: when the "requested" row cannot be written (disk full,
        database locked) the write is not attempted and the result says why. ``comment``
        (e.g. where a manual entry comes from) goes into every audit row of the write.
        """
        # checks (users.db) and the first audit row: one trip to a worker thread
        extra = {"comment": comment} if comment else {}
        refused, new, old, action = await asyncio.to_thread(
            self._admit, tag, value, who, confirm_old, extra
        )
        if refused is not None:
            return refused
        user, origin = self.identity(who)
        try:
            result: WriteResult = await self._on_runtime(self._writer(tag, new, user, origin))
        except Exception as exc:  # the caller must always get an answer, and the audit a result row
            log.exception("write %s failed", tag)
            result = WriteResult(WriteStatus.ERROR, f"write failed: {exc}")
        status = CommandStatus(result.status.value)
        message = result.message or status.value
        seq, note = await self._audit_safe(
            "write",
            who,
            tag,
            status.value,
            {"action": action, "old": old, "new": new, "message": message, **extra},
        )
        return CommandResult(status, message + note, tag, old, new, seq)

    def _admit(
        self, tag: str, value: Any, who: Who, confirm_old: Any, extra: dict[str, Any]
    ) -> tuple[CommandResult | None, Any, Any, str]:
        """(final result when refused or not audited, value to write, old value, action class).

        Runs every check, then audits the refusal or the request (worker thread).
        """
        refusal, cfg_tag, new, old = self.checks.check(tag, value, who, confirm_old)
        action = action_for(cfg_tag).value if cfg_tag is not None else ""
        if refusal is not None:
            log.info(
                "write %s = %r by %s refused: %s",
                tag,
                value,
                self.identity(who)[0],
                refusal.message,
            )
            seq, note = self._audit_row_safe(
                "write",
                who,
                tag,
                refusal.status.value,
                {"action": action, "old": old, "new": value, "message": refusal.message, **extra},
            )
            final = CommandResult(
                refusal.status, refusal.message + note, tag, old, refusal.new, seq, refusal.hint
            )
            return final, new, old, action
        try:
            self._audit_row(
                "write",
                who,
                tag,
                "requested",
                {"action": action, "old": old, "new": new, "confirmed_old": confirm_old, **extra},
            )
        except AuditError as exc:
            error = CommandResult(CommandStatus.ERROR, f"not written: {exc}", tag, old, new)
            return error, new, old, action
        return None, new, old, action

    async def _audit_safe(
        self, action: str, who: Who, target: str, result: str, details: dict[str, Any]
    ) -> tuple[int, str]:
        """:meth:`_audit_row_safe` in a worker thread (the acquisition loop never waits for disk)."""
        return await asyncio.to_thread(self._audit_row_safe, action, who, target, result, details)

    def submit_write(
        self, tag: str, value: Any, who: Who, confirm_old: Any = None, comment: str = ""
    ) -> concurrent.futures.Future[CommandResult]:
        """Start :meth:`write` on the acquisition loop from the GUI thread; the future holds the result."""
        return self.executor.submit(self.write(tag, value, who, confirm_old, comment))

    def run(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start one of this service's coroutines (``ack``, ``shelve``...) on the acquisition loop."""
        return self.executor.submit(coro)

    # ------------------------------------------------------------------ alarm actions
    async def _alarm_op(
        self,
        op: str,
        action: Action,
        who: Who,
        target: str,
        run: Callable[[AlarmOps, bool], OpResult],
        **details: Any,
    ) -> CommandResult:
        if isinstance(who, RemoteIdentity):
            why = (
                None
                if (op == "ack" and self.cfg.uplink.remote_ack)
                else f"denied: remote {op} is disabled at this station"
            )
        else:
            why = await asyncio.to_thread(self.checks.permission, who, action)
        engine = self.alarms
        if why is None and engine is None:
            why = "alarms are disabled at this station"
        if why:
            seq, note = await self._audit_safe(
                op, who, target, "denied", {**details, "message": why}
            )
            return CommandResult(CommandStatus.DENIED, why + note, target, audit_seq=seq)
        assert engine is not None
        remote = isinstance(who, RemoteIdentity)
        try:
            res = await asyncio.wrap_future(self.executor.call(run, engine, remote))
            ok, message = bool(res.ok), res.message or ("ok" if res.ok else "refused")
            details = {**details, "done": list(res.done), "refused": dict(res.refused)}
        except Exception as exc:
            log.exception("alarm %s failed", op)
            ok, message = False, f"{op} failed: {exc}"
        seq, note = await self._audit_safe(
            op, who, target, "ok" if ok else "refused", {**details, "message": message}
        )
        return CommandResult(
            CommandStatus.SUCCESS if ok else CommandStatus.REJECTED,
            message + note,
            target,
            audit_seq=seq,
        )

    async def ack(self, alarm_ids: str | list[str], who: Who, comment: str = "") -> CommandResult:
        """Acknowledge one id, a list, or "all" visible unacknowledged alarms."""
        target = alarm_ids if isinstance(alarm_ids, str) else ",".join(alarm_ids)
        user = self.identity(who)[0]
        return await self._alarm_op(
            "ack",
            Action.ACKNOWLEDGE,
            who,
            target,
            lambda e, remote: e.ack(alarm_ids, user, comment, remote=remote),
            comment=comment,
        )

    async def shelve(
        self, alarm_id: str, who: Who, reason: str, duration: float | None = None
    ) -> CommandResult:
        """Shelve for ``duration`` seconds (None: one-shot); the alarm engine enforces reason and maximum."""
        user = self.identity(who)[0]
        return await self._alarm_op(
            "shelve",
            Action.SHELVE,
            who,
            alarm_id,
            lambda e, _remote: e.shelve(alarm_id, user, reason, duration),
            reason=reason,
            duration=duration,
        )

    async def unshelve(self, alarm_id: str, who: Who, comment: str = "") -> CommandResult:
        """End a shelve early."""
        user = self.identity(who)[0]
        return await self._alarm_op(
            "unshelve",
            Action.SHELVE,
            who,
            alarm_id,
            lambda e, _remote: e.unshelve(alarm_id, user, comment),
            comment=comment,
        )

    async def reset(self, alarm_id: str, who: Who, comment: str = "") -> CommandResult:
        """Reset a latched alarm whose condition has cleared."""
        user = self.identity(who)[0]
        return await self._alarm_op(
            "reset",
            Action.RESET,
            who,
            alarm_id,
            lambda e, _remote: e.reset(alarm_id, user, comment),
            comment=comment,
        )

    async def set_out_of_service(
        self, alarm_id: str, who: Who, reason: str, out_of_service: bool = True
    ) -> CommandResult:
        """Take an alarm out of service (reason required) or back into service."""
        user = self.identity(who)[0]
        op = "out_of_service" if out_of_service else "in_service"
        return await self._alarm_op(
            op,
            Action.MANAGE_ALARMS,
            who,
            alarm_id,
            lambda e, _remote: e.set_out_of_service(alarm_id, user, reason, out_of_service),
            reason=reason,
        )

    # ------------------------------------------------------------------ uplink handlers (any thread)
    # Never blocking: each returns a future the uplink chains its reply to.
    def remote_write(
        self, tag: str, value: Any, user: str, source: str = ""
    ) -> concurrent.futures.Future[tuple[bool, str]]:
        """The runtime's remote-command handler: the future holds (ok, message)."""
        fut = self.executor.submit(self.write(tag, value, RemoteIdentity(user, source)))
        return then(fut, CommandResult.as_tuple)

    def remote_ack(
        self, alarm_ids: str | list[str], user: str, comment: str = "", source: str = ""
    ) -> concurrent.futures.Future[tuple[bool, str]]:
        """The runtime's remote-acknowledgement handler: the future holds (ok, message)."""
        fut = self.executor.submit(self.ack(alarm_ids, RemoteIdentity(user, source), comment))
        return then(fut, CommandResult.as_tuple)

    def record_remote_refusal(
        self, cmd: str, user: str, target: str, message: str, source: str = ""
    ) -> None:
        """Audit a remote command the uplink refused before it came here (any thread, no wait)."""
        who = RemoteIdentity(user or "?", source)
        details = {"message": message}
        try:
            self.executor.submit(self._audit_safe(f"remote_{cmd}", who, target, "denied", details))
        except Exception:  # the runtime is not running: audit here and now
            user_, origin = self.identity(who)
            try:
                self.audit.append(
                    f"remote_{cmd}",
                    user=user_,
                    origin=origin,
                    target=target,
                    result="denied",
                    details={**details, "source": source},
                )
            except AuditError as exc:
                log.error("remote %s refusal not audited: %s", cmd, exc)


__all__ = [
    "CommandResult",
    "CommandService",
    "CommandStatus",
    "RemoteIdentity",
    "Who",
    "action_for",
]
