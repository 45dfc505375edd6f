"""The ``analytics:`` section: metering runs, send-out forecast, early-warning detectors, reports.

Every figure the analytics compute comes from the station's own history, so this section
only names tags and windows. Limits are *not* here: a detector publishes its figure as a
system tag (``warning.<id>`` on a ``protocol: system`` device) and that tag's ordinary
alarms (H/L with deadband, on-delay, priority, messages) say when it is abnormal.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from hmi.config.schema import StationConfig

Path_ = tuple[Any, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Text(_Strict):
    """English and Chinese text (a plain string sets both)."""

    en: str = ""
    zh: str = ""

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        return {"en": data, "zh": data} if isinstance(data, str) else data

    def get(self, lang: str) -> str:
        """Text in ``lang``, falling back to the other language."""
        return (self.zh or self.en) if lang.startswith("zh") else (self.en or self.zh)


class MeterRun(_Strict):
    """One metering run (flow computer): where its figures are."""

    id: str
    label: _Text = Field(default_factory=_Text)
    total: str  # forward standard-volume totalizer, Sm³
    flow: str = ""  # standard flow, Sm³/h
    line_flow: str = ""  # flow at line conditions, m³/h (PTZ cross-check)
    pressure: str = ""  # gauge MPa
    temperature: str = ""  # °C
    rollover: float = Field(
        4294967296.0, gt=0, description="the totalizer wraps to 0 at this value"
    )


class ForecastConfig(_Strict):
    """Hourly station send-out forecast."""

    meters: list[str] = Field(default_factory=list)  # meter ids summed; empty = every meter
    ambient: str = ""  # ambient temperature tag (regressor); empty = calendar only
    base_temperature: float = 18.0  # °C, heating degree hours below this
    horizon_h: int = Field(48, ge=1, le=168)
    history_days: float = Field(56.0, ge=2, le=730)
    min_history_days: float = Field(7.0, ge=1)
    retrain_every: float = Field(6 * 3600.0, ge=60, description="seconds")
    holidays: list[dt.date] = Field(default_factory=list)  # treated like Sundays


class _Detector(_Strict):
    id: str
    label: _Text = Field(default_factory=_Text)
    window: float = Field(1800.0, gt=0, description="seconds of history judged at each run")


class MassBalance(_Detector):
    """Inlet vs sum of outlets (standard flows) over the window: imbalance in % of inlet."""

    kind: Literal["mass_balance"]
    inlet: list[str]
    outlet: list[str]
    min_flow: float = Field(500.0, ge=0, description="Sm³/h: below this the balance is not judged")


class Isolation(_Strict):
    """A condition that must hold for a section to count as isolated."""

    tag: str
    equals: float


class PressureDecay(_Detector):
    """Pressure fall of an isolated section, kPa/h (positive = falling)."""

    kind: Literal["pressure_decay"]
    pressure: str  # gauge MPa
    isolated_when: list[Isolation] = Field(min_length=1)
    window: float = Field(3600.0, gt=0)


class FilterTrend(_Detector):
    """Days until a filter's dP, scaled to the recent peak flow, reaches its limit."""

    kind: Literal["filter_trend"]
    dp: str  # kPa
    flow: list[str]  # standard flows summed (the flow through the filter)
    limit: float = Field(gt=0)  # kPa, normally the dP alarm limit
    in_service: str = ""  # the filter counts only while this tag is non-zero
    min_flow: float = Field(2000.0, ge=0)
    window: float = Field(86400.0, gt=0)
    horizon_days: float = Field(999.0, gt=0, description="cap of the published figure")


class RegulatorCreep(_Detector):
    """Outlet pressure rise at lock-up (station flow below ``lockup_flow``), kPa/h."""

    kind: Literal["regulator_creep"]
    pressure: str  # gauge MPa, downstream of the regulators
    flow: list[str]
    lockup_flow: float = Field(300.0, ge=0)
    window: float = Field(3600.0, gt=0)


class HeaterCapacity(_Detector):
    """Bath temperature shortfall while the burner runs flat out, °C (0 when holding)."""

    kind: Literal["heater_capacity"]
    temperature: str  # water-bath (or gas outlet) temperature, °C
    setpoint_tag: str = ""
    setpoint: float | None = None
    burner_on: str
    min_duty: float = Field(0.9, gt=0, le=1)

    @model_validator(mode="after")
    def _sp(self) -> HeaterCapacity:
        if not self.setpoint_tag and self.setpoint is None:
            raise ValueError("a heater_capacity detector needs 'setpoint_tag' or 'setpoint'")
        return self


