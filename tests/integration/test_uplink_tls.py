"""mqtts:// against a real mosquitto TLS listener (certificates made for the test)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hmi.core.tagtable import TagTable
from hmi.core.uplink import Uplink
from tests.helpers import wait_until
from tests.mqtt_broker import MosquittoBroker, uplink_station


def _cert(name: str, issuer_key, issuer_name, key, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        b = b.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return b.sign(issuer_key, hashes.SHA256())


def _write(path: Path, obj) -> Path:
    if isinstance(obj, x509.Certificate):
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return path


def _pki(folder: Path, tag: str) -> tuple[Path, Path, Path]:
    """(CA cert, server cert, server key) files."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(f"test CA {tag}", ca_key, None, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert("127.0.0.1", ca_key, ca.subject, key, ca=False)
    return (
        _write(folder / "ca.pem", ca),
        _write(folder / "server.pem", cert),
        _write(folder / "server.key", key),
    )


def test_tls_with_the_station_ca_and_a_clear_error_with_the_wrong_one(tmp_path):
    ca, cert, key = _pki(tmp_path / "pki", "a")
    wrong_ca, _c, _k = _pki(tmp_path / "other", "b")
    broker = MosquittoBroker(
        tmp_path / "mq", extra=f"cafile {ca}\ncertfile {cert}\nkeyfile {key}"
    ).start()
    try:
        cfg = uplink_station([broker], "json", ca_file=str(ca))
        cfg = cfg.model_copy(
            update={
                "uplink": cfg.uplink.model_copy(
                    update={"brokers": [cfg.uplink.brokers[0].model_copy(update={"tls": True})]}
                )
            }
        )
        up = Uplink(cfg, tmp_path / "ok", TagTable(cfg.tags))
        try:
            up.start()
            wait_until(lambda: up.status()["connected"], 30, what="TLS session")
        finally:
            up.stop()
        bad = cfg.model_copy(
            update={"uplink": cfg.uplink.model_copy(update={"ca_file": str(wrong_ca)})}
        )
        up = Uplink(bad, tmp_path / "bad", TagTable(bad.tags))
        try:
            up.start()
            wait_until(lambda: "TLS" in up.status()["last_error"], 30, what="TLS error")
            assert (
                "not trusted" in up.status()["last_error"]
                and "ca_file" in up.status()["last_error"]
            )
            assert not up.status()["connected"]
        finally:
            up.stop()
    finally:
        broker.stop()
