"""Station historian: raw samples, 1-minute/1-hour rollups, current values, retention.

SQLite (WAL) through SQLAlchemy Core; one writer thread (``historian-writer``) stores
queued samples in batched transactions. See :class:`Historian`.
"""

from hmi.core.historian.historian import Historian
from hmi.core.historian.model import (
    BAD,
    GOOD,
    UNCERTAIN,
    CurrentValue,
    ExportRow,
    HistorianError,
    HistoryData,
    RawData,
)

__all__ = [
    "BAD",
    "GOOD",
    "UNCERTAIN",
    "CurrentValue",
    "ExportRow",
    "Historian",
    "HistorianError",
    "HistoryData",
    "RawData",
]
