"""Load a station-config directory and report every problem with file:line and key.

A station directory holds YAML files (``station.yaml`` first, then the rest in
name order). Each file is a mapping of sections; list sections (devices, tags,
screens, trend_groups) are concatenated across files, mapping sections (station,
historian, uplink, analytics) may appear once. The loader keeps the line of every key and
list item so that schema and cross-reference errors point at the right place.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from drivers.base import DRIVERS, device_problems, options_problems, validate_address
from hmi.config.analytics import analytics_problems
from hmi.config.buses import bus_problems
from hmi.config.calc import calc_problems
from hmi.config.gascodes import gas_code_problems
from hmi.config.instruments import instrument_problems
from hmi.config.interlocks import interlock_problems
from hmi.config.protection import protection_problems
from hmi.config.routes import route_problems
from hmi.config.schema import StationConfig
from hmi.config.system import address_problem as system_address_problem

LIST_SECTIONS = ("devices", "tags", "screens", "trend_groups", "interlocks")
MAP_SECTIONS = (
    "station",
    "historian",
    "uplink",
    "analytics",
    "northbound",
    "protection",
    "horn_output",
    "simulation",
)
SECTIONS = LIST_SECTIONS + MAP_SECTIONS

try:  # the C loader is ~10x faster on big configs
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

Path_ = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a station config."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """A station config that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Located:
    """Plain data built from YAML nodes, plus the file:line of every path."""

    def __init__(self, track: bool = True) -> None:
        #: keep the line of every path (needed only to report problems: a 10,000-tag station
        #: has ~10^6 paths, so the first, hopeful pass does without)
        self.track = track
        self.where: dict[Path_, tuple[str, int]] = {}
        self.problems: list[ConfigProblem] = []

    def build(self, node: yaml.Node, file: str, path: Path_) -> Any:
        if self.track:
            self.where.setdefault(path, (file, node.start_mark.line + 1))
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, file, path + ("<key>",))
                if isinstance(key, list | dict):
                    self.problems.append(
                        ConfigProblem(
                            file,
                            key_node.start_mark.line + 1,
                            _fmt(path),
                            "a key must be a plain value",
                        )
                    )
                    continue
                if key in out:
                    self.problems.append(
                        ConfigProblem(
                            file, key_node.start_mark.line + 1, _fmt(path + (key,)), "duplicate key"
                        )
                    )
                if self.track:
                    self.where[path + (key,)] = (file, key_node.start_mark.line + 1)
                out[key] = self.build(value_node, file, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, file, path + (i,)) for i, item in enumerate(node.value)]
        constructor = yaml.constructor.SafeConstructor()
        return constructor.construct_object(node, deep=True)

    def locate(self, path: Path_) -> tuple[str, int]:
        """file:line of the deepest known prefix of ``path``."""
        for n in range(len(path), -1, -1):
            hit = self.where.get(tuple(path[:n]))
            if hit is not None:
                return hit
        return ("", 0)


