"""What the runtime gives each device's driver: its points and its parameters.

:func:`point_specs` turns a device's tags into the driver's :class:`~drivers.base.PointSpec`
list (tag index, address, poll period, writable, protocol options); :func:`driver_params`
adds what the config does not hold to the device's parameters (an OPC UA device's PKI
folder, certificate paths relative to the config, its secrets from the keyring).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from drivers.base import PointSpec
from hmi.config.schema import StationConfig, TagConfig


def poll_period(cfg: StationConfig, tag: TagConfig) -> float:
    """The tag's poll period in seconds (1 s when its poll group is unknown)."""
    try:
        return cfg.poll_period(tag)
    except (KeyError, StopIteration):
        return 1.0


def point_specs(cfg: StationConfig, index: Mapping[str, int], device_id: str) -> list[PointSpec]:
    """The points of one device, in config order; ``index`` is the tag table's name -> index."""
    return [
        PointSpec(
            index[t.name], t.name, t.address, poll_period(cfg, t), t.access == "rw", dict(t.options)
        )
        for t in cfg.tags_of(device_id)
    ]


def driver_params(cfg: StationConfig, data_dir: Path, device: Any) -> dict[str, Any]:
    """The device's driver parameters, with the PKI folder and secrets of an OPC UA device."""
    params: dict[str, Any] = device.driver_params()
    if device.protocol == "opcua":
        params["pki_dir"] = str(data_dir / "pki" / device.id)
        base = Path(cfg.source_dir)
        for key in ("certificate", "private_key", "server_certificate"):
            if params.get(key) and not Path(params[key]).is_absolute():
                params[key] = str(base / params[key])
        from hmi.core.secrets import get_secret

        if device.password_secret:
            params["password"] = get_secret(cfg.station.id, device.password_secret)
        if device.key_passphrase_secret:
            params["key_passphrase"] = get_secret(cfg.station.id, device.key_passphrase_secret)
    return params
