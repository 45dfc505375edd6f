"""Operator actions on behalf of the console's session, all through the command service.

Every control action the HMI offers — acknowledge, shelve, unshelve, reset, out of
service, set-point and valve writes — goes to the station's command port
(:class:`hmi.core.ports.CommandPort`, the :class:`~hmi.core.commands.CommandService`)
with the console's current :class:`~hmi.core.users.Session`: the permission check,
interlocks and the audit trail apply to every click. There is no other way to write: the
device writer belongs to the command service alone. The one exception is *Silence
horn*: it changes no alarm state, so whoever is at the console may stop the noise (the
engine logs it).

Results come back on the GUI thread (:func:`hmi.ui.tasks.watch`) and are announced on
:attr:`Actions.sigMessage` (status bar) and to an optional per-call callback. Widgets
gate their buttons with :meth:`Actions.gate` and re-gate on :attr:`sigSessionChanged`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from hmi.core.ports import CommandPort, Station
from hmi.core.users import PERMISSIONS, Action, Console, Role, Session
from hmi.ui.i18n import N_, colon, i18n, tr, tr_reason
from hmi.ui.tasks import run_in_pool, watch

log = logging.getLogger(__name__)

Done = Callable[[bool, str], None]

#: what the operator reads for each command outcome (hmi.core.commands.CommandStatus values)
STATUS_TEXT = {
    "success": N_("Done"),
    "rejected": N_("Rejected by the device"),
    "timeout": N_("No confirmation from the device (timeout)"),
    "not_connected": N_("Device not connected"),
    "invalid": N_("Invalid value"),
    "error": N_("Error"),
    "denied": N_("No permission"),
    "interlocked": N_("Refused by interlock"),
    "changed": N_("The value has changed: check it and confirm again"),
}
ROLE_TEXT = {
    Role.VIEWER: N_("viewer"),
    Role.OPERATOR: N_("operator"),
    Role.ENGINEER: N_("engineer"),
    Role.ADMIN: N_("admin"),
}
ACTION_TEXT = {
    Action.VIEW: N_("Viewing"),
    Action.ACKNOWLEDGE: N_("Acknowledging alarms"),
    Action.SHELVE: N_("Shelving alarms"),
    Action.WRITE_SETPOINT: N_("Entering a set point"),
    Action.OPERATE_VALVE: N_("Operating equipment"),
    Action.RESET: N_("Resetting"),
    Action.MANAGE_ALARMS: N_("Taking alarms out of service"),
    Action.EXIT_APPLICATION: N_("Closing the HMI"),
    Action.EDIT_USERS: N_("Managing users"),
}


def role_text(role: Role | int) -> str:
    """A role's name in the current language."""
    return tr(ROLE_TEXT[Role(role)])


def needs_text(action: Action | str, session: Session | None = None) -> str:
    """'Entering a set point needs operator or higher' (+ who is logged in), translated."""
    act = Action(action)
    text = tr("{action} needs {role} or higher").format(
        action=tr(ACTION_TEXT[act]), role=role_text(PERMISSIONS[act])
    )
    if session is None or not session.logged_in:
        return text + " — " + tr("log in with the user button in the header")
    return (
        text
        + " — "
        + tr("{user} is {role}").format(user=session.user, role=role_text(session.effective_role()))
    )


def result_text(result: Any) -> tuple[bool, str]:
    """(ok, text) for a :class:`~hmi.core.commands.CommandResult`, headline in the current language."""
    status = str(getattr(getattr(result, "status", None), "value", "") or "")
    ok = bool(getattr(result, "ok", False))
    head = tr(STATUS_TEXT.get(status, status or "done"))
    hint = getattr(result, "hint", None) or {}
    detail = (
        (hint.get("zh" if i18n().is_zh else "en") or hint.get("en") or "")
        if status == "interlocked"
        else ""
    )
    detail = detail or str(getattr(result, "message", "") or "")
    for prefix in ("no permission: ", "denied: ", "interlocked: "):  # the headline says it already
        if detail.startswith(prefix):
            detail = detail[len(prefix) :]
    if detail.strip().lower() in ("", "ok", status):  # nothing beyond the headline
        return ok, head
    return ok, f"{head}{colon()}{tr_reason(detail)}"


