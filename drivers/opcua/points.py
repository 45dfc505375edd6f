"""Per-point state of the OPC UA driver: parsed address, resolved node, data type, options."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asyncua import ua

from drivers.base import PointSpec

from .address import NodeAddress, options_problems, parse_address
from .codec import is_text


@dataclass(slots=True)
class OpcPoint:
    """One tag as the OPC UA driver keeps it between connects."""

    spec: PointSpec
    addr: NodeAddress
    subscribe: bool = True
    deadband: tuple[int, float] | None = None  # (DeadbandType, value)
    # resolved at each connect
    nodeid: ua.NodeId | None = None
    vt: ua.VariantType | None = None
    error: str = ""  # why the point cannot be used on this connection (BAD reason)
    config_error: str = ""  # a problem of the point's options: BAD on every connection

    @property
    def text(self) -> bool:
        """True when the server's data type is a text type."""
        return is_text(self.vt)


def make_point(spec: PointSpec) -> OpcPoint:
    """Build the driver's point from the runtime's spec (address and options already validated)."""
    addr = parse_address(spec.address)
    opts = spec.options or {}
    point = OpcPoint(spec, addr, subscribe=bool(opts.get("subscribe", True)))
    problems = options_problems(opts)
    if problems:
        point.config_error = point.error = "; ".join(problems)
    db = opts.get("deadband")
    if isinstance(db, Mapping) and not problems and float(db.get("value", 0)) > 0:
        kind = ua.DeadbandType.Absolute if db["type"] == "absolute" else ua.DeadbandType.Percent
        point.deadband = (int(kind), float(db["value"]))
    return point


def resolve(points: list[OpcPoint], namespaces: list[str]) -> None:
    """Turn each address into a NodeId against the server's namespace array (this connect)."""
    index_of = {uri: i for i, uri in enumerate(namespaces)}
    for p in points:
        p.nodeid, p.vt, p.error = None, None, p.config_error
        if p.error:
            continue
        a = p.addr
        if a.namespace_uri is not None:
            ns = index_of.get(a.namespace_uri)
            if ns is None:
                p.error = f"namespace {a.namespace_uri!r} is not on the server"
                continue
        else:
            ns = a.namespace_index or 0
        ident: Any = a.identifier
        kind = {"i": ua.NodeIdType.Numeric, "s": ua.NodeIdType.String, "g": ua.NodeIdType.Guid,
                "b": ua.NodeIdType.ByteString}[a.id_type]  # fmt: skip
        if a.id_type == "g":
            ident = uuid.UUID(str(ident))
        elif a.id_type == "b":
            ident = base64.b64decode(str(ident))
        p.nodeid = ua.NodeId(ident, ns, kind)
