"""The runtime's ports: the small typed views its collaborators get instead of the runtime.

:class:`~hmi.core.runtime.Runtime` builds the parts of a station and hands each one only
what it uses (structural typing: the runtime, a test fake or any other object that has the
members satisfies the protocol, and mypy checks it):

==========================  ======================================  ==========================
port                        who gets it                             provided by
==========================  ======================================  ==========================
:class:`TagReader`          command service (interlocks, old value)  ``TagTable``
:class:`Executor`           command service, analytics, HMI          ``Runtime`` (``submit``/``call``)
:class:`TagWriter`          command service only (no other writer)   ``DeviceWriter.write``
:class:`AlarmOps`           command service, HMI                     ``AlarmEngine``
:class:`StatsSource`        system device, HMI header/diagnostics    ``Runtime.latest_stats``
:class:`DerivedSink`        analytics                                ``Runtime.publish_derived``
:class:`CommandPort`        HMI actions (and the CLI)                ``CommandService``
:class:`Station`            the HMI main window                      ``Runtime``
==========================  ======================================  ==========================
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from drivers.base import Quality, WriteResult

if TYPE_CHECKING:
    from hmi.config.schema import Interlock, StationConfig, TagConfig
    from hmi.core.alarms.model import AlarmView, Annunciation, OpResult
    from hmi.core.analytics import AnalyticsService
    from hmi.core.audit import AuditTrail
    from hmi.core.commands import CommandResult, Who
    from hmi.core.historian import Historian
    from hmi.core.stats import Derived, RuntimeStats
    from hmi.core.tagtable import TagTable
    from hmi.core.users import UserStore

T = TypeVar("T")

TagValue = tuple[float | str, Quality, float, str]  # value, quality, ts, reason


class TagReader(Protocol):
    """Reads the current state of one tag (any thread)."""

    def get(self, name: str) -> TagValue:
        """(value, quality, ts, reason); KeyError for an unknown tag."""
        ...


class Executor(Protocol):
    """Runs work on the acquisition loop from any thread."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The acquisition loop (None before the start)."""
        ...

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the acquisition loop; the future holds its result."""
        ...

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Run a plain function on the acquisition thread; the future holds its result."""
        ...


class TagWriter(Protocol):
    """The device stage of the command pipeline: write one checked value, verify by read-back.

    Runs on the acquisition loop. Only the command service holds one.
    """

    async def __call__(self, name: str, value: Any, user: str, origin: str) -> WriteResult:
        """Write the engineering ``value`` of tag ``name``; the result says whether it was verified."""
        ...


class AlarmOps(Protocol):
    """The alarm engine as its users see it (operations run on the acquisition thread)."""

    def ack(
        self, alarm_ids: str | Iterable[str], user: str, comment: str = "", remote: bool = False
    ) -> OpResult:
        """Acknowledge ids, a list, or "all"."""
        ...

    def shelve(
        self, alarm_id: str, user: str, reason: str, duration: float | None = None
    ) -> OpResult:
        """Shelve one alarm."""
        ...

    def unshelve(self, alarm_id: str, user: str, comment: str = "") -> OpResult:
        """End a shelve."""
        ...

    def reset(self, alarm_id: str, user: str, comment: str = "") -> OpResult:
        """Reset a latched alarm."""
        ...

    def set_out_of_service(
        self, alarm_id: str, user: str, reason: str, out_of_service: bool = True
    ) -> OpResult:
        """Out of service / back in service."""
        ...

    def silence(self, user: str) -> OpResult:
        """Silence the horn."""
        ...

    def snapshot(self) -> tuple[int, list[AlarmView]]:
        """(version, views) for the HMI (any thread)."""
        ...

    def annunciation(self) -> Annunciation:
        """The horn and banner state (any thread)."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counts for the runtime statistics (any thread)."""
        ...


class StatsSource(Protocol):
    """The latest published runtime statistics (any thread, never blocks)."""

    def latest_stats(self) -> RuntimeStats:
        """The most recent snapshot."""
        ...


class DerivedSink(Protocol):
    """Where analytics results enter the data path (any thread)."""

    def publish_derived(self, values: Mapping[str, Derived]) -> None:
        """New figures for system addresses (``warning.<id>``, ``forecast.*``)."""
        ...

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Run ``fn`` on the acquisition thread (report listeners)."""
        ...


class CommandPort(Protocol):
    """The command service as the HMI uses it (GUI thread; results arrive as futures)."""

    def run(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start one of the service's coroutines (``ack``, ``shelve``, ...) on the acquisition loop."""
        ...

    def submit_write(
        self, tag: str, value: Any, who: Who, confirm_old: Any = None, comment: str = ""
    ) -> concurrent.futures.Future[CommandResult]:
        """Start a checked, audited, verified write."""
        ...

    def check_write(
        self, tag_name: str, value: Any, who: Who, confirm_old: Any = None
    ) -> CommandResult | None:
        """The refusal of this write now, or None."""
        ...

    def current_value(self, tag_name: str) -> Any:
        """The value a confirmation dialog shows as the old one."""
        ...

    def interlock_state(
        self, tag: TagConfig, lang: str = "en"
    ) -> list[tuple[Interlock, bool | None]]:
        """Each interlock of ``tag`` with whether it blocks now."""
        ...

    async def ack(self, alarm_ids: str | list[str], who: Who, comment: str = "") -> CommandResult:
        """Acknowledge alarms."""
        ...

    async def shelve(
        self, alarm_id: str, who: Who, reason: str, duration: float | None = None
    ) -> CommandResult:
        """Shelve an alarm."""
        ...

    async def unshelve(self, alarm_id: str, who: Who, comment: str = "") -> CommandResult:
        """End a shelve."""
        ...

    async def reset(self, alarm_id: str, who: Who, comment: str = "") -> CommandResult:
        """Reset a latched alarm."""
        ...

    async def set_out_of_service(
        self, alarm_id: str, who: Who, reason: str, out_of_service: bool = True
    ) -> CommandResult:
        """Out of service / back in service."""
        ...


class Station(StatsSource, Executor, Protocol):
    """What the HMI main window is given: the runtime's parts, typed (``Runtime`` is one)."""

    @property
    def cfg(self) -> StationConfig:
        """The station config (one copy for the whole run)."""
        ...

    @property
    def data_dir(self) -> Path:
        """The station's data directory."""
        ...

    @property
    def tags(self) -> TagTable:
        """The tag table (the GUI pulls ``changed_since``)."""
        ...

    @property
    def alarms(self) -> AlarmOps | None:
        """The alarm engine (None when alarms are off)."""
        ...

    @property
    def historian(self) -> Historian | None:
        """History reads for trends (None without history)."""
        ...

    @property
    def analytics(self) -> AnalyticsService | None:
        """Forecast, warnings and reports (None when off)."""
        ...

    @property
    def users(self) -> UserStore:
        """Local users (the console logs in against them)."""
        ...

    @property
    def audit(self) -> AuditTrail:
        """The audit trail (exit of the HMI is audited)."""
        ...

    @property
    def commands(self) -> CommandPort:
        """The one command pipeline."""
        ...
