"""A mimic screen definition: ``<name>.svg`` + ``<name>.yaml`` (element id -> binding).

Bindings file::

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

A label's text comes from the tag config in the screen's language; the SVG's own text is only
a placeholder and must say the same (English), so the drawing never disagrees with the config.

:func:`load_screen` checks every binding against the SVG (the element exists) and the
station config (tags exist, options fit the kind) and reports all problems at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hmi.config.schema import StationConfig, Text
from hmi.ui.mimic.svgdoc import SvgDoc, SvgError

#: kinds drawn by restyling the SVG element (CSS state classes)
SYMBOL_KINDS = {"valve", "regulator", "slamshut", "heater", "pump", "detector", "pipe", "symbol"}
#: kinds drawn by overlay items in a placeholder rectangle
OVERLAY_KINDS = {"value", "bar", "state_text"}
KINDS = SYMBOL_KINDS | OVERLAY_KINDS | {"link"}
TAG_KEYS = ("tag", "open_tag", "closed_tag", "fault_tag", "faceplate")
_COMMON = {"kind", "tag", "faceplate", "tooltip", "alarm_marker"}
_ALLOWED = {
    "value": _COMMON | {"precision", "unit", "align", "fault_tag"},
    "state_text": _COMMON | {"align"},
    "bar": _COMMON | {"normal", "orientation"},
    "valve": _COMMON
    | {"open_tag", "closed_tag", "fault_tag", "map", "position", "open_above", "closed_below"},
    "regulator": _COMMON | {"fault_tag", "map", "position", "open_above", "closed_below"},
    "slamshut": _COMMON | {"fault_tag", "map"},
    "heater": _COMMON | {"fault_tag", "map"},
    "pump": _COMMON | {"fault_tag", "map"},
    "detector": _COMMON | {"fault_tag", "level1", "level2"},
    "pipe": _COMMON | {"threshold"},
    "symbol": _COMMON | {"fault_tag", "map"},
    "link": {"kind", "screen", "faceplate", "tooltip"},
}


class ScreenError(Exception):
    """A screen that cannot be shown; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Binding:
    """One SVG element bound to live data (or a link)."""

    element: str
    kind: str
    tag: str = ""
    options: dict[str, Any] = field(default_factory=dict)

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


@dataclass
class ScreenDef:
    """A loaded, checked screen."""

    name: str
    svg_path: Path
    svg_text: str
    doc: SvgDoc
    title: Text
    bindings: list[Binding]
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    kpis: list[dict[str, Any]] = field(default_factory=list)  # level-1 KPI cards
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # text id -> (tag, part)
    label_source: dict[str, Text] = field(default_factory=dict)  # tag -> its config label

    def label_texts(self, lang: str) -> dict[str, str]:
        """Text element id -> the bound tag's label (or its location part) in ``lang``."""
        return {
            eid: label_part(self.label_source[tag].get(lang), part)
            for eid, (tag, part) in self.labels.items()
        }

    def translator(self, lang: str) -> dict[str, str]:
        """English SVG text -> text in ``lang`` (empty for English)."""
        return self.translations.get(lang, {})

    def tags(self) -> list[str]:
        """Every tag the screen shows."""
        out: dict[str, None] = {}
        for b in self.bindings:
            for n in b.tag_names():
                out[n] = None
        return list(out)


