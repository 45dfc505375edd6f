"""Compile an expression's syntax tree into a NumPy function.

One compiled function evaluates a whole *group* of expression tags that share a shape
(``a + b * 2`` and ``c + d * 2`` differ only in the tags they read): every tag reference
becomes a slot holding one value per member, so 500 such tags cost one NumPy call per
operator instead of 500 Python evaluations. Patterns (``"gd*.lel"``) and stateful
functions make a tag a group of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hmi.config.calc_expr import Binary, Call, Node, Num, Ref, Str, Unary, duration, is_windowed
from hmi.core.calc.state import Counter, DeltaSince, FuncState, Integral, Runtime, Window


@dataclass(slots=True)
class Ctx:
    """Inputs of one evaluation: slot values (one per group member) and the table's values."""

    slots: list[np.ndarray]
    table: np.ndarray  # engine's latest value of every tag (patterns read it)
    ts: float = 0.0  # evaluation time (stateful groups only)
    notes: list[str] = field(default_factory=list)  # reasons for an UNCERTAIN result


Fn = Callable[[Ctx], np.ndarray]

_BIN: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.true_divide,
    "%": np.mod,
    "**": np.power,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
_REDUCE: dict[str, Callable[..., Any]] = {
    "min": np.min,
    "max": np.max,
    "avg": np.mean,
    "sum": np.sum,
    "any": lambda a, axis: np.any(a != 0, axis=axis),
    "all": lambda a, axis: np.all(a != 0, axis=axis),
    "count": lambda a, axis: np.count_nonzero(a != 0, axis=axis),
}

_PAIRWISE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "min": np.minimum,
    "max": np.maximum,
    "sum": np.add,
    "avg": np.add,  # divided by the count afterwards
}


def slot_names(node: Node) -> list[str]:
    """Tags named in ``node`` by first appearance: the group's slots."""
    out: list[str] = []
    for r in _refs(node):
        if r.name not in out:
            out.append(r.name)
    return out


def _refs(node: Node) -> list[Ref]:
    if isinstance(node, Ref):
        return [node]
    if isinstance(node, Unary):
        return _refs(node.arg)
    if isinstance(node, Binary):
        return _refs(node.left) + _refs(node.right)
    if isinstance(node, Call):
        return [r for a in node.args for r in _refs(a)]
    return []


def shape(node: Node, slots: dict[str, int]) -> str:
    """Canonical text of ``node`` with tag names replaced by slot numbers."""
    if isinstance(node, Ref):
        return f"${slots[node.name]}"
    if isinstance(node, Num):
        return repr(node.value)
    if isinstance(node, Str):
        return repr(node.text)
    if isinstance(node, Unary):
        return f"({node.op} {shape(node.arg, slots)})"
    if isinstance(node, Binary):
        return f"({shape(node.left, slots)} {node.op} {shape(node.right, slots)})"
    assert isinstance(node, Call)
    return f"{node.name}({', '.join(shape(a, slots) for a in node.args)})"


