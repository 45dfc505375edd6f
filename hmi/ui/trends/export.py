"""Export what a trend shows: the visible data as CSV, the plot as PNG.

The CSV has one row per sample or bucket and pen, in time order per pen: a decimated
range exports its buckets (average, min, max, number of samples), a short range its raw
samples, so the file holds exactly what the operator saw. UTF-8 with a byte-order mark
so that Excel opens the Chinese labels correctly. BAD rows have an empty value.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from drivers.base import Quality
from hmi.config.schema import TagConfig

HEADER = (
    "timestamp",
    "time",
    "tag",
    "label",
    "unit",
    "value",
    "min",
    "max",
    "quality",
    "samples",
    "bucket_s",
)


def _num(v: float) -> str:
    return "" if math.isnan(v) else repr(float(v))


def csv_rows(
    tags: dict[str, TagConfig], rows: dict[str, dict[str, np.ndarray]], lang: str = "en"
) -> Iterator[list[str]]:
    """CSV rows (without header) of every pen's visible rows."""
    for name, r in rows.items():
        tag = tags[name]
        label = tag.label.get(lang) or name
        for t0, avg, lo, hi, q, count, bucket in zip(
            r["t0"].tolist(),
            r["avg"].tolist(),
            r["min"].tolist(),
            r["max"].tolist(),
            r["q"].tolist(),
            r["count"].tolist(),
            r["bucket"].tolist(),
            strict=True,
        ):
            yield [
                f"{t0:.3f}",
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t0)),
                name,
                label,
                tag.unit,
                _num(avg),
                _num(lo),
                _num(hi),
                Quality.of(int(q)).name,
                str(int(count)),
                f"{bucket:g}",
            ]


def write_csv(path: str | Path, rows: Iterable[list[str]]) -> int:
    """Write the header and ``rows``; returns the number of data rows. Raises OSError."""
    n = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for row in rows:
            w.writerow(row)
            n += 1
    return n


def save_png(widget: Any, path: str | Path) -> bool:
    """The widget as drawn now, as a PNG file."""
    return bool(widget.grab().save(str(path), "PNG"))
