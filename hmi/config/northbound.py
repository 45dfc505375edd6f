"""Northbound servers: what the station serves to the dispatch centre's own SCADA.

``northbound.opcua`` publishes every tag of the station as an OPC UA variable
(``ns=<namespace>;s=<tag name>``, folders per area) with its engineering unit, range,
source timestamp and a status code from gas-hmi's quality, and the station's alarms as
variables per alarm. It is off by default. Accounts are named here, their passwords live
in the keyring (``password_secret``), never in the config. Writes reach a device only for
an account mapped to a station user (``station_user``), through the command service
(that user's role, interlocks, range, audit), and only to ``rw`` tags.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: the security modes an endpoint may offer (asyncua's names, Basic256Sha256 only)
SecurityMode = Literal["None", "Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt"]
_USER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NorthboundAccount(_Strict):
    """One OPC UA account of the northbound server."""

    username: str
    password_secret: str = Field(description="keyring secret holding this account's password")
    station_user: str = Field(
        "",
        description="users.db account whose name and role writes are made with; empty: read only",
    )

    @field_validator("username")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _USER_RE.match(v):
            raise ValueError(
                f"user name {v!r}: start with a letter; letters, digits, _ . - (at most 64)"
            )
        return v

    @field_validator("password_secret")
    @classmethod
    def _secret(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("name the keyring secret that holds this account's password")
        return v


def _default_security() -> list[SecurityMode]:
    return ["Basic256Sha256_SignAndEncrypt"]


def _default_opcua() -> NorthboundOpcUa:
    return NorthboundOpcUa.model_validate({})


class NorthboundOpcUa(_Strict):
    """The station's own OPC UA server for the dispatch SCADA (off by default)."""

    enabled: bool = False
    endpoint: str = "opc.tcp://0.0.0.0:4841"
    namespace: str = Field("", description="namespace URI; default urn:gas-hmi:<station id>")
    security: list[SecurityMode] = Field(
        default_factory=_default_security,
        description="security modes offered; None only when listed explicitly",
    )
    anonymous: bool = Field(False, description="allow anonymous sessions (read only)")
    accounts: list[NorthboundAccount] = Field(default_factory=list)
    alarms: bool = Field(True, description="serve every alarm's state as variables")
    publish_interval: float = Field(0.25, ge=0.05, le=10.0, description="s between value pushes")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not re.match(r"^opc\.tcp://[^:/\s]+:\d{1,5}(/.*)?$", v):
            raise ValueError(f"endpoint {v!r} must look like opc.tcp://HOST:PORT")
        port = int(v.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        if not 1 <= port <= 65535:
            raise ValueError(f"endpoint port {port} is outside 1-65535")
        return v

    @field_validator("security")
    @classmethod
    def _security(cls, v: list[SecurityMode]) -> list[SecurityMode]:
        if not v:
            raise ValueError("offer at least one security mode")
        if len(set(v)) != len(v):
            raise ValueError("a security mode is listed twice")
        return v

    @model_validator(mode="after")
    def _who(self) -> NorthboundOpcUa:
        names = [a.username for a in self.accounts]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"account {dup[0]!r} is listed twice")
        if self.enabled and not self.accounts and not self.anonymous:
            raise ValueError("nobody could log in: add accounts or set anonymous: true")
        return self

    @property
    def host_port(self) -> tuple[str, int]:
        """(host, port) the server listens on."""
        hostport = self.endpoint.split("://", 1)[1].split("/", 1)[0]
        host, port = hostport.rsplit(":", 1)
        return host, int(port)


class NorthboundConfig(_Strict):
    """Every northbound server of the station."""

    opcua: NorthboundOpcUa = Field(default_factory=_default_opcua)
