"""What every simulated device server shares, whatever its protocol.

A server serves a device's points; each point's address is parsed by the protocol's
own parser, and its value comes from one of three places: a model variable
(``source: Heater.WaterTemp``), a signal generator (``source: {kind: sine, ...}``) or
a memory cell (no source; what clients write). Taking the device off the network is
stopping the server; bringing it back is starting it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from drivers.sim.model import ModelWriteError, StationModel
from drivers.sim.signals import SignalBank
from drivers.sim.spec import SimDeviceSpec, SimPointSpec, check_signal

log = logging.getLogger(__name__)


class SimServerBase:
    """Base of the protocol servers: the points, where their values come from, on/off line.

    Sets ``device``, ``model``, ``points``, ``addresses`` (one parsed address per point),
    ``online`` and, for the value sources, ``_model_slots`` / ``_model_names`` (points fed
    by a model variable), ``_sig_slots`` and ``_bank`` (points fed by a signal, None when
    there is none) and ``_overridden`` (points a client has written: memory from then
    on). A bad address, an unknown model variable or a bad signal raises ValueError
    naming the device and the tag. Subclasses provide :meth:`start` and :meth:`stop`.
    """

    #: what clients wrote and :meth:`_apply` sets (servers of register images: Modbus, S7)
    memory: Any
    texts: list[str]
    writes: int
    _mem_version: int

    def __init__(
        self,
        device: SimDeviceSpec,
        points: Sequence[SimPointSpec],
        model: StationModel,
        parse_address: Callable[[str], Any],
    ) -> None:
        self.device = device
        self.model = model
        self.points = list(points)
        self.online = False
        self.addresses: list[Any] = []
        for p in self.points:
            try:
                self.addresses.append(parse_address(p.address))
            except ValueError as exc:
                raise ValueError(f"device {device.id}: tag {p.name}: {exc}") from None
        self._model_slots: list[int] = []
        self._model_names: list[str] = []
        self._sig_slots: list[int] = []
        sigs: list[Mapping[str, Any]] = []
        for k, p in enumerate(self.points):
            if isinstance(p.source, str) and p.source:
                if not model.has(p.source):
                    raise ValueError(
                        f"device {device.id}: tag {p.name}: unknown model variable {p.source!r}"
                    )
                self._model_slots.append(k)
                self._model_names.append(p.source)
            elif isinstance(p.source, Mapping):
                err = check_signal(p.source)
                if err:
                    raise ValueError(f"device {device.id}: tag {p.name}: {err}")
                self._sig_slots.append(k)
                sigs.append(p.source)
        self._bank = SignalBank(sigs, seed=model.seed) if sigs else None
        self._overridden: set[int] = set()
        #: True: the device answers with unchanging values (PLC in STOP, a hung gateway image)
        self.frozen = False
        #: Modbus exception code every read answers with (0: none), e.g. 11 behind a gateway
        self.exception = 0

    async def start(self) -> None:
        """Listen on the device's host/port; OSError when that is impossible."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Stop listening and drop every connection. Idempotent."""
        raise NotImplementedError

    async def set_online(self, online: bool) -> None:
        """Take the device off the network (drop connections, stop listening) or bring it back."""
        if online == self.online:
            return
        if online:
            await self.start()
        else:
            await self.stop()
            log.info("simulated device %s is off the network", self.device.id)

    def _model_refusal(self, k: int, value: float) -> ModelWriteError | None:
        """Why the model refuses ``value`` (engineering units) for point ``k``, logged once;
        None when it accepts it or the point is not fed by a model variable."""
        p = self.points[k]
        if not (isinstance(p.source, str) and p.source):
            return None
        try:
            self.model.check_write(p.source, value)
        except ModelWriteError as exc:
            log.info("simulated device %s: write to %s refused: %s", self.device.id, p.name, exc)
            return exc
        return None

    def _apply(self, planned: Sequence[tuple[int, Any]]) -> None:
        """Apply a checked client write, (point, value in engineering units) each: to its
        model variable, else to its memory cell (a signal-fed point stays on that value)."""
        for k, value in planned:
            p = self.points[k]
            if isinstance(p.source, str) and p.source:
                self.model.write(p.source, float(value))
            elif isinstance(value, str):
                self.texts[k] = value
            else:
                self.memory[k] = float(value)
                if isinstance(p.source, Mapping):
                    self._overridden.add(k)
        self._mem_version += 1
        self.writes += 1

    def _cannot_listen(self, why: str) -> OSError:
        """The error :meth:`start` raises when the device's port cannot be used."""
        return OSError(
            f"simulated device {self.device.id}: cannot listen on "
            f"{self.device.host}:{self.device.port} ({why})"
        )
