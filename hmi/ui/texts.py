"""Texts shared by several widgets (marked for translation, translated when shown)."""

from __future__ import annotations

from hmi.ui.i18n import N_

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
