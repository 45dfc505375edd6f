"""Training drills on the simulated station: start a scenario, record, stop, report.

A drill runs only where the station's devices are the embedded simulator (``gas-hmi
demo``): the service is built with the simulator thread, and without one every start is
refused. While a drill runs, the runtime is in training mode (:meth:`Runtime.set_training`):
audit rows carry the drill id, alarm events carry it, and the uplink holds everything
(no value, alarm or device state reaches the cloud as live). The drill's span is kept in
``<data dir>/training/<drill id>.json`` from its start, so alarm-journal and history
rows of that span are known to be training (:func:`training_periods`).

Threads: :meth:`start` and :meth:`stop` are called from any thread but the acquisition
loop (they wait for it and for SQLite); the HMI calls them from its worker pool. The
alarm listener runs on the acquisition thread and only appends to a list.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hmi.core.analytics.reportfile import ReportError, write_json
from hmi.core.training.catalog import drill_scenario
from hmi.core.training.report import START_ACTION, STOP_ACTION, DrillInfo, build_report
from hmi.core.users.roles import Action

log = logging.getLogger(__name__)

#: folder of the drill files inside the data directory
FOLDER = "training"
NOT_SIMULATED = (
    "training needs the simulated station (gas-hmi demo): this station runs on real devices"
)


class TrainingError(Exception):
    """A drill cannot be started or stopped; the message says why."""


class Simulated(Protocol):
    """The simulator thread as the service uses it."""

    simulator: Any

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10.0) -> Any:
        """Run ``fn(*args)`` on the simulator's loop."""
        ...


class Actor(Protocol):
    """Who starts or stops a drill (a :class:`~hmi.core.users.Session`)."""

    user: str
    origin: str

    def can(self, action: Action | str, now: float | None = None) -> bool:
        """True when the session may perform ``action``."""
        ...


@dataclass(frozen=True, slots=True)
class DrillResult:
    """A finished drill: its report and the files written."""

    report: dict[str, Any]
    json_path: Path
    pdf_path: Path | None
    pdf_error: str = ""


def training_periods(data_dir: Path) -> list[tuple[float, float | None, str]]:
    """(start, end or None while running, drill id) of every drill kept in ``data_dir``."""
    out: list[tuple[float, float | None, str]] = []
    folder = Path(data_dir) / FOLDER
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
            d = data["drill"]
            out.append((float(d["started_at"]), data.get("ended_at"), str(d["drill_id"])))
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("training file %s is unreadable: skipped", f)
    return out


def in_training(ts: float, periods: list[tuple[float, float | None, str]]) -> str:
    """The drill id whose span holds ``ts`` ('' when none)."""
    for start, end, drill_id in periods:
        if start <= ts and (end is None or ts <= end):
            return drill_id
    return ""


