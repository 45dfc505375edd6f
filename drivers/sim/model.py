"""Deterministic, time-stepped model of a city gate station.

The model advances in fixed internal steps of :data:`StationModel.DT` model seconds,
so for a given seed, start time and total stepped time the state is the same however
``step`` is called. Every value is a float published by dotted name
(``reg1.outlet.pressure``; bits are 0.0/1.0); a few names are commands or set points
that :meth:`StationModel.write` accepts and that change the physics. A scenario
(:mod:`drivers.sim.scenarios`) injects faults after a short normal period.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from drivers.sim.chromatograph import Chromatograph
from drivers.sim.fans import ExhaustFans
from drivers.sim.gastrain import GasTrain
from drivers.sim.process import Detectors, Environment, Heater, Metering, Odorizer, Utilities
from drivers.sim.scenarios import make_scenario

log = logging.getLogger(__name__)

#: commands that act on a write of 1 and fall back to 0 after this many model seconds
PULSE_SECONDS = 5.0


class Unit(Protocol):
    """A part of the station model advanced once per simulation step."""

    def step(self, dt: float) -> None:
        """Advance by ``dt`` seconds."""


class ModelWriteError(ValueError):
    """A write the model refuses: ``code`` is 'unknown', 'readonly' or 'range'."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Faults:
    """What the running scenario forces on the process (all off in normal operation)."""

    reg_fail_open: dict[int, bool] = field(
        default_factory=dict
    )  # run -> active regulator stuck open
    mon_fail_open: dict[int, bool] = field(default_factory=dict)  # run -> monitor pilot stuck open
    filter_clog_rate: float = 0.0  # fouling units per second added to filter run 1
    burner_fail: bool = False  # burner locks out and cannot be reset
    supply_feed: float = 1.0  # share of the upstream feed that reaches the pipeline (0: lost)
    supply_setpoint: float | None = None  # upstream station holds the line at this MPa instead
    reg_fail_closed: dict[int, bool] = field(default_factory=dict)  # run -> active fails shut
    pilot_ice: dict[int, float] = field(default_factory=dict)  # run -> pilot icing 0..1
    lockup_creep: dict[int, float] = field(default_factory=dict)  # run -> Sm3/h past the seat
    ssv_trip_at: dict[int, float] = field(default_factory=dict)  # run -> where its pilot trips
    demand_extra: float = 0.0  # Sm3/h drawn downstream on top of the city (a rupture)
    demand_factor: float = 1.0  # city demand multiplier (1: the daily profile)
    stuck: set[str] = field(default_factory=set)  # model variables whose transmitter froze
    drift: dict[str, float] = field(default_factory=dict)  # model variable -> added offset
    underrange: set[str] = field(default_factory=set)  # loop current < 3.6 mA: served as NaN
    detector_drift: dict[int, float] = field(default_factory=dict)  # detector -> %LEL offset
    pump_fault: bool = False  # the odorant pump trips
    odorant_rate: float = 1.0  # odorant consumption multiplier (days of dosing at speed)
    liquid_high: set[int] = field(default_factory=set)  # filter runs with liquid in the sump
    doors: set[str] = field(default_factory=set)  # doors held open
    esd_close: bool = False  # the ESD actuator closes on its own (spurious trip)
    plc_stop: bool = False  # PLC in STOP: its image freezes, plc.run = 0
    frozen: set[str] = field(default_factory=set)  # devices answering unchanging values
    gateway_fault: set[str] = field(default_factory=set)  # devices answering exception 0x0B
    burner_derate: float = 1.0  # share of the burner rating available (sooted fire tube)
    leak: dict[int, float] = field(default_factory=dict)  # detector number -> %LEL of leaking gas
    detector_fault: set[int] = field(default_factory=set)  # detector numbers in fault
    mains_lost: bool = False
    comms_offline: bool = False  # the simulator takes one device off the network
    malformed_reply: str = ""  # the comms device's replies: "bad_crc", "truncated", "wrong_unit"
    telemetry_quality: str = ""  # IEC 104 RTUs flag their values: "" (good), "NT" or "IV"
    fan_fail: set[str] = field(default_factory=set)  # rooms whose exhaust fan will not start


@dataclass(frozen=True)
class Command:
    """A writable model variable: allowed range and what a write does."""

    lo: float
    hi: float
    apply: Callable[[float], None] | None = None
    pulse: bool = False


