"""Client certificate generation and the server trust list (pinned, trusted/, TOFU, rejected/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from drivers.opcua.certs import (
    CertificateError,
    CertStore,
    UntrustedServerError,
    application_uri_of,
    generate_self_signed,
    subject_of,
    thumbprint,
)


@pytest.fixture(scope="module")
def server_der(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    d = tmp_path_factory.mktemp("srv")
    generate_self_signed(
        d / "c.der",
        d / "k.pem",
        "urn:test:server",
        "plant controller",
        server=True,
        hosts=("localhost",),
    )
    return (d / "c.der").read_bytes()


def test_client_identity_is_generated_once_and_kept(tmp_path: Path) -> None:
    store = CertStore(tmp_path / "pki", key_passphrase="pass phrase")
    first = store.client_identity("gas-hmi")
    assert first.cert_path.is_file() and first.key_path.is_file()
    assert (first.key_path.stat().st_mode & 0o777) == 0o600, "the key is readable by its owner only"
    cert = x509.load_der_x509_certificate(first.cert_path.read_bytes())
    assert application_uri_of(first.cert_path.read_bytes()) == first.application_uri
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.data_encipherment
    # the generated key is encrypted with the configured passphrase
    serialization.load_pem_private_key(first.key_path.read_bytes(), password=b"pass phrase")
    second = CertStore(tmp_path / "pki", key_passphrase="pass phrase").client_identity("gas-hmi")
    assert second.cert_path.read_bytes() == first.cert_path.read_bytes()


def test_configured_client_certificate_must_be_complete(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="both"):
        CertStore(tmp_path, certificate=str(tmp_path / "c.der")).client_identity()
    with pytest.raises(CertificateError, match="does not exist"):
        CertStore(
            tmp_path, certificate=str(tmp_path / "c.der"), private_key=str(tmp_path / "k.pem")
        ).client_identity()


def test_unknown_server_is_refused_and_kept_in_rejected(tmp_path: Path, server_der: bytes) -> None:
    store = CertStore(tmp_path / "pki")
    with pytest.raises(UntrustedServerError) as err:
        store.check_server(server_der, "opc.tcp://10.1.1.5:4840")
    msg = str(err.value)
    assert thumbprint(server_der) in msg and "CN=plant controller" in msg and "trusted" in msg
    assert len(list((tmp_path / "pki" / "rejected").iterdir())) == 1
    store.trust(server_der)
    assert store.check_server(server_der, "opc.tcp://10.1.1.5:4840") == "trust list"


def test_trust_on_first_use_stores_the_certificate(tmp_path: Path, server_der: bytes) -> None:
    store = CertStore(tmp_path / "pki", trust_on_first_use=True)
    assert store.check_server(server_der, "opc.tcp://h:1") == "trust on first use"
    assert store.check_server(server_der, "opc.tcp://h:1") == "trust list"
    assert thumbprint(server_der) in CertStore(tmp_path / "pki").trusted_thumbprints()


def test_pinned_certificate_wins_over_tofu(tmp_path: Path, server_der: bytes) -> None:
    other = tmp_path / "other"
    generate_self_signed(other / "c.der", other / "k.pem", "urn:x", "impostor")
    pem = tmp_path / "pinned.pem"
    pem.write_bytes(
        x509.load_der_x509_certificate(server_der).public_bytes(serialization.Encoding.PEM)
    )
    store = CertStore(tmp_path / "pki", server_certificate=str(pem), trust_on_first_use=True)
    assert store.check_server(server_der, "opc.tcp://h:1") == "pinned"
    with pytest.raises(UntrustedServerError, match="does not match the pinned"):
        store.check_server((other / "c.der").read_bytes(), "opc.tcp://h:1")
    assert subject_of(b"junk") == "<unreadable certificate>"
