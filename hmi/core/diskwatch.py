"""Watch the historian and the uplink outbox for writes that fail (disk full, read-only disk).

Both stores already keep what they have when a write fails: the historian's writer keeps
the batch queued in memory (bounded, oldest dropped and counted) and retries with backoff;
the outbox keeps every stored row and the uplink holds new messages in memory. Each logs
one line when writing stops and one when it resumes. This watcher turns the same state
into the system alarms ``system.disk.history`` / ``system.disk.outbox`` (priority 2, with
the cause), raised while writing fails and cleared by itself once a write succeeds again.
The live process and the alarms never wait for it: it only reads two flags, from the
runtime's housekeeping, about once a second.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from hmi.core.alarms.system import disk_id

log = logging.getLogger(__name__)

PERIOD = 1.0  # s between looks


class DiskWatch:
    """Raises and clears the "cannot write" system alarms of the historian and the outbox."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self._next = 0.0
        self._raised: dict[str, str] = {}  # writer -> cause currently alarmed

    def check(self) -> None:
        """Look at both stores (acquisition thread); alarm on a change of their state."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + PERIOD
        rt = self.runtime
        st = rt.historian.stats()
        self._set("history", str(st.get("last_error") or "?") if st.get("failing") else "", st)
        box = getattr(rt.uplink, "outbox", None) if rt.uplink is not None else None
        if box is not None:
            self._set("outbox", str(getattr(box, "write_error", "") or ""), {"path": box.path})

    def _set(self, writer: str, cause: str, st: dict[str, Any]) -> None:
        if self._raised.get(writer, "") == cause:
            return
        self._raised[writer] = cause
        if self.runtime.alarms is None:
            return
        reason = ""
        if cause:
            reason = (
                f"{st.get('path', '')}: {cause}; what is stored is kept, new data waits in memory"
            )
        self.runtime.alarms.system_alarm(disk_id(writer), bool(cause), reason)
