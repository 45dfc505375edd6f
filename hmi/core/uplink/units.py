"""Sparkplug devices of an edge node: config devices, business routes, and their size parts.

Without ``uplink.routes`` every config device is one Sparkplug device. With routes, each
route is a Sparkplug device of its own (a tag goes to the first route that selects it),
and each config device keeps a Sparkplug device for its tags in no route and for its
``Device Info`` metrics. A device whose DBIRTH would exceed ``uplink.max_payload_kb`` is
cut into parts ``<id>``, ``<id>-p2``, ``<id>-p3`` ... (a DBIRTH cannot be split, a device
can), so that no message is ever larger than the cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hmi.config.routes import RouteConfig
from hmi.config.schema import StationConfig, TagConfig
from hmi.core.uplink.meta import tag_properties
from hmi.core.uplink.split import ENVELOPE

METRIC_OVERHEAD = 64  # alias, timestamp, datatype, value, quality property, framing


@dataclass
class Unit:
    """One Sparkplug device: its id, the route it carries (if any) and its tags."""

    id: str
    route: RouteConfig | None
    device: str = ""  # the config device whose Device Info metrics it carries ("" = none)
    tags: list[TagConfig] = field(default_factory=list)

    @property
    def stats(self) -> list[str]:
        """Aggregate statistics of an aggregating route ([] = every change)."""
        return list(self.route.aggregates) if self.route and self.route.window else []


def birth_size(tag: TagConfig, stats: int = 0) -> int:
    """Upper bound of a tag's DBIRTH metric(s) in bytes (with its properties)."""
    props = tag_properties(tag, True)  # upper bound: RemoteWrite counted
    size = 2 * len(tag.name.encode("utf-8")) + METRIC_OVERHEAD
    size += sum(len(k) + len(str(v).encode("utf-8")) + 12 for k, (_t, v) in props.items())
    return size * max(1, stats)


def plan_units(cfg: StationConfig, tags: list[TagConfig]) -> list[Unit]:
    """The Sparkplug devices of ``cfg`` for the uplink tags ``tags``, cut to the payload cap."""
    routes = list(cfg.uplink.routes)
    units: dict[str, Unit] = {d.id: Unit(d.id, None, d.id) for d in cfg.devices}
    for r in routes:
        if r.name in units:  # a route named like a device: keep both apart
            units[f"route-{r.name}"] = Unit(f"route-{r.name}", r)
        else:
            units[r.name] = Unit(r.name, r)
    route_unit = {u.route.name: u for u in units.values() if u.route is not None}
    for t in tags:
        hit = next((r for r in routes if r.selects(t.name, t.area)), None)
        units[route_unit[hit.name].id if hit else t.device].tags.append(t)
    budget = cfg.uplink.max_payload_kb * 1024 - ENVELOPE
    out: list[Unit] = []
    for u in units.values():
        if u.route is not None and not u.tags:
            continue
        out.extend(_parts(u, budget))
    return out


def _parts(u: Unit, budget: int) -> list[Unit]:
    parts = [Unit(u.id, u.route, u.device)]
    size = 0
    n_stats = len(u.stats)
    for t in u.tags:
        n = birth_size(t, n_stats)
        if parts[-1].tags and size + n > budget:
            parts.append(Unit(f"{u.id}-p{len(parts) + 1}", u.route))
            size = 0
        parts[-1].tags.append(t)
        size += n
    return parts
