"""OPC UA point addresses: node ids in their standard text form, parsed and checked.

Accepted forms (OPC 10000-6 5.3.1.10)::

    ns=2;s=Heater.WaterTemp          string identifier in namespace index 2
    ns=2;i=1001                      numeric identifier
    ns=3;g=09087e75-8e5e-499b-954f-f2a9603db28a   GUID identifier
    ns=4;b=M/RbKBsRVkePCePcx24oRA==  opaque (base64) identifier
    i=2258                           namespace 0 when ``ns=`` is left out
    nsu=urn:gas-hmi:sim;s=Heater.WaterTemp        namespace given by its URI

A namespace index can change when a server is reconfigured; the URI cannot, so
``nsu=`` is preferred in station configs. The driver resolves the URI against the
server's namespace array at every connect.

This module imports only the standard library so that ``gas-hmi check``
validates addresses without importing asyncua.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ID_TYPES = ("i", "s", "g", "b")


@dataclass(frozen=True, slots=True)
class NodeAddress:
    """A parsed node id: namespace (index or URI) plus identifier type and value."""

    namespace_index: int | None
    namespace_uri: str | None
    id_type: str  # i / s / g / b
    identifier: int | str

    def with_index(self, ns_index: int) -> str:
        """The ``ns=<index>;...`` text of this node once its namespace index is known."""
        return f"ns={ns_index};{self.id_type}={self.identifier}"

    def text(self) -> str:
        """Canonical text form (as it would be written in a config)."""
        if self.namespace_uri is not None:
            return f"nsu={self.namespace_uri};{self.id_type}={self.identifier}"
        if self.namespace_index:
            return f"ns={self.namespace_index};{self.id_type}={self.identifier}"
        return f"{self.id_type}={self.identifier}"


def parse_address(text: str) -> NodeAddress:
    """Parse a node id text; ValueError with a readable message when it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty OPC UA node id (expected e.g. ns=2;s=Heater.WaterTemp)")
    raw = text.strip()
    ns_index: int | None = None
    ns_uri: str | None = None
    rest = raw
    if rest.startswith("nsu="):
        # a URI may contain ';' in odd cases: the identifier starts at the first ';' that is
        # followed by an id type prefix
        cut = _identifier_start(rest)
        if cut < 0:
            raise ValueError(
                f"{raw!r}: missing identifier after the namespace URI (e.g. nsu=urn:x;s=Name)"
            )
        ns_uri = rest[4:cut]
        rest = rest[cut + 1 :]
        if not ns_uri:
            raise ValueError(f"{raw!r}: empty namespace URI")
    elif rest.startswith("ns="):
        head, sep, rest = rest.partition(";")
        if not sep:
            raise ValueError(f"{raw!r}: missing identifier after {head!r} (e.g. ns=2;s=Name)")
        try:
            ns_index = int(head[3:])
        except ValueError:
            raise ValueError(f"{raw!r}: namespace index {head[3:]!r} is not a number") from None
        if not 0 <= ns_index <= 65535:
            raise ValueError(f"{raw!r}: namespace index {ns_index} is outside 0-65535")
    else:
        ns_index = 0
    id_type, eq, ident = rest.partition("=")
    if not eq or id_type not in ID_TYPES:
        raise ValueError(
            f"{raw!r}: identifier must be i=<number>, s=<string>, g=<guid> or b=<base64> "
            "(e.g. ns=2;s=Heater.WaterTemp or nsu=urn:gas-hmi:sim;i=1001)"
        )
    value: int | str
    if id_type == "i":
        try:
            value = int(ident)
        except ValueError:
            raise ValueError(f"{raw!r}: numeric identifier {ident!r} is not a number") from None
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{raw!r}: numeric identifier {value} is outside 0-4294967295")
    elif id_type == "s":
        if not ident:
            raise ValueError(f"{raw!r}: empty string identifier")
        value = ident
    elif id_type == "g":
        try:
            value = str(uuid.UUID(ident))
        except ValueError:
            raise ValueError(f"{raw!r}: {ident!r} is not a GUID") from None
    else:
        try:
            base64.b64decode(ident, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{raw!r}: {ident!r} is not base64") from None
        value = ident
    return NodeAddress(ns_index, ns_uri, id_type, value)


def _identifier_start(text: str) -> int:
    """Index of the ';' that starts the identifier part of an nsu= node id, -1 if none."""
    pos = text.find(";")
    while pos >= 0:
        if text[pos + 1 : pos + 3] in ("i=", "s=", "g=", "b="):
            return pos
        pos = text.find(";", pos + 1)
    return -1


def options_problems(options: Mapping[str, Any]) -> list[str]:
    """Messages for bad per-tag OPC UA options (``subscribe``, ``deadband``)."""
    out: list[str] = []
    unknown = set(options) - {"subscribe", "deadband"}
    if unknown:
        out.append(
            f"unknown OPC UA option(s) {', '.join(sorted(map(str, unknown)))} (known: subscribe, deadband)"
        )
    if "subscribe" in options and not isinstance(options["subscribe"], bool):
        out.append("options.subscribe must be true or false")
    db = options.get("deadband")
    if db is not None:
        if not isinstance(db, Mapping) or db.get("type") not in ("absolute", "percent"):
            out.append("options.deadband must be {type: absolute|percent, value: number}")
        elif not isinstance(db.get("value"), int | float) or db["value"] < 0:
            out.append("options.deadband.value must be a number >= 0")
        elif db["type"] == "percent" and db["value"] > 100:
            out.append("options.deadband.value must be 0-100 for a percent deadband")
    return out
