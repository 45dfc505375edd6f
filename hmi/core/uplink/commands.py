"""Commands from the cloud (remote alarm acknowledgement, remote write) and their replies.

Both payload modes parse their inbound messages into :class:`Command` objects; the
:class:`Commands` executor checks the station's policy, calls the runtime's handler
and builds the reply that goes back up (through the outbox, like every message).
A handler answers with (ok, message) or, without blocking, with a future of it (the
runtime's command service); :meth:`Commands.execute` returns a future of the reply.

Policy: an acknowledgement is considered only when ``uplink.remote_ack`` is true; a
write only when ``uplink.remote_commands`` is true *and* the tag has
``remote_write: true``. Anything else is answered "denied: ...".
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hmi.config.schema import StationConfig

log = logging.getLogger(__name__)

Outcome = tuple[bool, str] | concurrent.futures.Future[tuple[bool, str]]
AckHandler = Callable[[Any, str, str], Outcome]
CommandHandler = Callable[[str, Any, str], Outcome]


@dataclass(slots=True)
class Command:
    """One inbound request, whatever the payload mode."""

    kind: str  # "ack" | "write" | "rebirth" | "invalid"
    request_id: str = ""
    alarm_ids: list[str] = field(default_factory=list)
    tag: str = ""
    value: Any = None
    user: str = ""
    comment: str = ""
    error: str = ""  # for "invalid": what is wrong with the message
    source: str = ""  # topic it came from (for logs)


class Commands:
    """Checks and executes remote commands; returns reply dicts."""

    def __init__(
        self,
        cfg: StationConfig,
        ack_handler: AckHandler | None,
        command_handler: CommandHandler | None,
        clock: Callable[[], float] = time.time,
        on_refused: Callable[[Command, str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.ack_handler = ack_handler
        self.command_handler = command_handler
        self.clock = clock
        self._handled = False
        #: told about every command refused here, before any handler saw it (so it is audited)
        self.on_refused = on_refused

    def execute(self, cmd: Command) -> concurrent.futures.Future[dict[str, Any]]:
        """Run one command without waiting; the future's reply names the request, ok or why not.

        The future never fails: a handler's exception becomes a refusal in the reply.
        """
        self._handled = False
        reply: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        try:
            outcome = self._execute(cmd)
        except Exception as exc:  # a handler failure must not kill the uplink
            log.exception("remote %s failed", cmd.kind)
            outcome = (False, f"failed: {exc}")
        handled = self._handled
        if isinstance(outcome, tuple):
            reply.set_result(self._reply(cmd, outcome, handled))
            return reply

        def done(f: concurrent.futures.Future[tuple[bool, str]]) -> None:
            try:
                result = f.result()
            except BaseException as exc:  # cancelled, runtime stopped, handler failed
                log.warning("remote %s failed: %s", cmd.kind, exc)
                result = (False, f"failed: {exc or type(exc).__name__}")
            reply.set_result(self._reply(cmd, result, handled))

        outcome.add_done_callback(done)
        return reply

    def _reply(self, cmd: Command, outcome: tuple[bool, str], handled: bool) -> dict[str, Any]:
        ok, message = outcome
        if not ok and not handled and self.on_refused is not None:
            try:
                self.on_refused(cmd, message)
            except Exception:
                log.exception("reporting a refused remote %s failed", cmd.kind)
        reply: dict[str, Any] = {
            "id": cmd.request_id,
            "cmd": cmd.kind if cmd.kind in ("ack", "write") else "invalid",
            "ok": bool(ok),
            "message": str(message),
            "user": cmd.user,
            "ts": self.clock(),
        }
        if cmd.kind == "ack":
            reply["alarm_ids"] = list(cmd.alarm_ids)
        elif cmd.kind == "write":
            reply["tag"] = cmd.tag
            reply["value"] = cmd.value
        log.info(
            "remote %s from %r: %s (%s)", reply["cmd"], cmd.user, "ok" if ok else "refused", message
        )
        return reply

    def _execute(self, cmd: Command) -> Outcome:
        up = self.cfg.uplink
        if cmd.kind == "invalid":
            return False, f"malformed command: {cmd.error}"
        if not cmd.user:
            return False, "malformed command: 'user' is required"
        # the station's policy is checked here (defence in depth: the runtime's command
        # service checks again); refusals are reported through on_refused so they are audited
        if cmd.kind == "ack":
            if not up.remote_ack:
                return False, "denied: remote acknowledgement is disabled at this station"
            if not cmd.alarm_ids:
                return False, "malformed command: 'alarm_ids' is empty"
            if self.ack_handler is None:
                return False, "denied: no alarm engine to acknowledge with"
            ids: Any = "all" if cmd.alarm_ids == ["all"] else list(cmd.alarm_ids)
            self._handled = True
            return self.ack_handler(ids, cmd.user, cmd.comment)
        if cmd.kind == "write":
            if not up.remote_commands:
                return False, "denied: remote commands are disabled at this station"
            tag = self.cfg.tag_map().get(cmd.tag)
            if tag is None:
                return False, f"unknown tag {cmd.tag!r}"
            if not tag.remote_write:
                return False, f"denied: tag {cmd.tag} does not accept remote writes"
            if self.command_handler is None:
                return False, "denied: no runtime to write with"
            self._handled = True
            return self.command_handler(cmd.tag, cmd.value, cmd.user)
        return False, f"malformed command: unknown command {cmd.kind!r}"


def ack_from_json(obj: Any, source: str = "") -> Command:
    """Parse the documented ack object ``{"id", "alarm_ids", "user", "comment"}``."""
    if not isinstance(obj, dict):
        return Command("invalid", error="the payload must be a JSON object", source=source)
    rid = str(obj.get("id", ""))
    ids = obj.get("alarm_ids")
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return Command(
            "invalid",
            request_id=rid,
            error="'alarm_ids' must be a list of alarm ids",
            source=source,
        )
    user, comment = obj.get("user", ""), obj.get("comment", "")
    if not isinstance(user, str) or not isinstance(comment, str):
        return Command(
            "invalid", request_id=rid, error="'user' and 'comment' must be strings", source=source
        )
    return Command("ack", request_id=rid, alarm_ids=ids, user=user, comment=comment, source=source)


def write_from_json(obj: Any, source: str = "") -> Command:
    """Parse the documented write object ``{"id", "tag", "value", "user"}``."""
    if not isinstance(obj, dict):
        return Command("invalid", error="the payload must be a JSON object", source=source)
    rid = str(obj.get("id", ""))
    tag, user = obj.get("tag"), obj.get("user", "")
    if not isinstance(tag, str) or not tag:
        return Command("invalid", request_id=rid, error="'tag' must be a tag name", source=source)
    value = obj.get("value")
    if not isinstance(value, bool | int | float | str):
        return Command(
            "invalid",
            request_id=rid,
            error="'value' must be a number, boolean or string",
            source=source,
        )
    if not isinstance(user, str):
        return Command("invalid", request_id=rid, error="'user' must be a string", source=source)
    return Command("write", request_id=rid, tag=tag, value=value, user=user, source=source)