class Actions(QObject):
    """Commands for one runtime on behalf of the console's session."""

    sigMessage = Signal(str, bool)  # text, ok
    sigSessionChanged = Signal(object)  # the new Session (login, logout, idle logout)
    sigUserChanged = Signal(str)  # kept for old listeners; nothing emits it

    def __init__(self, runtime: Station, console: Console | str | None = None) -> None:
        super().__init__()
        self.runtime = runtime
        # a plain name (the old signature) grants nothing: the console starts logged out
        self.console: Console | None = (
            console if isinstance(console, Console) else Console(runtime.users)
        )

    def set_console(self, console: Console | None) -> None:
        """Act for this console from now on (app start-up)."""
        if console is not None:
            self.console = console
        self.session_changed()

    # ------------------------------------------------------------------ session
    @property
    def session(self) -> Session:
        """The console's session (the anonymous viewer when logged out or without users)."""
        return self.console.session if self.console is not None else Session.viewer()

    @property
    def user(self) -> str:
        """Who acts now ('viewer' when logged out)."""
        return self.session.display_name

    @property
    def commands(self) -> CommandPort:
        """The station's command pipeline."""
        return self.runtime.commands

    def session_changed(self) -> None:
        """Announce a login / logout: widgets re-gate their buttons."""
        self.sigSessionChanged.emit(self.session)

    def can(self, action: Action | str) -> bool:
        """True when the current session may do ``action`` (the command service checks again)."""
        return self.session.can(action)

    def gate(
        self, widget: QWidget, action: Action | str, tip: str = "", enabled: bool = True
    ) -> bool:
        """Enable ``widget`` when allowed (and ``enabled``); a refusal says which role is needed."""
        allowed = self.can(action)
        widget.setEnabled(allowed and enabled)
        widget.setToolTip(tip if allowed else needs_text(action, self.session))
        return allowed

    # ------------------------------------------------------------------ plumbing
    def _report(self, ok: bool, text: str, done: Done | None) -> None:
        self.sigMessage.emit(text, ok)
        if done is not None:
            done(ok, text)

    def _command(
        self,
        what: str,
        make: Callable[[CommandPort, Session], Coroutine[Any, Any, Any]],
        done: Done | None,
    ) -> bool:
        """Run ``make(commands, session)`` on the acquisition loop; report the CommandResult."""
        svc = self.commands
        try:
            fut = svc.run(make(svc, self.session))
        except Exception as exc:  # runtime stopped (submit closes the coroutine)
            self._report(False, f"{tr(what)}: {exc}", done)
            return False

        def finished(result: Any, error: BaseException | None) -> None:
            if error is not None:
                log.warning("%s failed: %s", what, error)
                self._report(False, f"{tr(what)}: {error}", done)
                return
            ok, text = result_text(result)
            self._report(ok, f"{tr(what)}{colon()}{text}", done)

        watch(fut, finished)
        return True

    # ------------------------------------------------------------------ alarms
    def ack(
        self, alarm_ids: str | Iterable[str], comment: str = "", done: Done | None = None
    ) -> bool:
        """Acknowledge ids (or "all")."""
        ids = alarm_ids if isinstance(alarm_ids, str) else list(alarm_ids)
        if not ids:
            self._report(False, tr("Nothing selected"), done)
            return False
        return self._command(N_("Acknowledge"), lambda svc, s: svc.ack(ids, s, comment), done)

    def shelve(
        self, alarm_id: str, reason: str, duration: float | None, done: Done | None = None
    ) -> bool:
        """Shelve one alarm for ``duration`` seconds (None: one-shot)."""
        return self._command(
            N_("Shelve"), lambda svc, s: svc.shelve(alarm_id, s, reason, duration), done
        )

    def unshelve(self, alarm_id: str, done: Done | None = None) -> bool:
        """End a shelve."""
        return self._command(N_("Unshelve"), lambda svc, s: svc.unshelve(alarm_id, s), done)

    def reset(self, alarm_id: str, done: Done | None = None) -> bool:
        """Reset a latched alarm."""
        return self._command(N_("Reset"), lambda svc, s: svc.reset(alarm_id, s), done)

    def set_out_of_service(
        self, alarm_id: str, reason: str, out: bool = True, done: Done | None = None
    ) -> bool:
        """Take an alarm out of service (reason required) or put it back."""
        what = N_("Out of service") if out else N_("Back in service")
        return self._command(
            what, lambda svc, s: svc.set_out_of_service(alarm_id, s, reason, out), done
        )

    def silence(self, done: Done | None = None) -> bool:
        """Silence the horn (acknowledges nothing, so it needs no login)."""
        engine = self.runtime.alarms
        if engine is None:
            self._report(
                False, f"{tr('Silence horn')}: {tr('alarms are disabled at this station')}", done
            )
            return False
        try:
            fut = self.runtime.call(engine.silence, self.user)
        except Exception as exc:
            self._report(False, f"{tr('Silence horn')}: {exc}", done)
            return False
        watch(
            fut,
            lambda r, e: self._report(
                e is None,
                f"{tr('Silence horn')}: {e or getattr(r, 'message', '') or tr('done')}",
                done,
            ),
        )
        return True

    # ------------------------------------------------------------------ writes
    def check_write(self, tag: str, value: Any) -> Any:
        """The command service's refusal of this write now (None: it may go to confirmation)."""
        return self.commands.check_write(tag, value, self.session)

    def current_value(self, tag: str) -> Any:
        """The value the confirmation shows as "current" (and the write confirms against)."""
        return self.commands.current_value(tag)

    def interlocks(self, tag: Any) -> list[tuple[Any, bool | None]]:
        """(interlock, blocks now / None when it cannot be checked) for a TagConfig."""
        return self.commands.interlock_state(tag)

    def write(
        self,
        tag: str,
        value: Any,
        confirm_old: Any = None,
        done: Done | None = None,
        comment: str = "",
    ) -> bool:
        """Checked, audited write (the runtime verifies it by read-back); ``comment`` is audited."""
        svc = self.commands
        try:
            fut = svc.submit_write(
                tag, value, self.session, confirm_old=confirm_old, comment=comment
            )
        except Exception as exc:
            self._report(False, f"{tr('Write')} {tag}: {exc}", done)
            return False

        def finished(result: Any, error: BaseException | None) -> None:
            if error is not None:
                self._report(False, f"{tr('Write')} {tag}: {error}", done)
                return
            ok, text = result_text(result)
            self._report(
                ok,
                f"{tr('Write')} {tag} = {value:g}{colon()}{text}"
                if isinstance(value, float)
                else f"{tr('Write')} {tag} = {value}{colon()}{text}",
                done,
            )

        watch(fut, finished)
        return True

    # ------------------------------------------------------------------ leaving
    def exit_check(self, done: Callable[[bool, str], None]) -> None:
        """May this session close the HMI? Checked like a command (users.db re-read) and audited.

        ``done(allowed, text)`` runs on the GUI thread once the audit row is written.
        """
        session = self.session
        users = self.runtime.users
        audit = self.runtime.audit
        station = self.runtime.cfg.station.id

        def check() -> tuple[bool, str]:
            allowed = session.can(Action.EXIT_APPLICATION)
            if allowed and session.logged_in:
                info = users.get(session.user)  # disabled or demoted since the login: counts now
                allowed = (
                    info is not None
                    and info.enabled
                    and min(info.role, session.role) >= PERMISSIONS[Action.EXIT_APPLICATION]
                )
            audit.append(
                "exit",
                user=session.display_name,
                origin=session.origin,
                target=station,
                result="ok" if allowed else "denied",
            )
            return allowed, "" if allowed else needs_text(Action.EXIT_APPLICATION, session)

        def finished(result: Any, error: BaseException | None) -> None:
            if error is not None:  # no audit row, no exit
                done(False, f"{tr('Closing the HMI')}: {error}")
                return
            done(*result)

        run_in_pool(check, finished)
