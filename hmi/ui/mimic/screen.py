"""A mimic screen ready to draw: the checked bindings plus the parsed SVG.

What a screen's YAML may say and how it is checked against the station lives in
:mod:`hmi.config.screen` and :mod:`hmi.config.screens`; the station loader checks every
screen at start, so the HMI only reads the files again and renders them. A label's text
comes from the tag config in the screen's language (``labels:``, see
:mod:`hmi.config.screen`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hmi.config.loader import ConfigError
from hmi.config.schema import StationConfig, Text
from hmi.config.screen import OVERLAY_KINDS, SYMBOL_KINDS, Binding, label_part
from hmi.config.screens import read_screen
from hmi.ui.mimic.svgdoc import SvgDoc, SvgError

__all__ = [
    "OVERLAY_KINDS",
    "SYMBOL_KINDS",
    "Binding",
    "ScreenDef",
    "ScreenError",
    "label_part",
    "load_screen",
]


class ScreenError(Exception):
    """A screen that cannot be shown; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


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
    try:
        spec = read_screen(folder, name, cfg, screen_ids)
    except ConfigError as exc:
        raise ScreenError([str(p) for p in exc.problems]) from None
    try:
        svg_text = spec.svg_path.read_text(encoding="utf-8")
        doc = SvgDoc.parse(svg_text, str(spec.svg_path))
    except (OSError, SvgError) as exc:
        raise ScreenError([f"{spec.svg_path}: {exc}"]) from None
    return ScreenDef(
        name,
        spec.svg_path,
        svg_text,
        doc,
        spec.title,
        spec.bindings,
        spec.translations,
        spec.kpis,
        spec.labels,
        spec.label_source,
    )
