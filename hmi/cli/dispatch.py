"""``gas-hmi dispatch`` (the dispatch console) and ``gas-hmi fleet`` (its state from a shell)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from hmi.cli._common import fail, fmt_ts, print_json, print_table

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the dispatch and fleet commands."""
    p = sub.add_parser(
        "dispatch", help="dispatch console: every station over MQTT (Sparkplug B host / JSON)"
    )
    p.add_argument("--broker", required=True, metavar="URL", help="mqtt://HOST:PORT or mqtts://")
    p.add_argument("--headless", action="store_true", help="no GUI: keep the fleet model only")
    p.add_argument("--data-dir", help="fleet.db, users.db (default: per-user data folder)")
    p.add_argument("--host-id", default="gas-dispatch", help="Sparkplug primary host id")
    p.add_argument("--config", help="dispatch config (YAML: pipeline order, names)")
    p.add_argument(
        "--password-secret",
        default="",
        help="keyring name of the broker password (service gas-hmi/<host-id>; "
        "user name in the URL: mqtts://user@HOST:PORT)",
    )
    p.add_argument("--ca-file", default="", help="CA certificate for mqtts://")
    p.add_argument("--keepalive", type=int, default=10, help="MQTT keep-alive, s")
    p.add_argument(
        "--stale-after", type=float, default=120.0, help="flag a silent online station, s"
    )
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds")
    p.add_argument("--demo", action="store_true", help=argparse.SUPPRESS)  # demo users
    p.set_defaults(func=cmd_dispatch)
    p = sub.add_parser("fleet", help="every station the dispatch knows (from its fleet.db)")
    p.add_argument("--data-dir", help="the dispatch's data folder")
    p.add_argument("--host-id", default="gas-dispatch")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_fleet)


def _data_dir(args: argparse.Namespace) -> Path:
    from hmi import paths

    return (
        Path(args.data_dir) if args.data_dir else paths.user_data_root() / "dispatch" / args.host_id
    )


def cmd_dispatch(args: argparse.Namespace) -> int:
    """Run the dispatch console."""
    from hmi.cli.run import has_display, wait_for_signal
    from hmi.core.fleet import DispatchHost, FleetStoreError
    from hmi.core.fleet.config import DispatchConfigError, load_dispatch_config
    from hmi.core.users import UserStore

    data_dir = _data_dir(args)
    gui = not args.headless and has_display()
    try:
        dcfg = load_dispatch_config(args.config)
    except DispatchConfigError as exc:
        return fail(str(exc))
    password = None
    if args.password_secret:
        from hmi.core.secrets import SecretError, get_secret

        try:
            password = get_secret(args.host_id, args.password_secret)
        except SecretError as exc:
            return fail(f"broker password: {exc}")
    data_dir.mkdir(parents=True, exist_ok=True)
    users = UserStore(data_dir / "users.db", station_id=args.host_id)
    try:
        host = DispatchHost(
            args.broker,
            data_dir,
            args.host_id,
            keepalive=args.keepalive,
            stale_after=args.stale_after,
            password=password,
            ca_file=args.ca_file,
            audit=users.audit,
        )
    except (ValueError, FleetStoreError) as exc:
        users.close()
        return fail(str(exc))
    host.start()
    print(
        f"gas-hmi: dispatch {args.host_id} on {args.broker}; data in {data_dir}. "
        "Ctrl-C or SIGTERM stops.",
        flush=True,
    )
    try:
        if gui:
            from hmi.ui.dispatch import run_dispatch_gui

            return int(
                run_dispatch_gui(host, users, dcfg, duration=args.duration, demo=args.demo) or 0
            )
        wait_for_signal(args.duration)
        return 0
    finally:
        host.stop()
        users.close()


def fleet_rows(data_dir: Path) -> list[dict[str, Any]]:
    """Every known station from ``fleet.db`` (raises FleetStoreError when there is none)."""
    from hmi.core.fleet import FleetStore

    store = FleetStore(data_dir / "fleet.db", create=False)
    try:
        return store.stations()
    finally:
        store.close()


def cmd_fleet(args: argparse.Namespace) -> int:
    """Print the fleet."""
    from hmi.core.fleet import FleetStoreError

    data_dir = _data_dir(args)
    try:
        rows = fleet_rows(data_dir)
    except FleetStoreError as exc:
        return fail(f"{exc} (has `gas-hmi dispatch --data-dir {data_dir}` run?)")
    keys = ("station", "online", "stale", "last_seen", "version", "config_hash", "active_alarms")
    if args.format == "json":
        print_json([{k: r[k] for k in keys} for r in rows])
        return 0
    table = [
        [
            r["station"],
            "online" if r["online"] else "OFFLINE",
            "stale" if r["stale"] else "",
            fmt_ts(r["last_seen"]) if r["last_seen"] else "-",
            r["version"] or "-",
            r["config_hash"] or "-",
            " ".join(f"P{p}:{n}" for p, n in r["active_alarms"].items()),
        ]
        for r in rows
    ]
    print_table(
        ["station", "online", "stale", "last_seen", "version", "config_hash", "active_alarms"],
        table,
    )
    if not rows:
        print("no station seen yet", file=sys.stderr)
    return 0
