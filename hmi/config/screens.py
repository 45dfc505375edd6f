"""Check a station's mimic screens when the station loads (Qt-free).

Every screen listed under ``screens:`` is read here: its YAML against
:class:`~hmi.config.screen.ScreenFile`, every tag it binds against the station's tags,
every link against the station's screens, every bound element against the ids in its
SVG, and every label's placeholder text against the tag's label, and every instrument number drawn
on the P&ID against the tags' ``instrument:`` (:mod:`hmi.config.instruments`). Problems use the loader's form ``file:line: key: message``, so ``gas-hmi
check`` and headless start reject a screen that would show a blank or a wrong value.
The HMI renders what :func:`read_screen` returns and checks nothing itself.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hmi.config.instruments import svg_instrument_problems
from hmi.config.loader import (
    ConfigError,
    ConfigProblem,
    Path_,
    _Located,
    _Namer,
    _schema_problems,
    screens_root,
)
from hmi.config.schema import StationConfig, Text
from hmi.config.screen import KINDS, TAG_KEYS, Binding, ScreenFile, label_part


@dataclass(frozen=True)
class ScreenSpec:
    """A screen whose bindings file is checked against its SVG and the station."""

    name: str
    svg_path: Path
    yaml_path: Path
    title: Text
    bindings: list[Binding]
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    kpis: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # text id -> (tag, part)
    label_source: dict[str, Text] = field(default_factory=dict)  # tag -> its config label


def _shown(path: Path) -> str:
    """Path as problems show it: relative to the working directory when below it."""
    if not path.is_absolute():
        return str(path)
    rel = os.path.relpath(path, Path.cwd())
    return str(path) if rel.startswith("..") else rel


class _Checker:
    """Collects the problems of one screen, each located in its YAML file."""

    def __init__(self, yaml_path: Path) -> None:
        self.file = _shown(yaml_path)
        self.loc = _Located(track=True)
        self.namer = _Namer({})
        self.problems: list[ConfigProblem] = []

    def add(self, path: Path_, message: str) -> None:
        file, line = self.loc.locate(path)
        self.problems.append(ConfigProblem(file or self.file, line, self.namer.key(path), message))

    def read(self, yaml_path: Path) -> dict[str, Any] | None:
        """The YAML as plain data with every line kept, or None after a problem."""
        try:
            root = yaml.compose(yaml_path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(ConfigProblem(self.file, 0, "", f"cannot read file: {exc}"))
            return None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            problem = getattr(exc, "problem", None) or str(exc)
            self.problems.append(
                ConfigProblem(self.file, line, "", f"YAML syntax error: {problem}")
            )
            return None
        if root is None:
            return {}
        data = self.loc.build(root, self.file, ())
        self.problems.extend(self.loc.problems)
        if not isinstance(data, dict):
            self.add((), "must be a mapping with 'bindings'")
            return None
        self.namer = _Namer(data)
        return data

    def shape(self, data: dict[str, Any]) -> ScreenFile | None:
        """The bindings file checked by the schema, or None after problems.

        A binding of an unknown kind is reported here and left out, so that the schema's
        problems with the other bindings are still reported.
        """
        raw = data.get("bindings")
        if isinstance(raw, dict):
            known: dict[Any, Any] = {}
            for eid, spec in raw.items():
                kind = spec.get("kind") if isinstance(spec, dict) else None
                if isinstance(spec, dict) and kind not in KINDS:
                    self.add(
                        ("bindings", eid, "kind"),
                        f"unknown kind {kind!r} (one of {', '.join(sorted(KINDS))})",
                    )
                else:
                    known[eid] = spec
            data = {**data, "bindings": known}
        try:
            return ScreenFile.model_validate(data)
        except ValidationError as exc:
            self.problems.extend(_schema_problems(exc, self.loc, self.namer))
            return None

    def tags(self, path: Path_, names: Iterable[Any], known: dict[str, Any]) -> None:
        """A problem for each name that is not a tag of the station."""
        for name in names:
            if name and (not isinstance(name, str) or name not in known):
                self.add(path, f"unknown tag {name!r}")

    def labels(self, screen: ScreenFile, cfg: StationConfig, svg: SvgInfo | None) -> None:
        """Each label names a known tag and a ``<text>`` whose placeholder is the tag's label."""
        known = cfg.tag_map()
        for eid, spec in screen.labels.items():
            at = ("labels", eid)
            if spec.tag not in known:
                self.add(at + ("tag",), f"unknown tag {spec.tag!r}")
                continue
            if svg is None:
                continue
            drawn = svg.texts.get(eid)
            if drawn is None:
                self.add(at, f"no <text> element with id {eid!r} in the SVG")
                continue
            want = label_part(known[spec.tag].label.get("en"), spec.part)
            if drawn.strip() != want:
                self.add(
                    at,
                    f"the SVG says {drawn.strip()!r} but tag {spec.tag} is {want!r} in the station "
                    "config; the screen shows the config's label, correct the SVG placeholder",
                )

    def instruments(
        self, svg_path: Path, root: ET.Element, bindings: dict[str, Any], cfg: StationConfig
    ) -> None:
        """Instrument numbers drawn on the P&ID agree with the tags (hmi.config.instruments)."""
        numbers = {t.name: t.instrument for t in cfg.tags}
        plain = {str(k): v for k, v in bindings.items() if isinstance(v, dict)}
        for path, message in svg_instrument_problems(root, plain, numbers):
            if path:
                self.add(path, message)
            else:
                self.problems.append(ConfigProblem(_shown(svg_path), 0, "", message))

    def references(
        self,
        data: dict[str, Any],
        cfg: StationConfig,
        svg_ids: set[str] | None,
        screen_ids: set[str] | None,
    ) -> None:
        """Tags, linked screens and SVG elements the bindings name must exist.

        Works on the plain data, so that it reports even where the schema found problems.
        """
        known = cfg.tag_map()
        raw = data.get("bindings")
        for eid, spec in (raw if isinstance(raw, dict) else {}).items():
            if not isinstance(spec, dict):
                continue
            if svg_ids is not None and str(eid) not in svg_ids:
                self.add(("bindings", eid), f"no element with id {eid!r} in the SVG")
            for key in TAG_KEYS:
                self.tags(("bindings", eid, key), [spec.get(key)], known)
            target = spec.get("screen")
            if target and screen_ids is not None and target not in screen_ids:
                self.add(
                    ("bindings", eid, "screen"),
                    f"unknown screen {target!r} (known: {', '.join(sorted(screen_ids))})",
                )
        kpis = data.get("kpis")
        for i, kpi in enumerate(kpis if isinstance(kpis, list) else []):
            if isinstance(kpi, dict):
                self.tags(("kpis", i, "tag"), [kpi.get("tag")], known)
                detail = kpi.get("detail")
                for j, ref in enumerate(detail if isinstance(detail, list) else []):
                    self.tags(("kpis", i, "detail", j), [ref], known)


