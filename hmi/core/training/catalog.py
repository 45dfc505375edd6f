"""The simulator's scenarios as a drill catalog: name, zh/en description, timeline, expected alarms.

The scenario classes live in :mod:`drivers.sim.scenarios`. A scenario may declare a
``description`` (a ``{"en": ..., "zh": ...}`` mapping or a plain string) and
``expected_alarms`` (alarm ids or tag names); scenarios that declare neither fall back
to the first line of their docstring and "no expectation" (the drill report then lists
the alarms raised without judging them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from drivers.sim.scenarios import SCENARIOS


@dataclass(frozen=True, slots=True)
class DrillScenario:
    """What the instructor picks from: one simulator scenario."""

    name: str
    description_en: str
    description_zh: str
    timeline: str
    #: alarm ids or tag names the scenario should raise; None when it declares nothing
    expected: tuple[str, ...] | None
    #: alarms it may raise as well (time of day, speed): neither missed nor unexpected
    possible: tuple[str, ...] = ()
    title_en: str = ""
    title_zh: str = ""
    #: the speed and length (model seconds) the scenario suggests for a drill (0: none)
    speed: float = 0.0
    duration: float = 0.0

    def description(self, lang: str) -> str:
        """The description in ``lang`` (zh_CN or en), falling back to the other language."""
        if lang.startswith("zh"):
            return self.description_zh or self.description_en
        return self.description_en or self.description_zh

    def title(self, lang: str) -> str:
        """The short title in ``lang`` ('' when the scenario has none)."""
        if lang.startswith("zh"):
            return self.title_zh or self.title_en
        return self.title_en or self.title_zh


def _texts(cls: Any) -> tuple[str, str]:
    desc = getattr(cls, "description", None)
    if isinstance(desc, Mapping):
        en = str(desc.get("en") or "")
        zh = str(desc.get("zh") or desc.get("zh_CN") or "")
    elif isinstance(desc, str) and desc:
        en, zh = desc, ""
    else:
        en = str(getattr(cls, "description_en", "") or "")
        zh = str(getattr(cls, "description_zh", "") or "")
    if not en:
        doc = (cls.__doc__ or "").strip()
        en = doc.splitlines()[0].strip() if doc else cls.name
    return en, zh


def _expected(cls: Any, attr: str = "expected_alarms") -> tuple[str, ...] | None:
    raw = getattr(cls, attr, None)
    if raw is None:
        return None
    if callable(raw):
        raw = raw()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, Iterable):
        return tuple(str(getattr(a, "alarm_id", a)) for a in raw)
    return None


def drill_scenario(name: str) -> DrillScenario:
    """The catalog entry of scenario ``name``; ValueError naming the known ones otherwise."""
    cls = SCENARIOS.get(name)
    if cls is None:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    en, zh = _texts(cls)
    timeline = cls.timeline() if hasattr(cls, "timeline") else ""
    title = getattr(cls, "title", None)
    title = title if isinstance(title, Mapping) else {}
    return DrillScenario(
        name,
        en,
        zh,
        str(timeline),
        _expected(cls),
        _expected(cls, "possible_alarms") or (),
        str(title.get("en") or ""),
        str(title.get("zh") or title.get("zh_CN") or ""),
        _number(getattr(cls, "speed", 0.0)),
        _number(getattr(cls, "duration", 0.0)),
    )


def _number(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


def drill_scenarios() -> list[DrillScenario]:
    """Every scenario except plain normal operation, in registry order."""
    return [drill_scenario(n) for n in SCENARIOS if n != "normal"]


def matches(expected: str, alarm_id: str, tag: str) -> bool:
    """True when an expectation (an alarm id, or a tag name for any of its alarms) covers an alarm."""
    return expected in (alarm_id, tag)
