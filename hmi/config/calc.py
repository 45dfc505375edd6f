"""Calculated and manual-entry tags: the ``calc`` device's parameters and the checks at load.

Convention: a station has one (or more) device with ``protocol: calc``. Its tags either
carry ``expr:`` (an expression over other tags, see :mod:`hmi.config.calc_expr`) or
``access: manual`` (a value an operator types in). Everything else about such a tag —
unit, range, alarms, history, uplink, labels — is an ordinary tag's.

:func:`calc_problems` runs inside the loader's cross-checks (errors: syntax with column,
unknown tags and functions, patterns that match nothing, text tags used as numbers,
cycles). :func:`calc_warnings` lists what is legal but suspicious (adding ``kPa`` to
``MPa``); ``gas-hmi check`` prints those without failing.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from hmi.config.calc_expr import (
    Binary,
    Call,
    ExprError,
    Node,
    Ref,
    Str,
    Unary,
    is_windowed,
    parse,
    patterns,
    refs,
)

if TYPE_CHECKING:
    from hmi.config.schema import StationConfig, TagConfig

Path_ = tuple[Any, ...]
CALC = "calc"


class CalcParams(BaseModel):
    """Parameters of a ``protocol: calc`` device."""

    gas_day_start: int = Field(
        8, ge=0, le=23, description="hour (station time zone) at which the gas day begins"
    )
    save_period: float = Field(
        10.0, ge=1, le=3600, description="seconds between saves of counters, integrals, runtimes"
    )


@dataclass(frozen=True, slots=True)
class CalcTag:
    """One expression tag, parsed and resolved."""

    name: str
    node: Node
    inputs: tuple[str, ...]  # every tag it reads, named or through a pattern, in order
    pattern_members: dict[str, tuple[str, ...]]  # pattern text -> tags it matches


def is_calc_tag(cfg: StationConfig, tag: TagConfig) -> bool:
    """True for a tag on a ``protocol: calc`` device."""
    try:
        return cfg.device(tag.device).protocol == CALC
    except KeyError:
        return False


def expand(pattern: str, names: list[str]) -> tuple[str, ...]:
    """Tags whose name matches a shell-style pattern (``gd*.lel``), in config order."""
    return tuple(n for n in names if fnmatch.fnmatchcase(n, pattern))


def resolve(cfg: StationConfig, tag: TagConfig) -> CalcTag:
    """Parse ``tag.expr`` and resolve its tags; ExprError with the column otherwise."""
    node = parse(tag.expr)
    names = cfg.tag_map()
    members: dict[str, tuple[str, ...]] = {}
    inputs: list[str] = []
    for r in refs(node):
        if r.name not in names:
            raise ExprError(r.col, f"unknown tag {r.name!r}")
        if r.name not in inputs:
            inputs.append(r.name)
    for p in patterns(node):
        hit = tuple(n for n in expand(p.text, list(names)) if n != tag.name)
        if not hit:
            raise ExprError(p.col, f"pattern {p.text!r} matches no tag")
        members[p.text] = hit
        inputs += [n for n in hit if n not in inputs]
    for n in inputs:
        if names[n].type == "string":
            raise ExprError(_col_of(node, n), f"{n} is a text tag: it cannot be used as a number")
    return CalcTag(tag.name, node, tuple(inputs), members)


def _col_of(node: Node, name: str) -> int:
    return next((r.col for r in refs(node) if r.name == name), 0)


def resolve_all(cfg: StationConfig) -> tuple[dict[str, CalcTag], list[tuple[Path_, str]]]:
    """Every expression tag resolved, and (path, message) for each one that is not."""
    out: dict[str, CalcTag] = {}
    problems: list[tuple[Path_, str]] = []
    for i, t in enumerate(cfg.tags):
        if not t.expr or not is_calc_tag(cfg, t):
            continue
        try:
            out[t.name] = resolve(cfg, t)
        except ExprError as exc:
            problems.append((("tags", i, "expr"), f"{exc} in {t.expr!r}"))
    return out, problems


def order(calc: dict[str, CalcTag]) -> tuple[list[str], list[list[str]]]:
    """(evaluation order, cycles): inputs before the tags that read them."""
    done: dict[str, int] = {}  # 1 visiting, 2 done
    out: list[str] = []
    cycles: list[list[str]] = []

    def visit(name: str, stack: list[str]) -> None:
        state = done.get(name)
        if state == 2:
            return
        if state == 1:
            cycles.append(stack[stack.index(name) :] + [name])
            return
        done[name] = 1
        for dep in calc[name].inputs:
            if dep in calc:
                visit(dep, stack + [dep])
        done[name] = 2
        out.append(name)

    for name in calc:
        visit(name, [name])
    return out, cycles


def levels(calc: dict[str, CalcTag], ordered: list[str]) -> dict[str, int]:
    """Depth of each expression tag: 0 reads only device/manual tags."""
    lv: dict[str, int] = {}
    for name in ordered:
        deps = [lv[d] for d in calc[name].inputs if d in calc and d in lv]
        lv[name] = 1 + max(deps) if deps else 0
    return lv


def calc_problems(cfg: StationConfig) -> list[tuple[Path_, str]]:
    """Errors in calculated and manual tags, as (config path, message)."""
    problems: list[tuple[Path_, str]] = []
    for i, t in enumerate(cfg.tags):
        on_calc = is_calc_tag(cfg, t)
        if t.expr and not on_calc and _device_known(cfg, t):
            problems.append((("tags", i, "expr"), "expr needs a device with protocol: calc"))
        if t.access == "manual" and not on_calc and _device_known(cfg, t):
            problems.append(
                (("tags", i, "access"), "manual entry needs a device with protocol: calc")
            )
        if not on_calc:
            continue
        if t.expr and t.access != "r":
            problems.append(
                (
                    ("tags", i, "access"),
                    "an expression tag is read-only (access: r); use access: manual without expr for typed-in values",
                )
            )
        if not t.expr and t.access != "manual":
            problems.append(
                (("tags", i), "a calc tag needs expr: (an expression) or access: manual (typed in)")
            )
        if t.address:
            problems.append((("tags", i, "address"), "calc tags have no address (use expr:)"))
    calc, errs = resolve_all(cfg)
    problems += errs
    _ordered, cycles = order(calc)
    index = {t.name: i for i, t in enumerate(cfg.tags)}
    seen: set[frozenset[str]] = set()
    for cyc in cycles:
        key = frozenset(cyc)
        if key in seen:
            continue
        seen.add(key)
        problems.append(
            (
                ("tags", index[cyc[0]], "expr"),
                f"cycle: {' -> '.join(cyc)} (an expression cannot depend on itself)",
            )
        )
    return problems


def _device_known(cfg: StationConfig, tag: TagConfig) -> bool:
    return any(d.id == tag.device for d in cfg.devices)


# --------------------------------------------------------------------------- units
def calc_warnings(cfg: StationConfig) -> list[tuple[Path_, str]]:
    """Legal but suspicious expressions: quantities of different units added or compared."""
    out: list[tuple[Path_, str]] = []
    calc, _errs = resolve_all(cfg)
    units = {t.name: t.unit.strip() for t in cfg.tags}
    for i, t in enumerate(cfg.tags):
        ct = calc.get(t.name)
        if ct is None:
            continue
        inf = _Units(units, ct.pattern_members)
        result = inf.of(ct.node)
        for col, msg in inf.found:
            out.append((("tags", i, "expr"), f"col {col}: {msg} in {t.expr!r}"))
        if result and t.unit and result != t.unit.strip():
            out.append(
                (
                    ("tags", i, "unit"),
                    f"the expression gives {result} but the tag's unit is {t.unit}",
                )
            )
    return out


_SAME_UNIT_OPS = ("+", "-", "<", "<=", ">", ">=", "==", "!=")
_SAME_UNIT_FUNCS = ("min", "max", "avg", "sum", "clamp")


class _Units:
    """Infers the unit of an expression as far as the config says; collects clashes."""

    def __init__(self, units: dict[str, str], members: dict[str, tuple[str, ...]]) -> None:
        self.units = units
        self.members = members
        self.found: list[tuple[int, str]] = []

    def of(self, node: Node) -> str | None:
        """Unit of ``node`` (None: unknown or dimensionless)."""
        if isinstance(node, Ref):
            return self.units.get(node.name) or None
        if isinstance(node, Str):
            seen = {self.units.get(m) or "" for m in self.members.get(node.text, ())}
            if len(seen) > 1:
                self.found.append(
                    (node.col, f"pattern {node.text!r} mixes units {', '.join(sorted(seen))}")
                )
                return None
            return next(iter(seen), "") or None
        if isinstance(node, Unary):
            u = self.of(node.arg)
            return u if node.op == "-" else None
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Call):
            return self._call(node)
        return None  # a number fits any unit

    def _binary(self, node: Binary) -> str | None:
        lu, ru = self.of(node.left), self.of(node.right)
        if node.op not in _SAME_UNIT_OPS:
            return None  # * / % **: a new unit the config does not name
        if lu and ru and lu != ru:
            verb = "adding" if node.op in "+-" else "comparing"
            self.found.append(
                (
                    node.col,
                    f"{verb} {lu} and {ru}: convert one side first (no unit is converted silently)",
                )
            )
            return None
        return (lu or ru) if node.op in "+-" else None

    def _call(self, node: Call) -> str | None:
        args = node.args[:1] if is_windowed(node) else node.args
        us = [self.of(a) for a in args]
        if node.name in _SAME_UNIT_FUNCS:
            known = {u for u in us if u}
            if len(known) > 1:
                self.found.append(
                    (node.col, f"{node.name}() of {', '.join(sorted(known))}: convert first")
                )
                return None
            return next(iter(known), None)
        if node.name == "if":
            a, b = us[1], us[2]
            if a and b and a != b:
                self.found.append((node.col, f"if() branches in {a} and {b}: convert one first"))
                return None
            return a or b
        return us[0] if node.name in ("abs", "delta_since") else None
