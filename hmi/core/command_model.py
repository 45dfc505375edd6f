"""The command pipeline's values: outcomes, identities, and the pure checks of a value.

:class:`CommandStatus`, :class:`CommandResult`, :class:`RemoteIdentity` and the checks that
need nothing but the tag's config (:func:`action_for`, :func:`coerce_value`,
:func:`still_current`). :class:`~hmi.core.commands.CommandService` runs them.
"""

from __future__ import annotations

import concurrent.futures
import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hmi.config.schema import TagConfig
from hmi.core.users.roles import Action
from hmi.core.users.session import Session

T = TypeVar("T")
U = TypeVar("U")

_WRITE_ACTIONS = {
    "setpoint": Action.WRITE_SETPOINT,
    "valve": Action.OPERATE_VALVE,
    "reset": Action.RESET,
}


class CommandStatus(enum.StrEnum):
    """Outcome of a command as shown to the operator (device outcomes plus refusals)."""

    SUCCESS = "success"
    REJECTED = "rejected"  # the device refused (Modbus exception, bad OPC UA status)
    TIMEOUT = "timeout"  # no answer, or the read-back never showed the value
    NOT_CONNECTED = "not_connected"
    INVALID = "invalid"  # unknown or read-only tag, value of the wrong type or out of range
    ERROR = "error"
    DENIED = "denied"  # no permission, or remote commands not enabled
    INTERLOCKED = "interlocked"  # an interlock from the config forbids it now
    CHANGED = "changed"  # the current value is no longer the one the operator confirmed


@dataclass(frozen=True, slots=True)
class RemoteIdentity:
    """Who sent a command from the platform (user named in the message, and where it came from)."""

    user: str
    source: str = ""


Who = Session | RemoteIdentity


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did; ``hint`` carries an interlock's bilingual message for the UI."""

    status: CommandStatus
    message: str
    target: str = ""
    old: Any = None
    new: Any = None
    audit_seq: int = 0
    hint: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True on success."""
        return self.status is CommandStatus.SUCCESS

    def as_tuple(self) -> tuple[bool, str]:
        """(ok, message), the uplink handlers' reply shape."""
        return self.ok, self.message or self.status.value


def action_for(tag: TagConfig) -> Action:
    """The permission a write to ``tag`` needs.

    An explicit ``write_action: setpoint|valve|reset`` on the tag wins. Otherwise a tag
    whose last name part mentions "reset" resets (slam-shut, latched trip); a boolean
    tag or one with discrete ``states`` operates equipment (valve open/close/stop,
    start/stop); anything else is a set point. A manual-entry tag (``access: manual``)
    needs the manual-entry permission.
    """
    if tag.access == "manual":
        return Action.MANUAL_ENTRY
    explicit = getattr(tag, "write_action", None)
    if explicit:
        return _WRITE_ACTIONS[explicit]
    if "reset" in tag.name.rsplit(".", 1)[-1].lower():
        return Action.RESET
    if tag.type == "bool" or tag.states:
        return Action.OPERATE_VALVE
    return Action.WRITE_SETPOINT


def same_value(a: float, b: float, tol: float = 1e-9) -> bool:
    """True when ``a`` equals ``b`` within a relative tolerance."""
    return abs(a - b) <= tol * max(1.0, abs(b))


def coerce_value(tag: TagConfig, value: Any) -> tuple[Any, str | None]:
    """(value to write, error) after type, range and state checks."""
    if tag.type == "string":
        return (
            (value, None)
            if isinstance(value, str)
            else (value, f"{tag.name} takes text, not {value!r}")
        )
    if tag.type == "bool":
        if isinstance(value, str) and value.strip().lower() in (
            "true",
            "false",
            "1",
            "0",
            "on",
            "off",
        ):
            return value.strip().lower() in ("true", "1", "on"), None
        if (
            isinstance(value, (bool, int, float))
            and not isinstance(value, complex)
            and float(value) in (0.0, 1.0)
        ):
            return bool(value), None
        return value, f"{tag.name} takes on/off (true/false), not {value!r}"
    if isinstance(value, bool):
        value = int(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return value, f"{value!r} is not a number"
    if not math.isfinite(v):
        return value, f"{value!r} is not a finite number"
    lo, hi = tag.range
    if not (lo <= v <= hi):
        return (
            v,
            f"{v:g} {tag.unit} is outside the engineering range {lo:g}-{hi:g} {tag.unit}".replace(
                "  ", " "
            ),
        )
    if tag.type == "int" or tag.states:
        if v != int(v):
            return v, f"{tag.name} takes whole numbers, not {v:g}"
        if tag.states and int(v) not in tag.states:
            return (
                v,
                f"{v:g} is not a state of {tag.name} ({', '.join(f'{k}={t.en}' for k, t in tag.states.items())})",
            )
        return int(v), None
    return v, None


def still_current(tag: TagConfig, old: Any, confirmed: Any) -> bool:
    """True when the value the operator saw (rounded to the display precision) is still current."""
    if old is None:
        return False
    if isinstance(old, (str, bool)) or isinstance(confirmed, (str, bool)):
        return bool(old == confirmed)
    try:
        tol = max(0.5 * 10.0 ** (-tag.precision), tag.deadband) + 1e-9
        return abs(float(old) - float(confirmed)) <= tol
    except (TypeError, ValueError):
        return False


def then(fut: concurrent.futures.Future[T], fn: Callable[[T], U]) -> concurrent.futures.Future[U]:
    """A future of ``fn(result)`` completed when ``fut`` is (exceptions passed on)."""
    out: concurrent.futures.Future[U] = concurrent.futures.Future()

    def done(f: concurrent.futures.Future[T]) -> None:
        if f.cancelled():
            out.cancel()
            return
        exc = f.exception()
        if exc is not None:
            out.set_exception(exc)
            return
        try:
            out.set_result(fn(f.result()))
        except Exception as err:
            out.set_exception(err)

    fut.add_done_callback(done)
    return out
