"""Open and close one asyncua client session: security, trust, user, clear error messages.

Shared by the driver and ``gas-hmi browse``. Every failure is turned into one
sentence an engineer can act on (:func:`explain`), never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from asyncua import Client, ua
from asyncua.crypto import security_policies, uacrypto
from asyncua.ua import uaerrors
from cryptography.hazmat.primitives import serialization

from . import logfilter
from .certs import CertificateError, CertStore, ClientIdentity, UntrustedServerError, load_cert_der

log = logging.getLogger(__name__)
logfilter.install()

POLICIES = {"Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256}
MODES = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}
_USER_ERRORS = (
    uaerrors.BadUserAccessDenied,
    uaerrors.BadIdentityTokenInvalid,
    uaerrors.BadIdentityTokenRejected,
)
_CERT_ERRORS = (
    uaerrors.BadSecurityChecksFailed,
    uaerrors.BadCertificateUntrusted,
    uaerrors.BadCertificateInvalid,
    uaerrors.BadCertificateUriInvalid,
    uaerrors.BadSecurityPolicyRejected,
)


class ConnectError(Exception):
    """A session could not be opened; the message says why in plain words."""


@dataclass(slots=True)
class ConnectOptions:
    """What is needed to open a session."""

    endpoint: str
    security_policy: str = "None"
    security_mode: str = "None"
    username: str = ""
    password: str = ""
    timeout: float = 4.0
    session_timeout: float = 30.0
    certs: CertStore | None = None
    application_name: str = "gas-hmi"
    watchdog_interval: float = 30.0

    @property
    def secure(self) -> bool:
        """True when the channel is signed (and maybe encrypted)."""
        return self.security_policy != "None"


async def open_client(
    opts: ConnectOptions, on_lost: Callable[[Exception], Awaitable[None]] | None = None
) -> Client:
    """Connect, check the server certificate, activate the session; ConnectError on failure."""
    client = Client(opts.endpoint, timeout=opts.timeout, watchdog_intervall=opts.watchdog_interval)
    client.name = client.description = opts.application_name
    client.application_uri = f"urn:{socket.gethostname()}:{opts.application_name}"
    client.product_uri = "urn:gas-hmi"
    client.session_timeout = int(opts.session_timeout * 1000)
    client.connection_lost_callback = on_lost
    try:
        if opts.secure:
            await _secure(client, opts)
        if opts.username:
            client.set_user(opts.username)
            client.set_password(opts.password or "")
        await asyncio.wait_for(client.connect(auto_reconnect=False), opts.timeout * 3 + 2)
    except BaseException as exc:
        await close_client(client, opts.timeout)
        if isinstance(exc, Exception):
            raise ConnectError(explain(exc, opts)) from None
        raise
    return client


async def _secure(client: Client, opts: ConnectOptions) -> None:
    if opts.security_policy not in POLICIES or opts.security_mode not in MODES:
        raise ConnectError(f"unsupported security {opts.security_policy}/{opts.security_mode}")
    if opts.certs is None:
        raise ConnectError("a secure connection needs a PKI folder (pki_dir)")
    ident = await asyncio.to_thread(opts.certs.client_identity, opts.application_name)
    cert_der, key = await asyncio.to_thread(_load_identity, ident, opts.certs.key_passphrase)
    client.application_uri = ident.application_uri
    policy = POLICIES[opts.security_policy]
    mode = MODES[opts.security_mode]
    # GetEndpoints runs on an unsecured channel (as the standard intends) to learn the certificate
    endpoints = await asyncio.wait_for(
        client.connect_and_get_server_endpoints(), opts.timeout * 2 + 1
    )
    match = [e for e in endpoints if e.SecurityMode == mode and e.SecurityPolicyUri == policy.URI]
    if not match:
        offered = sorted(
            {f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]}/{e.SecurityMode.name}" for e in endpoints}
        )
        raise ConnectError(
            f"{opts.endpoint} offers no {opts.security_policy}/{opts.security_mode} endpoint "
            f"(it offers: {', '.join(offered) or 'none'})"
        )
    der = _first_cert(match[0].ServerCertificate)
    if not der:
        raise ConnectError(f"{opts.endpoint} sent no server certificate for a secure endpoint")
    how = opts.certs.check_server(der, opts.endpoint)
    log.debug("server certificate of %s accepted (%s)", opts.endpoint, how)
    await client.set_security(
        policy,
        uacrypto.CertProperties(cert_der, "der"),
        key,
        server_certificate=uacrypto.CertProperties(der, "der"),
        mode=mode,
    )


def _load_identity(ident: ClientIdentity, passphrase: str) -> tuple[bytes, uacrypto.CertProperties]:
    """Client certificate (DER) and key, checked here so that a bad file gets a clear message."""
    cert_der = load_cert_der(ident.cert_path)
    try:
        data = ident.key_path.read_bytes()
    except OSError as exc:
        raise CertificateError(
            f"cannot read private key {ident.key_path}: {exc.strerror or exc}"
        ) from None
    pem = b"-----BEGIN" in data
    password = passphrase.encode() if passphrase else None
    try:
        if pem:
            serialization.load_pem_private_key(data, password=password)
        else:
            serialization.load_der_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        hint = (
            "wrong or missing key passphrase?"
            if b"ENCRYPTED" in data or password
            else "not a PEM/DER private key"
        )
        raise CertificateError(
            f"cannot open private key {ident.key_path} ({hint}): {exc}"
        ) from None
    return cert_der, uacrypto.CertProperties(data, "pem" if pem else "der", password)


def _first_cert(der: bytes | None) -> bytes:
    """Leading certificate of a DER blob that may carry the chain after it."""
    if not der or len(der) < 4:
        return b""
    return der[: int.from_bytes(der[2:4], "big") + 4]


async def close_client(client: Client, timeout: float = 2.0) -> None:
    """Close the session and socket; never raises, never leaves the client's tasks behind."""
    try:
        await asyncio.wait_for(client.disconnect(), timeout + 1.0)
    except BaseException as exc:  # a dead peer must not keep us from cleaning up
        if isinstance(exc, asyncio.CancelledError) and _cancelling():
            await _kill_tasks(client)
            raise
        log.debug("disconnect from %s: %r", client.server_url.geturl(), exc)
    await _kill_tasks(client)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return bool(task is not None and task.cancelling())