def load_screen(
    folder: Path, name: str, cfg: StationConfig, screen_ids: set[str] | None = None
) -> ScreenDef:
    """Load ``folder/name.svg`` + ``folder/name.yaml``; ScreenError listing every problem."""
    svg_path = folder / f"{name}.svg"
    yaml_path = folder / f"{name}.yaml"
    problems: list[str] = []
    try:
        svg_text = svg_path.read_text(encoding="utf-8")
        doc = SvgDoc.parse(svg_text, str(svg_path))
    except (OSError, SvgError) as exc:
        raise ScreenError([f"{svg_path}: {exc}"]) from None
    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ScreenError([f"{yaml_path}: cannot read: {exc}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{yaml_path}:{mark.line + 1}" if mark is not None else str(yaml_path)
        raise ScreenError([f"{where}: YAML syntax error: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise ScreenError([f"{yaml_path}: must be a mapping with 'bindings'"])
    unknown = set(data) - {"title", "bindings", "description", "translations", "kpis", "labels"}
    if unknown:
        problems.append(f"{yaml_path}: unknown keys {sorted(unknown)}")
    raw = data.get("bindings") or {}
    if not isinstance(raw, dict):
        raise ScreenError([f"{yaml_path}: bindings must map element ids to bindings"])
    tag_map = cfg.tag_map()
    bindings: list[Binding] = []
    for eid, spec in raw.items():
        where = f"{yaml_path}: bindings.{eid}"
        if not isinstance(spec, dict):
            problems.append(f"{where}: must be a mapping with 'kind'")
            continue
        kind = spec.get("kind")
        if kind not in KINDS:
            problems.append(f"{where}: unknown kind {kind!r} (one of {', '.join(sorted(KINDS))})")
            continue
        if str(eid) not in doc.ids:
            problems.append(f"{where}: no element with id {eid!r} in {svg_path.name}")
        extra = set(spec) - _ALLOWED[kind]
        if extra:
            problems.append(f"{where}: unknown options {sorted(extra)} for kind {kind}")
        for key in TAG_KEYS:
            ref = spec.get(key)
            if ref and ref not in tag_map:
                problems.append(f"{where}.{key}: unknown tag {ref!r}")
        if kind == "link":
            target = spec.get("screen")
            if not target and not spec.get("faceplate"):
                problems.append(f"{where}: a link needs 'screen' or 'faceplate'")
            elif target and screen_ids is not None and target not in screen_ids:
                problems.append(
                    f"{where}.screen: unknown screen {target!r} (known: {', '.join(sorted(screen_ids))})"
                )
        elif kind == "valve" and not (spec.get("tag") or spec.get("open_tag")):
            problems.append(f"{where}: a valve needs 'tag' or 'open_tag'")
        elif kind != "valve" and not spec.get("tag"):
            problems.append(f"{where}: kind {kind} needs 'tag'")
        if "map" in spec and not isinstance(spec["map"], dict):
            problems.append(f"{where}.map: must map values to state names")
        opts = {k: v for k, v in spec.items() if k not in ("kind", "tag")}
        bindings.append(Binding(str(eid), str(kind), str(spec.get("tag") or ""), opts))
    translations = data.get("translations") or {}
    if not isinstance(translations, dict) or not all(
        isinstance(v, dict) for v in translations.values()
    ):
        problems.append(
            f"{yaml_path}: translations must map a language to {{English text: translation}}"
        )
        translations = {}
    kpis = data.get("kpis") or []
    if not isinstance(kpis, list):
        problems.append(f"{yaml_path}: kpis must be a list")
        kpis = []
    for i, k in enumerate(kpis):
        if not isinstance(k, dict) or k.get("tag") not in tag_map:
            problems.append(
                f"{yaml_path}: kpis[{i}]: needs a known 'tag' (got {k.get('tag') if isinstance(k, dict) else k!r})"
            )
            continue
        for ref in k.get("detail") or []:
            if ref not in tag_map:
                problems.append(f"{yaml_path}: kpis[{i}].detail: unknown tag {ref!r}")
    labels = _labels(data.get("labels"), doc, cfg, f"{yaml_path}", problems)
    if problems:
        raise ScreenError(problems)
    trans = {
        str(lang): {str(k): str(v) for k, v in table.items()}
        for lang, table in translations.items()
    }
    return ScreenDef(
        name,
        svg_path,
        svg_text,
        doc,
        Text.model_validate(data.get("title") or name),
        bindings,
        trans,
        [k for k in kpis if isinstance(k, dict)],
        labels,
        {tag: tag_map[tag].label for tag, _part in labels.values()},
    )


def label_part(label: str, part: str) -> str:
    """``label`` whole, or (``part == "location"``) only the text in its last brackets."""
    if part != "location":
        return label
    for open_, close in (("（", "）"), ("(", ")")):
        if label.endswith(close) and open_ in label:
            return label[label.rindex(open_) + 1 : -1]
    return label


def _labels(
    raw: Any, doc: SvgDoc, cfg: StationConfig, where: str, problems: list[str]
) -> dict[str, tuple[str, str]]:
    """Check the ``labels:`` section: known text elements and tags, placeholder = tag label."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: labels must map SVG text ids to {{tag, part}}")
        return {}
    out: dict[str, tuple[str, str]] = {}
    tag_map = cfg.tag_map()
    for eid, spec in raw.items():
        at = f"{where}: labels.{eid}"
        if not isinstance(spec, dict) or set(spec) - {"tag", "part"} or "tag" not in spec:
            problems.append(f"{at}: must be {{tag: <tag>, part: full|location}}")
            continue
        tag, part = str(spec["tag"]), str(spec.get("part", "full"))
        if part not in ("full", "location"):
            problems.append(f"{at}.part: {part!r} is not one of full, location")
            continue
        if tag not in tag_map:
            problems.append(f"{at}.tag: unknown tag {tag!r}")
            continue
        drawn = doc.text_of(str(eid))
        if drawn is None:
            problems.append(f"{at}: no <text> element with id {eid!r} in the SVG")
            continue
        want = label_part(tag_map[tag].label.get("en"), part)
        if drawn.strip() != want:
            problems.append(
                f"{at}: the SVG says {drawn.strip()!r} but tag {tag} is {want!r} in the station "
                "config; the screen shows the config's label, correct the SVG placeholder"
            )
        out[str(eid)] = (tag, part)
    return out
