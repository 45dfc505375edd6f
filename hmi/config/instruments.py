"""One name per instrument: the ISA numbers of the tags and of the P&ID bubbles agree (Qt-free).

A tag's ``instrument:`` is the ISA number of the field instrument it comes from (``PT-501``,
``ZSO-101``, ``GD-01``). It is shown beside the description in the alarm banner, the alarm
list and the faceplate title, and sent upstream as ``InstrumentTag``. The checks here make a
wrong number impossible to ship:

- in the station config, every number is spelled ``LETTERS-NUMBER[suffix]`` and names one
  tag only (:func:`instrument_problems`);
- on a P&ID, every instrument number drawn in a ``<text>`` or a symbol's ``<title>`` is the
  instrument of a tag of the station, and the bubble drawn next to a bound element shows the
  number of the tag bound there (:func:`svg_instrument_problems`).

Which bubble belongs to which element is read from the drawing: a bubble labels the bound
element nearest to it (within :data:`NEAR_PX`). A value field must show its tag's number
exactly; a symbol (valve, regulator, meter) carries the number of the equipment, so its
number must be of the same loop (the part after the dash: ``PCV-401M`` and ``ZT-401M``) as
one of the tags bound to it. Equipment numbers (``F-101A``, ``E-301``, ``TK-601``,
``ODR-601``) are not instruments and are not checked.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hmi.config.schema import StationConfig

Path_ = tuple[Any, ...]

#: how an instrument number is spelled in the config: function letters, dash, loop number
INSTRUMENT_RE = re.compile(r"^[A-Z]{1,5}-\d{2,4}[A-Z]?$")
#: an instrument number inside a drawn text (two or more letters: F-101A is a filter)
_TOKEN = re.compile(r"(?<![A-Za-z0-9-])([A-Z]{2,5})-(\d{2,4}[A-Z]?)(?![A-Za-z0-9])")
#: letter codes of equipment, not instruments (tank, odorizer, ultrasonic meter body, UPS)
EQUIPMENT_CODES = frozenset({"TK", "ODR", "USM", "UPS"})
#: how far (px, drawing units) a bubble may sit from the element it labels
NEAR_PX = 40.0
#: the tag keys of a binding whose tags the element shows
_BOUND_KEYS = ("tag", "open_tag", "closed_tag", "fault_tag")
_UNCHECKED_KINDS = frozenset({"pipe", "link"})
_SVG = "{http://www.w3.org/2000/svg}"
_TRANSLATE = re.compile(r"translate\(\s*([-\d.]+)[\s,]+([-\d.]+)")
#: extent of a symbol around its origin: half width, height above (actuator), depth below
_SYM = (20.0, 36.0, 20.0)
_CHAR_PX = 6.2  # mean advance of an 11 px bubble character, to estimate a text's extent


def loop_of(number: str) -> str:
    """The loop part of an instrument number: ``401M`` of ``PCV-401M``."""
    return number.split("-", 1)[1] if "-" in number else number


def instrument_tokens(text: str) -> list[str]:
    """The instrument numbers written in a drawn text (equipment numbers left out)."""
    return [
        f"{m.group(1)}-{m.group(2)}"
        for m in _TOKEN.finditer(text)
        if m.group(1) not in EQUIPMENT_CODES
    ]


def instrument_problems(cfg: StationConfig) -> list[tuple[Path_, str]]:
    """(path, message) for every instrument number misspelled or given to two tags."""
    out: list[tuple[Path_, str]] = []
    first: dict[str, str] = {}
    for i, t in enumerate(cfg.tags):
        if not t.instrument:
            continue
        at = ("tags", i, "instrument")
        if not INSTRUMENT_RE.match(t.instrument):
            out.append(
                (
                    at,
                    f"{t.instrument!r} is not an ISA instrument number: write function letters, "
                    "a dash and the loop number (e.g. PT-501, ZSO-101, GD-01)",
                )
            )
        elif t.instrument in first:
            out.append(
                (
                    at,
                    f"instrument {t.instrument} is already tag {first[t.instrument]}: one number "
                    "names one instrument; give this tag its own number (e.g. ZSC- for the closed "
                    "limit switch of a valve whose open switch is ZSO-)",
                )
            )
        else:
            first[t.instrument] = t.name
    return out


@dataclass(frozen=True)
class Drawn:
    """A drawn thing with an instrument number: a bubble text or a symbol's title."""

    text: str
    x: float  # centre of the text, or the symbol's origin
    y: float
    element: str = ""  # id of the symbol whose <title> this is; "" for a bubble


@dataclass(frozen=True)
class Placed:
    """Where a bound element is drawn: a box (x0, y0, x1, y1) in drawing units."""

    box: tuple[float, float, float, float]
    symbol: bool


def _num(e: ET.Element, key: str) -> float:
    try:
        return float(e.get(key, "0"))
    except ValueError:
        return 0.0