@dataclass(frozen=True)
class SvgInfo:
    """What the checks need of a screen's SVG: every element id, and the text of each
    ``<text>`` element by id."""

    ids: set[str]
    texts: dict[str, str]
    root: ET.Element | None = None


_TEXT = "{http://www.w3.org/2000/svg}text"


def svg_info(svg_path: Path) -> SvgInfo:
    """Ids and texts of an SVG file; ValueError naming the problem when it is unusable."""
    try:
        root = ET.fromstring(svg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read file: {exc}") from None
    except ET.ParseError as exc:
        raise ValueError(f"not valid XML: {exc}") from None
    ids: set[str] = set()
    texts: dict[str, str] = {}
    for e in root.iter():
        eid = e.get("id")
        if eid:
            ids.add(eid)
            if e.tag == _TEXT:
                texts[eid] = "".join(e.itertext())
    return SvgInfo(ids, texts, root)


def _check(
    folder: Path, name: str, cfg: StationConfig, screen_ids: set[str] | None
) -> tuple[ScreenSpec | None, list[ConfigProblem]]:
    yaml_path, svg_path = folder / f"{name}.yaml", folder / f"{name}.svg"
    checker = _Checker(yaml_path)
    try:
        svg: SvgInfo | None = svg_info(svg_path)
    except ValueError as exc:
        checker.problems.append(ConfigProblem(_shown(svg_path), 0, "", str(exc)))
        svg = None
    data = checker.read(yaml_path)
    if data is None:
        return None, checker.problems
    screen = checker.shape(data)
    checker.references(data, cfg, svg.ids if svg is not None else None, screen_ids)
    if screen is not None:
        checker.labels(screen, cfg, svg)
    if svg is not None and svg.root is not None and isinstance(data.get("bindings"), dict):
        checker.instruments(svg_path, svg.root, data["bindings"], cfg)
    if screen is None or checker.problems:
        return None, checker.problems
    tags = cfg.tag_map()
    spec = ScreenSpec(
        name,
        svg_path,
        yaml_path,
        screen.title or Text(en=name, zh=name),
        [Binding.of(eid, b) for eid, b in screen.bindings.items()],
        screen.translations,
        [k.model_dump(exclude_unset=True) for k in screen.kpis],
        {eid: (lab.tag, lab.part) for eid, lab in screen.labels.items()},
        {lab.tag: tags[lab.tag].label for lab in screen.labels.values()},
    )
    return spec, []


def read_screen(
    folder: Path, name: str, cfg: StationConfig, screen_ids: set[str] | None = None
) -> ScreenSpec:
    """Read and check ``folder/name.yaml`` (+ ``.svg``); ConfigError listing every problem."""
    spec, problems = _check(folder, name, cfg, screen_ids)
    if spec is None:
        raise ConfigError(problems)
    return spec


def screen_problems(cfg: StationConfig) -> list[ConfigProblem]:
    """Problems of every screen of the station (missing files are the loader's to report)."""
    folder = screens_root(cfg)
    if folder is None:
        return []
    ids = {s.id for s in cfg.screens}
    out: list[ConfigProblem] = []
    for source in dict.fromkeys(s.source for s in cfg.screens):
        if (folder / f"{source}.yaml").is_file() and (folder / f"{source}.svg").is_file():
            out.extend(_check(folder, source, cfg, ids)[1])
    return out
