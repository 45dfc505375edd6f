"""Parameters of an OPC UA server connection (pydantic only; never imports asyncua)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, field_validator, model_validator

from drivers.params import LinkParams

#: seconds between keep-alive reads of the server state (RTT, dead-peer detection)
KEEPALIVE = 2.0


class OpcUaParams(LinkParams):
    """Endpoint, security, identity and subscription settings of one OPC UA server.

    Secrets are never parameters: ``password_secret`` and ``key_passphrase_secret`` name
    keyring entries that the runtime resolves into the driver's ``password`` and
    ``key_passphrase`` at start.
    """

    endpoint: str
    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: str = ""  # client certificate (PEM/DER); generated into the data dir when empty
    private_key: str = ""
    key_passphrase_secret: str = ""
    server_certificate: str = ""  # pinned server certificate; else the trust list decides
    trust_on_first_use: bool = False
    username: str = ""
    password_secret: str = ""  # name of the keyring secret, never the password
    sampling_interval: float = Field(0.0, ge=0, description="ms; 0 = publishing interval")
    queue_size: int = Field(1, ge=1, le=1000)
    session_timeout: float = Field(30.0, gt=0)
    keepalive: float = Field(KEEPALIVE, ge=0.2, le=60, description="seconds between keep-alives")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        url = urlparse(v)
        if url.scheme != "opc.tcp" or not url.hostname:
            raise ValueError(f"endpoint {v!r} must look like opc.tcp://HOST:PORT[/path]")
        return v

    @model_validator(mode="after")
    def _security(self) -> OpcUaParams:
        if (self.security_policy == "None") != (self.security_mode == "None"):
            raise ValueError("security_policy and security_mode must both be None or both be set")
        return self