class StationModel:
    """A city gate station: supply, ESD, filters, meters, heater, regulators, odorizer, detectors, utilities."""

    #: internal time step, model seconds
    DT = 0.5

    def __init__(
        self,
        seed: int = 0,
        start_time: float | None = None,
        params: Mapping[str, Any] | None = None,
        scenario: str = "normal",
    ) -> None:
        self.seed = int(seed)
        self.start_time = float(time.time() if start_time is None else start_time)
        self.params: dict[str, Any] = dict(params or {})
        self.rng = np.random.default_rng(self.seed)
        self.t = 0.0  # model seconds since start
        self.steps = 0  # internal steps taken (a version number for caches)
        self._pending = 0.0
        self.v: dict[str, float] = {}
        self.commands: dict[str, Command] = {}
        self._pulses: dict[str, float] = {}
        self.faults = Faults()
        self._stuck: dict[str, float] = {}
        self.env = Environment(self)
        self.gas = GasTrain(self)
        self.meters = Metering(self)
        self.utilities = Utilities(self)
        self.heater = Heater(self)
        self.odorizer = Odorizer(self)
        self.detectors = Detectors(self)
        self.fans = ExhaustFans(self)
        self.gc = Chromatograph(self)
        self._units: tuple[Unit, ...] = (
            self.env,
            self.gas,
            self.meters,
            self.heater,
            self.odorizer,
            self.detectors,
            self.fans,
            self.utilities,
            self.gc,
        )
        self.scenario = make_scenario(scenario)
        self.scenario_t0 = 0.0
        # settle regulators, heater cycling and noise before model time 0 (the start time)
        warmup = float(self.params.get("warmup", 300.0))
        self.t = -warmup
        self._advance(0.0)  # publish every value before the first step
        for _ in range(int(warmup / self.DT + 1e-9)):
            self._advance(self.DT)
        self.t = 0.0

    # ------------------------------------------------------------------ time
    def time(self) -> float:
        """Unix time the model is at."""
        return self.start_time + self.t

    def local_hour(self) -> float:
        """Local hour of day (0-24) at the station (``tz_offset_h`` param, default +8 h)."""
        local = self.time() + float(self.params.get("tz_offset_h", 8.0)) * 3600.0
        return (local % 86400.0) / 3600.0

    def local_day(self) -> int:
        """Local day number since 1970-01-01 (changes at local midnight)."""
        local = self.time() + float(self.params.get("tz_offset_h", 8.0)) * 3600.0
        return int(local // 86400.0)

    def weekend(self) -> bool:
        """True on Saturday and Sunday, local time."""
        return (self.local_day() + 3) % 7 >= 5  # 1970-01-01 was a Thursday

    def step(self, dt: float) -> None:
        """Advance the model by ``dt`` model seconds (in whole internal steps)."""
        if dt < 0:
            raise ValueError("dt must be >= 0")
        self._pending += dt
        n = int(self._pending / self.DT + 1e-9)
        self._pending -= n * self.DT
        for _ in range(n):
            self._advance(self.DT)

    def _advance(self, dt: float) -> None:
        self.t += dt
        self.steps += 1
        self.scenario.apply(self, self.t - self.scenario_t0)
        for name, until in list(self._pulses.items()):
            if self.t >= until:
                self.v[name] = 0.0
                del self._pulses[name]
        for unit in self._units:
            unit.step(dt)
        self._instrument_faults()

    def _instrument_faults(self) -> None:
        """Transmitter faults act on what is published, not on the process."""
        f, v = self.faults, self.v
        for name, offset in f.drift.items():
            if name in v:
                v[name] += offset
        for name in f.stuck:
            if name in v:
                v[name] = self._stuck.setdefault(name, v[name])
        for name in list(self._stuck):
            if name not in f.stuck:
                del self._stuck[name]
        for name in f.underrange:  # < 3.6 mA: the analog card flags a signal fault (NaN)
            if name in v:
                v[name] = math.nan
        if f.plc_stop:
            v["plc.run"] = 0.0

    # ------------------------------------------------------------------ scenario
    def set_scenario(self, name: str) -> None:
        """Switch scenario now; its events start after its normal lead-in period."""
        self.scenario = make_scenario(name)
        self.scenario_t0 = self.t
        self.faults = Faults()
        log.info("simulator scenario %s at model time %.1f s", name, self.t)

    # ------------------------------------------------------------------ values
    def get(self, name: str) -> float:
        """Current value of a model variable (KeyError if unknown)."""
        return self.v[name]

    def has(self, name: str) -> bool:
        """True when ``name`` is a model variable."""
        return name in self.v

    def names(self) -> list[str]:
        """Every model variable, sorted."""
        return sorted(self.v)

    def values_of(self, names: Iterable[str]) -> np.ndarray:
        """Current values of several variables as a float array."""
        v = self.v
        return np.fromiter((v[n] for n in names), dtype=float)

    def normal(self) -> float:
        """A standard-normal draw from the model's seeded generator."""
        return float(self.rng.standard_normal())

    # ------------------------------------------------------------------ commands
    def command(
        self,
        name: str,
        lo: float,
        hi: float,
        initial: float,
        apply: Callable[[float], None] | None = None,
        pulse: bool = False,
    ) -> None:
        """Declare a writable variable (used by the process units at construction)."""
        self.commands[name] = Command(lo, hi, apply, pulse)
        self.v[name] = float(initial)

    def is_writable(self, name: str) -> bool:
        """True when ``name`` accepts writes."""
        return name in self.commands

    def check_write(self, name: str, value: float) -> Command:
        """Raise :class:`ModelWriteError` when ``write(name, value)`` would be refused."""
        cmd = self.commands.get(name)
        if cmd is None:
            code = "readonly" if name in self.v else "unknown"
            raise ModelWriteError(
                code, f"{name} is {'read-only' if code == 'readonly' else 'not a model variable'}"
            )
        value = float(value)
        if math.isnan(value) or not (cmd.lo <= value <= cmd.hi):
            raise ModelWriteError("range", f"{name}: {value:g} is outside {cmd.lo:g}..{cmd.hi:g}")
        return cmd

    def write(self, name: str, value: float) -> None:
        """Write a set point or command; raise :class:`ModelWriteError` when refused."""
        cmd = self.check_write(name, value)
        value = float(value)
        self.v[name] = value
        if cmd.pulse:
            if value:
                self._pulses[name] = self.t + PULSE_SECONDS
            else:
                self._pulses.pop(name, None)
        if cmd.apply is not None and (value or not cmd.pulse):
            cmd.apply(value)
        log.info("simulator: %s := %g", name, value)
