"""Screen-binding schema: what a mimic screen's ``<name>.yaml`` may say (Qt-free).

A screen is ``<name>.svg`` (drawn in Inkscape) plus ``<name>.yaml``::

    title: {en: City gate P&ID, zh: 门站工艺流程图}
    translations: {zh_CN: {"Inlet": "进站"}}    # SVG text (English) -> shown text
    bindings:
      PT101_v:  {kind: value, tag: inlet.pressure}           # placeholder rect -> value text
      PT101_b:  {kind: bar, tag: inlet.pressure}             # placeholder rect -> analog bar
      XV101:    {kind: valve, open_tag: esd1.open, closed_tag: esd1.closed, fault_tag: esd1.fault}
      HTR1:     {kind: heater, tag: heater.burner_on}
      GD1:      {kind: detector, tag: gd1.lel}
      P_main:   {kind: pipe, tag: meter.flow, threshold: 50}
      NAV_reg:  {kind: link, screen: city_gate}
    labels:                                                  # SVG <text> id -> the tag's label
      L_gd1:    {tag: gd1.lel, part: location}               # part: full | location (in brackets)
    kpis:                                      # level-1 KPI cards
      - {tag: outlet.flow, title: Throughput, detail: [m1.total.today], bar: false}

A label's text comes from the tag config in the screen's language; the SVG's own text is only
a placeholder and must say the same (English), so the drawing never disagrees with the config.

Each binding kind is one model, so the keys a kind accepts are defined once, here. The
shapes are checked by pydantic; tag, screen and SVG-element references are checked
against the station by :mod:`hmi.config.screens` when the station loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from hmi.config.schema import Strict, Text

#: binding keys that name a tag of the station
TAG_KEYS = ("tag", "open_tag", "closed_tag", "fault_tag", "faceplate")

Align = Literal["left", "center", "right"]
Marker = Literal["left", "corner", "none"]
StateMap = dict[int | float | str, str]


class _Bound(Strict):
    """Keys every tag-bound kind has."""

    tag: str = ""
    faceplate: str = ""  # tag whose faceplate a click opens (default: the bound tag)
    tooltip: str = ""
    alarm_marker: Marker | None = None

    @model_validator(mode="after")
    def _needs_tag(self) -> _Bound:
        if not self.tag:
            raise ValueError(f"kind {getattr(self, 'kind', '?')} needs 'tag'")
        return self


class ValueBinding(_Bound):
    """Placeholder rectangle -> value text."""

    kind: Literal["value"]
    precision: int | None = Field(None, ge=0, le=9)
    unit: bool = True
    align: Align = "right"
    fault_tag: str = ""  # the instrument's own fault flag: shown as Fault, never a number


class StateTextBinding(_Bound):
    """Placeholder rectangle -> state text of a discrete tag."""

    kind: Literal["state_text"]
    align: Align = "right"


class BarBinding(_Bound):
    """Placeholder rectangle -> analog bar with the normal band."""

    kind: Literal["bar"]
    normal: tuple[float, float] | None = None
    orientation: Literal["vertical", "horizontal"] | None = None


class _Mapped(_Bound):
    """A symbol with a fault input and an optional value -> state map."""

    fault_tag: str = ""
    map: StateMap | None = None


class _Positioned(_Mapped):
    """A symbol that can also show travel from a position tag (0-100 %)."""

    position: bool = False
    open_above: float = 95.0
    closed_below: float = 2.0


class ValveBinding(_Positioned):
    """Valve symbol: open/closed limit switches, a position, or one open/closed tag."""

    kind: Literal["valve"]
    open_tag: str = ""
    closed_tag: str = ""

    @model_validator(mode="after")
    def _needs_tag(self) -> ValveBinding:
        if not (self.tag or self.open_tag):
            raise ValueError("a valve needs 'tag' or 'open_tag'")
        return self


class RegulatorBinding(_Positioned):
    """Regulator symbol: open/closed, or travel from a position tag."""

    kind: Literal["regulator"]


class SlamShutBinding(_Mapped):
    """Slam-shut valve symbol: open or tripped."""

    kind: Literal["slamshut"]


class HeaterBinding(_Mapped):
    """Heater symbol: on or off."""

    kind: Literal["heater"]


class PumpBinding(_Mapped):
    """Pump symbol: on or off."""

    kind: Literal["pump"]


class DetectorBinding(_Bound):
    """Gas detector symbol: normal, level 1, level 2 (default: the tag's H and HH limits)."""

    kind: Literal["detector"]
    fault_tag: str = ""
    level1: float | None = None
    level2: float | None = None


class PipeBinding(_Bound):
    """Pipe segment: flow or no flow (threshold default: 0.5 % of the tag's range)."""

    kind: Literal["pipe"]
    threshold: float | None = None


class SymbolBinding(_Mapped):
    """Any other symbol, states from ``map``."""

    kind: Literal["symbol"]


class LinkBinding(Strict):
    """Navigation to another screen, or a faceplate."""

    kind: Literal["link"]
    screen: str = ""
    faceplate: str = ""
    tooltip: str = ""

    @model_validator(mode="after")
    def _target(self) -> LinkBinding:
        if not self.screen and not self.faceplate:
            raise ValueError("a link needs 'screen' or 'faceplate'")
        return self


BindingConfig = Annotated[
    ValueBinding
    | StateTextBinding
    | BarBinding
    | ValveBinding
    | RegulatorBinding
    | SlamShutBinding
    | HeaterBinding
    | PumpBinding
    | DetectorBinding
    | PipeBinding
    | SymbolBinding
    | LinkBinding,
    Field(discriminator="kind"),
]

#: kinds drawn by restyling the SVG element (CSS state classes)
SYMBOL_KINDS = frozenset(
    {"valve", "regulator", "slamshut", "heater", "pump", "detector", "pipe", "symbol"}
)
#: kinds drawn by overlay items in a placeholder rectangle
OVERLAY_KINDS = frozenset({"value", "bar", "state_text"})
KINDS = SYMBOL_KINDS | OVERLAY_KINDS | {"link"}


class KpiConfig(Strict):
    """One KPI card of a level-1 screen."""

    tag: str
    title: Text | None = None
    detail: list[str] = Field(default_factory=list)
    bar: bool = False


class LabelConfig(Strict):
    """An SVG ``<text>`` drawn from a tag's label (whole, or the location in its brackets)."""

    tag: str
    part: Literal["full", "location"] = "full"


def label_part(label: str, part: str) -> str:
    """``label`` whole, or (``part == "location"``) only the text in its last brackets."""
    if part != "location":
        return label
    for open_, close in (("（", "）"), ("(", ")")):
        if label.endswith(close) and open_ in label:
            return label[label.rindex(open_) + 1 : -1]
    return label


class ScreenFile(Strict):
    """A screen's bindings file, checked for shape."""

    title: Text | None = None
    description: str = ""
    translations: dict[str, dict[str, str]] = Field(default_factory=dict)
    bindings: dict[str, BindingConfig] = Field(default_factory=dict)
    labels: dict[str, LabelConfig] = Field(default_factory=dict)
    kpis: list[KpiConfig] = Field(default_factory=list)


@dataclass(frozen=True)
class Binding:
    """One SVG element bound to live data (or a link), as the renderer uses it.

    ``options`` holds only the keys the YAML sets, so a renderer's own default (an
    orientation from the placeholder's shape, say) still applies when a key is absent.
    """

    element: str
    kind: str
    tag: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, element: str, spec: BindingConfig) -> Binding:
        """The renderer's view of one checked binding."""
        opts = spec.model_dump(exclude_unset=True, exclude={"kind", "tag"})
        return cls(element, spec.kind, str(getattr(spec, "tag", "") or ""), opts)

    def opt(self, key: str, default: Any = None) -> Any:
        """An option of the binding."""
        return self.options.get(key, default)

    @property
    def faceplate_tag(self) -> str:
        """Tag whose faceplate a click opens ('' for none)."""
        return str(self.options.get("faceplate") or self.tag or self.options.get("open_tag") or "")

    def tag_names(self) -> list[str]:
        """Every tag this binding reads."""
        names = [self.tag] + [
            str(self.options.get(k) or "") for k in ("open_tag", "closed_tag", "fault_tag")
        ]
        return [n for n in dict.fromkeys(names) if n]
