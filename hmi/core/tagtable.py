"""The tag table: latest value, quality and timestamp of every tag, held in arrays.

Drivers deliver raw values in batches; :meth:`TagTable.apply` scales, clamps and
filters them with NumPy (one call per batch, not per tag), and returns what each
consumer needs:

* ``scan``    every value of the batch in engineering units (alarm engine);
* ``changes`` values that moved beyond the tag's deadband, or changed quality
  (UI snapshot, uplink report-by-exception);
* ``history`` values the tag's history policy wants stored (historian).

The GUI thread never receives callbacks: it pulls :meth:`changed_since` on its
refresh timer (latest value per tag wins, bursts are coalesced). One lock guards
the arrays; everything done under it is O(batch) NumPy work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivers.base import Batch, Quality
from hmi.config.schema import TagConfig

GOOD = int(Quality.GOOD)
UNCERTAIN = int(Quality.UNCERTAIN)
BAD = int(Quality.BAD)
_HIST_MODE = {"on_change": 0, "periodic": 1, "none": 2}
STALE_REASON = "stale: no fresh value from the device"
NEVER_READ = "not read yet"


@dataclass(slots=True)
class TagUpdate:
    """Values of some tags at one moment, aligned arrays (index into the tag table)."""

    indices: np.ndarray  # int32
    values: np.ndarray  # float64 (a batch of strings read: object)
    quality: np.ndarray  # uint8
    ts: np.ndarray  # float64, source timestamps (Unix s)
    reasons: list[str]
    #: the text column: object array aligned with ``indices``, the text of each string tag
    #: ("" while it has none) and None for numeric tags; None when no string tag is included
    text: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def select(self, mask: np.ndarray) -> TagUpdate:
        """The rows of this update where ``mask`` is set (each keeps its own reason)."""
        rows = np.flatnonzero(mask).tolist()
        return TagUpdate(
            self.indices[mask],
            self.values[mask],
            self.quality[mask],
            self.ts[mask],
            [self.reasons[k] for k in rows],
            self.text[mask] if self.text is not None else None,
        )

    @classmethod
    def empty(cls) -> TagUpdate:
        """An update with no tags."""
        return cls(np.empty(0, np.int32), np.empty(0), np.empty(0, np.uint8), np.empty(0), [])


@dataclass(slots=True)
class ApplyResult:
    """What one batch produced for each consumer."""

    scan: TagUpdate
    changes: TagUpdate
    history: TagUpdate


def _prefix(flags: np.ndarray) -> np.ndarray:
    """Counts of set ``flags`` before each index (n + 1 entries)."""
    return np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))


def _per_point(x: Any, m: int, dtype: type) -> np.ndarray:
    """A writable array of ``m`` values from a scalar or an array (scalars are the common case)."""
    if np.ndim(x) == 0:
        return np.full(m, x, dtype=dtype)
    return np.array(np.broadcast_to(np.asarray(x, dtype=dtype), (m,)))


class TagTable:
    """Arrays of static tag properties and live state, indexed by tag position in the config."""

    def __init__(
        self,
        tags: Sequence[TagConfig],
        poll_periods: Sequence[float] | None = None,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        n = len(tags)
        self._mono = mono  # staleness is a duration: a step of the wall clock must not touch it
        self.tags = list(tags)
        self.names = [t.name for t in tags]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.n = n
        go = [t.gain_offset() for t in tags]
        self.gain = np.array([g for g, _ in go], dtype=np.float64)
        self.offset = np.array([o for _, o in go], dtype=np.float64)
        self.lo = np.array([t.range[0] for t in tags], dtype=np.float64)
        self.hi = np.array([t.range[1] for t in tags], dtype=np.float64)
        self.clamp = np.array([t.clamp for t in tags], dtype=bool)
        self.deadband = np.array([t.deadband for t in tags], dtype=np.float64)
        self.is_string = np.array([t.type == "string" for t in tags], dtype=bool)
        self.hist_mode = np.array([_HIST_MODE[t.history.mode] for t in tags], dtype=np.int8)
        self.hist_deadband = np.array([t.history.deadband for t in tags], dtype=np.float64)
        self.hist_interval = np.array(
            [
                t.history.interval if t.history.mode == "periodic" else t.history.max_interval
                for t in tags
            ],
            dtype=np.float64,
        )
        periods = np.asarray(
            poll_periods if poll_periods is not None else [1.0] * n, dtype=np.float64
        )
        self.poll_period = periods
        #: a GOOD tag with no fresh good value for this long becomes UNCERTAIN (stale)
        self.stale_after = np.maximum(periods * 3.0, 1.0)

        self.value = np.full(n, np.nan)
        self.quality = np.full(n, BAD, dtype=np.uint8)
        self.reasons: list[str] = [NEVER_READ] * n
        self.ts = np.zeros(n)
        self.last_read = np.zeros(n)  # monotonic time of the last GOOD read (staleness)
        #: typed text column: the last text of each string tag (None: numeric, or none yet)
        self.text = np.full(n, None, dtype=object)
        self.hist_value = np.full(n, np.nan)
        self.hist_ts = np.zeros(n)
        self.hist_quality = np.full(n, 255, dtype=np.uint8)
        self.version = np.zeros(n, dtype=np.int64)
        self.seq = 0
        self._lock = threading.Lock()
        #: take a steady read (one contiguous block, all GOOD, one time) by slices
        self.fast_reads = True
        # prefix counts: "does any tag of indices [a, b) clamp / keep history / hold text?"
        # in O(1) for a contiguous block
        self._n_clamp = _prefix(self.clamp)
        #: tags the historian keeps (samples and the last value): history mode not "none"
        self.stored = self.hist_mode != _HIST_MODE["none"]
        self._n_hist = _prefix(self.stored)
        self._n_string = _prefix(self.is_string)

    # ------------------------------------------------------------------ input
    def apply(self, batch: Batch) -> ApplyResult:
        """Take one driver batch; return the scan, change and history updates."""
        idx = np.asarray(batch.indices, dtype=np.int64)
        m = len(idx)
        recv = batch.recv_ts or time.time()
        if (
            self.fast_reads
            and m > 1
            and batch.values.dtype != object
            and np.ndim(batch.quality) == 0
            and int(batch.quality) == GOOD
            and np.ndim(batch.source_ts) == 0
            and int(idx[-1]) - int(idx[0]) == m - 1
            and bool((idx[1:] > idx[:-1]).all())
        ):
            done = self._apply_block(batch, idx, int(idx[0]), recv)
            if done is not None:
                return done
        q = _per_point(batch.quality, m, np.uint8)
        ts = _per_point(batch.source_ts, m, np.float64)
        ts[~(ts > 0)] = recv  # no device timestamp: the read time stands in
        raw = batch.values
        strings = raw.dtype == object
        if strings:
            eng = raw
        else:
            eng = raw.astype(np.float64, copy=False) * self.gain[idx] + self.offset[idx]
            cl = self.clamp[idx]
            if cl.any():
                eng = np.where(cl, np.clip(eng, self.lo[idx], self.hi[idx]), eng)
            # a non-finite GOOD reading is a device/decode fault, never a number to show
            bad_num = (q == GOOD) & ~np.isfinite(eng)
            if bad_num.any():
                q = np.where(bad_num, BAD, q).astype(np.uint8)
        good = q == GOOD
        reason_for = batch.reason
        with self._lock:
            self.seq += 1
            seq = self.seq
            old_q = self.quality[idx]
            if strings:
                old_text = self.text[idx].tolist()
                value_changed = np.array(
                    [o != v for o, v in zip(old_text, eng, strict=True)], dtype=bool
                )
                hist_due = value_changed.copy()
            else:
                old_v = self.value[idx]
                diff = np.abs(eng - old_v)
                value_changed = ~(diff <= self.deadband[idx])  # NaN (first value) counts as change
                hdiff = np.abs(eng - self.hist_value[idx])
                hist_due = ~(hdiff <= self.hist_deadband[idx])
            changed = (q != old_q) | (good & value_changed)
            if reason_for and not good.all():  # BAD -> BAD for a new reason: show the new one
                self._reason_changes(idx, good, changed, reason_for)
            # history: quality change, or on_change beyond the history deadband, or the interval is due
            mode = self.hist_mode[idx]
            interval_due = (ts - self.hist_ts[idx]) >= self.hist_interval[idx]
            hq_changed = q != self.hist_quality[idx]
            want_hist = np.where(
                mode == 0,
                hq_changed | (good & (hist_due | interval_due)),
                np.where(mode == 1, hq_changed | interval_due, False),
            )
            # update live state for changed tags; every GOOD read refreshes staleness
            ci = idx[changed]
            if len(ci):
                if strings:
                    for i, v in zip(ci, eng[changed], strict=True):
                        self.text[int(i)] = str(v)
                    self.value[ci] = np.nan
                else:
                    self.value[ci] = np.where(q[changed] == GOOD, eng[changed], self.value[ci])
                cq = q[changed]
                self.quality[ci] = cq
                self.version[ci] = seq
                # a GOOD tag's reason is always "": only tags that are or were not GOOD need a
                # new one (a steady GOOD scan skips this per-tag loop)
                moved = (cq != GOOD) | (old_q[changed] != GOOD)
                if moved.any():
                    why = reason_for or "bad value"
                    for i, qq in zip(ci[moved].tolist(), cq[moved].tolist(), strict=True):
                        self.reasons[i] = "" if qq == GOOD else why
            self.ts[idx[good | changed]] = ts[good | changed]
            self.last_read[idx[good]] = self._mono()
            hi_ = idx[want_hist]
            if len(hi_):
                self.hist_ts[hi_] = ts[want_hist]
                self.hist_quality[hi_] = q[want_hist]
                if not strings:
                    self.hist_value[hi_] = np.where(
                        q[want_hist] == GOOD, eng[want_hist], self.hist_value[hi_]
                    )
            text = self._text_column(idx, eng if strings else None)
        idx32 = idx.astype(np.int32)
        why = reason_for or ""
        scan = TagUpdate(idx32, eng, q, ts, [why] * m, text)
        return ApplyResult(scan, self._take(scan, changed, why), self._take(scan, want_hist, why))

    def _apply_block(
        self, batch: Batch, idx: np.ndarray, a: int, recv: float
    ) -> ApplyResult | None:
        """:meth:`apply` for a steady read: numeric, contiguous ``idx`` from ``a``, all GOOD,
        one time. The same result by slices instead of index arrays (the usual read block
        of a polled device); None, touching nothing, when a value is not finite (the
        general path makes those BAD)."""
        m = len(idx)
        b = a + m
        sl = slice(a, b)
        ts_v = float(batch.source_ts)
        if not ts_v > 0:
            ts_v = recv  # no device timestamp: the read time stands in
        eng = batch.values.astype(np.float64, copy=False) * self.gain[sl] + self.offset[sl]
        if self._n_clamp[b] > self._n_clamp[a]:
            cl = self.clamp[sl]
            eng = np.where(cl, np.clip(eng, self.lo[sl], self.hi[sl]), eng)
        if not np.isfinite(eng).all():
            return None
        keep_hist = self._n_hist[b] > self._n_hist[a]
        with self._lock:
            self.seq += 1
            seq = self.seq
            was_bad = self.quality[sl] != GOOD
            changed = was_bad | ~(np.abs(eng - self.value[sl]) <= self.deadband[sl])
            if changed.any():
                np.copyto(self.value[sl], eng, where=changed)
                np.copyto(self.quality[sl], GOOD, where=changed)
                np.copyto(self.version[sl], seq, where=changed)
                if was_bad.any():  # a GOOD tag's reason is always ""
                    for i in (np.flatnonzero(was_bad) + a).tolist():
                        self.reasons[i] = ""
            self.ts[sl] = ts_v
            self.last_read[sl] = self._mono()
            if keep_hist:
                mode = self.hist_mode[sl]
                interval_due = (ts_v - self.hist_ts[sl]) >= self.hist_interval[sl]
                hq_changed = self.hist_quality[sl] != GOOD
                hist_due = ~(np.abs(eng - self.hist_value[sl]) <= self.hist_deadband[sl])
                want_hist = np.where(
                    mode == 0,
                    hq_changed | hist_due | interval_due,
                    (mode == 1) & (hq_changed | interval_due),
                )
                if want_hist.any():
                    self.hist_ts[sl][want_hist] = ts_v
                    self.hist_quality[sl][want_hist] = GOOD
                    np.copyto(self.hist_value[sl], eng, where=want_hist)
            else:
                want_hist = np.zeros(m, dtype=bool)
            text = self._text_column(idx, None) if self._n_string[b] > self._n_string[a] else None
        why = batch.reason or ""
        scan = TagUpdate(
            idx.astype(np.int32),
            eng,
            np.full(m, GOOD, dtype=np.uint8),
            np.full(m, ts_v),
            [why] * m,
            text,
        )
        return ApplyResult(scan, self._take(scan, changed, why), self._take(scan, want_hist, why))

    def _reason_changes(
        self, idx: np.ndarray, good: np.ndarray, changed: np.ndarray, reason: str
    ) -> None:
        """Mark (in ``changed``) the non-GOOD rows whose tag shows another reason."""
        rows = np.flatnonzero(~good & ~changed)
        for k, i in zip(rows.tolist(), idx[rows].tolist(), strict=True):
            if self.reasons[i] != reason:
                changed[k] = True

    def _text_column(self, idx: np.ndarray, read: np.ndarray | None) -> np.ndarray | None:
        """The text column of an update of ``idx`` (None without string tags); the texts just
        ``read`` where a batch of strings came in, else the stored ones. Caller holds the lock."""
        strings = self.is_string[idx]
        if not strings.any():
            return None
        out = np.full(len(idx), None, dtype=object)
        if read is not None:
            out[strings] = ["" if v is None else str(v) for v in read[strings].tolist()]
        else:
            out[strings] = [t or "" for t in self.text[idx[strings]].tolist()]
        return out

    @staticmethod
    def _take(u: TagUpdate, mask: np.ndarray, reason: str) -> TagUpdate:
        """The rows of ``u`` where ``mask`` is set; every row of ``u`` has ``reason``."""
        n = int(np.count_nonzero(mask))
        if n == len(mask):
            return u
        if not n:
            return TagUpdate.empty()
        text = u.text[mask] if u.text is not None else None
        return TagUpdate(
            u.indices[mask], u.values[mask], u.quality[mask], u.ts[mask], [reason] * n, text
        )

    def check_stale(self, now: float | None = None) -> TagUpdate:
        """Mark GOOD tags with no fresh good value for 3 poll periods UNCERTAIN; return them.

        The age is measured on the monotonic clock (a step of the wall clock neither makes
        every tag stale nor stops staleness); ``now`` stamps the UNCERTAIN values.
        """
        now = time.time() if now is None else now
        mono = self._mono()
        with self._lock:
            stale = (self.quality == GOOD) & ((mono - self.last_read) > self.stale_after)
            si = np.nonzero(stale)[0]
            if not len(si):
                return TagUpdate.empty()
            self.seq += 1
            self.quality[si] = UNCERTAIN
            self.version[si] = self.seq
            for i in si.tolist():
                self.reasons[i] = STALE_REASON
            self.hist_quality[si] = UNCERTAIN
            vals = self.value[si].copy()
            text = self._text_column(si, None)
        n = len(si)
        return TagUpdate(
            si.astype(np.int32),
            vals,
            np.full(n, UNCERTAIN, np.uint8),
            np.full(n, now),
            [STALE_REASON] * n,
            text,
        )

    # ------------------------------------------------------------------ output
    def changed_since(self, seq: int) -> tuple[int, TagUpdate]:
        """(current seq, every tag whose state changed after ``seq``) — the GUI's pull."""
        with self._lock:
            idx = np.nonzero(self.version > seq)[0]
            upd = TagUpdate(
                idx.astype(np.int32),
                self.value[idx].copy(),
                self.quality[idx].copy(),
                self.ts[idx].copy(),
                [self.reasons[i] for i in idx.tolist()],
                self._text_column(idx, None),
            )
            return self.seq, upd

    def get(self, name: str) -> tuple[float | str, Quality, float, str]:
        """(value, quality, timestamp, reason) of one tag."""
        i = self.index[name]
        with self._lock:
            v: float | str = (self.text[i] or "") if self.is_string[i] else float(self.value[i])
            return v, Quality(int(self.quality[i])), float(self.ts[i]), self.reasons[i]

    def all_current(self) -> TagUpdate:
        """State of every tag (for snapshots, integrity publishes and births)."""
        return self.changed_since(-1)[1]
