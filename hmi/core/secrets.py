"""Secrets (MQTT, OPC UA and key passwords) live only in the OS keyring.

Configs name a secret (``password_secret: mqtt_uplink``); this module fetches it
from the keyring service ``gas-hmi/<station-id>``. Every failure becomes a
:class:`SecretError` whose message says what to do — never a traceback, never the
secret itself. Like Orange3's CredentialManager, this is the only place that
talks to keyring.
"""

from __future__ import annotations

import json
import logging

import keyring
import keyring.backend
import keyring.errors

log = logging.getLogger(__name__)

_INDEX = "__names__"  # keyring has no listing API: we keep the names (never values) here

NO_BACKEND_HELP = (
    "no usable keyring backend on this machine. On a desktop, install and unlock a Secret Service "
    "(GNOME Keyring or KWallet); on Windows the Credential Manager is used automatically. On an "
    "unattended Linux station set PYTHON_KEYRING_BACKEND=keyrings.alt.file.EncryptedKeyring (or "
    "another backend, see docs/INSTALL.md) for the gas-hmi service user."
)


class SecretError(Exception):
    """A secret could not be stored or fetched; the message says why and what to do."""


class MissingSecretError(SecretError):
    """The keyring answers but holds no secret of that name for the station."""

    def __init__(self, station_id: str, name: str) -> None:
        super().__init__(
            f"secret {name!r} is not in the keyring for station {station_id!r}: "
            f"store it with `gas-hmi secrets set {name} --station {station_id}`"
        )
        self.station_id = station_id
        self.name = name


class NoKeyringBackendError(SecretError):
    """No usable keyring backend on this machine (the message says how to get one)."""


def service_name(station_id: str) -> str:
    """Keyring service of one station."""
    return f"gas-hmi/{station_id}"


def _backend() -> keyring.backend.KeyringBackend:
    kr = keyring.get_keyring()
    # keyring's fail.Keyring (and chainer with nothing viable) has priority 0
    if (
        getattr(kr, "priority", 1) <= 0
        or type(kr).__name__ == "Keyring"
        and type(kr).__module__ == "keyring.backends.fail"
    ):
        raise NoKeyringBackendError(NO_BACKEND_HELP)
    return kr


def backend_name() -> str:
    """Human-readable name of the keyring backend in use (raises SecretError if none)."""
    kr = _backend()
    return f"{type(kr).__module__}.{type(kr).__name__}"


def get_secret(station_id: str, name: str) -> str:
    """The secret ``name`` of a station; SecretError when it is missing or unreadable."""
    if not name:
        raise SecretError("no secret name given")
    kr = _backend()
    try:
        value = kr.get_password(service_name(station_id), name)
    except keyring.errors.KeyringError as exc:
        raise SecretError(f"cannot read secret {name!r} from the keyring: {exc}") from None
    if value is None:
        raise MissingSecretError(station_id, name)
    return value


def set_secret(station_id: str, name: str, value: str) -> None:
    """Store (or replace) a secret."""
    if not name or name == _INDEX:
        raise SecretError(f"invalid secret name {name!r}")
    kr = _backend()
    try:
        kr.set_password(service_name(station_id), name, value)
        names = set(list_secrets(station_id))
        names.add(name)
        kr.set_password(service_name(station_id), _INDEX, json.dumps(sorted(names)))
    except keyring.errors.KeyringError as exc:
        raise SecretError(f"cannot store secret {name!r} in the keyring: {exc}") from None
    log.info("secret %s stored for station %s", name, station_id)


def delete_secret(station_id: str, name: str) -> bool:
    """Delete a secret; False when it did not exist."""
    kr = _backend()
    existed = True
    try:
        kr.delete_password(service_name(station_id), name)
    except keyring.errors.PasswordDeleteError:
        existed = False
    except keyring.errors.KeyringError as exc:
        raise SecretError(f"cannot delete secret {name!r}: {exc}") from None
    names = set(list_secrets(station_id))
    names.discard(name)
    try:
        kr.set_password(service_name(station_id), _INDEX, json.dumps(sorted(names)))
    except keyring.errors.KeyringError as exc:
        raise SecretError(f"cannot update the secret index: {exc}") from None
    return existed


def list_secrets(station_id: str) -> list[str]:
    """Names (never values) of the secrets stored for a station."""
    kr = _backend()
    try:
        raw = kr.get_password(service_name(station_id), _INDEX)
    except keyring.errors.KeyringError as exc:
        raise SecretError(f"cannot read the keyring: {exc}") from None
    if not raw:
        return []
    try:
        names = json.loads(raw)
    except ValueError:
        return []
    return [n for n in names if isinstance(n, str)]
