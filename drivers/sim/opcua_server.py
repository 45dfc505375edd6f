"""One simulated OPC UA device: a real asyncua server fed from the station model.

The node ids are the points' addresses (``nsu=urn:gas-hmi:sim;s=Heater.WaterTemp``
becomes node ``s=Heater.WaterTemp`` in namespace ``urn:gas-hmi:sim``); dotted string
identifiers are laid out as folders (``Heater/WaterTemp``) under an object named after
the device. An update task writes changed model values with a source timestamp.

Security follows the device's parameters: with ``security_policy: Basic256Sha256`` the
server offers only Basic256Sha256 Sign and SignAndEncrypt endpoints (no unsecured
one); with ``username`` set, only that user with ``password`` may open a session. The
server certificate is generated once per ``pki_dir`` (or in memory when none is given)
and kept across :meth:`set_online` restarts, as a real device keeps its certificate.

Client writes to writable points reach the model (set points, commands) or a memory
cell; writes to read-only points get BadNotWritable, values the model refuses get
BadOutOfRange. :meth:`set_status` forces a status code on a point (device faults).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
import math
import socket
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

from drivers.opcua import logfilter
from drivers.opcua.address import parse_address
from drivers.opcua.certs import generate_self_signed
from drivers.opcua.server import quiet_stop
from drivers.sim.model import StationModel
from drivers.sim.server_base import SimServerBase
from drivers.sim.spec import SimDeviceSpec, SimPointSpec

log = logging.getLogger(__name__)
logfilter.install()

DEFAULT_NAMESPACE = "urn:gas-hmi:sim"
UPDATE_PERIOD = 0.25  # s between pushes of model values into the address space
_TYPES = {None: ua.VariantType.Double, "float": ua.VariantType.Double, "int": ua.VariantType.Int32,
          "bool": ua.VariantType.Boolean, "string": ua.VariantType.String}  # fmt: skip


_ADMIN = User(role=UserRole.Admin)  # asyncua's default for internal writes


class _Users(UserManager):  # type: ignore[misc]  # asyncua is Any to the checker
    """One user name and password (the device's configured account)."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:  # noqa: D102
        if username == self.username and (password == self.password or not self.password):
            return User(role=UserRole.User, name=username)
        return None


class OpcUaSimServer(SimServerBase):
    """Serves one device's points as an OPC UA server on the device's host/port."""

    def __init__(
        self, device: SimDeviceSpec, points: Sequence[SimPointSpec], model: StationModel
    ) -> None:
        p = dict(device.params)
        self.endpoint = str(p.get("endpoint") or f"opc.tcp://{device.host}:{device.port}")
        self.security = str(p.get("security_policy", "None")) != "None"
        self.username = str(p.get("username", "") or "")
        self.password = str(p.get("password", "") or "")
        if self.username and not self.password:
            # the runner passes the password from the station's keyring secret; without it the
            # demo still runs, but the simulated device accepts any password for the user
            log.warning(
                "simulated device %s: no password given for user %r: any password is accepted",
                device.id,
                self.username,
            )
        self.pki_dir = Path(p["pki_dir"]) if p.get("pki_dir") else None
        self.namespace_uri = str(p.get("namespace_uri", DEFAULT_NAMESPACE))
        self.update_period = float(p.get("update_period", UPDATE_PERIOD))
        super().__init__(device, points, model, parse_address)
        self.vtypes = [_TYPES.get(pt.type, ua.VariantType.Double) for pt in self.points]
        n = len(self.points)
        self.memory: list[Any] = ["" if vt is ua.VariantType.String else 0.0 for vt in self.vtypes]
        self._status: dict[int, int] = {}  # slot -> forced status code
        self._source_ts: dict[int, float] = {}  # slot -> source timestamp for its next update
        self._sent: list[Any] = [None] * n
        self._nodeids: list[ua.NodeId] = []
        self._slot_of: dict[ua.NodeId, int] = {}
        self._cert: bytes = b""
        self._key: bytes = b""
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.writes = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def server_certificate(self) -> bytes:
        """The server's certificate (DER), e.g. to put into a client's trust list."""
        self._ensure_certificate()
        return self._cert

    def _ensure_certificate(self) -> None:
        if self._cert:
            return
        uri = f"{self.namespace_uri}:{self.device.id}"
        hosts = tuple(dict.fromkeys(("localhost", socket.gethostname(), self.device.host)))
        if self.pki_dir is not None:
            cert, key = self.pki_dir / "own" / "cert.der", self.pki_dir / "own" / "key.pem"
            if not (cert.is_file() and key.is_file()):
                generate_self_signed(
                    cert, key, uri, f"gas-hmi simulator {self.device.id}", server=True, hosts=hosts
                )
            self._cert, self._key = cert.read_bytes(), key.read_bytes()
            return
        with tempfile.TemporaryDirectory(prefix="gas-hmi-sim-pki-") as tmp:
            cert, key = Path(tmp) / "cert.der", Path(tmp) / "key.pem"
            generate_self_signed(
                cert, key, uri, f"gas-hmi simulator {self.device.id}", server=True, hosts=hosts
            )
            self._cert, self._key = cert.read_bytes(), key.read_bytes()

    async def start(self) -> None:
        """Build the address space and listen; OSError when the port cannot be used."""
        if self._server is not None:
            return
        server = Server(
            user_manager=_Users(self.username, self.password) if self.username else None
        )
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"gas-hmi simulator {self.device.id}")
        server.socket_address = (self.device.host, self.device.port)
        if self.security:
            await asyncio.to_thread(self._ensure_certificate)
            await server.set_application_uri(f"{self.namespace_uri}:{self.device.id}")
            await server.load_certificate(self._cert, format="der")
            await server.load_private_key(self._key, format="pem")
            server.set_security_policy([
                ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                ua.SecurityPolicyType.Basic256Sha256_Sign,
            ])  # fmt: skip
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens(
            [ua.UserNameIdentityToken] if self.username else [ua.AnonymousIdentityToken]
        )
        await self._build(server)
        self._hook_writes(server)
        try:
            await server.start()
        except OSError as exc:
            await quiet_stop(server)
            raise self._cannot_listen(str(exc.strerror or exc)) from None
        self._server = server
        self.online = True
        self._sent = [None] * len(self.points)
        await self.update()
        self._task = asyncio.get_running_loop().create_task(
            self._update_loop(), name=f"sim-opcua:{self.device.id}"
        )
        log.info("simulated OPC UA device %s serving %d points on %s%s", self.device.id, len(self.points),
                 self.endpoint, " (Basic256Sha256)" if self.security else "")  # fmt: skip

    async def stop(self) -> None:
        """Stop updating and listening (drops every session). Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        server, self._server = self._server, None
        self.online = False
        if server is not None:
            await quiet_stop(server)

    # ------------------------------------------------------------------ address space
    async def _build(self, server: Server) -> None:
        ns_default = await server.register_namespace(self.namespace_uri)
        namespaces = list(await server.get_namespace_array())
        root = await server.nodes.objects.add_object(
            ua.NodeId(f"{self.device.id}", ns_default), f"{ns_default}:{self.device.id}"
        )
        folders: dict[tuple[int, str], Any] = {}
        self._nodeids, self._slot_of = [], {}
        for k, (pt, a) in enumerate(zip(self.points, self.addresses, strict=True)):
            if a.namespace_uri is not None:
                if a.namespace_uri not in namespaces:
                    await server.register_namespace(a.namespace_uri)
                    namespaces = list(await server.get_namespace_array())
                ns = namespaces.index(a.namespace_uri)
            else:
                ns = a.namespace_index or 0
                while ns >= len(namespaces):  # ns=N addresses: make index N exist
                    await server.register_namespace(f"{self.namespace_uri}:ns{len(namespaces)}")
                    namespaces = list(await server.get_namespace_array())
            parent, name = root, pt.name
            if a.id_type == "s":
                parts = str(a.identifier).split(".")
                name = parts[-1]
                for depth in range(1, len(parts)):
                    key = (ns, ".".join(parts[:depth]))
                    if key not in folders:
                        folders[key] = await parent.add_folder(ns, parts[depth - 1])
                    parent = folders[key]
            nodeid = ua.NodeId(_identifier(a), ns, _ID_KIND[a.id_type])
            vt = self.vtypes[k]
            var = await parent.add_variable(
                nodeid, ua.QualifiedName(name, ns), _initial(vt), varianttype=vt
            )
            await var.write_attribute(
                ua.AttributeIds.Description, ua.DataValue(ua.Variant(ua.LocalizedText(pt.name)))
            )
            if pt.writable:
                await var.set_writable(True)
            self._nodeids.append(nodeid)
            self._slot_of[nodeid] = k

    def _hook_writes(self, server: Server) -> None:
        # asyncua offers no per-node write validation with a status answer; wrap the write
        # service of this server instance so refused values get a proper Bad status.
        service = server.iserver.attribute_service
        original = service.write

        async def write(params: ua.WriteParameters, user: User = _ADMIN) -> list[ua.StatusCode]:
            results: list[ua.StatusCode | None] = [None] * len(params.NodesToWrite)
            passed: list[int] = []
            accepted: list[tuple[int, Any]] = []
            for i, wv in enumerate(params.NodesToWrite):
                k = self._slot_of.get(wv.NodeId)
                if k is None or wv.AttributeId != ua.AttributeIds.Value:
                    passed.append(i)
                    continue
                status, value = self._check_write(k, wv.Value)
                if status:
                    results[i] = ua.StatusCode(status)
                else:
                    passed.append(i)
                    accepted.append((i, (k, value)))
            if passed:
                sub = ua.WriteParameters(NodesToWrite=[params.NodesToWrite[i] for i in passed])
                for i, res in zip(passed, await original(sub, user), strict=True):
                    results[i] = res
            for i, (k, value) in accepted:
                answer = results[i]
                if answer is not None and answer.is_good():
                    self._apply_write(k, value)
            return [
                r if r is not None else ua.StatusCode(ua.StatusCodes.BadInternalError)
                for r in results
            ]

        service.write = write

    def _check_write(self, k: int, dv: ua.DataValue) -> tuple[int, Any]:
        pt = self.points[k]
        if not pt.writable:
            return ua.StatusCodes.BadNotWritable, None
        value = dv.Value.Value if dv.Value is not None else None
        if dv.Value is None or dv.Value.VariantType is not self.vtypes[k]:
            return ua.StatusCodes.BadTypeMismatch, None
        if isinstance(value, str):
            return 0, value
        if not isinstance(value, int | float):
            return ua.StatusCodes.BadTypeMismatch, None
        eng = pt.to_eng(float(value))
        refused = self._model_refusal(k, eng)
        if refused is not None:
            bad = (
                ua.StatusCodes.BadOutOfRange
                if refused.code == "range"
                else ua.StatusCodes.BadNotWritable
            )
            return bad, None
        return 0, eng

    def _apply_write(self, k: int, value: Any) -> None:
        pt = self.points[k]
        self.writes += 1
        if isinstance(pt.source, str) and pt.source and not isinstance(value, str):
            self.model.write(pt.source, float(value))
        else:
            self.memory[k] = value
            if isinstance(pt.source, Mapping):
                self._overridden.add(k)
        self._sent[k] = None  # the next update re-publishes what the device holds now

    # ------------------------------------------------------------------ values
    def set_status(self, name: str, status: int | None) -> None:
        """Force an OPC UA status code on point ``name`` (None: back to normal values)."""
        k = next((i for i, pt in enumerate(self.points) if pt.name == name), None)
        if k is None:
            raise KeyError(name)
        if status is None:
            self._status.pop(k, None)
        else:
            self._status[k] = int(status)
        self._sent[k] = None

    def set_value(self, name: str, value: Any, source_ts: float | None = None) -> None:
        """Serve ``value`` (engineering units) on a memory or signal point, optionally with a
        given source timestamp (Unix s) on the next update (scripts and tests)."""
        k = next((i for i, pt in enumerate(self.points) if pt.name == name), None)
        if k is None:
            raise KeyError(name)
        self.memory[k] = value
        self._overridden.add(k)
        if source_ts is not None:
            self._source_ts[k] = source_ts
        self._sent[k] = None

    def eng_values(self) -> list[Any]:
        """The engineering value every point serves now (model, signal or memory)."""
        out: list[Any] = list(self.memory)
        if self._model_names:
            for k, v in zip(
                self._model_slots, self.model.values_of(self._model_names), strict=True
            ):
                if k not in self._overridden:
                    out[k] = float(v)
        if self._bank is not None:
            for k, v in zip(self._sig_slots, self._bank.values(self.model.t), strict=True):
                if k not in self._overridden:
                    out[k] = float(v)
        return out

    async def update(self) -> int:
        """Push changed values (and forced statuses) into the address space; return how many."""
        server = self._server
        if server is None:
            return 0
        now = datetime.datetime.now(datetime.UTC)
        changed = 0
        for k, eng in enumerate(self.eng_values()):
            status = self._status.get(k, 0)
            raw = eng if isinstance(eng, str) else self.points[k].to_raw(float(eng))
            key = (raw, status)
            if self._sent[k] == key:
                continue
            self._sent[k] = key
            vt = self.vtypes[k]
            src = now
            if k in self._source_ts:
                src = datetime.datetime.fromtimestamp(self._source_ts.pop(k), datetime.UTC)
            if status and (status >> 30) >= 2:
                dv = ua.DataValue(
                    ua.Variant(None, ua.VariantType.Null), ua.StatusCode(status), src, now
                )
            else:
                dv = ua.DataValue(ua.Variant(_encode(raw, vt), vt), ua.StatusCode(status), src, now)
            await server.write_attribute_value(self._nodeids[k], dv)
            changed += 1
        return changed

    async def _update_loop(self) -> None:
        while True:
            await asyncio.sleep(self.update_period)
            try:
                await self.update()
            except Exception:
                log.exception("simulated device %s: update failed", self.device.id)


_ID_KIND = {
    "i": ua.NodeIdType.Numeric,
    "s": ua.NodeIdType.String,
    "g": ua.NodeIdType.Guid,
    "b": ua.NodeIdType.ByteString,
}


def _identifier(a: Any) -> Any:
    if a.id_type == "g":
        return uuid.UUID(str(a.identifier))
    if a.id_type == "b":
        return base64.b64decode(str(a.identifier))
    return a.identifier


def _initial(vt: ua.VariantType) -> Any:
    return {ua.VariantType.Boolean: False, ua.VariantType.Int32: 0, ua.VariantType.String: ""}.get(
        vt, 0.0
    )


def _encode(raw: Any, vt: ua.VariantType) -> Any:
    if vt is ua.VariantType.String:
        return str(raw)
    if vt is ua.VariantType.Boolean:
        return bool(raw)
    if vt is ua.VariantType.Int32:
        return int(max(-(2**31), min(2**31 - 1, round(raw)))) if math.isfinite(raw) else 0
    return float(raw)
