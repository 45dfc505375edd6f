"""What goes up, and when: report by exception plus a periodic integrity publish.

The tag table already filters by each tag's ``deadband`` (its ``changes`` update holds
only values that moved beyond it, or changed quality), so report by exception here
means: keep the tags whose ``uplink`` flag is set, group them by device or business
route (one message per group, which is what a Sparkplug DDATA is), cut groups that would
exceed ``uplink.max_payload_kb`` and serialise them into outbox rows. A block is turned
into entries with array operations (one ``tolist`` per column, not a Python step per
value) when its tags share a value kind, which a Modbus read block's tags usually do.
In JSON mode (``wire=True``) a row body is already the message's JSON minus the envelope
(``{"device": ..., "integrity": ..., "values": [...]}``), so publishing it is a byte
splice (:func:`hmi.core.uplink.jsonmode.JsonMode.encode`), not a parse and a re-encode.
Every ``integrity_interval`` seconds every uplink tag is sent again, whatever changed.

Also :func:`override_uplink`, which applies ``gas-hmi run --uplink URL --uplink-mode M``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import orjson

from hmi.config.routes import RouteConfig
from hmi.config.schema import Broker, StationConfig, TagConfig, UplinkConfig
from hmi.core.tagtable import BAD, TagTable, TagUpdate
from hmi.core.uplink.aggregator import Aggregator
from hmi.core.uplink.split import AGG_OVERHEAD, ENTRY_OVERHEAD, ENVELOPE, split_entries

_DEFAULT_PORT = {"mqtt": 1883, "mqtts": 8883, "tcp": 1883, "ssl": 8883}


def override_uplink(cfg: UplinkConfig, url: str | None, mode: str | None) -> UplinkConfig:
    """Return ``cfg`` with the broker of ``--uplink mqtt[s]://[user@]HOST[:PORT]`` and/or ``--uplink-mode``.

    A URL replaces the broker list and enables the uplink. Passwords never come from
    the command line (they live in the keyring: ``password_secret``). Raises
    ``ValueError`` with a message naming the problem.
    """
    update: dict[str, Any] = {}
    if mode is not None:
        if mode not in ("sparkplug", "json"):
            raise ValueError(f"--uplink-mode must be 'sparkplug' or 'json', not {mode!r}")
        update["mode"] = mode
    if url is not None:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORT:
            raise ValueError(f"--uplink {url!r}: use mqtt://HOST:PORT or mqtts://HOST:PORT")
        if parts.password:
            raise ValueError(
                "--uplink: do not put a password in the URL; store it in the keyring (uplink.password_secret)"
            )
        try:
            port = parts.port or _DEFAULT_PORT[scheme]
        except ValueError:
            raise ValueError(
                f"--uplink {url!r}: the port must be a number from 1 to 65535"
            ) from None
        if not parts.hostname:
            raise ValueError(f"--uplink {url!r}: no host name")
        if parts.path not in ("", "/"):
            raise ValueError(f"--uplink {url!r}: no path expected after HOST:PORT")
        update["brokers"] = [Broker(host=parts.hostname, port=port, tls=scheme in ("mqtts", "ssl"))]
        update["enabled"] = True
        if parts.username:
            update["username"] = parts.username
    if not update:
        return cfg
    return UplinkConfig.model_validate({**cfg.model_dump(), **update})


class Group:
    """Where a set of tags goes: one outbox row (per size chunk) per group and update."""

    __slots__ = ("unit", "route", "agg")

    def __init__(self, unit: str, route: RouteConfig | None) -> None:
        self.unit = unit  # the row's "d": device id, or the route's unit
        self.route = route
        self.agg = (
            Aggregator(route.window, list(route.aggregates)) if route and route.window else None
        )


#: tag -> [(unit, route name or None)]: the groups a tag is published in
GroupsOf = Callable[[TagConfig], list[tuple[str, str | None]]]


def device_groups(routes: list[RouteConfig]) -> GroupsOf:
    """JSON mode: every route that selects the tag; a tag in no route goes with its device."""

    def groups(t: TagConfig) -> list[tuple[str, str | None]]:
        hits: list[tuple[str, str | None]] = [
            (r.name, r.name) for r in routes if r.selects(t.name, t.area)
        ]
        return hits or [(t.device, None)]

    return groups


class PublishPolicy:
    """Turns tag updates into outbox row bodies, per device or route, for uplink tags only.

    Each body holds at most what fits ``uplink.max_payload_kb`` once encoded (more rows
    otherwise, never fewer values). Aggregating routes keep their values until their
    window closes (:meth:`due`).
    """

    def __init__(
        self,
        cfg: StationConfig,
        tags: TagTable,
        groups_of: GroupsOf | None = None,
        wire: bool = False,
    ) -> None:
        self.tags = tags
        self.wire = wire  # JSON mode: row bodies in the message's own shape
        self.devices = [d.id for d in cfg.devices]
        dev_index = {d: i for i, d in enumerate(self.devices)}
        self.uplink = np.array([t.uplink for t in tags.tags], dtype=bool)
        self.device_of = np.array([dev_index.get(t.device, -1) for t in tags.tags], dtype=np.int32)
        self.kind = [value_kind(t) for t in tags.tags]
        self.kind_code = np.array([_KIND_CODE[k] for k in self.kind], dtype=np.int8)
        self.name_arr = np.array(tags.names, dtype=object)
        self.name_size = np.array([len(n.encode("utf-8")) for n in tags.names], dtype=np.int64)
        #: JSON mode: each tag's ``{"tag":"<name>","value":`` (made on first use)
        self._prefix: np.ndarray | None = None
        self.integrity_interval = float(cfg.uplink.integrity_interval)
        self.cap = int(cfg.uplink.max_payload_kb) * 1024
        routes = {r.name: r for r in cfg.uplink.routes}
        groups_of = groups_of or device_groups(list(cfg.uplink.routes))
        self.groups: list[Group] = []
        index: dict[str, int] = {}
        self.groups_of: list[tuple[int, ...]] = []
        for t in tags.tags:
            gids: list[int] = []
            if t.uplink and t.device in dev_index:
                for unit, route in groups_of(t):
                    if unit not in index:
                        index[unit] = len(self.groups)
                        self.groups.append(Group(unit, routes.get(route) if route else None))
                    gids.append(index[unit])
            self.groups_of.append(tuple(gids))
        #: the tag's group when it has exactly one (-1: none or several)
        self.single = np.array([g[0] if len(g) == 1 else -1 for g in self.groups_of], np.int64)

    def telemetry(self, upd: TagUpdate, integrity: bool = False, now: float = 0.0) -> list[bytes]:
        """Row bodies (JSON, per group and size chunk) for the uplink tags of ``upd``."""
        if self.wire:
            body = self._wire_block(upd, integrity)
            if body is not None:
                return [body]
        ii, entries = self._entries(upd)
        if not entries:
            return []
        single = self.single[ii]
        g0 = int(single[0])
        per: dict[int, list[list[Any]]]
        if g0 >= 0 and bool((single == g0).all()):  # a read block: all of one device
            per = {g0: entries}
        else:
            per = {}
            groups_of = self.groups_of
            for i, entry in zip(ii.tolist(), entries, strict=True):
                for gid in groups_of[i]:
                    per.setdefault(gid, []).append(entry)
        out: list[bytes] = []
        for gid, group_entries in per.items():
            g = self.groups[gid]
            if g.agg is not None:
                if not integrity:
                    g.agg.add(group_entries, now)
                continue
            for chunk in self._chunks(group_entries, ii if len(per) == 1 else None):
                out.append(self._body(g, chunk, integrity))
        return out

    def _wire_block(self, upd: TagUpdate, integrity: bool) -> bytes | None:
        """JSON mode's common case in one pass: one read of one device (or of one route that
        is not aggregated), one numeric kind, one quality, one time, no reasons, well within
        the cap. None: any other update, which takes the general path."""
        n = len(upd)
        if not n or any(upd.reasons):
            return None
        idx = np.asarray(upd.indices, dtype=np.int64)
        single = self.single[idx]
        g0 = int(single[0])
        if g0 < 0 or not bool((single == g0).all()):
            return None
        g = self.groups[g0]
        if g.agg is not None:
            return None
        if int(self.name_size[idx].sum()) + n * ENTRY_OVERHEAD > self.cap - ENVELOPE:
            return None
        q = upd.quality
        if q.min() != q.max():  # qualities differ: the general path, object by object
            return None
        values = self._column(idx, upd.values, None, q)
        if values is None:
            return None
        # the seconds of the general path's whole milliseconds (t_ms / 1000.0), as one array
        ts = np.rint(np.asarray(upd.ts, dtype=np.float64) * 1000.0) / 1000.0
        if ts.min() != ts.max():  # times differ: the general path
            return None
        head: dict[str, Any] = (
            {"route": g.route.name} if g.route is not None else {"device": g.unit}
        )
        head["integrity"] = integrity
        # one read: every object is a tag's own prefix, its value and the same tail, joined
        # as bytes (the same spelling orjson gives the objects one by one)
        if self._prefix is None:
            self._prefix = np.array(
                [orjson.dumps({"tag": name})[:-1] + b',"value":' for name in self.tags.names],
                dtype=object,
            )
        tail = b',"quality":%d,"ts":%s},' % (int(q[0]), orjson.dumps(float(ts[0])))
        parts: list[bytes] = [tail] * (3 * n)
        parts[0::3] = self._prefix[idx].tolist()
        parts[1::3] = orjson.dumps(values)[1:-1].split(b",")
        return b'%s,"values":[%s]}' % (_dumps(head)[:-1], b"".join(parts)[:-1])

    def _chunks(self, entries: list[list[Any]], ii: np.ndarray | None) -> list[list[list[Any]]]:
        """``entries`` cut to the size cap; one chunk at once when a cheap bound says it fits."""
        if ii is not None and len(ii) == len(entries):
            # names + the largest spelling of a number; strings and reasons add their length
            bound = int(self.name_size[ii].sum()) + len(entries) * ENTRY_OVERHEAD
            if bound <= self.cap - ENVELOPE and not any(
                isinstance(e[1], str) or e[4] for e in entries
            ):
                return [entries]
        return split_entries(entries, self.cap)

    def _body(self, g: Group, chunk: list[list[Any]], integrity: bool) -> bytes:
        if self.wire:  # the message's own shape: the JSON mode splices its envelope in front
            head: dict[str, Any] = (
                {"route": g.route.name} if g.route is not None else {"device": g.unit}
            )
            return _dumps({**head, "integrity": integrity, "values": wire_values(chunk)})
        body: dict[str, Any] = {"d": g.unit, "i": int(integrity)}
        if g.route is not None:
            body["r"] = g.route.name
        body["v"] = chunk
        return _dumps(body)

    def due(self, now: float) -> list[bytes]:
        """Row bodies of the aggregation windows that closed by ``now``."""
        out: list[bytes] = []
        for g in self.groups:
            if g.agg is None or g.route is None:
                continue
            for start, entries in g.agg.due(now):
                head = {"d": g.unit, "r": g.route.name, "a": g.agg.window, "w": start}
                for chunk in split_entries(entries, self.cap, AGG_OVERHEAD):
                    out.append(_dumps({**head, "v": chunk}))
        return out

    def integrity(self) -> list[bytes]:
        """Row bodies with every uplink tag's current state."""
        return self.telemetry(self.tags.all_current(), integrity=True)

    def current(self) -> dict[str, list[list[Any]]]:
        """Every uplink tag's current state, per device (for births)."""
        return self.entries(self.tags.all_current())

    def entries(self, upd: TagUpdate) -> dict[str, list[list[Any]]]:
        """Device id -> ``[name, value, quality, ts_ms, reason]`` of the uplink tags of ``upd``."""
        out: dict[str, list[list[Any]]] = {}
        devices, device_of = self.devices, self.device_of
        ii, entries = self._entries(upd)
        for i, entry in zip(ii.tolist(), entries, strict=True):
            out.setdefault(devices[int(device_of[i])], []).append(entry)
        return out

    def _entries(self, upd: TagUpdate) -> tuple[np.ndarray, list[list[Any]]]:
        """Tag indices and ``[name, value, quality, ts_ms, reason]`` of the uplink tags of ``upd``."""
        if not len(upd):
            return _NO_TAGS, []
        idx = np.asarray(upd.indices, dtype=np.int64)
        keep = self.uplink[idx] & (self.device_of[idx] >= 0)
        if not keep.any():
            return _NO_TAGS, []
        ks = np.nonzero(keep)[0]
        ii = idx[ks]
        q = upd.quality[ks]
        ts_ms = np.rint(np.asarray(upd.ts, dtype=np.float64)[ks] * 1000.0).astype(np.int64)
        reasons = upd.reasons if len(ks) == len(idx) else [upd.reasons[k] for k in ks.tolist()]
        values = self._column(ii, upd.values, ks, q)
        if values is None:  # mixed kinds or strings: value by value
            raw = upd.values
            values = [
                None if qq == BAD else self._value(i, raw[k])
                for i, k, qq in zip(ii.tolist(), ks.tolist(), q.tolist(), strict=True)
            ]
        names = self.name_arr[ii].tolist()
        return ii, list(
            map(list, zip(names, values, q.tolist(), ts_ms.tolist(), reasons, strict=True))
        )

    def _column(
        self, ii: np.ndarray, raw: np.ndarray, ks: np.ndarray | None, q: np.ndarray
    ) -> list[Any] | None:
        """The values of one kind's tags as a list (None: not one numeric kind); ``ks``
        picks the rows of ``raw`` (None: all of them)."""
        if raw.dtype == object:
            return None
        kinds = self.kind_code[ii]
        k0 = int(kinds[0])
        if k0 == _STRING or not bool((kinds == k0).all()):
            return None
        v = np.asarray(raw, dtype=np.float64)
        if ks is not None:
            v = v[ks]
        ok = (q != BAD) & np.isfinite(v)
        out: list[Any]
        if k0 == _INT:
            if ok.any() and float(np.abs(v[ok]).max()) >= 2.0**62:
                return None  # beyond int64: Python's integers spell it
            out = np.rint(np.where(ok, v, 0.0)).astype(np.int64).tolist()
        elif k0 == _BOOL:
            out = (v != 0.0).tolist()
        else:
            out = v.tolist()
        if not ok.all():  # a BAD value is never sent as a number, nor a non-finite one
            out = [x if o else None for x, o in zip(out, ok.tolist(), strict=True)]
        return out

    def _value(self, i: int, raw: Any) -> Any:
        kind = self.kind[i]
        if kind == "string":
            if isinstance(raw, str):
                return raw
            v, *_ = self.tags.get(self.tags.names[i])
            return v if isinstance(v, str) else None
        try:
            f = float(raw)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(f):
            return None  # never a plausible number for a value that is not there
        if kind == "bool":
            return f != 0.0
        if kind == "int":
            return int(round(f))
        return f


