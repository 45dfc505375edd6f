"""Early warnings: run every configured detector and publish its figure as a system tag.

Why derived tags and not a new alarm kind: a detector's figure (an imbalance in %, a
decay in kPa/h, days to a filter limit) becomes the value of the system tag
``warning.<id>``. The tag is historized and trended like any other, goes upstream, and
the *existing* alarm engine judges it with the tag's ordinary H/L alarms -- deadband,
on-delay, priority, shelving, journal, acknowledgement and bilingual messages all come
for free, and the limits sit in the station config next to every other limit. A
detector that cannot judge (no flow, section not isolated, no data) publishes
UNCERTAIN with the reason, which leaves its alarm as it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hmi.config.schema import StationConfig
from hmi.core.analytics.detectors import DETECTORS, Context, Detector, Finding
from hmi.core.analytics.series import hold_for
from hmi.core.historian import Historian, HistorianError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WarningResult:
    """The latest finding of one detector, for the system tag, the UI and the uplink."""

    id: str
    kind: str
    label_en: str
    label_zh: str
    unit: str
    value: float
    judged: bool
    reason: str
    ts: float
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        """The system-tag address that carries this figure."""
        return f"warning.{self.id}"

    def as_dict(self) -> dict[str, Any]:
        """Plain data (NaN as None)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "label": {"en": self.label_en, "zh": self.label_zh},
            "unit": self.unit,
            "value": self.value if self.judged else None,
            "judged": self.judged,
            "reason": self.reason,
            "ts": self.ts,
            "detail": {
                k: (None if isinstance(v, float) and v != v else v) for k, v in self.detail.items()
            },
        }


class WarningEngine:
    """The station's detectors, evaluated together against the history."""

    def __init__(
        self, cfg: StationConfig, hist: Historian, hold: Callable[[str], float] | None = None
    ) -> None:
        self.cfg = cfg
        ctx = Context(hist, hold or hold_for(cfg), cfg.analytics)
        self.detectors: dict[str, Detector] = {
            w.id: DETECTORS[w.kind](w, ctx) for w in cfg.analytics.warnings
        }
        self._failing: set[str] = set()

    def evaluate(self, now: float | None = None) -> dict[str, WarningResult]:
        """Run every detector on the window ending at ``now``; one result per detector."""
        now = time.time() if now is None else now
        out: dict[str, WarningResult] = {}
        for det_id, det in self.detectors.items():
            try:
                f = det.evaluate(now)
                if det_id in self._failing:
                    self._failing.discard(det_id)
                    log.info("early warning %s works again", det_id)
            except HistorianError as exc:
                f = Finding.skip(f"history not readable: {exc}")
            except Exception as exc:  # a detector bug must not stop the others
                if det_id not in self._failing:
                    log.exception("early warning %s failed", det_id)
                    self._failing.add(det_id)
                f = Finding.skip(f"internal error: {exc}")
            spec = det.spec
            out[det_id] = WarningResult(
                det_id,
                spec.kind,
                spec.label.en or det_id,
                spec.label.zh or spec.label.en or det_id,
                det.unit,
                f.value,
                f.judged,
                f.reason,
                now,
                dict(f.detail),
            )
        return out
