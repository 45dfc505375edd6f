"""``gas-hmi secrets``: the station's passwords live only in the OS keyring.

    gas-hmi secrets set NAME --station ID [--stdin]
    gas-hmi secrets delete NAME --station ID
    gas-hmi secrets list --station ID
    gas-hmi secrets check STATION_DIR

Station configs name a secret (``password_secret: mqtt_uplink``); ``set`` stores its
value under the keyring service ``gas-hmi/<station id>``. Values are read with getpass
(twice) or from one line of standard input and are never printed; ``list`` shows names
only; ``check`` says which secrets a station config needs and whether each is stored.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hmi.cli._common import fail, load_or_exit, print_table, read_new_secret


def register(sub: Any) -> None:
    """Add the ``secrets`` command group."""
    p = sub.add_parser("secrets", help="passwords in the OS keyring: set, delete, list, check")
    ss = p.add_subparsers(dest="secrets_command", metavar="ACTION")
    q = ss.add_parser("set", help="store (or replace) a secret; the value is never echoed")
    q.add_argument("name")
    q.add_argument("--station", required=True, help="station id")
    q.add_argument(
        "--stdin", action="store_true", help="read the value from one line of standard input"
    )
    q.set_defaults(func=cmd_set)
    q = ss.add_parser("delete", help="remove a secret")
    q.add_argument("name")
    q.add_argument("--station", required=True, help="station id")
    q.set_defaults(func=cmd_delete)
    q = ss.add_parser("list", help="names of the stored secrets (never values)")
    q.add_argument("--station", required=True, help="station id")
    q.set_defaults(func=cmd_list)
    q = ss.add_parser("check", help="is every secret a station config names stored?")
    q.add_argument("station_dir")
    q.set_defaults(func=cmd_check)
    p.set_defaults(func=lambda _a: (p.print_help(), 2)[1])


def _read_value(args: argparse.Namespace) -> str | None:
    return read_new_secret(
        args.stdin,
        f"value of secret {args.name}: ",
        what="value",
        stdin_flag="--stdin",
        nothing="stored",
    )


def cmd_set(args: argparse.Namespace) -> int:
    """Store a secret."""
    from hmi.core.secrets import SecretError, backend_name, set_secret

    try:
        backend_name()  # fail before prompting when there is no keyring at all
        value = _read_value(args)
        if value is None:
            return 1
        set_secret(args.station, args.name, value)
    except SecretError as exc:
        return fail(str(exc))
    print(f"secret {args.name} stored for station {args.station}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete a secret."""
    from hmi.core.secrets import SecretError, delete_secret

    try:
        existed = delete_secret(args.station, args.name)
    except SecretError as exc:
        return fail(str(exc))
    if not existed:
        return fail(f"no secret {args.name!r} for station {args.station}")
    print(f"secret {args.name} deleted for station {args.station}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List secret names."""
    from hmi.core.secrets import SecretError, list_secrets

    try:
        names = list_secrets(args.station)
    except SecretError as exc:
        return fail(str(exc))
    for name in names:
        print(name)
    if not names:
        print(f"gas-hmi: no secrets stored for station {args.station}", file=sys.stderr)
    return 0


def secret_names(cfg: Any) -> list[tuple[str, str]]:
    """(where, secret name) for every ``*_secret`` a station config sets."""
    from pydantic import BaseModel

    out: list[tuple[str, str]] = []

    def walk(obj: Any, where: str) -> None:
        if isinstance(obj, BaseModel):
            for key in type(obj).model_fields:
                value = getattr(obj, key)
                if key.endswith("_secret") and isinstance(value, str) and value:
                    out.append((f"{where}.{key}".lstrip("."), value))
                else:
                    walk(value, f"{where}.{key}")
        elif isinstance(obj, (list, tuple)):
            for i, item in enumerate(obj):
                walk(item, f"{where}[{getattr(item, 'id', i)}]")

    walk(cfg, "")
    return out


def cmd_check(args: argparse.Namespace) -> int:
    """Report each secret the config names as stored or missing (exit 1 when any is missing)."""
    from hmi.core.secrets import SecretError, backend_name, get_secret

    cfg = load_or_exit(args.station_dir)
    needed = secret_names(cfg)
    if not needed:
        print(f"station {cfg.station.id} names no secrets")
        return 0
    try:
        backend_name()
    except SecretError as exc:
        return fail(str(exc))
    stored = set()
    for _where, name in needed:
        try:
            get_secret(cfg.station.id, name)  # the value is dropped at once, never printed
            stored.add(name)
        except SecretError:
            pass
    rows = [(name, where, "stored" if name in stored else "MISSING") for where, name in needed]
    print_table(("secret", "used by", "state"), rows)
    missing = sorted({name for _w, name in needed if name not in stored})
    for name in missing:
        print(
            f"gas-hmi: store it with `gas-hmi secrets set {name} --station {cfg.station.id}`",
            file=sys.stderr,
        )
    return 1 if missing else 0
