"""Tag metadata sent upstream, and the station-config hash.

One property set per tag, the same in both payload modes (names documented in
``docs/UPLINK.md``; a dispatch console is built on them):

============== ====== =====================================================
``engUnit``    String engineering unit (omitted when the tag has none)
``engLow``     Double low end of the engineering range
``engHigh``    Double high end of the engineering range
``Documentation`` String English label
``Label/zh``   String Chinese label
``Area``       String plant area
``formatString`` String display format of a number, Ignition's pattern (``#,##0.000``: the
               tag's ``precision``; ``#,##0`` for int and bool tags)
``InstrumentTag`` String ISA instrument number (``instrument:`` in the tag config)
``Alarm/HH`` .. ``Alarm/LL`` Double configured limit alarms
``RemoteWrite`` Boolean true when the station accepts remote writes of the tag
============== ====== =====================================================

``engUnit``, ``engLow``, ``engHigh``, ``formatString`` are the Ignition tag-property names
MQTT Engine maps a Sparkplug metric property onto; the others become custom properties there.

The config hash is the first 16 hex digits of a SHA-256 over the station config's
canonical JSON dump (sorted keys, no whitespace, the loader's ``source_dir`` left out),
so that a fleet view can tell which stations run which config.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

import hmi
from hmi.config.schema import StationConfig, TagConfig

PropType = Literal["String", "Double", "Boolean"]
LIMIT_KINDS = ("HH", "H", "L", "LL")
META_SCHEMA = "gas-hmi/meta/1"


def config_hash(cfg: StationConfig) -> str:
    """First 16 hex digits of SHA-256 over the canonical JSON dump of ``cfg``."""
    data = cfg.model_dump(mode="json", exclude={"source_dir"})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def format_string(tag: TagConfig) -> str:
    """Ignition's number pattern for the tag's display precision (``#,##0.00``)."""
    digits = 0 if tag.type in ("int", "bool") else tag.precision
    return "#,##0" + ("." + "0" * digits if digits else "")


def tag_properties(
    tag: TagConfig, remote_commands: bool = False
) -> dict[str, tuple[PropType, str | float]]:
    """Property name -> (Sparkplug type name, value) of one tag, in a stable order.

    ``RemoteWrite`` (true) is set only when the station accepts remote commands
    (``uplink.remote_commands``) *and* the tag has ``remote_write: true`` — exactly the
    writes the station's command policy lets through.
    """
    props: dict[str, tuple[PropType, str | float]] = {}
    if tag.unit:
        props["engUnit"] = ("String", tag.unit)
    props["engLow"] = ("Double", float(tag.range[0]))
    props["engHigh"] = ("Double", float(tag.range[1]))
    props["Documentation"] = ("String", tag.label.en)
    props["Label/zh"] = ("String", tag.label.zh)
    props["Area"] = ("String", tag.area)
    if tag.type != "string":
        props["formatString"] = ("String", format_string(tag))
    if tag.instrument:
        props["InstrumentTag"] = ("String", tag.instrument)
    for a in tag.alarms:
        if a.enabled and a.kind in LIMIT_KINDS and a.limit is not None:
            props[f"Alarm/{a.kind}"] = ("Double", float(a.limit))
    for value, text in sorted(tag.states.items()):  # a discrete tag's state texts
        props[f"State/{value}"] = ("String", text.en or text.zh)
        props[f"State/{value}/zh"] = ("String", text.zh or text.en)
    if remote_commands and tag.remote_write:
        props["RemoteWrite"] = ("Boolean", True)
    return props


def tag_meta(tag: TagConfig, remote_commands: bool = False) -> dict[str, Any]:
    """The JSON form of one tag's metadata (the ``tags`` entries of the meta document)."""
    props = tag_properties(tag, remote_commands)
    return {"tag": tag.name, **{k: v for k, (_t, v) in props.items()}}


def meta_documents(
    cfg: StationConfig, tags: list[TagConfig], cap_bytes: int, now: float
) -> list[dict[str, Any]]:
    """The meta document, split into parts of at most ``cap_bytes`` of JSON each.

    Part 1 goes to ``<prefix>/<station>/meta``, part k > 1 to ``.../meta/<k>``; every part
    repeats the station, software version and config hash and says ``part`` / ``parts``.
    """
    head = {
        "schema": META_SCHEMA,
        "station": cfg.station.id,
        "version": hmi.__version__,
        "config_hash": config_hash(cfg),
        "ts": now,
    }
    budget = max(1024, cap_bytes - len(json.dumps(head)) - 64)
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for t in tags:
        entry = tag_meta(t, cfg.uplink.remote_commands)
        n = len(json.dumps(entry, ensure_ascii=False).encode("utf-8")) + 1
        if chunks[-1] and size + n > budget:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += n
    return [
        {**head, "part": k + 1, "parts": len(chunks), "tags": chunk}
        for k, chunk in enumerate(chunks)
    ]