async def _kill_tasks(client: Client) -> None:
    # asyncua keeps these on private attributes; the version is pinned (<2.2) and this is
    # the one place that relies on them, so that a failed disconnect leaks no task.
    tasks: list[Any] = [
        getattr(client, "_supervisor_task", None),
        getattr(client, "_stale_watchdog_task", None),
        getattr(client, "_renew_channel_task", None),
        getattr(getattr(client.uaclient, "session", None), "_publish_task", None),
    ]
    with contextlib.suppress(Exception):
        client.uaclient.request_disconnect()
    for t in tasks:
        if t is not None and not t.done() and t is not asyncio.current_task():
            t.cancel()
    live = [t for t in tasks if t is not None and t is not asyncio.current_task()]
    if live:
        await asyncio.gather(*live, return_exceptions=True)
    with contextlib.suppress(Exception):
        client.disconnect_socket()


def explain(exc: BaseException, opts: ConnectOptions) -> str:
    """One readable sentence for a failure to connect to ``opts.endpoint``."""
    url = urlparse(opts.endpoint)
    where = f"{url.hostname}:{url.port or 4840}"
    if isinstance(exc, ConnectError | UntrustedServerError | CertificateError):
        return str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where} (is the OPC UA server running?)"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return f"no answer from {opts.endpoint} within the timeout ({opts.timeout:g} s)"
    if isinstance(exc, _USER_ERRORS):
        who = f"user {opts.username!r}" if opts.username else "anonymous access"
        hint = (
            "wrong user name or password"
            if opts.username
            else "the server requires a user name and password"
        )
        return f"{opts.endpoint} refused {who}: {hint} ({type(exc).__name__})"
    if isinstance(exc, _CERT_ERRORS):
        own = opts.certs.own if opts.certs is not None else "the client certificate"
        return (
            f"{opts.endpoint} rejected our client certificate ({type(exc).__name__}): add the certificate in "
            f"{own} to the server's trusted certificates"
        )
    if isinstance(exc, uaerrors.UaStatusCodeError):
        return f"{opts.endpoint} answered {type(exc).__name__}: {exc}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host {url.hostname!r}: {exc.strerror}"
    if isinstance(exc, OSError):
        return f"cannot reach {where}: {exc.strerror or exc}"
    if isinstance(exc, ua.UaError) and "mismatch" in str(exc).lower():
        return f"{opts.endpoint} presented a different certificate during the session than at discovery"
    return f"{type(exc).__name__}: {exc}"