class Compiler:
    """Turns one syntax tree into a :data:`Fn`; collects the states its call sites need."""

    def __init__(
        self,
        slots: dict[str, int],
        members: dict[str, np.ndarray],
        gas_day_start: int = 8,
        tz: str = "UTC",
    ) -> None:
        self.slots = slots
        self.members = members  # pattern text -> tag-table indices
        self.gas_day_start = gas_day_start
        self.tz = tz
        self.states: list[tuple[str, FuncState]] = []  # (function name, state) per call site

    def compile(self, node: Node) -> Fn:
        """The function computing ``node``."""
        if isinstance(node, Num):
            c = np.float64(node.value)
            return lambda ctx: c  # type: ignore[return-value]
        if isinstance(node, Ref):
            k = self.slots[node.name]
            return lambda ctx: ctx.slots[k]
        if isinstance(node, Str):
            idx = self.members[node.text]
            return lambda ctx: ctx.table[idx]
        if isinstance(node, Unary):
            f = self.compile(node.arg)
            if node.op == "-":
                return lambda ctx: np.negative(f(ctx))
            return lambda ctx: (f(ctx) == 0).astype(np.float64)
        if isinstance(node, Binary):
            return self._binary(node)
        assert isinstance(node, Call)
        return self._call(node)

    def _binary(self, node: Binary) -> Fn:
        lf, rf = self.compile(node.left), self.compile(node.right)
        if node.op == "and":
            return lambda ctx: ((lf(ctx) != 0) & (rf(ctx) != 0)).astype(np.float64)
        if node.op == "or":
            return lambda ctx: ((lf(ctx) != 0) | (rf(ctx) != 0)).astype(np.float64)
        op = _BIN[node.op]
        if node.op in ("+", "-", "*", "/", "%", "**"):
            return lambda ctx: op(lf(ctx), rf(ctx))
        return lambda ctx: op(lf(ctx), rf(ctx)).astype(np.float64)

    def _call(self, node: Call) -> Fn:
        name = node.name
        if is_windowed(node):
            assert isinstance(node.args[1], Str)
            secs = duration(node.args[1].text) or 1.0
            return self._stateful(node.args[0], name, Window(name, secs))
        if name == "integral":
            per = node.args[1].text if len(node.args) > 1 and isinstance(node.args[1], Str) else "s"
            return self._stateful(node.args[0], name, Integral(per))
        if name == "counter":
            return self._stateful(node.args[0], name, Counter())
        if name == "runtime":
            return self._stateful(node.args[0], name, Runtime())
        if name == "delta_since":
            assert isinstance(node.args[1], Str)
            st = DeltaSince(node.args[1].text, self.gas_day_start, self.tz)
            return self._stateful(node.args[0], name, st)
        fs = [self.compile(a) for a in node.args]
        if name == "if":
            c, a, b = fs
            return lambda ctx: np.where(c(ctx) != 0, a(ctx), b(ctx))
        if name == "abs":
            return lambda ctx: np.abs(fs[0](ctx))
        if name == "sqrt":
            return lambda ctx: np.sqrt(fs[0](ctx))
        if name == "clamp":
            x, lo, hi = fs
            return lambda ctx: np.minimum(np.maximum(x(ctx), lo(ctx)), hi(ctx))
        return self._reduce(node, fs)

    def _reduce(self, node: Call, fs: list[Fn]) -> Fn:
        red = _REDUCE[node.name]
        vector = any(isinstance(n, Str) for a in node.args for n in _walk(a))
        if vector:  # patterns: one member (K=1), reduce everything to one value
            return lambda ctx: np.atleast_1d(
                np.float64(red(np.concatenate([np.atleast_1d(f(ctx)) for f in fs]), axis=None))
            )
        if len(fs) == 1:
            f0 = fs[0]
            if node.name in ("any", "all", "count"):
                return lambda ctx: (f0(ctx) != 0).astype(np.float64)
            return f0
        pair = _PAIRWISE.get(node.name)
        if pair is not None:  # min/max/sum/avg of a few values: elementwise, no stacking
            first, rest = fs[0], fs[1:]

            def fold(ctx: Ctx) -> np.ndarray:
                acc = first(ctx)
                for f in rest:
                    acc = pair(acc, f(ctx))
                return acc

            return fold if node.name != "avg" else lambda ctx: fold(ctx) / len(fs)
        return lambda ctx: np.asarray(
            red(np.stack(np.broadcast_arrays(*[f(ctx) for f in fs])), axis=0), np.float64
        )

    def _stateful(self, arg: Node, name: str, st: FuncState) -> Fn:
        f = self.compile(arg)
        self.states.append((name, st))
        add = st.add  # type: ignore[attr-defined]

        def run(ctx: Ctx) -> np.ndarray:
            v = float(np.asarray(f(ctx)).reshape(-1)[0])
            out = add(ctx.ts, v)
            if isinstance(out, tuple):  # windows: (value, note while filling)
                out, note = out
                if note:
                    ctx.notes.append(note)
            return np.array([out if out is not None else math.nan])

        return run


def _walk(node: Node) -> list[Node]:
    if isinstance(node, Unary):
        return [node, *_walk(node.arg)]
    if isinstance(node, Binary):
        return [node, *_walk(node.left), *_walk(node.right)]
    if isinstance(node, Call):
        if is_windowed(node) or node.name in ("integral", "counter", "runtime", "delta_since"):
            return [node]  # a pattern inside is that call's business
        return [node, *(n for a in node.args for n in _walk(a))]
    return [node]
