"""The station's northbound OPC UA server: every tag and alarm for the dispatch SCADA.

Runs in its own thread ("northbound") with its own asyncio loop, so that a slow or
misbehaving client can never delay acquisition. It pulls the tag table's changes on a
timer (latest value per tag wins, as the HMI does) and the alarm engine's snapshot when
its version moves, and publishes them through :class:`drivers.opcua.server.PointServer`.

Address space (namespace ``urn:gas-hmi:<station id>`` unless configured)::

    Objects/<station id>/<area>/<tag name>            ns=<ns>;s=<tag name>
    Objects/<station id>/Alarms/<alarm id>.State      ns=<ns>;s=alarm:<alarm id>.State
                                       .Active/.Acked/.Priority/.Message

Writes come from accounts mapped to a station user; they become commands of that user
(origin ``opcua``) through the command service: role, interlocks, range, audit, device
write and read-back. The client gets the outcome as its status code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from drivers.base import Quality
from hmi.config.northbound import NorthboundOpcUa
from hmi.config.schema import StationConfig
from hmi.core.northbound.status import status_for

log = logging.getLogger(__name__)

THREAD_NAME = "northbound"
ALARM_FIELDS = (("State", "string"), ("Active", "bool"), ("Acked", "bool"),
                ("Priority", "int"), ("Message", "string"))  # fmt: skip
#: command outcome -> the status code the OPC UA client gets for its write
WRITE_STATUS = {
    "success": "Good",
    "denied": "BadUserAccessDenied",
    "invalid": "BadOutOfRange",
    "interlocked": "BadConditionDisabled",
    "changed": "BadInvalidState",
    "not_connected": "BadNotConnected",
    "timeout": "BadTimeout",
    "rejected": "BadDeviceFailure",
    "error": "BadInternalError",
}


class TagSource(Protocol):
    """What the server reads of the tag table (thread-safe pulls)."""

    names: list[str]

    def changed_since(self, seq: int) -> tuple[int, Any]: ...

    def get(self, name: str) -> tuple[float | str, Quality, float, str]: ...


class AlarmSource(Protocol):
    """What the server reads of the alarm engine (thread-safe)."""

    def alarm_ids(self) -> list[str]: ...

    def snapshot(self) -> tuple[int, list[Any]]: ...


#: (tag, value, station user name) -> future of the command result (status, message)
WriteSubmitter = Callable[[str, Any, str], "concurrent.futures.Future[tuple[str, str]]"]


class NorthboundOpcUaService:
    """Builds, runs and feeds the northbound OPC UA server of one station."""

    def __init__(
        self,
        cfg: StationConfig,
        tags: TagSource,
        data_dir: Path,
        *,
        alarms: AlarmSource | None = None,
        submit_write: WriteSubmitter | None = None,
        secret: Callable[[str], str] | None = None,
        config: NorthboundOpcUa | None = None,
    ) -> None:
        self.cfg = cfg
        self.nb = config if config is not None else cfg.northbound.opcua
        self.tags = tags
        self.alarms = alarms if self.nb.alarms else None
        self.data_dir = Path(data_dir)
        self.submit_write = submit_write
        self.secret = secret
        self.namespace = self.nb.namespace or f"urn:gas-hmi:{cfg.station.id}"
        self.problems: list[str] = []  # what an engineer must fix (shown by self-test, logs)
        self._maps: dict[str, str] = {}  # OPC UA user -> station user
        self._is_string = {t.name: t.type == "string" for t in cfg.tags}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.server: Any = None
        self.published = 0

    # ------------------------------------------------------------------ address space
    def variables(self) -> list[Any]:
        """Every variable the server will serve (tags, then alarm fields)."""
        from drivers.opcua.server import ServedVariable

        root = self.cfg.station.id
        out = []
        for t in self.cfg.tags:
            dtype = t.type if t.type in ("bool", "int", "string") else "float"
            label = t.label.en or t.label.zh
            if t.label.zh and t.label.zh != t.label.en:
                label = f"{label} / {t.label.zh}"
            out.append(
                ServedVariable(
                    t.name,
                    (root, t.area or "station"),
                    dtype,
                    label,
                    t.unit,
                    (float(t.range[0]), float(t.range[1])) if t.type != "string" else None,
                    t.access == "rw",
                )
            )
        if self.alarms is not None:
            for alarm_id in self.alarms.alarm_ids():
                for field, ftype in ALARM_FIELDS:
                    out.append(
                        ServedVariable(
                            f"alarm:{alarm_id}.{field}", (root, "Alarms", alarm_id), ftype
                        )
                    )
        return out

    def _accounts(self) -> list[Any]:
        from drivers.opcua.server import Account

        out = []
        for acc in self.nb.accounts:
            try:
                password = self.secret(acc.password_secret) if self.secret else ""
            except Exception as exc:  # SecretError, no keyring backend: that account only
                msg = f"northbound OPC UA account {acc.username!r} disabled: {exc}"
                log.error("%s", msg)
                self.problems.append(msg)
                continue
            if acc.station_user:
                self._maps[acc.username] = acc.station_user
            out.append(Account(acc.username, password, writer=bool(acc.station_user)))
        return out

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 30.0) -> None:
        """Start the thread and the server; raises OSError/RuntimeError when it cannot listen."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._main, name=THREAD_NAME, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("northbound OPC UA server did not start in time")
        if self._error is not None:
            err, self._error = self._error, None
            self.stop()
            raise err

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its thread. Idempotent."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None and self._stop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._stop.set)
        thread.join(timeout)
        self._thread = None

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._ready.set()

    async def _serve(self) -> None:
        from drivers.opcua.server import PointServer

        self._stop = asyncio.Event()
        try:
            server = PointServer(
                self.nb.endpoint,
                self.namespace,
                self.variables(),
                server_name=f"gas-hmi {self.cfg.station.id}",
                security=self.nb.security,
                accounts=self._accounts(),
                anonymous=self.nb.anonymous,
                pki_dir=self.data_dir / "pki" / "northbound",
                on_write=self._on_write,
            )
            await server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self.server = server
        self._ready.set()
        seq, alarm_version = 0, -1
        try:
            while not self._stop.is_set():
                seq = await self._push_tags(seq)
                if self.alarms is not None:
                    alarm_version = await self._push_alarms(alarm_version)
                try:
                    await asyncio.wait_for(self._stop.wait(), self.nb.publish_interval)
                except TimeoutError:
                    pass
        finally:
            await server.stop()

    # ------------------------------------------------------------------ data
    async def _push_tags(self, seq: int) -> int:
        new_seq, upd = self.tags.changed_since(seq)
        if not len(upd.indices):
            return int(new_seq)
        names = self.tags.names
        out = []
        for k, i in enumerate(upd.indices.tolist()):
            name = names[i]
            quality, reason = int(upd.quality[k]), upd.reasons[k]
            value: Any = float(upd.values[k])
            if self._is_string.get(name):
                value = self.tags.get(name)[0]
            out.append((name, value, status_for(quality, reason), float(upd.ts[k])))
        try:
            self.published += await self.server.publish(out)
        except Exception:
            log.exception("northbound OPC UA: publishing %d values failed", len(out))
        return int(new_seq)

    async def _push_alarms(self, version: int) -> int:
        assert self.alarms is not None
        new_version, views = self.alarms.snapshot()
        if new_version == version:
            return version
        listed = {v.alarm_id: v for v in views}
        out = []
        for alarm_id in self.alarms.alarm_ids():
            v = listed.get(alarm_id)
            state = v.state if v is not None else "NORMAL"
            ts = (v.last_change if v is not None else 0.0) or 0.0
            fields = {
                "State": state,
                "Active": state in ("ACTIVE_UNACK", "ACTIVE_ACK"),
                "Acked": state not in ("ACTIVE_UNACK", "RTN_UNACK"),
                "Priority": v.priority if v is not None else 0,
                "Message": v.message_en if v is not None else "",
            }
            out += [(f"alarm:{alarm_id}.{f}", val, "Good", ts) for f, val in fields.items()]
        try:
            await self.server.publish(out)
        except Exception:
            log.exception("northbound OPC UA: publishing the alarms failed")
        return int(new_version)

    async def _on_write(self, name: str, value: Any, username: str) -> tuple[str, str]:
        station_user = self._maps.get(username)
        if station_user is None or self.submit_write is None:
            return "BadUserAccessDenied", "this account may not write"
        fut = self.submit_write(name, value, station_user)
        status, message = await asyncio.wrap_future(fut)
        return WRITE_STATUS.get(status, "BadInternalError"), message


def command_submitter(commands: Any, users: Any) -> WriteSubmitter:
    """A :data:`WriteSubmitter` that writes as the station user through the command service.

    The station user's role (from users.db, as it is now) decides; the audit trail names
    the user with origin ``opcua``. A missing or disabled user is refused here.
    """
    from hmi.core.users import Role, Session

    def submit(
        tag: str, value: Any, station_user: str
    ) -> concurrent.futures.Future[tuple[str, str]]:
        out: concurrent.futures.Future[tuple[str, str]] = concurrent.futures.Future()
        info = users.get(station_user)
        if info is None or not info.enabled:
            out.set_result(("denied", f"station user {station_user!r} is missing or disabled"))
            return out
        session = Session(info.name, Role(info.role), origin="opcua")
        inner = commands.submit_write(tag, value, session)

        def done(f: concurrent.futures.Future[Any]) -> None:
            try:
                res = f.result()
                out.set_result((res.status.value, res.message))
            except Exception as exc:
                out.set_result(("error", f"write failed: {exc}"))

        inner.add_done_callback(done)
        return out

    return submit