class OdorantDose(_Detector):
    """Odorant injected per standard volume against the target, deviation in %."""

    kind: Literal["odorant_dose"]
    mass_total: str = ""  # odorant used, kg (a counter)
    rate: str = ""  # or the injection rate, g/h
    meters: list[str] = Field(default_factory=list)  # meter ids for the volume; empty = every meter
    setpoint_tag: str = ""  # target dose, mg/m³
    setpoint: float | None = None
    min_volume: float = Field(1000.0, ge=0, description="Sm³ in the window before judging")
    window: float = Field(3600.0, gt=0)

    @model_validator(mode="after")
    def _refs(self) -> OdorantDose:
        if bool(self.mass_total) == bool(self.rate):
            raise ValueError("an odorant_dose detector needs exactly one of 'mass_total' or 'rate'")
        if not self.setpoint_tag and self.setpoint is None:
            raise ValueError("an odorant_dose detector needs 'setpoint_tag' or 'setpoint'")
        return self


#: the components of GB/T 17747.2 (AGA8-92DC), as ``composition:`` keys name them
AGA8_COMPONENTS = (
    "methane", "nitrogen", "carbon_dioxide", "ethane", "propane", "isobutane", "n_butane",
    "isopentane", "n_pentane", "n_hexane", "n_heptane", "n_octane", "n_nonane", "n_decane",
    "hydrogen", "oxygen", "carbon_monoxide", "water", "hydrogen_sulfide", "helium", "argon",
)  # fmt: skip
#: lumped figures of a chromatograph, split evenly over their isomers
AGA8_LUMPED = {"butanes": ("isobutane", "n_butane"), "pentanes": ("isopentane", "n_pentane")}


class PtzCheck(_Detector):
    """Flow computer's standard flow vs an independent PTZ recomputation, deviation in %.

    With ``composition`` (component -> tag in mol %, e.g. the process gas chromatograph's,
    or a fixed mol % from the supplier's analysis where the station has no chromatograph)
    Z is AGA8-92DC (GB/T 17747.2, about 0.1 %), so the alarm band can be 0.5 %; without it
    Z comes from ``relative_density`` by a correlation good to about 1 %.
    """

    kind: Literal["ptz_check"]
    meter: str  # meter id: its flow, line_flow, pressure and temperature are used
    #: component -> tag of its mol % (a chromatograph) or a fixed mol % (a contract analysis)
    composition: dict[str, str | float] = Field(default_factory=dict)
    relative_density: float = Field(0.60, gt=0.5, lt=1.0, description="gas density relative to air")
    base_pressure: float = Field(101.325, gt=0, description="kPa absolute")
    base_temperature: float = Field(20.0, description="°C")
    atmospheric_pressure: float = Field(101.325, gt=0, description="kPa, gauge -> absolute")
    min_flow: float = Field(500.0, ge=0)

    @field_validator("composition")
    @classmethod
    def _components(cls, v: dict[str, str | float]) -> dict[str, str | float]:
        known = set(AGA8_COMPONENTS) | set(AGA8_LUMPED)
        unknown = sorted(set(v) - known)
        if unknown:
            raise ValueError(
                f"unknown component(s) {unknown}: use the GB/T 17747.2 names "
                f"({', '.join(AGA8_COMPONENTS)}) or {', '.join(AGA8_LUMPED)}"
            )
        return v


Detector = Annotated[
    MassBalance
    | PressureDecay
    | FilterTrend
    | RegulatorCreep
    | HeaterCapacity
    | OdorantDose
    | PtzCheck,
    Field(discriminator="kind"),
]


ReportFormat = Literal["pdf", "csv", "json"]


def _json_only() -> list[ReportFormat]:
    return ["json"]


class ReportConfig(_Strict):
    """The daily metering report made after local midnight."""

    daily: bool = True
    delay: float = Field(
        600.0, ge=0, description="seconds after midnight (lets the last totals arrive)"
    )
    save: list[ReportFormat] = Field(default_factory=_json_only)
    language: Literal["zh_CN", "en"] | None = None  # default: the station's language
    #: local time the gas day starts (reports and daily totals). 00:00 by default; many supply
    #: contracts count the gas day from 08:00 to 08:00 (set "08:00" to match the bill)
    gas_day_start: dt.time = dt.time(0)
    #: superior calorific value tag (MJ/Sm³, e.g. a process gas chromatograph): energy in GJ
    calorific_value: str = ""

    @model_validator(mode="after")
    def _whole_minutes(self) -> ReportConfig:
        if self.gas_day_start.second or self.gas_day_start.microsecond:
            raise ValueError("gas_day_start must be whole minutes, e.g. 08:00")
        return self


