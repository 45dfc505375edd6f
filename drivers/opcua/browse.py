"""Walk a server's address space and list its variables as station-config tags.

Used by ``gas-hmi browse``: every variable below the Objects folder (namespace 0,
the server's own diagnostics, is skipped) becomes a row with a tag name derived from
its browse path, an ``nsu=`` address (stable when namespace indexes move), a tag type
from its DataType and the access from its AccessLevel.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from asyncua import Client, ua

from .codec import VT, variant_type_of
from .connection import ConnectOptions, close_client, open_client

_HIER = ua.NodeId(ua.ObjectIds.HierarchicalReferences)
_HAS_PROPERTY = ua.NodeId(ua.ObjectIds.HasProperty)
_INT_TYPES = {VT.SByte, VT.Byte, VT.Int16, VT.UInt16, VT.Int32, VT.UInt32, VT.Int64, VT.UInt64}
_TEXT_TYPES = {
    VT.String,
    VT.LocalizedText,
    VT.ByteString,
    VT.XmlElement,
    VT.Guid,
    VT.NodeId,
    VT.QualifiedName,
}


@dataclass(slots=True)
class BrowsedVariable:
    """One variable found while browsing."""

    path: list[str]  # browse names from below Objects down to the variable
    address: str  # nsu=...;s=...
    type: str  # float / int / bool / string
    access: str  # r / rw
    description: str = ""
    data_type: str = ""


def tag_type(vt: ua.VariantType | None) -> str:
    """Station-config tag type for a variant type."""
    if vt is VT.Boolean:
        return "bool"
    if vt in _INT_TYPES:
        return "int"
    if vt in _TEXT_TYPES:
        return "string"
    return "float"


def node_address(nodeid: ua.NodeId, namespaces: list[str]) -> str:
    """``nsu=<uri>;<kind>=<id>`` text of a node id (``i=`` form for namespace 0)."""
    kind = {ua.NodeIdType.Numeric: "i", ua.NodeIdType.TwoByte: "i", ua.NodeIdType.FourByte: "i",
            ua.NodeIdType.String: "s", ua.NodeIdType.Guid: "g", ua.NodeIdType.ByteString: "b"}[nodeid.NodeIdType]  # fmt: skip
    ident: Any = nodeid.Identifier
    if kind == "b":
        ident = base64.b64encode(ident).decode()
    if nodeid.NamespaceIndex == 0:
        return f"{kind}={ident}"
    uri = namespaces[nodeid.NamespaceIndex] if nodeid.NamespaceIndex < len(namespaces) else ""
    return f"nsu={uri};{kind}={ident}" if uri else f"ns={nodeid.NamespaceIndex};{kind}={ident}"


def tag_name(path: list[str], prefix: str = "") -> str:
    """A valid dotted tag name from a browse path: ``Heater/WaterTemp`` -> ``heater.water_temp``."""
    parts = [_snake(p) for p in path if _snake(p)]
    if prefix:
        parts.insert(0, prefix.strip("."))
    name = ".".join(parts) or "var"
    return name if name[0].isalpha() else "v" + name


def _snake(text: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", text)
    text = re.sub(r"[^A-Za-z0-9_\-]+", "_", text).strip("_-").lower()
    return text


async def browse_client(
    client: Client, depth: int = 10, start: ua.NodeId | None = None
) -> list[BrowsedVariable]:
    """Variables below ``start`` (default Objects), at most ``depth`` levels down."""
    namespaces = list(await client.get_namespace_array())
    root = start or ua.NodeId(ua.ObjectIds.ObjectsFolder)
    found: list[tuple[list[str], ua.NodeId]] = []
    seen: set[ua.NodeId] = {root}
    level: list[tuple[list[str], ua.NodeId]] = [([], root)]
    for _ in range(max(1, depth)):
        if not level:
            break
        results = await client.uaclient.browse(
            ua.BrowseParameters(
                NodesToBrowse=[
                    ua.BrowseDescription(
                        NodeId=nid, BrowseDirection=ua.BrowseDirection.Forward, ReferenceTypeId=_HIER,
                        IncludeSubtypes=True, NodeClassMask=int(ua.NodeClass.Object | ua.NodeClass.Variable),
                        ResultMask=int(ua.BrowseResultMask.All),
                    )
                    for _, nid in level
                ]
            )
        )  # fmt: skip
        nxt: list[tuple[list[str], ua.NodeId]] = []
        for (path, _), res in zip(level, results, strict=True):
            for ref in await _all_references(client, res):
                nid = ref.NodeId.NodeId if isinstance(ref.NodeId, ua.ExpandedNodeId) else ref.NodeId
                if nid.NamespaceIndex == 0 or nid in seen or ref.ReferenceTypeId == _HAS_PROPERTY:
                    continue
                seen.add(nid)
                child = path + [ref.BrowseName.Name]
                if ref.NodeClass == ua.NodeClass.Variable:
                    found.append((child, nid))
                nxt.append((child, nid))
        level = nxt
    return await _describe(client, found, namespaces)


async def _all_references(client: Client, res: ua.BrowseResult) -> list[ua.ReferenceDescription]:
    refs = list(res.References)
    point = res.ContinuationPoint
    while point:
        more = await client.uaclient.browse_next(
            ua.BrowseNextParameters(ContinuationPoints=[point])
        )
        refs += more[0].References
        point = more[0].ContinuationPoint
    return refs


async def _describe(
    client: Client, found: list[tuple[list[str], ua.NodeId]], namespaces: list[str]
) -> list[BrowsedVariable]:
    out: list[BrowsedVariable] = []
    for start in range(0, len(found), 300):
        chunk = found[start : start + 300]
        reads = [
            ua.ReadValueId(NodeId=nid, AttributeId=attr)
            for _, nid in chunk
            for attr in (
                ua.AttributeIds.DataType,
                ua.AttributeIds.AccessLevel,
                ua.AttributeIds.Description,
            )
        ]
        values = await client.uaclient.read(ua.ReadParameters(NodesToRead=reads))
        for k, (path, nid) in enumerate(chunk):
            dtype, access, desc = values[3 * k : 3 * k + 3]
            dt = dtype.Value.Value if dtype.Value is not None else None
            vt = variant_type_of(dt) if isinstance(dt, ua.NodeId) else None
            level = (
                access.Value.Value
                if access.Value is not None and access.Value.Value is not None
                else 0
            )
            text = (
                desc.Value.Value.Text
                if desc.Value is not None and isinstance(desc.Value.Value, ua.LocalizedText)
                else ""
            )
            out.append(
                BrowsedVariable(
                    path=path,
                    address=node_address(nid, namespaces),
                    type=tag_type(vt),
                    access="rw" if int(level) & (1 << ua.AccessLevel.CurrentWrite) else "r",
                    description=text or "",
                    data_type=vt.name
                    if vt is not None
                    else (dt.to_string() if isinstance(dt, ua.NodeId) else ""),
                )
            )
    return out


async def browse(opts: ConnectOptions, depth: int = 10) -> list[BrowsedVariable]:
    """Connect with ``opts``, browse, disconnect. ConnectError (clear message) when it cannot."""
    client = await open_client(opts)
    try:
        return await browse_client(client, depth)
    finally:
        await close_client(client, opts.timeout)


def as_tags(
    variables: list[BrowsedVariable], device: str, prefix: str = ""
) -> list[dict[str, Any]]:
    """Station-config tag entries (unique names) for browsed variables."""
    out: list[dict[str, Any]] = []
    used: dict[str, int] = {}
    for v in variables:
        name = tag_name(v.path, prefix)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 1
        tag: dict[str, Any] = {
            "name": name,
            "device": device,
            "address": v.address,
            "type": v.type,
            "access": v.access,
        }
        label = v.description or "/".join(v.path)
        tag["label"] = {"en": label, "zh": label}
        out.append(tag)
    return out
