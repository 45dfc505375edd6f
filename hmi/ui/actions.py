"""Operator actions: every command leaves the GUI thread through ``runtime.call``/``submit``.

Results come back on the GUI thread (:func:`hmi.ui.tasks.watch`) and are announced on
:attr:`Actions.sigMessage` (status bar) and to an optional per-call callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal

from hmi.ui.i18n import N_, tr
from hmi.ui.tasks import watch

log = logging.getLogger(__name__)

Done = Callable[[bool, str], None]


class Actions(QObject):
    """Alarm operations and tag writes for one runtime, on behalf of the logged-in user."""

    sigMessage = Signal(str, bool)  # text, ok
    sigUserChanged = Signal(str)

    def __init__(self, runtime: Any, user: str = "operator") -> None:
        super().__init__()
        self.runtime = runtime
        self.user = user

    def set_user(self, user: str) -> None:
        """Who acts from now on (shown in the header, recorded in the journal)."""
        self.user = user
        self.sigUserChanged.emit(user)

    # ------------------------------------------------------------------ plumbing
    def _engine(self) -> Any:
        return getattr(self.runtime, "alarms", None)

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, done: Done | None = None) -> bool:
        call = getattr(self.runtime, "call", None)
        if call is None:
            self._report(False, f"{tr(what)}: {tr('the station runtime is not running')}", done)
            return False
        try:
            fut = call(fn, *args)
        except Exception as exc:  # runtime stopped
            self._report(False, f"{tr(what)}: {exc}", done)
            return False
        watch(fut, lambda result, error: self._finish(what, result, error, done))
        return True

    def _finish(self, what: str, result: Any, error: BaseException | None, done: Done | None) -> None:
        if error is not None:
            log.warning("%s failed: %s", what, error)
            self._report(False, f"{tr(what)}: {error}", done)
            return
        ok = bool(getattr(result, "ok", True))
        msg = str(getattr(result, "message", "") or "")
        refused = getattr(result, "refused", None) or {}
        if refused and not msg:
            msg = "; ".join(f"{k}: {v}" for k, v in refused.items())
        self._report(ok, f"{tr(what)}: {msg or tr('done')}", done)

    def _report(self, ok: bool, text: str, done: Done | None) -> None:
        self.sigMessage.emit(text, ok)
        if done is not None:
            done(ok, text)

    def _need_engine(self, what: str, done: Done | None) -> Any:
        engine = self._engine()
        if engine is None:
            self._report(False, f"{tr(what)}: {tr('alarms are disabled at this station')}", done)
        return engine

    # ------------------------------------------------------------------ alarms
    def ack(self, alarm_ids: str | Iterable[str], comment: str = "", done: Done | None = None) -> bool:
        """Acknowledge ids (or "all")."""
        engine = self._need_engine(N_("Acknowledge"), done)
        if engine is None:
            return False
        ids = alarm_ids if isinstance(alarm_ids, str) else list(alarm_ids)
        if not ids:
            self._report(False, tr("Nothing selected"), done)
            return False
        return self._call("Acknowledge", engine.ack, ids, self.user, comment, done=done)

    def shelve(self, alarm_id: str, reason: str, duration: float | None, done: Done | None = None) -> bool:
        """Shelve one alarm for ``duration`` seconds (None: one-shot)."""
        engine = self._need_engine(N_("Shelve"), done)
        if engine is None:
            return False
        return self._call("Shelve", engine.shelve, alarm_id, self.user, reason, duration, done=done)

    def unshelve(self, alarm_id: str, done: Done | None = None) -> bool:
        """End a shelve."""
        engine = self._need_engine(N_("Unshelve"), done)
        if engine is None:
            return False
        return self._call("Unshelve", engine.unshelve, alarm_id, self.user, "", done=done)

    def reset(self, alarm_id: str, done: Done | None = None) -> bool:
        """Reset a latched alarm."""
        engine = self._need_engine(N_("Reset"), done)
        if engine is None:
            return False
        return self._call("Reset", engine.reset, alarm_id, self.user, "", done=done)

    def silence(self, done: Done | None = None) -> bool:
        """Silence the horn."""
        engine = self._need_engine(N_("Silence horn"), done)
        if engine is None:
            return False
        return self._call("Silence horn", engine.silence, self.user, done=done)

    # ------------------------------------------------------------------ writes
    def write(self, tag: str, value: Any, done: Done | None = None) -> bool:
        """Write a tag through the runtime (verified by read-back)."""
        submit = getattr(self.runtime, "submit", None)
        write_tag = getattr(self.runtime, "write_tag", None)
        if submit is None or write_tag is None:
            self._report(False, f"{tr('Write')}: {tr('the station runtime is not running')}", done)
            return False
        try:
            fut = submit(write_tag(tag, value, user=self.user, origin="local"))
        except Exception as exc:
            self._report(False, f"{tr('Write')} {tag}: {exc}", done)
            return False

        def finished(result: Any, error: BaseException | None) -> None:
            if error is not None:
                self._report(False, f"{tr('Write')} {tag}: {error}", done)
                return
            ok = bool(getattr(result, "ok", False))
            msg = str(getattr(result, "message", "") or getattr(getattr(result, "status", None), "value", ""))
            self._report(ok, f"{tr('Write')} {tag} = {value}: {msg}", done)

        watch(fut, finished)
        return True
