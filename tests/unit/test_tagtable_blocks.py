"""A steady read block takes the tag table's slice path; it must do what the general path does.

``TagTable.apply`` has a path for the usual read of a polled device (numeric, one contiguous
block of tags, all GOOD, one time) that works on slices instead of index arrays. These tests
run the same batches through two real tag tables, one with that path and one without, and
compare every result and every array after each batch: scaling, clamping, deadbands, the
history policies (on change with a deadband, periodic, none), quality changes and their
reasons, a non-finite reading, string tags in the block, BAD and per-point batches between.
"""

from __future__ import annotations

import numpy as np
import pytest

from drivers.base import Batch, Quality
from hmi.config.schema import TagConfig
from hmi.core.tagtable import ApplyResult, TagTable, TagUpdate

T0 = 1_700_000_000.0
GOOD, BAD, UNCERTAIN = int(Quality.GOOD), int(Quality.BAD), int(Quality.UNCERTAIN)
STATE = (
    "value quality ts last_read hist_value hist_ts hist_quality version reasons text seq"
).split()


class Mono:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


def _tags(rng: np.random.Generator, n: int) -> list[TagConfig]:
    tags = []
    for i in range(n):
        hist: dict[str, object] = rng.choice(
            [
                {"mode": "on_change"},
                {"mode": "on_change", "deadband": 2.0, "max_interval": 5.0},
                {"mode": "periodic", "interval": 3.0},
                {"mode": "none"},
            ]
        )
        kw: dict[str, object] = {
            "name": f"t.{i:03d}",
            "device": "dev",
            "address": f"hr:{i}",
            "range": (0.0, 100.0),
            "clamp": bool(rng.random() < 0.3),
            "deadband": float(rng.choice([0.0, 0.0, 1.5])),
            "history": hist,
        }
        if rng.random() < 0.3:
            kw["scale"] = {"raw": (0, 1000), "eng": (0.0, 100.0)}
        if i in (40, 41):
            kw["type"] = "string"
        tags.append(TagConfig.model_validate(kw))
    return tags


def _same_update(a: TagUpdate, b: TagUpdate) -> None:
    assert a.indices.tolist() == b.indices.tolist()
    np.testing.assert_array_equal(a.values, b.values)
    assert a.quality.tolist() == b.quality.tolist()
    np.testing.assert_array_equal(a.ts, b.ts)
    assert list(a.reasons) == list(b.reasons)
    assert (a.text is None) == (b.text is None)
    if a.text is not None and b.text is not None:
        assert a.text.tolist() == b.text.tolist()


def _same(ra: ApplyResult, rb: ApplyResult, fast: TagTable, slow: TagTable) -> None:
    for part in ("scan", "changes", "history"):
        _same_update(getattr(ra, part), getattr(rb, part))
    for name in STATE:
        x, y = getattr(fast, name), getattr(slow, name)
        if isinstance(x, np.ndarray) and x.dtype != object:
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert list(x) == list(y) if isinstance(x, list | np.ndarray) else x == y, name


def _batches(rng: np.random.Generator, n: int, steps: int) -> list[tuple[float, Batch]]:
    """(monotonic advance, batch): mostly steady blocks (numeric, GOOD, one time), some not."""
    out: list[tuple[float, Batch]] = []
    t = T0
    for k in range(steps):
        t += float(rng.choice([0.5, 1.0, 4.0]))
        a = int(rng.integers(0, 30))
        m = int(rng.integers(2, 12))
        idx = np.arange(a, a + m, dtype=np.int32)
        base = rng.uniform(-20, 1200, m).round(1)
        if rng.random() < 0.4:  # small moves: some inside the deadbands
            base = np.full(m, 50.0) + rng.choice([0.0, 0.5, 3.0], m)
        kind = k % 9
        if kind == 3:  # the device failed: one BAD batch with a reason
            out.append((1.0, Batch.bad(idx, "no response from the device", t)))
        elif kind == 5:  # per-point qualities and times
            q = rng.choice([GOOD, GOOD, UNCERTAIN, BAD], m).astype(np.uint8)
            out.append((1.0, Batch(idx, base, q, "", np.full(m, t), t)))
        elif kind == 7:  # a not finite reading in a steady block
            base[int(rng.integers(0, m))] = np.nan
            out.append((1.0, Batch(idx, base, GOOD, "", t, t)))
        elif kind == 8:  # no device time: the read time stands in
            out.append((1.0, Batch(idx, base, GOOD, "", 0.0, t)))
        else:
            out.append((1.0, Batch(idx, base, GOOD, "", t, t)))
    # the string tags 40 and 41 in a block of their own, and mixed into a numeric one
    texts = np.array(["ready", "run"], dtype=object)
    out.append((1.0, Batch(np.array([40, 41], dtype=np.int32), texts, GOOD, "", t, t)))
    out.append((1.0, Batch(np.arange(36, 40, dtype=np.int32), np.ones(4), GOOD, "", t, t)))
    out.append((1.0, Batch(np.arange(38, 44, dtype=np.int32), np.zeros(6), GOOD, "", t, t)))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_a_steady_block_gives_what_the_general_path_gives(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tags = _tags(rng, 48)
    mono_f, mono_s = Mono(), Mono()
    fast, slow = TagTable(tags, mono=mono_f), TagTable(tags, mono=mono_s)
    slow.fast_reads = False
    taken = 0
    real = fast._apply_block

    def counting(*a: object) -> ApplyResult | None:
        nonlocal taken
        res = real(*a)  # type: ignore[arg-type]
        taken += res is not None
        return res

    fast._apply_block = counting  # type: ignore[method-assign]
    for advance, batch in _batches(rng, 48, 160):
        mono_f.t += advance
        mono_s.t += advance
        _same(fast.apply(batch), slow.apply(batch), fast, slow)
        if batch.indices[0] % 7 == 0:  # staleness between reads, on both
            mono_f.t += 10.0
            mono_s.t += 10.0
            _same_update(fast.check_stale(T0), slow.check_stale(T0))
    assert taken >= 60, "the slice path was hardly taken: the comparison says little"


def test_a_steady_block_updates_the_table_by_slices() -> None:
    tags = [
        TagConfig(name=f"p.{i}", device="d", address=f"hr:{i}", range=(0, 10), deadband=0.5)
        for i in range(6)
    ]
    tt = TagTable(tags, mono=Mono())
    idx = np.arange(1, 5, dtype=np.int32)
    first = tt.apply(Batch(idx, np.array([1.0, 2.0, 3.0, 4.0]), GOOD, "", T0, T0))
    assert first.changes.indices.tolist() == [1, 2, 3, 4]
    assert [tt.reasons[i] for i in range(6)] == ["not read yet", "", "", "", "", "not read yet"]
    # 0.2 inside the deadband, 1.0 beyond it
    res = tt.apply(Batch(idx, np.array([1.2, 3.0, 3.0, 4.0]), GOOD, "", T0 + 1, T0 + 1))
    assert res.changes.indices.tolist() == [2]
    assert tt.value.tolist()[1:5] == [1.0, 3.0, 3.0, 4.0]
    assert tt.ts.tolist()[1:5] == [T0 + 1] * 4  # every GOOD read refreshes the time
    assert tt.quality.tolist() == [BAD, GOOD, GOOD, GOOD, GOOD, BAD]
    assert tt.version.tolist() == [0, 1, 2, 1, 1, 0]
