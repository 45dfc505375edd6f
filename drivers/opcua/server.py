"""An OPC UA server that publishes a set of points (the station's northbound interface).

Generic over what it serves: the caller describes each variable (:class:`ServedVariable`:
string node id, folder, data type, unit, range, writable) and pushes values with a status
code name and a source timestamp (:meth:`PointServer.publish`). Writes from clients are
not applied to the address space: they go to the caller's ``on_write`` handler, whose
status code is the client's answer; the value then comes back through the normal data
path (read-back), as from a device. Only this module of the northbound imports asyncua.

Security: Basic256Sha256 Sign / SignAndEncrypt with a certificate generated once into
``pki_dir``; user name + password sessions checked against ``accounts``; anonymous
sessions only when allowed. Accounts with ``writer=False`` and anonymous sessions get
BadUserAccessDenied for every write.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import math
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

from drivers.opcua import logfilter
from drivers.opcua.certs import generate_self_signed

log = logging.getLogger(__name__)
logfilter.install()

#: (node name, value, client user name) -> (status code name, message)
WriteHandler = Callable[[str, Any, str], Awaitable[tuple[str, str]]]

_VTYPES = {
    "float": ua.VariantType.Double,
    "int": ua.VariantType.Int64,
    "bool": ua.VariantType.Boolean,
    "string": ua.VariantType.String,
}
_POLICIES = {
    "None": ua.SecurityPolicyType.NoSecurity,
    "Basic256Sha256_Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
    "Basic256Sha256_SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}
_ADMIN = User(role=UserRole.Admin)


@dataclass(frozen=True, slots=True)
class ServedVariable:
    """One variable of the address space: ``ns=<namespace>;s=<name>`` under ``folder``."""

    name: str
    folder: tuple[str, ...]
    datatype: str = "float"  # float | int | bool | string
    description: str = ""
    unit: str = ""
    eng_range: tuple[float, float] | None = None
    writable: bool = False


@dataclass(frozen=True, slots=True)
class Account:
    """A user who may open a session; ``writer`` accounts may write."""

    username: str
    password: str
    writer: bool = False


class _Accounts(UserManager):  # type: ignore[misc]  # asyncua is Any to the checker
    def __init__(self, accounts: Sequence[Account], anonymous: bool) -> None:
        self.accounts = {a.username: a for a in accounts}
        self.anonymous = anonymous

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is None:
            return User(role=UserRole.Anonymous) if self.anonymous else None
        acc = self.accounts.get(username)
        if acc is None or not acc.password or password != acc.password:
            log.warning("northbound OPC UA: login of %r refused", username)
            return None
        return User(role=UserRole.User, name=username)


def _variant(value: Any, datatype: str) -> ua.Variant:
    vt = _VTYPES.get(datatype, ua.VariantType.Double)
    if vt is ua.VariantType.String:
        return ua.Variant("" if value is None else str(value), vt)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ua.Variant(None, ua.VariantType.Null)
    if vt is ua.VariantType.Boolean:
        return ua.Variant(bool(value), vt)
    if vt is ua.VariantType.Int64:
        return ua.Variant(int(round(float(value))), vt)
    return ua.Variant(float(value), vt)


def status_code(name: str) -> ua.StatusCode:
    """The OPC UA status code called ``name`` (BadInternalError when there is none)."""
    code = getattr(ua.StatusCodes, name, None)
    return ua.StatusCode(code if isinstance(code, int) else ua.StatusCodes.BadInternalError)


class PointServer:
    """Serves ``variables`` (and the values pushed into them) on ``endpoint``."""

    def __init__(
        self,
        endpoint: str,
        namespace_uri: str,
        variables: Sequence[ServedVariable],
        *,
        server_name: str,
        security: Sequence[str] = ("Basic256Sha256_SignAndEncrypt",),
        accounts: Sequence[Account] = (),
        anonymous: bool = False,
        pki_dir: Path | None = None,
        on_write: WriteHandler | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.namespace_uri = namespace_uri
        self.variables = list(variables)
        self.server_name = server_name
        self.security = list(security)
        self.accounts = list(accounts)
        self.anonymous = anonymous
        self.pki_dir = pki_dir
        self.on_write = on_write
        self._server: Server | None = None
        self._nodes: dict[str, ua.NodeId] = {}
        self._by_node: dict[ua.NodeId, ServedVariable] = {}
        self.writes = 0

    # ------------------------------------------------------------------ lifecycle
    def certificate_paths(self) -> tuple[Path, Path]:
        """(certificate DER, private key PEM) of the server, generated on first use."""
        if self.pki_dir is None:
            raise ValueError("no pki_dir: the server has no certificate")
        cert, key = self.pki_dir / "own" / "cert.der", self.pki_dir / "own" / "key.pem"
        if not (cert.is_file() and key.is_file()):
            hosts = tuple(dict.fromkeys(("localhost", socket.gethostname())))
            generate_self_signed(
                cert, key, self.namespace_uri, self.server_name, server=True, hosts=hosts
            )
        return cert, key

    async def start(self) -> None:
        """Build the address space and listen; OSError names the endpoint when it cannot."""
        if self._server is not None:
            return
        server = Server(user_manager=_Accounts(self.accounts, self.anonymous))
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(self.server_name)
        await server.set_application_uri(self.namespace_uri)
        if any(s != "None" for s in self.security):
            cert, key = await asyncio.to_thread(self.certificate_paths)
            await server.load_certificate(str(cert), format="der")
            await server.load_private_key(str(key), format="pem")
        server.set_security_policy([_POLICIES[s] for s in self.security])
        tokens: list[type] = [ua.UserNameIdentityToken] if self.accounts else []
        if self.anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        await self._build(server)
        self._hook_writes(server)
        try:
            await server.start()
        except OSError as exc:
            await quiet_stop(server)
            raise OSError(f"cannot listen on {self.endpoint}: {exc.strerror or exc}") from None
        self._server = server
        log.info(
            "northbound OPC UA server on %s: %d variables (%s)",
            self.endpoint,
            len(self.variables),
            ", ".join(self.security),
        )

    async def stop(self) -> None:
        """Close every session and stop listening. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            await quiet_stop(server)

    # ------------------------------------------------------------------ address space
    async def _build(self, server: Server) -> None:
        ns = await server.register_namespace(self.namespace_uri)
        folders: dict[tuple[str, ...], Any] = {(): server.nodes.objects}
        for var in self.variables:
            parent = folders[()]
            for depth in range(1, len(var.folder) + 1):
                key = var.folder[:depth]
                if key not in folders:
                    fid = ua.NodeId("/".join(key), ns)
                    folders[key] = await parent.add_folder(fid, ua.QualifiedName(key[-1], ns))
                parent = folders[key]
            nodeid = ua.NodeId(var.name, ns)
            vt = _VTYPES.get(var.datatype, ua.VariantType.Double)
            initial = {"bool": False, "int": 0, "string": ""}.get(var.datatype, 0.0)
            node = await parent.add_variable(
                nodeid,
                ua.QualifiedName(var.name, ns),
                _variant(initial, var.datatype),
                varianttype=vt,
                datatype=ua.NodeId(vt.value, 0),  # built-in types: data type id = variant type
            )
            await node.write_attribute(
                ua.AttributeIds.Value,
                ua.DataValue(
                    ua.Variant(None, ua.VariantType.Null), status_code("BadWaitingForInitialData")
                ),
            )
            if var.description:
                await node.write_attribute(
                    ua.AttributeIds.Description,
                    ua.DataValue(ua.Variant(ua.LocalizedText(var.description))),
                )
            if var.unit:
                eu = ua.EUInformation(
                    NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
                    UnitId=-1,
                    DisplayName=ua.LocalizedText(var.unit),
                    Description=ua.LocalizedText(var.unit),
                )
                await node.add_property(0, "EngineeringUnits", eu, ua.VariantType.ExtensionObject)
            if var.eng_range is not None:
                rng = ua.Range(Low=float(var.eng_range[0]), High=float(var.eng_range[1]))
                await node.add_property(0, "EURange", rng, ua.VariantType.ExtensionObject)
            if var.writable:
                await node.set_writable(True)
            self._nodes[var.name] = nodeid
            self._by_node[nodeid] = var

    def _hook_writes(self, server: Server) -> None:
        # a write becomes a command: the handler's answer is the client's status, and the
        # value reaches the address space only through the data path (read-back)
        service = server.iserver.attribute_service
        original = service.write

        async def write(params: ua.WriteParameters, user: User = _ADMIN) -> list[ua.StatusCode]:
            results: list[ua.StatusCode | None] = [None] * len(params.NodesToWrite)
            passed: list[int] = []
            for i, wv in enumerate(params.NodesToWrite):
                var = self._by_node.get(wv.NodeId)
                if var is None or wv.AttributeId != ua.AttributeIds.Value:
                    passed.append(i)
                    continue
                results[i] = await self._client_write(var, wv.Value, user)
            if passed:
                sub = ua.WriteParameters(NodesToWrite=[params.NodesToWrite[i] for i in passed])
                for i, res in zip(passed, await original(sub, user), strict=True):
                    results[i] = res
            return [r if r is not None else status_code("BadInternalError") for r in results]

        service.write = write

    async def _client_write(
        self, var: ServedVariable, dv: ua.DataValue, user: User
    ) -> ua.StatusCode:
        if user is _ADMIN:  # the server itself (publish): never here, but never refused either
            return status_code("Good")
        if not var.writable:
            return status_code("BadNotWritable")
        writers = {a.username for a in self.accounts if a.writer}
        name = getattr(user, "name", None)
        if name not in writers or self.on_write is None:
            log.info("northbound OPC UA: write to %s by %r refused (read-only)", var.name, name)
            return status_code("BadUserAccessDenied")
        value = dv.Value.Value if dv.Value is not None else None
        if value is None:
            return status_code("BadTypeMismatch")
        self.writes += 1
        try:
            code, message = await self.on_write(var.name, value, str(name))
        except Exception:
            log.exception("northbound OPC UA: write to %s failed", var.name)
            return status_code("BadInternalError")
        log.info(
            "northbound OPC UA: write %s = %r by %s: %s %s", var.name, value, name, code, message
        )
        return status_code(code)

    # ------------------------------------------------------------------ values
    async def publish(self, updates: Sequence[tuple[str, Any, str, float]]) -> int:
        """Write (name, value, status code name, source ts) into the address space."""
        server = self._server
        if server is None:
            return 0
        now = datetime.datetime.now(datetime.UTC)
        count = 0
        for name, value, status, ts in updates:
            nodeid = self._nodes.get(name)
            if nodeid is None:
                continue
            var = self._by_node[nodeid]
            code = status_code(status)
            bad = not code.is_good() and not code.is_uncertain()
            variant = (
                ua.Variant(None, ua.VariantType.Null) if bad else _variant(value, var.datatype)
            )
            src = datetime.datetime.fromtimestamp(ts, datetime.UTC) if ts > 0 else now
            await server.write_attribute_value(nodeid, ua.DataValue(variant, code, src, now))
            count += 1
        return count

    def names(self) -> Mapping[str, ua.NodeId]:
        """Node id of every served variable, by name."""
        return dict(self._nodes)


async def quiet_stop(server: Server) -> None:
    """Stop an asyncua server, even a half-started one, and close its left-over sessions."""
    try:
        await server.stop()
    except Exception as exc:  # a half-started server: still release what it holds
        log.debug("stopping OPC UA server: %r", exc)
    # sessions with subscriptions outlive their connection (for reactivation; a simulated
    # device that goes off the network loses them): their tasks must not outlive the server
    sessions = getattr(server.iserver, "_external_sessions", {})
    for session in list(sessions.values()):
        try:
            await session.close_session(True)
        except Exception as exc:
            log.debug("closing a left-over session: %r", exc)
