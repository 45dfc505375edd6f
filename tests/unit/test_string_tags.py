"""String tags are a typed column of the tag table, carried as such into the historian.

A real TagTable and a real Historian on a SQLite file in tmp_path; the batches are what a
driver hands the runtime (an object array of texts, then a BAD batch, then a stale check).
"""

from __future__ import annotations

import numpy as np
import pytest

from drivers.base import Batch, Quality
from hmi.config.schema import HistorianConfig, TagConfig
from hmi.core.historian import Historian
from hmi.core.tagtable import TagTable

T0 = 1_700_000_000.0


class Mono:
    """A settable monotonic clock (staleness is measured on it)."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def mono() -> Mono:
    return Mono()


@pytest.fixture
def table(mono) -> TagTable:
    tags = [
        TagConfig(name="gc.status", device="gc", address="ns=2;s=Status", type="string"),
        TagConfig(name="gc.ch4", device="gc", address="ns=2;s=CH4", range=(0, 100)),
    ]
    return TagTable(tags, [1.0, 1.0], mono=mono)


@pytest.fixture
def hist(tmp_path):
    h = Historian(tmp_path / "history.db", HistorianConfig(flush_interval=0.1))
    h.start()
    yield h
    h.close()


def text_batch(text: str, ts: float) -> Batch:
    values = np.empty(1, dtype=object)
    values[0] = text
    return Batch(np.array([0], np.int32), values, Quality.GOOD, "", ts, ts)


def test_a_text_read_fills_the_text_column(table):
    res = table.apply(text_batch("ANALYSING", T0))
    assert res.changes.text is not None
    assert res.changes.text.tolist() == ["ANALYSING"]
    assert table.get("gc.status")[0] == "ANALYSING"
    _seq, cur = table.changed_since(-1)
    assert cur.text is not None
    assert cur.text.tolist() == ["ANALYSING", None]  # None: gc.ch4 is numeric


def test_an_update_without_string_tags_has_no_text_column(table):
    num = Batch(np.array([1], np.int32), np.array([93.5]), Quality.GOOD, "", T0, T0)
    assert table.apply(num).changes.text is None


def test_the_historian_stores_the_text_column_in_its_text_table(table, hist):
    ids = hist.tag_ids(table.names)
    res = table.apply(text_batch("ANALYSING", T0))
    hist.write(
        ids[res.history.indices],
        res.history.ts,
        res.history.values,
        res.history.quality,
        res.history.text,
    )
    bad = table.apply(Batch.bad([0, 1], "timeout", T0 + 1))
    hist.write(
        ids[bad.history.indices],
        bad.history.ts,
        bad.history.values,
        bad.history.quality,
        bad.history.text,
    )
    _seq, cur = table.changed_since(-1)
    hist.write_current(ids[cur.indices], cur.ts, cur.values, cur.quality, cur.reasons, cur.text)
    assert hist.flush(10)
    assert hist.raw_text("gc.status", T0 - 1, T0 + 2) == [
        (T0, "ANALYSING", int(Quality.GOOD)),
        (T0 + 1, None, int(Quality.BAD)),  # a BAD text is never kept
    ]
    numeric = hist.raw("gc.ch4", T0 - 1, T0 + 2)
    assert numeric.quality.tolist() == [int(Quality.BAD)]
    latest = hist.latest()
    assert latest["gc.status"].quality == int(Quality.BAD)


def test_a_stale_string_tag_keeps_its_last_text(table, mono):
    table.apply(text_batch("READY", T0))
    mono.t += 3600.0  # no read for an hour
    stale = table.check_stale(T0 + 3600)
    assert stale.text is not None
    assert stale.text.tolist() == ["READY"]