class TrainingService:
    """Starts and stops drills on one station's runtime and simulator."""

    def __init__(
        self, runtime: Any, simulator: Simulated | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.runtime = runtime
        self.simulator = simulator
        self._clock = clock
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self.active: DrillInfo | None = None
        self.last: DrillResult | None = None

    @property
    def available(self) -> bool:
        """True when the station runs on the simulator (drills may be started)."""
        return self.simulator is not None

    @property
    def folder(self) -> Path:
        """Where drill files go."""
        return Path(self.runtime.data_dir) / FOLDER

    # ------------------------------------------------------------------ alarm events
    def _on_alarm(self, event: dict[str, Any]) -> None:
        """Alarm engine listener (acquisition thread): keep the event."""
        with self._lock:
            self._events.append(dict(event))

    def events(self) -> list[dict[str, Any]]:
        """The alarm events recorded in the running drill so far."""
        with self._lock:
            return list(self._events)

    # ------------------------------------------------------------------ start / stop
    def _audit(
        self, action: str, who: Actor, target: str, result: str, details: dict[str, Any]
    ) -> None:
        self.runtime.audit.append(
            action, user=who.user, origin=who.origin, target=target, result=result, details=details
        )

    def start(self, scenario: str, who: Actor, operator: str = "") -> DrillInfo:
        """Start ``scenario`` as a drill run by ``who`` (engineer role) for ``operator``."""
        if self.simulator is None:
            raise TrainingError(NOT_SIMULATED)
        if not who.can(Action.RUN_TRAINING):
            self._audit(
                START_ACTION, who, scenario, "denied", {"message": "needs the engineer role"}
            )
            raise TrainingError("starting a drill needs the engineer role (instructor)")
        if self.active is not None:
            raise TrainingError(f"drill {self.active.drill_id} is running: stop it first")
        sc = drill_scenario(scenario)  # ValueError for an unknown scenario
        now = self._clock()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        sim = self.simulator.simulator
        info = DrillInfo(
            drill_id=f"{stamp}-{scenario}",
            station=self.runtime.cfg.station.id,
            scenario=scenario,
            instructor=who.user,
            operator=operator,
            started_at=now,
            speed=float(getattr(sim, "speed", 1.0)),
            description_en=sc.description_en,
            description_zh=sc.description_zh,
            expected=sc.expected,
            possible=sc.possible,
        )
        self._audit(
            START_ACTION,
            who,
            scenario,
            "ok",
            {"drill": info.drill_id, "operator": operator, "speed": info.speed},
        )
        write_json(
            {"drill": info.as_dict(), "ended_at": None, "training": True}, self._path(info, ".json")
        )
        with self._lock:
            self._events = []
        self.runtime.set_training(info.drill_id)
        alarms = self.runtime.alarms
        if alarms is not None:
            self.runtime.call(alarms.add_listener, self._on_alarm).result(10)
        self.simulator.call(sim.set_scenario, scenario)
        self.active = info
        log.info("training drill %s started by %s (scenario %s)", info.drill_id, who.user, scenario)
        return info

    def _path(self, info: DrillInfo, suffix: str) -> Path:
        return self.folder / f"{info.drill_id}{suffix}"

    def stop(self, who: Actor, lang: str = "zh_CN") -> DrillResult:
        """End the running drill: normal operation again, the report saved (JSON and PDF)."""
        info = self.active
        if info is None:
            raise TrainingError("no drill is running")
        if not who.can(Action.RUN_TRAINING):
            self._audit(STOP_ACTION, who, info.scenario, "denied", {"drill": info.drill_id})
            raise TrainingError("stopping a drill needs the engineer role (instructor)")
        ended = self._clock()
        if self.simulator is not None:
            self.simulator.call(self.simulator.simulator.set_scenario, "normal")
        alarms = self.runtime.alarms
        if alarms is not None:
            self.runtime.call(alarms.remove_listener, self._on_alarm).result(10)
        records = self.runtime.audit.records(since=info.started_at - 1.0, until=ended + 1.0)
        self._audit(STOP_ACTION, who, info.scenario, "ok", {"drill": info.drill_id})
        self.runtime.set_training("")
        self.active = None
        report = build_report(info, self.events(), records, ended)
        st = self.runtime.cfg.station
        report["station"] = {
            "id": st.id,
            "name": {"en": st.name.get("en"), "zh": st.name.get("zh_CN")},
            "timezone": st.timezone,
        }
        json_path = self._path(info, ".json")
        write_json(report, json_path)
        pdf_path: Path | None = self._path(info, ".pdf")
        error = ""
        try:
            from hmi.core.training.reportpdf import write_drill_pdf

            assert pdf_path is not None
            write_drill_pdf(report, pdf_path, lang)
        except (ReportError, ImportError) as exc:
            error, pdf_path = str(exc), None
            log.error("drill %s: no PDF report: %s", info.drill_id, exc)
        self.last = DrillResult(report, json_path, pdf_path, error)
        log.info("training drill %s stopped by %s: report %s", info.drill_id, who.user, json_path)
        return self.last
