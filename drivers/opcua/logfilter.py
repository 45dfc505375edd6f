"""Keep asyncua's own log quiet about what the driver already reports once, in plain words.

On a lost connection asyncua logs a traceback from its publish loop and a warning for
every close of a dead channel; a wrong password is logged as an ERROR by the server
side. The driver turns each of these into one state change with a reason, so the
library's records are demoted to DEBUG (still there with ``-v``).
"""

from __future__ import annotations

import logging

_PATTERNS = (
    "Publish iteration crashed",
    "was called but connection is closed",
    "ServiceFault (",
    "sending service fault response",
    "close_session raised during disconnect",
    "close_secure_channel raised during disconnect",
    "Supervisor detected connection issue",
)
_LOGGERS = (
    "asyncua.client.ua_session.UaSession",
    "asyncua.client.ua_client.UaClient",
    "asyncua.client.ua_client.UASocketProtocol",
    "asyncua.client.client",
    "asyncua.server.uaprocessor",
)


class QuietAsyncua(logging.Filter):
    """Demote known, already-reported asyncua records to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        if record.levelno >= logging.WARNING and any(p in str(record.msg) for p in _PATTERNS):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_FILTER = QuietAsyncua()


def install() -> None:
    """Attach the filter to asyncua's client and server loggers (idempotent).

    asyncua also logs every connect step at INFO; unless the application runs at DEBUG
    (``-v``) or configured asyncua's level itself, its records start at WARNING.
    """
    lib = logging.getLogger("asyncua")
    if lib.level == logging.NOTSET and logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        lib.setLevel(logging.WARNING)
    # at DEBUG this logger dumps whole requests, ActivateSession with the user's password
    # in clear among them: never let it below INFO, whatever the root level
    logging.getLogger("asyncua.client.ua_client.UASocketProtocol").setLevel(logging.INFO)
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
