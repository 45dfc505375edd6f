"""Self-test of each field device's reachability prerequisites (no connection is made).

What the runtime would otherwise only find at start or on the first connect, and turn
into a BAD device with a reason: a host name that does not resolve, a serial port that
does not exist, a pinned OPC UA server certificate that is missing, a server certificate
that was refused and waits in ``rejected/``. A secured OPC UA device with nothing in its
trust list yet is a warning (it is refused until its certificate is trusted).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


def _host(device: Any) -> str:
    if getattr(device, "endpoint", ""):
        return urlparse(str(device.endpoint)).hostname or ""
    return str(getattr(device, "host", "") or "")


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return True


def _opcua_trust(device: Any, cfg: Any, data_dir: Path) -> tuple[list[str], list[str]]:
    fails: list[str] = []
    warns: list[str] = []
    if getattr(device, "security_policy", "None") == "None":
        return fails, warns
    pki = data_dir / "pki" / device.id
    pinned = str(getattr(device, "server_certificate", "") or "")
    if pinned:
        path = Path(pinned)
        if not path.is_absolute():
            path = Path(cfg.source_dir) / path
        if not path.is_file():
            fails.append(f"{device.id}: pinned server certificate {path} is missing")
        return fails, warns
    rejected = sorted((pki / "rejected").glob("*")) if (pki / "rejected").is_dir() else []
    if rejected:
        fails.append(
            f"{device.id}: server certificate refused ({rejected[0].name}): check its thumbprint "
            f"and move it from {pki / 'rejected'} to {pki / 'trusted'}"
        )
    trusted = list((pki / "trusted").glob("*")) if (pki / "trusted").is_dir() else []
    if not trusted and not getattr(device, "trust_on_first_use", False) and not rejected:
        warns.append(
            f"{device.id}: no trusted server certificate yet: put the server's certificate "
            f"into {pki / 'trusted'} (the device is refused until then)"
        )
    return fails, warns


def device_problems(cfg: Any, data_dir: Path) -> tuple[list[str], list[str]]:
    """(failures, warnings) over every enabled field device of ``cfg``."""
    fails: list[str] = []
    warns: list[str] = []
    for device in cfg.devices:
        if not device.enabled or device.protocol in ("system", "calc"):
            continue
        host = _host(device)
        if host and not _resolves(host):
            fails.append(f"{device.id}: host {host!r} does not resolve: check the address or DNS")
        port = str(getattr(device, "serial_port", "") or "")
        if port and not Path(port).exists():
            fails.append(
                f"{device.id}: serial port {port} does not exist: check the cable/adapter and "
                "the port name (ls /dev/serial/by-id)"
            )
        if device.protocol == "opcua":
            f, w = _opcua_trust(device, cfg, data_dir)
            fails += f
            warns += w
    return fails, warns
