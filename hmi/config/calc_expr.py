"""The expression language of calculated tags: grammar, syntax tree and function table.

Parsed with lark (an LALR grammar of our own) rather than Python's ``ast``: station tag
names are dotted (``reg1.outlet.pressure``), patterns hold ``*`` (``"gd*.lel"``) and
``if(c, a, b)`` is a function here, none of which Python's grammar accepts; lark gives
the line and column of every token for check messages, and nothing is ever ``eval``-ed.

Language (one expression)::

    numbers 1, 2.5, 1e-3 · true / false · tag names reg1.outlet.pressure or `gd-1.lel`
    "pattern*" (a set of tags; only inside any/all/count/min/max/avg/sum)
    + - * / % **  · < <= > >= == !=  · and or not  · ( )
    f(args)  — see FUNCTIONS

Positions are 1-based columns into the expression text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

GRAMMAR = r"""
?start: or_
?or_: and_ | or_ "or" and_ -> or_op
?and_: not_ | and_ "and" not_ -> and_op
?not_: cmp | "not" not_ -> not_op
?cmp: sum | sum CMP sum -> cmp_op
?sum: term | sum ADD term -> bin_op
?term: factor | term MUL factor -> bin_op
?factor: power | ADD factor -> neg_op
?power: atom | atom POW factor -> bin_op
?atom: NUMBER -> num
     | TRUE -> true
     | FALSE -> false
     | STRING -> string
     | NAME -> ref
     | QNAME -> qref
     | NAME "(" [or_ ("," or_)*] ")" -> call
     | "(" or_ ")"
