"""What the historian hands out: query results, current values, export rows, errors.

Quality codes are the OPC Classic ones used everywhere in gas-hmi (GOOD=192,
UNCERTAIN=64, BAD=0). The historian classifies any code by range, as OPC does:
``q >= 192`` GOOD, ``64 <= q < 192`` UNCERTAIN, ``q < 64`` BAD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from drivers.base import Quality

GOOD = int(Quality.GOOD)
UNCERTAIN = int(Quality.UNCERTAIN)
BAD = int(Quality.BAD)


class HistorianError(Exception):
    """The history database cannot be opened or used (the message names the file and the cause)."""


@dataclass(frozen=True, slots=True)
class HistoryData:
    """One tag's history over a time range, ready for a trend (aligned NumPy arrays).

    Two shapes, told apart by :attr:`bucket`:

    * ``bucket == 0`` -- **raw samples**, one row per stored sample:
      ``min == max == avg == last`` = the sample's value, ``count`` = 1.
    * ``bucket > 0`` -- **decimated**: at most ``points`` buckets of ``bucket`` seconds,
      aligned to multiples of ``bucket`` since the Unix epoch. ``ts`` is the bucket start,
      ``min``/``max`` the envelope and ``avg`` the mean of the usable values (GOOD and
      UNCERTAIN) inside the query range, ``last`` the value of the bucket's last sample,
      ``count`` the number of samples (all qualities) in the bucket. :attr:`source` says
      what was read: ``"raw"``, ``"1min"`` or ``"1h"`` rollups.

    Gap contract (a trend must draw no line across a communication outage):

    * a BAD sample, or a bucket without any usable value, has NaN in
      ``min/max/avg/last`` -- drawing with ``connect="finite"`` breaks the line there;
    * when a bucket's *last* sample is BAD (the outage goes on past it), an extra
      **gap row** follows the bucket: ``ts`` = time of that BAD sample, all values NaN,
      ``count == 0``, ``bad`` True. So a decimated result has at most ``points`` rows
      with ``count > 0``, plus gap rows;
    * ``bad`` is True for every row that holds at least one BAD sample (also when the
      bucket has good values: a short outage inside one bucket is flagged, not hidden);
    * ``quality`` is the worst quality in the row (192, 64 or 0).
    """

    ts: np.ndarray  # float64, Unix seconds
    min: np.ndarray  # float64
    max: np.ndarray  # float64
    avg: np.ndarray  # float64
    last: np.ndarray  # float64
    count: np.ndarray  # int64
    quality: np.ndarray  # uint8
    bad: np.ndarray  # bool
    source: str = "raw"
    bucket: float = 0.0

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def decimated(self) -> bool:
        """True when rows are buckets, False when they are raw samples."""
        return self.bucket > 0

    @property
    def buckets(self) -> int:
        """Number of rows that are samples or buckets (gap rows not counted)."""
        return int(np.count_nonzero(self.count > 0))

    @classmethod
    def empty(cls, source: str = "raw", bucket: float = 0.0) -> HistoryData:
        """A result without rows."""
        f = np.empty(0, np.float64)
        return cls(
            f,
            f,
            f,
            f,
            f,
            np.empty(0, np.int64),
            np.empty(0, np.uint8),
            np.empty(0, bool),
            source,
            bucket,
        )


@dataclass(frozen=True, slots=True)
class RawData:
    """Stored samples of one numeric tag: ``value`` is NaN where the sample is BAD."""

    ts: np.ndarray  # float64, Unix seconds
    value: np.ndarray  # float64
    quality: np.ndarray  # uint8

    def __len__(self) -> int:
        return len(self.ts)


class CurrentValue(NamedTuple):
    """Latest value of one tag (the ``current`` table)."""

    ts: float
    value: float | str  # NaN when BAD or unknown
    quality: int
    reason: str


class ExportRow(NamedTuple):
    """One stored sample, as exported to CSV/JSON."""

    ts: float
    name: str
    value: float | str | None  # None where the sample is BAD
    quality: int
