"""Certificates of an OPC UA connection: our client identity and the server trust list.

Folder layout under ``pki_dir`` (the usual OPC UA layout, so that tools and people
find their way)::

    own/cert.der  own/key.pem     client application instance certificate and key
    trusted/                      server certificates we trust (.der or .pem)
    rejected/                     server certificates we refused, for an engineer to
                                  inspect and move to trusted/ after checking the thumbprint

A server certificate is trusted when it equals the pinned ``server_certificate``
file, or is in ``trusted/``. Trust on first use stores an unknown server certificate
in ``trusted/`` (only when the config says so).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

CERT_DAYS = 3650  # a station PC lives long; the engineer replaces the file to renew


class UntrustedServerError(Exception):
    """The server's certificate is not trusted; the message says where to put it."""


class CertificateError(Exception):
    """A configured certificate or key file cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Paths of the client certificate and key, and the application URI inside the certificate."""

    cert_path: Path
    key_path: Path
    application_uri: str


def thumbprint(der: bytes) -> str:
    """SHA-1 thumbprint of a DER certificate, upper-case hex (what OPC UA tools display)."""
    return hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - OPC UA thumbprints are SHA-1


def subject_of(der: bytes) -> str:
    """Readable subject (``CN=..., O=...``) of a DER certificate."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return "<unreadable certificate>"
    return cert.subject.rfc4514_string() or "<empty subject>"


def load_cert_der(path: Path) -> bytes:
    """A certificate file (DER or PEM) as DER bytes; CertificateError when unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"cannot read certificate {path}: {exc.strerror or exc}") from None
    try:
        if b"-----BEGIN" in data:
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CertificateError(f"{path} is not a certificate (PEM or DER): {exc}") from None
    return cert.public_bytes(serialization.Encoding.DER)


def application_uri_of(der: bytes) -> str | None:
    """The URI in a certificate's subjectAltName (OPC UA application URI), if any."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:60] or "server"


def generate_self_signed(
    cert_path: Path,
    key_path: Path,
    application_uri: str,
    common_name: str,
    *,
    server: bool = False,
    passphrase: str = "",
    hosts: tuple[str, ...] = (),
) -> None:
    """Write a new RSA-2048 key (PEM) and a self-signed OPC UA application certificate (DER)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gas-hmi")])  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    alt: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    alt += [x509.DNSName(h) for h in (hosts or (socket.gethostname(),))]
    usage = (
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        if server
        else [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    # the key is written owner-only before any byte of it lands on disk
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))


class CertStore:
    """The PKI folder of one OPC UA device connection."""

    def __init__(
        self,
        pki_dir: str | os.PathLike[str],
        *,
        certificate: str = "",
        private_key: str = "",
        key_passphrase: str = "",
        server_certificate: str = "",
        trust_on_first_use: bool = False,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.root = Path(pki_dir)
        self.own = self.root / "own"
        self.trusted = self.root / "trusted"
        self.rejected = self.root / "rejected"
        base = Path(base_dir) if base_dir else None
        self.certificate = _resolve(certificate, base)
        self.private_key = _resolve(private_key, base)
        self.key_passphrase = key_passphrase
        self.server_certificate = _resolve(server_certificate, base)
        self.tofu = trust_on_first_use

    # ------------------------------------------------------------------ our identity
    def client_identity(self, application_name: str = "gas-hmi") -> ClientIdentity:
        """The client certificate and key: the configured files, else generated on first use."""
        if self.certificate or self.private_key:
            if not (self.certificate and self.private_key):
                raise CertificateError(
                    "give both 'certificate' and 'private_key', or neither (then they are generated)"
                )
            for p in (self.certificate, self.private_key):
                if not p.is_file():
                    raise CertificateError(f"client certificate/key file {p} does not exist")
            der = load_cert_der(self.certificate)
            uri = application_uri_of(der) or f"urn:{socket.gethostname()}:{application_name}"
            return ClientIdentity(self.certificate, self.private_key, uri)
        cert_path = self.own / "cert.der"
        key_path = self.own / "key.pem"
        uri = f"urn:{socket.gethostname()}:{application_name}"
        if not (cert_path.is_file() and key_path.is_file()):
            log.info("generating OPC UA client certificate in %s", self.own)
            generate_self_signed(cert_path, key_path, uri, f"{application_name}@{socket.gethostname()}",
                                 passphrase=self.key_passphrase)  # fmt: skip
        else:
            uri = application_uri_of(load_cert_der(cert_path)) or uri
        return ClientIdentity(cert_path, key_path, uri)

    # ------------------------------------------------------------------ trust
    def trusted_thumbprints(self) -> set[str]:
        """Thumbprints of every certificate in trusted/ (unreadable files are skipped with a warning)."""
        out: set[str] = set()
        if not self.trusted.is_dir():
            return out
        for f in sorted(self.trusted.iterdir()):
            if f.suffix.lower() not in (".der", ".pem", ".crt", ".cer"):
                continue
            try:
                out.add(thumbprint(load_cert_der(f)))
            except CertificateError as exc:
                log.warning("ignoring %s", exc)
        return out

    def check_server(self, der: bytes, endpoint: str) -> str:
        """Accept or refuse a server certificate; return how it was trusted.

        Raises UntrustedServerError (message names subject, thumbprint and where to put
        the file) when it is neither pinned, nor in trusted/, nor accepted on first use.
        """
        tp = thumbprint(der)
        if self.server_certificate:
            pinned = load_cert_der(self.server_certificate)
            if thumbprint(pinned) == tp:
                return "pinned"
            raise UntrustedServerError(
                f"server certificate of {endpoint} ({subject_of(der)}, SHA-1 thumbprint {tp}) does not match "
                f"the pinned server_certificate {self.server_certificate} (thumbprint {thumbprint(pinned)}); "
                "if the server's certificate was renewed on purpose, replace the pinned file"
            )
        if tp in self.trusted_thumbprints():
            return "trust list"
        if self.tofu:
            path = self._store(self.trusted, der)
            log.warning(
                "trust on first use: trusting server certificate %s (thumbprint %s) of %s, stored in %s",
                subject_of(der), tp, endpoint, path,
            )  # fmt: skip
            return "trust on first use"
        path = self._store(self.rejected, der)
        raise UntrustedServerError(
            f"server certificate of {endpoint} is not trusted: {subject_of(der)}, SHA-1 thumbprint {tp}. "
            f"After checking the thumbprint with the server's administrator, move {path} to {self.trusted}/ "
            "(or pin it with server_certificate:, or set trust_on_first_use: true)"
        )

    def trust(self, der: bytes) -> Path:
        """Put a server certificate into trusted/ (what an engineer does after checking it)."""
        return self._store(self.trusted, der)

    def _store(self, folder: Path, der: bytes) -> Path:
        cert = x509.load_der_x509_certificate(der)
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        cn = str(cns[0].value) if cns else "server"
        path = folder / f"{_safe_name(cn)} [{thumbprint(der)[:16]}].der"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(der)
        except OSError as exc:
            log.warning("cannot store server certificate in %s: %s", folder, exc)
        return path


def _resolve(path: str, base: Path | None) -> Path | None:
    if not path:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() or base is None else base / p
