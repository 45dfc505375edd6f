"""gas-hmi quality + reason -> the OPC UA status code a SCADA client understands.

A client must never take a BAD value for a plausible number: BAD values are served with
a Bad status and no value, stale ones (UNCERTAIN) with UncertainLastUsableValue and the
last value. The reason picks the most specific code (OPC UA Part 4, 7.39 / Part 8).
"""

from __future__ import annotations

from drivers.base import Quality

#: (words in the reason, status code name), first match wins, for BAD values
_BAD_CODES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("not read yet",), "BadWaitingForInitialData"),
    (("out of service",), "BadOutOfService"),
    (("config", "address", "unknown"), "BadConfigurationError"),
    (("secret", "keyring", "certificate", "trust"), "BadSecurityChecksFailed"),
    (("timeout", "timed out"), "BadTimeout"),
    (
        ("not connected", "connecting", "connection", "refused", "unreachable", "backoff"),
        "BadNotConnected",
    ),  # fmt: skip
    (("exception", "rejected", "illegal", "device failure"), "BadDeviceFailure"),
    (
        ("sensor", "fault", "under-range", "underrange", "over-range", "overrange", "wire"),
        "BadSensorFailure",
    ),  # fmt: skip
)

MAP_DOC = "\n".join(f"- BAD, reason mentions {' / '.join(w)}: {c}" for w, c in _BAD_CODES)


def status_for(quality: int, reason: str = "") -> str:
    """The OPC UA status code name for a value of ``quality`` with ``reason``."""
    q = int(quality)
    if q == Quality.GOOD:
        return "Good"
    if q == Quality.UNCERTAIN:
        return "UncertainLastUsableValue"
    why = reason.lower()
    for words, code in _BAD_CODES:
        if any(w in why for w in words):
            return code
    return "BadCommunicationError"