def _text_centre(e: ET.Element, text: str) -> tuple[float, float]:
    x, y = _num(e, "x"), _num(e, "y")
    width = len(text) * _CHAR_PX
    anchor = e.get("text-anchor", "start")
    cx = x - width / 2 if anchor == "end" else x if anchor == "middle" else x + width / 2
    return cx, y  # the baseline: a bubble sits just above the field it labels


def svg_geometry(root: ET.Element) -> tuple[list[Drawn], dict[str, Placed]]:
    """The instrument numbers drawn in an SVG and where each element with an id sits.

    Only translations are followed (the P&IDs place symbols with ``translate``); bubbles
    are top-level texts of the labels layer.
    """
    drawn: list[Drawn] = []
    placed: dict[str, Placed] = {}
    for e in root.iter():
        eid = e.get("id", "")
        if e.tag == f"{_SVG}g":
            m = _TRANSLATE.search(e.get("transform", ""))
            if m and eid:
                x, y = float(m.group(1)), float(m.group(2))
                placed[eid] = Placed((x - _SYM[0], y - _SYM[1], x + _SYM[0], y + _SYM[2]), True)
                title = e.find(f"{_SVG}title")
                if title is not None and title.text and instrument_tokens(title.text):
                    drawn.append(Drawn(title.text, x, y, eid))
        elif e.tag == f"{_SVG}rect" and eid:
            x, y = _num(e, "x"), _num(e, "y")
            placed[eid] = Placed((x, y, x + _num(e, "width"), y + _num(e, "height")), False)
        elif e.tag == f"{_SVG}text" and "tagno" in (e.get("class") or "").split():
            text = "".join(e.itertext())
            if instrument_tokens(text):
                drawn.append(Drawn(text, *_text_centre(e, text)))
    return drawn, placed


def _distance(x: float, y: float, box: tuple[float, float, float, float]) -> float:
    dx = max(box[0] - x, 0.0, x - box[2])
    dy = max(box[1] - y, 0.0, y - box[3])
    return math.hypot(dx, dy)


def svg_instrument_problems(
    root: ET.Element,
    bindings: Mapping[str, Mapping[str, Any]],
    instruments: Mapping[str, str],
) -> list[tuple[Path_, str]]:
    """(path in the screen YAML, message) for each drawn number that is wrong.

    ``bindings`` is the screen's ``bindings:`` as plain data, ``instruments`` maps each tag
    of the station to its instrument number ("" when it has none).
    """
    drawn, placed = svg_geometry(root)
    known = {num for num in instruments.values() if num}
    bound: dict[str, tuple[Placed, list[str]]] = {}
    for eid, spec in bindings.items():
        if str(eid) in placed and spec.get("kind") not in _UNCHECKED_KINDS:
            tags = [str(spec[k]) for k in _BOUND_KEYS if spec.get(k)]
            bound[str(eid)] = (placed[str(eid)], tags)
    symbol_numbers = {tok for d in drawn if d.element for tok in instrument_tokens(d.text)}
    out: list[tuple[Path_, str]] = []
    for d in drawn:
        for tok in instrument_tokens(d.text):
            if tok not in known and tok not in symbol_numbers:
                out.append(
                    (
                        (),
                        f"the P&ID names instrument {tok} ({d.text!r}) but no tag of the station "
                        f"has instrument: {tok}; correct the drawing or the tag's instrument",
                    )
                )
        target = d.element or _nearest(d, bound)
        if target and target in bound:
            out.extend(_bound_problems(d, target, bound[target], instruments))
    return out


def _nearest(d: Drawn, bound: Mapping[str, tuple[Placed, list[str]]]) -> str:
    best, best_dist = "", NEAR_PX
    for eid, (place, _tags) in bound.items():
        dist = _distance(d.x, d.y, place.box)
        if dist < best_dist:
            best, best_dist = eid, dist
    return best


def _bound_problems(
    d: Drawn, eid: str, entry: tuple[Placed, list[str]], instruments: Mapping[str, str]
) -> Iterable[tuple[Path_, str]]:
    place, tags = entry
    numbers = {instruments.get(t, "") for t in tags} - {""}
    if not numbers:
        return []
    shown = instrument_tokens(d.text)
    if place.symbol:
        ok = any(loop_of(tok) == loop_of(n) for tok in shown for n in numbers)
        rule = "of the same loop as"
    else:
        ok = any(tok in numbers for tok in shown)
        rule = "equal to"
    if ok:
        return []
    return [
        (
            ("bindings", eid),
            f"the P&ID shows {', '.join(shown)} at {eid} ({d.text!r}) but the tags bound there are "
            f"{', '.join(f'{t} = {instruments[t]}' for t in tags if instruments.get(t))}; the "
            f"drawn number must be {rule} the tag's instrument: correct the drawing or the tag",
        )
    ]
