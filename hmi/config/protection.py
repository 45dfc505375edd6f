"""The ``protection:`` section: the over-pressure protection ladder of each regulator run.

GB 50028 §6.6.10: the safety devices of a regulator station (monitor regulator, relief valve,
slam-shut) must start at no more than the outlet's working upper limit + 50 % when that limit
is below 0.08 MPa, + 0.04 MPa when it is 0.08-0.4 MPa, and + 10 % above 0.4 MPa. Low to high
the ladder is active < monitor < relief < slam-shut: the (token) relief sits below the
slam-shut so that lock-up creep is vented instead of cutting the city's supply.

The set points are station data: the simulator builds its regulator runs from them, the config
check rejects a ladder out of order or beyond §6.6.10, the command service bounds set-point
writes by them and the outlet-pressure faceplate draws them next to the value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from hmi.config.schema import StationConfig

Path_ = tuple[Any, ...]

#: upper bound of each GB 50028 pressure class, MPa (gauge)
PRESSURE_CLASSES: dict[str, float] = {
    "low": 0.01,
    "medium_B": 0.2,
    "medium_A": 0.4,
    "sub_high_B": 0.8,
    "sub_high_A": 1.6,
    "high_B": 2.5,
    "high_A": 4.0,
}
PressureClass = Literal[
    "low", "medium_B", "medium_A", "sub_high_B", "sub_high_A", "high_B", "high_A"
]

#: the ladder's rungs, low to high (each must be strictly above the one before)
RUNGS = ("active", "monitor", "relief", "slam_shut")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def max_protection_setting(working_max: float) -> float:
    """Highest start pressure GB 50028 §6.6.10 allows for an outlet working upper limit (MPa)."""
    if working_max < 0.08:
        return working_max * 1.5
    if working_max <= 0.4:
        return working_max + 0.04
    return working_max * 1.1


def rule_text(working_max: float) -> str:
    """The §6.6.10 rule that applies to ``working_max``, in words."""
    if working_max < 0.08:
        return "below 0.08 MPa: at most +50 %"
    if working_max <= 0.4:
        return "0.08-0.4 MPa: at most +0.04 MPa"
    return "above 0.4 MPa: at most +10 %"


class RegulatorRunProtection(_Strict):
    """One regulator run's protection ladder (all gauge MPa) and the tags that carry it."""

    id: str  # run id, e.g. reg1; tags default to <id>.active.setpoint etc.
    working_max: float = Field(gt=0, description="working upper limit of the outlet, MPa")
    active: float = Field(gt=0, description="active (working) regulator set point")
    monitor: float = Field(gt=0, description="monitor regulator set point")
    relief: float = Field(gt=0, description="token relief valve start pressure")
    slam_shut: float = Field(gt=0, description="slam-shut over-pressure trip")
    slam_shut_low: float | None = Field(None, gt=0, description="slam-shut under-pressure trip")
    reset_below: float | None = Field(
        None, gt=0, description="outlet pressure below which the slam-shut may be reset"
    )
    outlet_tag: str = ""  # the run's outlet pressure; default <id>.outlet.pressure
    active_setpoint_tag: str = ""
    monitor_setpoint_tag: str = ""
    slam_shut_setpoint_tag: str = ""

    def tag(self, role: str) -> str:
        """The tag that carries ``role`` ('outlet', 'active', 'monitor', 'slam_shut')."""
        own = {
            "outlet": self.outlet_tag,
            "active": self.active_setpoint_tag,
            "monitor": self.monitor_setpoint_tag,
            "slam_shut": self.slam_shut_setpoint_tag,
        }[role]
        default = {
            "outlet": "outlet.pressure",
            "active": "active.setpoint",
            "monitor": "monitor.setpoint",
            "slam_shut": "ssv.setpoint",
        }[role]
        return own or f"{self.id}.{default}"

    def ladder(self) -> list[tuple[str, float]]:
        """(rung, set point) low to high."""
        return [(r, float(getattr(self, r))) for r in RUNGS]

    def reset_limit(self) -> float:
        """Outlet pressure below which a slam-shut reset is permitted."""
        return self.reset_below if self.reset_below is not None else self.active

    def sim_params(self) -> dict[str, float]:
        """The plain numbers the simulator builds this run from."""
        out = {r: float(getattr(self, r)) for r in RUNGS}
        out["slam_shut_low"] = float(self.slam_shut_low or 0.0)
        out["reset_below"] = self.reset_limit()
        return out


class InletProtection(_Strict):
    """The station inlet: its pressure class bounds the inlet's high alarms."""

    tag: str = "inlet.pressure"
    pressure_class: PressureClass


class ProtectionConfig(_Strict):
    """Regulator runs' protection ladders and the inlet pressure class."""

    runs: list[RegulatorRunProtection] = Field(default_factory=list)
    inlet: InletProtection | None = None
    #: station outlet pressure, downstream of every run: its H/HH must fit every run's ladder
    outlet_tag: str = ""

    def run(self, run_id: str) -> RegulatorRunProtection:
        """Run by id (KeyError if unknown)."""
        for r in self.runs:
            if r.id == run_id:
                return r
        raise KeyError(run_id)

    def for_tag(self, tag: str) -> list[RegulatorRunProtection]:
        """Runs whose ladder concerns ``tag`` (its outlet or one of its set-point tags)."""
        if tag and tag == self.outlet_tag:
            return list(self.runs)
        roles = ("outlet", "active", "monitor", "slam_shut")
        return [r for r in self.runs if any(r.tag(x) == tag for x in roles)]

    def sim_params(self) -> dict[str, Any]:
        """Simulator parameters: ``regulator_runs`` in config order."""
        return {"regulator_runs": [r.sim_params() for r in self.runs]} if self.runs else {}


