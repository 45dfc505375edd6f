"""One poll group as one OPC UA subscription: monitored items in, batches out.

The publish callback turns a whole publish response into batches (not one task per
item, as asyncua's high-level handler does), which is what lets 5,000 changing
variables a second reach the tag table cheaply.

A subscription only reports *changes*. So that an unchanging value does not turn
stale in the tag table, :meth:`SubscriptionGroup.refresh` re-delivers the last GOOD
value of each point once per poll period — but only while the server keeps
answering this subscription's publish requests (data or keep-alive). Notifications
carry the server's SourceTimestamp; such confirmations carry the time of the
confirmation.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from asyncua import Client, ua

from drivers.base import Batch, DeviceDiagnostics

from .codec import BAD, GOOD, status_name, status_quality, to_number, to_text, to_unix
from .collector import BatchCollector
from .points import OpcPoint

log = logging.getLogger(__name__)

ITEMS_PER_CALL = 1000  # common servers limit MaxMonitoredItemsPerCall
_FILTER_ERRORS = {
    ua.StatusCodes.BadMonitoredItemFilterUnsupported,
    ua.StatusCodes.BadFilterNotAllowed,
    ua.StatusCodes.BadDeadbandFilterInvalid,
    ua.StatusCodes.BadMonitoredItemFilterInvalid,
}


class SubscriptionGroup:
    """The subscription of one poll group (publishing interval = poll period)."""

    def __init__(
        self,
        period: float,
        points: list[OpcPoint],
        sink: Callable[[Batch], None],
        diag: DeviceDiagnostics,
        on_lost: Callable[[str], None],
        *,
        sampling_interval_ms: float = 0.0,
        queue_size: int = 1,
        timeout: float = 4.0,
    ) -> None:
        self.period = period
        self.points = points
        self.sink = sink
        self.diag = diag
        self.on_lost = on_lost
        self.sampling_ms = sampling_interval_ms or period * 1000.0
        self.queue_size = queue_size
        self.timeout = timeout
        n = len(points)
        self.index = [p.spec.index for p in points]
        self.text = [p.text for p in points]
        self.index_arr = np.array(self.index, dtype=np.int32)
        self.text_arr = np.array(self.text, dtype=bool)
        self.last_val = np.full(n, np.nan)
        self.last_text: list[str] = [""] * n
        self.last_good = np.zeros(n, dtype=bool)
        self.last_sent = np.zeros(n)
        self.last_publish = 0.0
        self.subscription_id: int | None = None
        self.keepalive_s = period
        self.active = np.zeros(n, dtype=bool)  # monitored item created on this connection

    @property
    def alive_window(self) -> float:
        """Seconds without any publish response after which the subscription counts as silent."""
        return self.keepalive_s * 1.5 + self.timeout + self.period

    def silent_for(self, mono: float) -> float:
        """Seconds since the server last answered this subscription."""
        return mono - self.last_publish if self.subscription_id is not None else 0.0

    async def create(self, client: Client) -> list[tuple[OpcPoint, str]]:
        """Create the subscription and its monitored items; return points that failed, with why."""
        keepalive_count = max(1, math.ceil(2.0 / self.period))
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=self.period * 1000.0,
            RequestedLifetimeCount=keepalive_count * 10,
            RequestedMaxKeepAliveCount=keepalive_count,
            MaxNotificationsPerPublish=0,
            PublishingEnabled=True,
            Priority=0,
        )
        self.last_publish = time.monotonic()
        res = await client.uaclient.create_subscription(params, self._on_publish)
        self.subscription_id = res.SubscriptionId
        self.keepalive_s = (
            res.RevisedPublishingInterval / 1000.0 * max(1, res.RevisedMaxKeepAliveCount)
        )
        self.last_good[:] = False
        self.active[:] = False
        # data types were read on this connection: text or number per point
        self.text = [p.text for p in self.points]
        self.text_arr = np.array(self.text, dtype=bool)
        failed: list[tuple[OpcPoint, str]] = []
        todo = [
            (pos, p) for pos, p in enumerate(self.points) if p.nodeid is not None and not p.error
        ]
        for start in range(0, len(todo), ITEMS_PER_CALL):
            chunk = todo[start : start + ITEMS_PER_CALL]
            results = await self._create_items(client, chunk, with_filter=True)
            retry = []
            for (pos, p), r in zip(chunk, results, strict=True):
                if r.StatusCode.is_good():
                    self.active[pos] = True
                elif r.StatusCode.value in _FILTER_ERRORS and p.deadband is not None:
                    retry.append((pos, p))
                else:
                    failed.append((p, status_name(r.StatusCode)))
            if retry:
                log.warning(
                    "%s: the server does not take the deadband filter (%d points); subscribing without it",
                    self.diag.device_id, len(retry),
                )  # fmt: skip
                for (pos, p), r in zip(
                    retry, await self._create_items(client, retry, with_filter=False), strict=True
                ):
                    if r.StatusCode.is_good():
                        self.active[pos] = True
                    else:
                        failed.append((p, status_name(r.StatusCode)))
        return failed

    async def _create_items(
        self, client: Client, chunk: list[tuple[int, OpcPoint]], *, with_filter: bool
    ) -> list[Any]:
        items = []
        for pos, p in chunk:
            mp = ua.MonitoringParameters(
                ClientHandle=pos + 1,
                SamplingInterval=self.sampling_ms,
                QueueSize=self.queue_size,
                DiscardOldest=True,
            )
            if with_filter and p.deadband is not None:
                mp.Filter = ua.DataChangeFilter(
                    Trigger=ua.DataChangeTrigger.StatusValue,
                    DeadbandType=p.deadband[0],
                    DeadbandValue=p.deadband[1],
                )
            items.append(
                ua.MonitoredItemCreateRequest(
                    ItemToMonitor=ua.ReadValueId(
                        NodeId=p.nodeid, AttributeId=ua.AttributeIds.Value
                    ),
                    MonitoringMode=ua.MonitoringMode.Reporting,
                    RequestedParameters=mp,
                )
            )
        params = ua.CreateMonitoredItemsParameters(
            SubscriptionId=self.subscription_id,
            TimestampsToReturn=ua.TimestampsToReturn.Both,
            ItemsToCreate=items,
        )
        return list(await client.uaclient.create_monitored_items(params))

    def detach(self) -> None:
        """Forget the server-side subscription (the connection is gone)."""
        self.subscription_id = None
        self.active[:] = False
        self.last_good[:] = False

    # ------------------------------------------------------------------ notifications
    def _on_publish(self, result: ua.PublishResult) -> None:
        self.last_publish = mono = time.monotonic()
        data = result.NotificationMessage.NotificationData
        if not data:
            return  # keep-alive: the subscription is alive, nothing changed
        now = time.time()
        col = BatchCollector()
        count = 0
        index, text, n = self.index, self.text, len(self.index)
        last_val, last_good, last_sent = self.last_val, self.last_good, self.last_sent
        for notif in data:
            if isinstance(notif, ua.DataChangeNotification):
                for item in notif.MonitoredItems:
                    pos = item.ClientHandle - 1
                    if not 0 <= pos < n:
                        continue
                    count += 1
                    dv = item.Value
                    code = dv.StatusCode.value if dv.StatusCode is not None else 0
                    variant = dv.Value
                    value = variant.Value if variant is not None else None
                    src = dv.SourceTimestamp or dv.ServerTimestamp
                    ts = to_unix(src) if src is not None else now
                    last_sent[pos] = mono
                    if (
                        code == 0
                        and not text[pos]
                        and value is not None
                        and not isinstance(value, str)
                    ):
                        try:
                            f = float(value)
                        except (TypeError, ValueError):
                            f = to_number(value)
                        if f == f:  # not NaN
                            col.add_good(index[pos], f, ts or now)
                            last_val[pos] = f
                            last_good[pos] = True
                            continue
                    self._slow_item(col, pos, code, value, ts or now)
            elif isinstance(notif, ua.StatusChangeNotification):
                q, name = status_quality(notif.Status)
                if q != GOOD:
                    self.on_lost(f"the server ended subscription {self.subscription_id} ({name})")
        self.diag.notifications += count
        try:
            col.flush(self.sink, now)
        except Exception:  # the sink is the runtime's: never let it kill the publish loop
            log.exception("%s: delivering notifications failed", self.diag.device_id)

    def _slow_item(self, col: BatchCollector, pos: int, code: int, value: Any, ts: float) -> None:
        quality, reason = status_quality(code)
        is_text = self.text[pos]
        if quality != BAD and value is None:
            quality, reason = BAD, "no value (null)"
        if is_text:
            v: Any = to_text(value)
            self.last_text[pos] = v
        else:
            v = to_number(value)
            if quality != BAD and v != v:
                quality, reason = BAD, f"not a number: {type(value).__name__}"
            self.last_val[pos] = v
        self.last_good[pos] = quality == GOOD
        col.add(self.index[pos], v, quality, reason, ts, is_text)

    # ------------------------------------------------------------------ confirmations
    def refresh(self, mono: float, now: float) -> int:
        """Re-deliver unchanged GOOD values not sent this period, while the server answers."""
        if self.subscription_id is None or mono - self.last_publish > self.alive_window:
            return 0
        due = self.last_good & ((mono - self.last_sent) >= self.period * 0.9)
        if not due.any():
            return 0
        self.last_sent[due] = mono
        num = due & ~self.text_arr
        n = 0
        if num.any():
            self.sink(Batch(self.index_arr[num], self.last_val[num], GOOD, "", now, now))
            n += int(num.sum())
        txt = due & self.text_arr
        if txt.any():
            pos = np.nonzero(txt)[0]
            vals = np.empty(len(pos), dtype=object)
            vals[:] = [self.last_text[i] for i in pos.tolist()]
            self.sink(Batch(self.index_arr[pos], vals, GOOD, "", now, now))
            n += len(pos)
        return n