def _fmt(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Namer:
    """Readable keys: tags[5] becomes tags[inlet.pressure] when the item has a name/id."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def key(self, path: Path_) -> str:
        parts: list[str] = []
        node: Any = self.data
        for part in path:
            if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
                node = node[part]
                ident = node.get("name") or node.get("id") if isinstance(node, dict) else None
                label = ident if isinstance(ident, str) and ident else str(part)
                parts.append(f"[{label}]")
                continue
            node = node.get(part) if isinstance(node, dict) else None
            parts.append(("." if parts else "") + str(part))
        return "".join(parts)


def _yaml_files(station_dir: Path) -> list[Path]:
    files = sorted(
        p for p in station_dir.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
    )
    files.sort(key=lambda p: (p.stem != "station", p.name))
    return files


def _read_files(station_dir: Path, loc: _Located) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for f in _yaml_files(station_dir):
        rel = os.path.relpath(f, Path.cwd()) if f.is_absolute() else str(f)
        rel = rel if not rel.startswith("..") else str(f)
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            loc.problems.append(ConfigProblem(rel, 0, "", f"cannot read file: {exc}"))
            continue
        try:
            root = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            problem = getattr(exc, "problem", None) or str(exc)
            loc.problems.append(ConfigProblem(rel, line, "", f"YAML syntax error: {problem}"))
            continue
        if root is None:
            continue
        if not isinstance(root, yaml.MappingNode):
            loc.problems.append(
                ConfigProblem(
                    rel, root.start_mark.line + 1, "", "file must be a mapping of sections"
                )
            )
            continue
        sub = _Located(loc.track)
        try:
            data = sub.build(root, rel, ())
        except yaml.YAMLError as exc:
            loc.problems.append(ConfigProblem(rel, 0, "", f"YAML error: {exc}"))
            continue
        loc.problems.extend(sub.problems)
        for section, value in data.items():
            line = sub.where.get((section,), (rel, 0))[1]
            if section not in SECTIONS:
                loc.problems.append(
                    ConfigProblem(
                        rel,
                        line,
                        str(section),
                        f"unknown section (expected one of: {', '.join(SECTIONS)})",
                    )
                )
                continue
            if section in LIST_SECTIONS:
                if not isinstance(value, list):
                    loc.problems.append(ConfigProblem(rel, line, section, "must be a list"))
                    continue
                base = len(merged.setdefault(section, []))
                merged[section].extend(value)
                for path, where in sub.where.items():
                    if path[:1] == (section,) and len(path) >= 2 and isinstance(path[1], int):
                        loc.where[(section, path[1] + base) + path[2:]] = where
                loc.where.setdefault((section,), (rel, line))
            else:
                if section in merged:
                    loc.problems.append(ConfigProblem(rel, line, section, "section given twice"))
                    continue
                merged[section] = value
                for path, where in sub.where.items():
                    if path[:1] == (section,):
                        loc.where[path] = where
    return merged


def _schema_problems(exc: ValidationError, loc: _Located, namer: _Namer) -> list[ConfigProblem]:
    out: list[ConfigProblem] = []
    for err in exc.errors():
        path = tuple(
            p
            for p in err["loc"]
            if not (
                isinstance(p, str)
                and p
                in ("modbus_tcp", "opcua", "system", "calc", "function-after", "function-before")
                or p in DRIVERS
            )
        )
        # pydantic puts the discriminator value into loc; drop parts the data does not have
        clean: list[Any] = []
        node: Any = namer.data
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
                clean.append(part)
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
                clean.append(part)
            elif err["type"] in ("extra_forbidden", "missing") and part == path[-1]:
                clean.append(part)
            elif isinstance(part, int | str) and not isinstance(node, dict | list):
                break
        file, line = loc.locate(tuple(clean))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append(ConfigProblem(file, line, namer.key(tuple(clean)), msg))
    return out


def _cross_checks(cfg: StationConfig, loc: _Located, namer: _Namer) -> list[ConfigProblem]:
    out: list[ConfigProblem] = []

    def add(path: Path_, message: str) -> None:
        file, line = loc.locate(path)
        out.append(ConfigProblem(file, line, namer.key(path), message))

    devices: dict[str, Any] = {}
    for i, d in enumerate(cfg.devices):
        if d.id in devices:
            add(("devices", i, "id"), f"duplicate device id {d.id!r}")
        devices[d.id] = d
        if d.protocol not in DRIVERS and d.protocol not in ("system", "calc"):
            add(("devices", i, "protocol"), f"unknown protocol {d.protocol!r}")

    names: dict[str, int] = {}
    for i, t in enumerate(cfg.tags):
        if t.name in names:
            add(
                ("tags", i, "name"),
                f"duplicate tag name {t.name!r} (first at tags[{names[t.name]}])",
            )
        else:
            names[t.name] = i
    alarm_ids: set[str] = set()
    for i, t in enumerate(cfg.tags):
        dev = devices.get(t.device)
        if dev is None:
            add(("tags", i, "device"), f"unknown device {t.device!r}")
        else:
            if t.poll and t.poll not in dev.poll_groups:
                add(
                    ("tags", i, "poll"),
                    f"device {dev.id!r} has no poll group {t.poll!r} (has: {', '.join(dev.poll_groups)})",
                )
            if dev.protocol == "system":
                err = system_address_problem(cfg, dev.id, t.address)
                if err:
                    add(("tags", i, "address"), err)
                if t.options:
                    add(("tags", i, "options"), "system tags take no options")
            elif dev.protocol in DRIVERS:
                err = (
                    validate_address(dev.protocol, t.address)
                    if t.address
                    else "required key is missing"
                )
                if err:
                    add(("tags", i, "address"), err)
                for msg in options_problems(dev.protocol, t.options):
                    add(("tags", i, "options"), msg)
        for lk in t.interlocks:
            if lk.tag not in names:
                add(("tags", i, "interlocks"), f"unknown tag {lk.tag!r}")
        for j, a in enumerate(t.alarms):
            aid = t.alarm_id(a)
            if aid in alarm_ids:
                add(("tags", i, "alarms", j), f"duplicate alarm id {aid!r}")
            alarm_ids.add(aid)
            for key in ("setpoint_tag", "suppressed_by"):
                ref = getattr(a, key)
                if ref and ref not in names:
                    add(("tags", i, "alarms", j, key), f"unknown tag {ref!r}")
    for path, message in _device_tag_problems(cfg):
        add(path, message)
    for path, message in _view_problems(cfg, names) + _section_problems(cfg):
        add(path, message)
    return out


def _section_problems(cfg: StationConfig) -> list[tuple[Path_, str]]:
    """The checks each config section's own module defines."""
    return (
        analytics_problems(cfg)
        + bus_problems(cfg)
        + calc_problems(cfg)
        + protection_problems(cfg)
        + gas_code_problems(cfg)
        + instrument_problems(cfg)
        + interlock_problems(cfg)
        + list(route_problems(cfg.uplink.routes, cfg.tags))
    )


def _device_tag_problems(cfg: StationConfig) -> list[tuple[Path_, str]]:
    """Checks across a device's tags (e.g. an IEC 104 IOA used twice)."""
    out: list[tuple[Path_, str]] = []
    by_device: dict[str, list[int]] = {}
    for i, t in enumerate(cfg.tags):
        by_device.setdefault(t.device, []).append(i)
    for d in cfg.devices:
        own = by_device.get(d.id, [])
        if d.protocol in DRIVERS and own:
            items = [(cfg.tags[i].name, cfg.tags[i].address, cfg.tags[i].options) for i in own]
            for pos, message in device_problems(d.protocol, items):
                out.append((("tags", own[pos], "address"), message))
    return out


def _view_problems(cfg: StationConfig, names: dict[str, int]) -> list[tuple[Path_, str]]:
    """Screen list and trend groups: ids unique, files present, pens known."""
    out: list[tuple[Path_, str]] = []

    def add(path: Path_, message: str) -> None:
        out.append((path, message))

    screen_ids: set[str] = set()
    screens_dir = screens_root(cfg)
    for i, s in enumerate(cfg.screens):
        if s.id in screen_ids:
            add(("screens", i, "id"), f"duplicate screen id {s.id!r}")
        screen_ids.add(s.id)
        if screens_dir is not None:
            for ext in (".svg", ".yaml"):
                if not (screens_dir / f"{s.source}{ext}").is_file():
                    add(("screens", i, "source"), f"no file {s.source}{ext} in {screens_dir}")
    for i, g in enumerate(cfg.trend_groups):
        for j, pen in enumerate(g.pens):
            if pen not in names:
                add(("trend_groups", i, "pens", j), f"unknown tag {pen!r}")
    return out


def locate(
    station_dir: str | os.PathLike[str], items: list[tuple[Path_, str]]
) -> list[ConfigProblem]:
    """``file:line: key: message`` for (config path, message) pairs of a station that loaded
    (warnings such as :func:`hmi.config.calc.calc_warnings`); reads the files once more."""
    if not items:
        return []
    loc = _Located(True)
    namer = _Namer(_read_files(Path(station_dir), loc))
    return [ConfigProblem(*loc.locate(path), namer.key(path), message) for path, message in items]


def screens_root(cfg: StationConfig) -> Path | None:
    """Folder holding the station's screen files: <station>/screens or the repository's screens/."""
    from hmi import paths  # local import: paths knows source checkout vs. frozen bundle

    own = Path(cfg.source_dir) / "screens"
    if own.is_dir():
        return own
    shared = paths.screens_dir()
    return shared if shared.is_dir() else None


def load_station(station_dir: str | os.PathLike[str]) -> StationConfig:
    """Load and check a station config directory; raise ConfigError listing every problem.

    The first pass keeps no line numbers (memory: the YAML marks of a big station cost
    hundreds of MB); only when it finds a problem is the directory read again with every
    line kept, so that each problem names its file:line.
    """
    root = Path(station_dir)
    if not root.is_dir():
        raise ConfigError([ConfigProblem(str(root), 0, "", "not a directory")])
    try:
        return _load(root, track=False)
    except ConfigError:
        pass
    gc.collect()
    return _load(root, track=True)


def _load(root: Path, track: bool) -> StationConfig:
    loc = _Located(track)
    data = _read_files(root, loc)
    if not _yaml_files(root):
        loc.problems.append(
            ConfigProblem(str(root), 0, "", "no .yaml files in the station directory")
        )
    if "station" not in data and not loc.problems:
        loc.problems.append(
            ConfigProblem(str(root), 0, "station", "no file has a 'station' section")
        )
    if loc.problems:
        raise ConfigError(loc.problems)
    data["source_dir"] = str(root.resolve())
    if not track:
        # hopeful pass: hand pydantic one JSON text and drop the parsed objects first, so the
        # models reuse their memory instead of piling on top (a 10,000-tag station: ~100 MB less)
        text = json.dumps(data, ensure_ascii=False, default=str)
        del data
        gc.collect()
        try:
            cfg = StationConfig.model_validate_json(text)
        except ValidationError:
            raise ConfigError(
                [ConfigProblem(str(root), 0, "", "invalid")]
            ) from None  # located on the second pass
        del text
        problems = _cross_checks(cfg, loc, _Namer({})) + _screen_problems(cfg)
        if problems:
            raise ConfigError(problems)
        return cfg
    namer = _Namer(data)
    try:
        cfg = StationConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_schema_problems(exc, loc, namer)) from None
    problems = _cross_checks(cfg, loc, namer) + _screen_problems(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def _screen_problems(cfg: StationConfig) -> list[ConfigProblem]:
    """Every screen's bindings checked against the station (hmi.config.screens)."""
    from hmi.config.screens import screen_problems  # local: that module builds on this one

    return screen_problems(cfg)
