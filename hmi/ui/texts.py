"""Texts shared by several widgets (marked for translation, translated when shown)."""

from __future__ import annotations

import re
from typing import Any

from hmi.ui.i18n import N_, tr

STATE_TEXT = {
    "ACTIVE_UNACK": N_("Unacknowledged"),
    "ACTIVE_ACK": N_("Acknowledged"),
    "RTN_UNACK": N_("Returned, unacknowledged"),
    "NORMAL": N_("Normal"),
}
PRIORITY_TEXT = {1: N_("Priority 1"), 2: N_("Priority 2"), 3: N_("Priority 3"), 4: N_("Priority 4")}
QUALITY_TEXT = {"good": N_("GOOD"), "uncertain": N_("UNCERTAIN"), "bad": N_("BAD")}
DEVICE_STATE_TEXT = {
    "stopped": N_("stopped"),
    "connecting": N_("connecting"),
    "up": N_("up"),
    "degraded": N_("degraded"),
    "backoff": N_("backoff"),
}
UNACKED = ("ACTIVE_UNACK", "RTN_UNACK")

#: the station areas of the product's configs (``area:`` of tags, alarms and devices): an
#: area id is config vocabulary, never shown as such on a screen
AREA_TEXT = {
    "analytics": N_("Early warning"),
    "filters": N_("Filtration"),
    "gas_detection": N_("Gas detection"),
    "heater": N_("Heating"),
    "inlet": N_("Inlet"),
    "metering": N_("Metering"),
    "odorizer": N_("Odorization"),
    "outlet": N_("Outlet"),
    "regulation": N_("Pressure regulation"),
    "system": N_("HMI system"),
    "utilities": N_("Station utilities"),
    "telecontrol": N_("Telecontrol"),
}


def area_text(area: str) -> str:
    """An area id in words of the current language (an unknown id as written, spaced)."""
    return tr(AREA_TEXT[area]) if area in AREA_TEXT else area.replace("_", " ")


def instrument_text(tag: Any, fallback: str = "") -> str:
    """The tag's ISA instrument number (PT-501), else ``fallback`` (usually the tag name)."""
    number = getattr(tag, "instrument", "") if tag is not None else ""
    return str(number) if number else fallback


_RUN_NUMBER = re.compile(r"(\d+)$")


def run_title(run_id: str, text: str = "Run {n}") -> str:
    """A regulator run as the operator names it (1#调压支路 / Run 1), not its id (reg1).

    ``text`` is the English pattern (marked for translation where it is written)."""
    m = _RUN_NUMBER.search(run_id)
    return tr(text).format(n=m.group(1)) if m else run_id
