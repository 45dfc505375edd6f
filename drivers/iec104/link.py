"""One c104 client and its connection to one RTU, bridged to the acquisition loop.

c104 runs its own native threads and calls back from them. Everything those callbacks
produce crosses to the asyncio loop in one of two ways only: readings are appended to a
deque and one ``call_soon_threadsafe`` per burst has the loop drain it (so a
general interrogation of a thousand points costs a few loop wake-ups, not a thousand);
connection-state changes (the loop then reads the state) and unexpected messages are
posted one by one. Readings wait :data:`FLUSH_DELAY` at most before they are delivered.

Blocking c104 calls (commands, interrogations, stopping the client) run in the
driver's one worker thread, never on the loop.

c104 checks a callback's parameter names and annotations against the real classes, so
this module does not use postponed annotations.
"""

import asyncio
import collections
import functools
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import c104

from .cache import Item
from .codec import BAD, c104_type, source_time
from .points import Iec104Point

log = logging.getLogger(__name__)

#: c104 client thread period (ms)
TICK_MS = 50
#: s that readings gather before they cross to the loop: a burst (a GI, a busy RTU) becomes
#: a few large batches, and the loop holds the GIL less often while c104 wants it
FLUSH_DELAY = 0.02


class Iec104Link:
    """A c104 client with one connection and one station; create anew for every connect."""

    def __init__(
        self,
        ip: str,
        params: dict[str, Any],
        points: Sequence[Iec104Point],
        loop: asyncio.AbstractEventLoop,
        on_items: Callable[[list[Item]], None],
        on_state: Callable[[str], None],
        on_unexpected: Callable[[int, str, str], None],
        command_timeout: float,
    ) -> None:
        self.loop = loop
        self._on_items, self._on_state, self._on_unexpected = on_items, on_state, on_unexpected
        self._local_time = params["time_base"] == "local"
        self._pending: collections.deque[Item] = collections.deque()  # append/popleft: atomic
        self._scheduled = False
        self.common_address = int(params["common_address"])
        self.client = c104.Client(
            tick_rate_ms=TICK_MS, command_timeout_ms=max(1, int(command_timeout * 1000))
        )
        self.client.originator_address = int(params["originator_address"])
        init = c104.Init.INTERROGATION if params["interrogation_at_connect"] else c104.Init.NONE
        con = self.client.add_connection(ip=ip, port=int(params["port"]), init=init)
        if con is None:
            raise ValueError(f"c104 refused the connection to {ip}:{params['port']}")
        self.connection = con
        pp = con.protocol_parameters
        pp.connection_timeout = int(params["t0"])
        pp.message_timeout = int(params["t1"])
        pp.confirm_interval = int(params["t2"])
        pp.keep_alive_interval = int(params["t3"])
        pp.send_window_size = int(params["k"])
        pp.receive_window_size = int(params["w"])
        con.on_state_change(callable=self._state_cb)
        con.on_unexpected_message(callable=self._unexpected_cb)
        station = con.add_station(common_address=self.common_address)
        if station is None:
            raise ValueError(f"c104 refused common address {self.common_address}")
        #: command IOA -> c104 point
        self.commands: dict[int, Any] = {}
        for pt in points:
            if pt.config_error:
                continue
            if pt.monitored:
                cp = station.add_point(io_address=pt.addr.ioa, type=c104_type(pt.addr))
                if cp is None:
                    raise ValueError(f"c104 refused {pt.addr}")
                cp.on_receive(callable=functools.partial(self._rx, pt))
            cmd = pt.command
            if cmd is not None and cmd.ioa not in self.commands:
                mode = c104.CommandMode.SELECT_AND_EXECUTE if pt.select else c104.CommandMode.DIRECT
                cp = station.add_point(io_address=cmd.ioa, type=c104_type(cmd), command_mode=mode)
                if cp is None:
                    raise ValueError(f"c104 refused {cmd}")
                self.commands[cmd.ioa] = cp
        self.client.on_new_point(callable=self._new_point_cb)

    # ------------------------------------------------------------------ c104 threads
    def _rx(
        self,
        pt: Iec104Point,
        point: c104.Point,
        previous_info: c104.Information,
        message: c104.IncomingMessage,
    ) -> c104.ResponseState:
        """One reading (c104's receive thread; the hot path: keep it short)."""
        info = point.info
        ts: float | None = None
        try:
            value, quality, reason = pt.reader(info)  # type: ignore[misc]  # monitored points only
            if pt.timed:
                ts = source_time(info, self._local_time)
        except Exception as exc:  # noqa: BLE001 - one odd object must not stop the link
            value, quality, reason = math.nan, BAD, f"undecodable {pt.addr}: {exc}"
        self._pending.append((pt, value, quality, reason, time.time() if ts is None else ts))
        if not self._scheduled:  # set before it is read on the loop, cleared before draining
            self._scheduled = True
            self.loop.call_soon_threadsafe(self.loop.call_later, FLUSH_DELAY, self._flush)
        return c104.ResponseState.NONE

    def _state_cb(self, connection: c104.Connection, state: c104.ConnectionState) -> None:
        # c104 stores the new state, then takes the GIL to call back: two of its threads
        # changing the state at once (OPEN_MUTED on the connect, OPEN when the GI ends) can reach
        # the loop in either order, and the last one posted may be the older state. So the
        # callback only says "changed"; the loop reads the state itself.
        self.loop.call_soon_threadsafe(self._state_changed)

    def _state_changed(self) -> None:
        self._on_state(self.state)

    def _unexpected_cb(
        self, connection: c104.Connection, message: c104.IncomingMessage, cause: c104.Umc
    ) -> None:
        if cause == c104.Umc.INVALID_COT:
            return  # c104 flags time-tagged types in a GI reply; the reading itself is used
        self.loop.call_soon_threadsafe(
            self._on_unexpected, int(message.io_address), message.type.name, cause.name
        )

    def _new_point_cb(
        self, client: c104.Client, station: c104.Station, io_address: int, point_type: c104.Type
    ) -> None:
        # keep the point (without a callback): c104 drops the rest of an ASDU whose object
        # it cannot place, and an RTU packs used and unused IOAs into one ASDU
        station.add_point(io_address=io_address, type=point_type)
        self.loop.call_soon_threadsafe(self._on_unexpected, io_address, point_type.name, "UNKNOWN")

    # ------------------------------------------------------------------ loop thread
    def _flush(self) -> None:
        self._scheduled = False
        pending = self._pending
        items = [pending.popleft() for _ in range(len(pending))]
        if items:
            self._on_items(items)

    # ------------------------------------------------------------------ worker thread (blocking)
    def start(self) -> None:
        """Start c104's threads and connect."""
        self.client.start()

    def stop(self) -> None:
        """Disconnect and stop c104's threads."""
        self.client.stop()

    @property
    def state(self) -> str:
        """c104 connection state name (OPEN, OPEN_MUTED, CLOSED_AWAIT_RECONNECT, ...)."""
        return str(self.connection.state.name)

    def interrogation(self) -> bool:
        """General interrogation of the station; True when the RTU confirmed it."""
        return bool(self.connection.interrogation(common_address=self.common_address))

    def counter_interrogation(self) -> bool:
        """Counter interrogation (read, no freeze); True when the RTU confirmed it."""
        return bool(self.connection.counter_interrogation(common_address=self.common_address))

    def clock_sync(self) -> bool:
        """Clock synchronisation with this PC's time; True when confirmed."""
        return bool(self.connection.clock_sync(common_address=self.common_address))

    def command(self, ioa: int, info: Any) -> bool:
        """Send a command (select first when the point is select-before-operate); True on a
        positive activation confirmation."""
        point = self.commands[ioa]
        point.info = info
        return bool(point.transmit(cause=c104.Cot.ACTIVATION))