CMP: "<=" | ">=" | "==" | "!=" | "<" | ">"
ADD: "+" | "-"
MUL: "*" | "/" | "%"
POW: "**"
TRUE.2: "true"
FALSE.2: "false"
NAME: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*/
QNAME: /`[^`]+`/
STRING: /"[^"]*"/
NUMBER: /(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/
%ignore /[ \t\r\n]+/
"""

#: durations allowed as windows: "30s", "10m", "1h", "1d"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")
_DURATION_UNIT = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}

#: periods of delta_since
PERIODS = ("hour", "day", "month")


@dataclass(frozen=True, slots=True)
class FuncSpec:
    """Arity and kind of one function."""

    min_args: int
    max_args: int  # -1: any number
    kind: str  # "plain" | "reduce" | "window" | "state"
    doc: str


FUNCTIONS: dict[str, FuncSpec] = {
    "if": FuncSpec(3, 3, "plain", "if(c, a, b): a where c is true, else b"),
    "abs": FuncSpec(1, 1, "plain", "absolute value"),
    "sqrt": FuncSpec(1, 1, "plain", "square root (BAD when negative)"),
    "clamp": FuncSpec(3, 3, "plain", "clamp(x, lo, hi)"),
    "min": FuncSpec(1, -1, "reduce", 'smallest of the arguments / of a pattern; min(x, "10m")'),
    "max": FuncSpec(1, -1, "reduce", 'largest of the arguments / of a pattern; max(x, "10m")'),
    "avg": FuncSpec(1, -1, "reduce", 'mean of the arguments / of a pattern; avg(x, "10m")'),
    "sum": FuncSpec(1, -1, "reduce", 'sum of the arguments / of a pattern; sum(x, "10m")'),
    "any": FuncSpec(1, -1, "reduce", "true when any argument (or pattern member) is true"),
    "all": FuncSpec(1, -1, "reduce", "true when every argument (or pattern member) is true"),
    "count": FuncSpec(1, -1, "reduce", "how many arguments (or pattern members) are true"),
    "rate": FuncSpec(2, 2, "window", 'rate(x, "10m"): change per second over the window'),
    "integral": FuncSpec(1, 2, "state", 'integral(x, "h"): time integral, x per s/min/h/d'),
    "counter": FuncSpec(1, 1, "state", "counter(c): how many times c became true"),
    "runtime": FuncSpec(1, 1, "state", "runtime(c): hours c has been true"),
    "delta_since": FuncSpec(2, 2, "state", 'delta_since(x, "day"): change since the gas day began'),
}
WINDOWED = ("min", "max", "avg", "sum", "rate")


class ExprError(ValueError):
    """A problem in an expression at a 1-based column (0: the whole expression)."""

    def __init__(self, col: int, message: str) -> None:
        self.col = col
        self.message = message
        super().__init__(f"col {col}: {message}" if col else message)


# --------------------------------------------------------------------------- syntax tree
@dataclass(frozen=True, slots=True)
class Node:
    """Base of every syntax-tree node; ``col`` is where it starts."""

    col: int


@dataclass(frozen=True, slots=True)
class Num(Node):
    """A number (booleans are 1.0 / 0.0)."""

    value: float


@dataclass(frozen=True, slots=True)
class Str(Node):
    """A string literal: a pattern of tag names, a window or a period."""

    text: str


@dataclass(frozen=True, slots=True)
class Ref(Node):
    """A tag named in the expression."""

    name: str


@dataclass(frozen=True, slots=True)
class Unary(Node):
    """``-x`` / ``+x`` / ``not x``."""

    op: str
    arg: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """Arithmetic, comparison and boolean operators."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    """``name(args)``."""

    name: str
    args: tuple[Node, ...] = field(default=())


def duration(text: str) -> float | None:
    """Seconds of a window like "10m" (None when it is not one)."""
    m = _DURATION.match(text)
    if not m:
        return None
    return float(m.group(1)) * _DURATION_UNIT[m.group(2)]


def is_windowed(node: Call) -> bool:
    """True for ``avg(x, "10m")`` and the like (a duration string as second argument)."""
    return (
        node.name in WINDOWED
        and len(node.args) == 2
        and isinstance(node.args[1], Str)
        and duration(node.args[1].text) is not None
    )


def is_stateful(node: Node) -> bool:
    """True when the expression keeps state between evaluations (windows, integrals...)."""
    if isinstance(node, Call):
        if FUNCTIONS.get(node.name, FUNCTIONS["abs"]).kind == "state" or is_windowed(node):
            return True
        return any(is_stateful(a) for a in node.args)
    if isinstance(node, Unary):
        return is_stateful(node.arg)
    if isinstance(node, Binary):
        return is_stateful(node.left) or is_stateful(node.right)
    return False


def walk(node: Node) -> list[Node]:
    """Every node of the tree, depth first, parents before children."""
    out = [node]
    if isinstance(node, Unary):
        out += walk(node.arg)
    elif isinstance(node, Binary):
        out += walk(node.left) + walk(node.right)
    elif isinstance(node, Call):
        for a in node.args:
            out += walk(a)
    return out


def refs(node: Node) -> list[Ref]:
    """Tags named directly, in order of appearance."""
    return [n for n in walk(node) if isinstance(n, Ref)]


def patterns(node: Node) -> list[Str]:
    """String literals that name sets of tags (inside any/all/count/min/max/avg/sum)."""
    out: list[Str] = []
    _strings(node, False, out)
    return out


def _strings(node: Node, in_reduce: bool, out: list[Str]) -> None:
    """Collect patterns; :class:`ExprError` for a string where a value is expected."""
    if isinstance(node, Str):
        if not in_reduce:
            raise ExprError(
                node.col,
                "a string is a tag-name pattern only inside any/all/count/min/max/avg/sum",
            )
        out.append(node)
    elif isinstance(node, Unary):
        _strings(node.arg, in_reduce, out)
    elif isinstance(node, Binary):
        _strings(node.left, in_reduce, out)
        _strings(node.right, in_reduce, out)
    elif isinstance(node, Call):
        reduce_ = FUNCTIONS.get(node.name, FUNCTIONS["abs"]).kind == "reduce"
        args = node.args
        if is_windowed(node) or node.name in ("rate", "delta_since", "integral"):
            args = args[:1]  # the second argument is a window / period, checked by _check_calls
            reduce_ = False
        for a in args:
            _strings(a, in_reduce or reduce_, out)


# --------------------------------------------------------------------------- parser
@v_args(inline=True)
class _Build(Transformer[Token, Node]):
    @staticmethod
    def _col(tok: Token) -> int:
        return int(tok.column or 0)

    def num(self, tok: Token) -> Node:
        return Num(self._col(tok), float(tok))

    def true(self, tok: Token) -> Node:
        return Num(self._col(tok), 1.0)

    def false(self, tok: Token) -> Node:
        return Num(self._col(tok), 0.0)

    def string(self, tok: Token) -> Node:
        return Str(self._col(tok), str(tok)[1:-1])

    def ref(self, tok: Token) -> Node:
        return Ref(self._col(tok), str(tok))

    def qref(self, tok: Token) -> Node:
        return Ref(self._col(tok), str(tok)[1:-1].strip())

    def call(self, name: Token, *args: Node | None) -> Node:
        return Call(self._col(name), str(name), tuple(a for a in args if a is not None))

    def bin_op(self, left: Node, op: Token, right: Node) -> Node:
        return Binary(self._col(op), str(op), left, right)  # col: the operator

    cmp_op = bin_op

    def neg_op(self, op: Token, arg: Node) -> Node:
        return arg if str(op) == "+" else Unary(self._col(op), "-", arg)

    def not_op(self, arg: Node) -> Node:
        return Unary(max(1, arg.col - 4), "not", arg)

    def and_op(self, left: Node, right: Node) -> Node:
        return Binary(left.col, "and", left, right)

    def or_op(self, left: Node, right: Node) -> Node:
        return Binary(left.col, "or", left, right)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=True)


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """Syntax tree of ``text``; :class:`ExprError` with the column of a syntax error."""
    if not text.strip():
        raise ExprError(0, "empty expression")
    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as exc:
        raise ExprError(exc.column, f"syntax error: unexpected character {exc.char!r}") from None
    except UnexpectedEOF:
        raise ExprError(len(text) + 1, "syntax error: the expression ends too early") from None
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            raise ExprError(len(text) + 1, "syntax error: the expression ends too early") from None
        raise ExprError(int(tok.column or 0), f"syntax error: unexpected {str(tok)!r}") from None
    except UnexpectedInput as exc:  # pragma: no cover - the three above cover LALR
        raise ExprError(int(getattr(exc, "column", 0) or 0), "syntax error") from None
    node = _Build().transform(tree)
    _check_calls(node)
    return node


def _check_calls(node: Node) -> None:
    """Unknown functions, wrong argument counts and malformed windows/periods."""
    for n in walk(node):
        if not isinstance(n, Call):
            continue
        spec = FUNCTIONS.get(n.name)
        if spec is None:
            raise ExprError(n.col, f"unknown function {n.name!r} (have: {', '.join(FUNCTIONS)})")
        k = len(n.args)
        if k < spec.min_args or (spec.max_args >= 0 and k > spec.max_args):
            if spec.max_args < 0:
                want = f"{spec.min_args} or more"
            elif spec.min_args == spec.max_args:
                want = str(spec.min_args)
            else:
                want = f"{spec.min_args}-{spec.max_args}"
            raise ExprError(n.col, f"{n.name}() takes {want} argument(s), got {k}")
        if n.name == "rate" and not is_windowed(n):
            raise ExprError(n.col, 'rate(x, window) needs a window like "10m" (s, m, h, d)')
        if n.name == "delta_since":
            p = n.args[1]
            if not isinstance(p, Str) or p.text not in PERIODS:
                raise ExprError(p.col, f"delta_since(x, period): period must be one of {PERIODS}")
        if n.name == "integral" and k == 2:
            b = n.args[1]
            if not isinstance(b, Str) or b.text not in ("s", "min", "h", "d"):
                raise ExprError(b.col, 'integral(x, per): per must be "s", "min", "h" or "d"')
    patterns(node)
