"""Getting results back onto the GUI thread.

* :func:`watch` — a ``concurrent.futures.Future`` (from ``runtime.submit``/``runtime.call``)
  whose result is delivered to a callback on the GUI thread.
* :func:`run_in_pool` — run a blocking function (history query, journal search, CSV
  export) on Qt's thread pool and deliver its result on the GUI thread.

Both go through a QObject living on the GUI thread whose signal is emitted from the
worker thread, so Qt queues the call: callbacks never run on a worker thread.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

Callback = Callable[[Any, BaseException | None], None]
_live: set[_Delivery] = set()  # keeps deliveries alive until they ran


class _Delivery(QObject):
    """Lives on the GUI thread; its signal may be emitted from any thread."""

    sigDone = Signal(object, object)

    def __init__(self, callback: Callback) -> None:
        super().__init__()
        self._callback = callback
        self.sigDone.connect(self._deliver)
        _live.add(self)

    @Slot(object, object)
    def _deliver(self, result: Any, error: BaseException | None) -> None:
        _live.discard(self)
        try:
            self._callback(result, error)
        except Exception:
            log.exception("result callback failed")
        self.deleteLater()


def watch(future: concurrent.futures.Future[Any], callback: Callback) -> None:
    """Call ``callback(result, error)`` on the GUI thread when ``future`` is done."""
    delivery = _Delivery(callback)

    def done(f: concurrent.futures.Future[Any]) -> None:
        try:
            delivery.sigDone.emit(f.result(), None)
        except BaseException as exc:  # delivered, not raised on the worker thread
            delivery.sigDone.emit(None, exc)

    future.add_done_callback(done)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], delivery: _Delivery) -> None:
        super().__init__()
        self.fn = fn
        self.delivery = delivery

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as exc:
            self.delivery.sigDone.emit(None, exc)
            return
        self.delivery.sigDone.emit(result, None)


def run_in_pool(fn: Callable[[], Any], callback: Callback) -> None:
    """Run ``fn()`` on Qt's global thread pool; ``callback(result, error)`` on the GUI thread."""
    QThreadPool.globalInstance().start(_Job(fn, _Delivery(callback)))


def wait_pool(timeout_ms: int = 10000) -> bool:
    """Wait for pool jobs to finish (shutdown, tests)."""
    return bool(QThreadPool.globalInstance().waitForDone(timeout_ms))
