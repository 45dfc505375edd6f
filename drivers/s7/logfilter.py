"""Keep python-snap7's own log quiet about what gas-hmi already reports once.

snap7's transport logs every connect and disconnect at INFO (every reconnect attempt of a
device in backoff), its server every client and, at WARNING, every read of an area it does
not hold (every poll of a misaddressed tag). The driver and the simulator report each of
these once as a state change or a tag's BAD reason, so the library's records are demoted
to DEBUG (still there with ``-v``).
"""

from __future__ import annotations

import logging

_SERVER_WARNINGS = ("not registered", "exceeds area size", "beyond area size")


class QuietSnap7(logging.Filter):
    """Demote snap7's per-connection INFO and per-request area warnings to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        demote = record.levelno == logging.INFO or (
            record.levelno == logging.WARNING
            and any(p in str(record.msg) for p in _SERVER_WARNINGS)
        )
        if demote:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def install(*names: str) -> None:
    """Put the filter on the named snap7 loggers (once each)."""
    for name in names:
        lg = logging.getLogger(name)
        if not any(isinstance(f, QuietSnap7) for f in lg.filters):
            lg.addFilter(QuietSnap7())
