"""Business routes of the uplink (``uplink.routes``): which tags go to which topic, how often.

A route selects uplink tags by area, by name pattern (``fnmatch``: ``reg1.*.pressure``) or
by an explicit list, and sends them to its own JSON topic ``<prefix>/<station>/<route>``
(Sparkplug mode: its own Sparkplug device) with its own QoS, either on every change or as
windowed aggregates (min/max/avg/last) for thin links. Cross-references (tag names, areas)
are checked by :func:`route_problems`, which the loader reports with file:line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from fnmatch import fnmatchcase
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ROUTE_NAME_RE = re.compile(r"^[a-z][a-z0-9_\-]*$")
#: topic levels the JSON mode already uses under ``<prefix>/<station>/``
RESERVED = frozenset({"telemetry", "alarms", "events", "status", "meta", "cmd"})
MIN_WINDOW, MAX_WINDOW = 10.0, 3600.0
Stat = Literal["min", "max", "avg", "last"]
STATS: tuple[Stat, ...] = ("min", "max", "avg", "last")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_rate(text: str | float) -> float:
    """``'change'`` -> 0.0 (every change); ``'10s'``, ``'5m'``, ``'1h'`` -> the window in seconds.

    Raises ValueError naming the accepted forms.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        window = float(text)
    elif isinstance(text, str) and text.strip() == "change":
        return 0.0
    else:
        m = _DURATION.match(str(text))
        if not m:
            raise ValueError(
                f"rate {text!r}: use 'change' or an aggregation window such as 10s, 5m, 1h"
            )
        window = float(m.group(1)) * _UNIT[m.group(2)]
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise ValueError(f"rate {text!r}: an aggregation window must be 10 s to 1 h (or 'change')")
    return window


class RouteConfig(BaseModel):
    """One business route (``metering``, ``safety``, ``equipment``, ``energy`` ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    areas: list[str] = Field(default_factory=list, description="tags whose area is one of these")
    match: list[str] = Field(default_factory=list, description="fnmatch patterns on tag names")
    tags: list[str] = Field(default_factory=list, description="explicit tag names")
    qos: Literal[0, 1] = 1
    rate: str | float = Field("change", description="'change' or a window 10s..1h (aggregates)")
    aggregates: list[Stat] = Field(default_factory=lambda: list(STATS))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not ROUTE_NAME_RE.match(v):
            raise ValueError(
                f"route name {v!r}: use lower-case letters, digits, '_' or '-' "
                "(it becomes a topic level)"
            )
        if v in RESERVED:
            raise ValueError(
                f"route name {v!r} is taken by the JSON topics ({', '.join(sorted(RESERVED))})"
            )
        return v

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: str | float) -> str | float:
        parse_rate(v)
        return v

    @model_validator(mode="after")
    def _selects(self) -> RouteConfig:
        if not (self.areas or self.match or self.tags):
            raise ValueError(f"route {self.name!r} selects nothing: give areas, match or tags")
        if not self.aggregates:
            raise ValueError(
                f"route {self.name!r}: aggregates must name at least one of min, max, avg, last"
            )
        return self

    @property
    def window(self) -> float:
        """Aggregation window in seconds; 0.0 = every change."""
        return parse_rate(self.rate)

    def selects(self, name: str, area: str) -> bool:
        """True if the tag ``name`` (in ``area``) belongs to this route."""
        if area and area in self.areas:
            return True
        if name in self.tags:
            return True
        return any(fnmatchcase(name, p) for p in self.match)


class _Tag(Protocol):
    """What the route checks read of a tag (read-only: tag configs are frozen)."""

    @property
    def name(self) -> str: ...

    @property
    def area(self) -> str: ...

    @property
    def uplink(self) -> bool: ...


def route_problems(
    routes: Sequence[RouteConfig], tags: Sequence[_Tag]
) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(config path, message) for every route problem the schema cannot see."""
    names = {t.name for t in tags}
    areas = {t.area for t in tags if t.area}
    seen: set[str] = set()
    for i, r in enumerate(routes):
        if r.name in seen:
            yield ("uplink", "routes", i, "name"), f"duplicate route name {r.name!r}"
        seen.add(r.name)
        found = False
        for j, n in enumerate(r.tags):
            if n not in names:
                found = True
                yield ("uplink", "routes", i, "tags", j), f"unknown tag {n!r}"
        for j, a in enumerate(r.areas):
            if a not in areas:
                found = True
                known = ", ".join(sorted(areas)) or "none"
                yield ("uplink", "routes", i, "areas", j), f"no tag has area {a!r} (areas: {known})"
        if not found and not any(t.uplink and r.selects(t.name, t.area) for t in tags):
            yield ("uplink", "routes", i), f"route {r.name!r} selects no uplink tag"