def _run_problems(i: int, run: RegulatorRunProtection) -> list[tuple[Path_, str]]:
    out: list[tuple[Path_, str]] = []
    base: Path_ = ("protection", "runs", i)
    ladder = run.ladder()
    for (lo_name, lo), (hi_name, hi) in zip(ladder, ladder[1:], strict=False):
        if hi <= lo:
            out.append(
                (
                    base + (hi_name,),
                    f"ladder out of order: {hi_name} {hi:g} MPa must be above {lo_name} "
                    f"{lo:g} MPa (active < monitor < relief < slam_shut)",
                )
            )
    limit = max_protection_setting(run.working_max)
    for rung in ("monitor", "relief", "slam_shut"):
        value = float(getattr(run, rung))
        if value > limit + 1e-9:
            out.append(
                (
                    base + (rung,),
                    f"{rung} {value:g} MPa is beyond GB 50028 §6.6.10 for a working upper limit "
                    f"of {run.working_max:g} MPa ({rule_text(run.working_max)}: "
                    f"{limit:.3f} MPa); lower it or correct working_max",
                )
            )
    if run.active > run.working_max + 1e-9:
        out.append(
            (
                base + ("active",),
                f"active {run.active:g} MPa is above the working upper limit "
                f"{run.working_max:g} MPa",
            )
        )
    if run.slam_shut_low is not None and run.slam_shut_low >= run.active:
        out.append(
            (
                base + ("slam_shut_low",),
                f"under-pressure trip {run.slam_shut_low:g} MPa must be below the active set "
                f"point {run.active:g} MPa",
            )
        )
    if run.reset_below is not None and run.reset_below >= run.slam_shut:
        out.append(
            (
                base + ("reset_below",),
                f"reset limit {run.reset_below:g} MPa must be below the slam-shut trip "
                f"{run.slam_shut:g} MPa",
            )
        )
    return out


def _alarm_problems(
    cfg: StationConfig, i: int, run: RegulatorRunProtection, names: dict[str, int]
) -> list[tuple[Path_, str]]:
    """H and HH alarms of the run's (and the station's) outlet tag must sit inside the ladder."""
    out: list[tuple[Path_, str]] = []
    for name in dict.fromkeys((run.tag("outlet"), cfg.protection.outlet_tag)):
        ti = names.get(name)
        if ti is not None:
            out.extend(_tag_alarm_problems(cfg, ti, run))
    return out


def _tag_alarm_problems(
    cfg: StationConfig, ti: int, run: RegulatorRunProtection
) -> list[tuple[Path_, str]]:
    out: list[tuple[Path_, str]] = []
    tag = cfg.tags[ti]
    bounds = {"H": (run.active, run.slam_shut), "HH": (run.monitor, run.slam_shut)}
    for j, a in enumerate(tag.alarms):
        if a.kind not in bounds or a.limit is None:
            continue
        lo, hi = bounds[a.kind]
        if not lo <= a.limit < hi:
            below = "the active set point" if a.kind == "H" else "the monitor set point"
            out.append(
                (
                    ("tags", ti, "alarms", j, "limit"),
                    f"{a.kind} limit {a.limit:g} MPa is outside run {run.id}'s ladder: it must "
                    f"be at or above {below} ({lo:g} MPa) and below the slam-shut "
                    f"({hi:g} MPa), so that it warns before the trip",
                )
            )
    return out


def protection_problems(cfg: StationConfig) -> list[tuple[Path_, str]]:
    """(path, message) for every ladder out of order or beyond GB 50028 §6.6.10."""
    prot: ProtectionConfig = cfg.protection
    names = {t.name: i for i, t in enumerate(cfg.tags)}
    out: list[tuple[Path_, str]] = []
    seen: set[str] = set()
    for i, run in enumerate(prot.runs):
        if run.id in seen:
            out.append((("protection", "runs", i, "id"), f"duplicate run id {run.id!r}"))
        seen.add(run.id)
        out.extend(_run_problems(i, run))
        for role, key in (
            ("outlet", "outlet_tag"),
            ("active", "active_setpoint_tag"),
            ("monitor", "monitor_setpoint_tag"),
            ("slam_shut", "slam_shut_setpoint_tag"),
        ):
            if run.tag(role) not in names:
                out.append(
                    (
                        ("protection", "runs", i, key),
                        f"unknown tag {run.tag(role)!r} (name the run's {role} tag)",
                    )
                )
        out.extend(_alarm_problems(cfg, i, run, names))
    if prot.outlet_tag and prot.outlet_tag not in names:
        out.append((("protection", "outlet_tag"), f"unknown tag {prot.outlet_tag!r}"))
    if prot.inlet is not None:
        out.extend(_inlet_problems(cfg, prot.inlet, names))
    return out


def _inlet_problems(
    cfg: StationConfig, inlet: InletProtection, names: dict[str, int]
) -> list[tuple[Path_, str]]:
    ti = names.get(inlet.tag)
    if ti is None:
        return [(("protection", "inlet", "tag"), f"unknown tag {inlet.tag!r}")]
    ceiling = PRESSURE_CLASSES[inlet.pressure_class]
    out: list[tuple[Path_, str]] = []
    for j, a in enumerate(cfg.tags[ti].alarms):
        if a.kind in ("H", "HH") and a.limit is not None and a.limit > ceiling + 1e-9:
            out.append(
                (
                    ("tags", ti, "alarms", j, "limit"),
                    f"{a.kind} limit {a.limit:g} MPa is above the {inlet.pressure_class} class "
                    f"ceiling ({ceiling:g} MPa) the station claims; lower it",
                )
            )
    return out