_FLOAT, _INT, _BOOL, _STRING = 0, 1, 2, 3
_KIND_CODE = {"float": _FLOAT, "int": _INT, "bool": _BOOL, "string": _STRING}
_NO_TAGS = np.empty(0, dtype=np.int64)


def wire_values(entries: list[list[Any]]) -> list[dict[str, Any]]:
    """Row entries ``[name, value, quality, ts_ms, reason]`` as the JSON mode's value objects."""
    return [
        {"tag": n, "value": v, "quality": q, "ts": t / 1000.0, **({"reason": r} if r else {})}
        for n, v, q, t, r in entries
    ]


def value_kind(tag: TagConfig) -> str:
    """'float', 'int', 'bool' or 'string': the tag's type, or guessed from a Modbus address."""
    if tag.type is not None:
        return tag.type
    parts = tag.address.lower().split(":")
    if parts[0] not in ("co", "di", "ir", "hr"):
        return "float"  # OPC UA and others: the value decides; a Double carries it
    if parts[0] in ("co", "di") or any(p in ("bool", "bit") for p in parts[2:3]):
        return "bool"
    typ = parts[2] if len(parts) > 2 else "uint16"
    if typ in ("str", "string"):
        return "string"
    if typ.startswith(("f", "double")) or tag.scale is not None:
        return "float"
    return "int"


_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, default=_plain, option=_OPTS)
    except TypeError:  # e.g. an integer beyond 64 bits: the standard library spells it
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_plain).encode()


def loads(data: bytes | str) -> Any:
    """Parse JSON (outbox rows, inbound commands); ValueError when it is not JSON."""
    return orjson.loads(data)


def _plain(obj: Any) -> Any:
    """JSON fallback: NumPy scalars become numbers, enums their value, the rest text."""
    if isinstance(obj, np.generic):
        return obj.item()
    value = getattr(obj, "value", None)
    if isinstance(value, str | int | float):
        return value
    return str(obj)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (rows and JSON-mode payloads)."""
    return _dumps(obj)
