"""``gas-hmi check`` and ``gas-hmi tags``: what a station engineer runs first."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hmi.cli._common import load_or_exit, print_json, print_table
from hmi.config import ConfigError, load_station


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the check and tags commands."""
    p = sub.add_parser("check", help="validate a station config directory (exit 0 when valid)")
    p.add_argument("station_dir")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser(
        "tags", help="list every tag with its device, protocol, address, type, unit and range"
    )
    p.add_argument("station_dir")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_tags)


def cmd_check(args: argparse.Namespace) -> int:
    """Validate; one line per problem with file:line and key."""
    try:
        cfg = load_station(args.station_dir)
    except ConfigError as exc:
        for p in exc.problems:
            print(p)
        print(f"{len(exc.problems)} problem(s) in {args.station_dir}", file=sys.stderr)
        return 1
    from hmi.config.calc import calc_warnings
    from hmi.config.loader import locate

    warnings = locate(args.station_dir, calc_warnings(cfg))
    for w in warnings:
        print(f"warning: {w}")
    n_alarms = len(cfg.alarms())
    print(
        f"ok: station {cfg.station.id}: {len(cfg.devices)} devices, {len(cfg.tags)} tags, "
        f"{n_alarms} alarms, {len(cfg.screens)} screens"
        + (f", {len(warnings)} warning(s)" if warnings else "")
    )
    return 0


def tag_rows(cfg: Any) -> list[dict[str, Any]]:
    """One dict per tag, as printed by ``gas-hmi tags``."""
    from drivers.base import ADDRESS_MODULES, value_type
    from hmi.config.calc import resolve_all

    calc, _errors = resolve_all(cfg)
    rows = []
    for t in cfg.tags:
        dev = cfg.device(t.device)
        ttype = t.type
        if ttype is None:
            ttype = (
                value_type(dev.protocol, t.address) if dev.protocol in ADDRESS_MODULES else "float"
            )
            if ttype == "int" and t.scale is not None:  # a scaled integer is an engineering float
                ttype = "float"
        rows.append(
            {
                "name": t.name,
                "device": t.device,
                "protocol": dev.protocol,
                "address": t.address or (f"= {t.expr}" if t.expr else t.access),
                "expr": t.expr,
                "inputs": list(calc[t.name].inputs) if t.name in calc else [],
                "type": ttype,
                "unit": t.unit,
                "range": [t.range[0], t.range[1]],
                "access": t.access,
                "poll": f"{cfg.poll_period(t):g}s" if dev.protocol != "calc" else "-",
                "alarms": [a.kind for a in t.alarms],
                "label_en": t.label.en,
                "label_zh": t.label.zh,
            }
        )
    return rows


def cmd_tags(args: argparse.Namespace) -> int:
    """List tags."""
    cfg = load_or_exit(args.station_dir)
    rows = tag_rows(cfg)
    if args.format == "json":
        print_json(rows)
        return 0
    print_table(
        [
            "tag",
            "device",
            "protocol",
            "address",
            "type",
            "unit",
            "range",
            "rw",
            "poll",
            "alarms",
            "label",
            "inputs",
        ],
        [
            [
                r["name"],
                r["device"],
                r["protocol"],
                r["address"],
                r["type"],
                r["unit"],
                f"{r['range'][0]:g}..{r['range'][1]:g}",
                r["access"],
                r["poll"],
                ",".join(r["alarms"]),
                r["label_zh"] or r["label_en"],
                ",".join(r["inputs"]),
            ]
            for r in rows
        ],
    )
    return 0