class AnalyticsConfig(_Strict):
    """Forecast, early warnings and metering reports from the station's own history."""

    enabled: bool = True
    interval: float = Field(60.0, ge=1, description="seconds between early-warning runs")
    meters: list[MeterRun] = Field(default_factory=list)
    forecast: ForecastConfig | None = None
    warnings: list[Detector] = Field(default_factory=list)
    report: ReportConfig = Field(default_factory=ReportConfig)

    def meter(self, meter_id: str) -> MeterRun:
        """Meter run by id (KeyError if unknown)."""
        for m in self.meters:
            if m.id == meter_id:
                return m
        raise KeyError(meter_id)

    @property
    def active(self) -> bool:
        """True when there is something to run in the background."""
        return self.enabled and bool(
            self.forecast is not None or self.warnings or (self.meters and self.report.daily)
        )


_TAG_FIELDS = (
    "total",
    "flow",
    "line_flow",
    "pressure",
    "temperature",
    "dp",
    "in_service",
    "burner_on",
    "setpoint_tag",
    "mass_total",
    "rate",
    "ambient",
)
_TAG_LISTS = ("inlet", "outlet", "flow")


def analytics_problems(cfg: StationConfig) -> list[tuple[Path_, str]]:
    """Cross-reference problems of the analytics section: (config path, message)."""
    a = cfg.analytics
    names = set(cfg.tag_map())
    out: list[tuple[Path_, str]] = []
    meter_ids: set[str] = set()

    def tags_of(obj: BaseModel, base: Path_) -> None:
        for key in _TAG_FIELDS:
            ref = getattr(obj, key, None)
            if isinstance(ref, str) and ref and ref not in names:
                out.append((base + (key,), f"unknown tag {ref!r}"))
        for key in _TAG_LISTS:
            refs = getattr(obj, key, None)
            if isinstance(refs, list):
                for k, ref in enumerate(refs):
                    if ref not in names:
                        out.append((base + (key, k), f"unknown tag {ref!r}"))

    def meters_of(refs: list[str], base: Path_) -> None:
        for k, ref in enumerate(refs):
            if ref not in meter_ids:
                out.append(
                    (
                        base + (k,),
                        f"unknown meter {ref!r} (analytics.meters has: {', '.join(sorted(meter_ids)) or 'none'})",
                    )
                )

    for i, m in enumerate(a.meters):
        if m.id in meter_ids:
            out.append((("analytics", "meters", i, "id"), f"duplicate meter id {m.id!r}"))
        meter_ids.add(m.id)
        tags_of(m, ("analytics", "meters", i))
    if a.forecast is not None:
        tags_of(a.forecast, ("analytics", "forecast"))
        meters_of(a.forecast.meters, ("analytics", "forecast", "meters"))
        if not a.meters:
            out.append(
                (
                    ("analytics", "forecast"),
                    "the forecast needs analytics.meters (the send-out is their volume)",
                )
            )
    seen: set[str] = set()
    for j, w in enumerate(a.warnings):
        base: Path_ = ("analytics", "warnings", j)
        if w.id in seen:
            out.append((base + ("id",), f"duplicate detector id {w.id!r}"))
        seen.add(w.id)
        tags_of(w, base)
        if isinstance(w, PressureDecay):
            for k, iso in enumerate(w.isolated_when):
                if iso.tag not in names:
                    out.append((base + ("isolated_when", k, "tag"), f"unknown tag {iso.tag!r}"))
        if isinstance(w, OdorantDose):
            meters_of(w.meters, base + ("meters",))
            if not a.meters:
                out.append((base, "an odorant_dose detector needs analytics.meters (the volume)"))
        if isinstance(w, PtzCheck):
            for comp, ref in w.composition.items():
                if isinstance(ref, str) and ref not in names:
                    out.append((base + ("composition", comp), f"unknown tag {ref!r}"))
            if w.meter not in meter_ids:
                out.append((base + ("meter",), f"unknown meter {w.meter!r}"))
            else:
                m = a.meter(w.meter)
                missing = [
                    k for k in ("flow", "line_flow", "pressure", "temperature") if not getattr(m, k)
                ]
                if missing:
                    out.append(
                        (
                            base + ("meter",),
                            f"meter {m.id!r} needs {', '.join(missing)} for a PTZ check",
                        )
                    )
    return out
