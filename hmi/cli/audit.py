"""``gas-hmi audit``: print or verify the audit trail (users.db in the data directory).

    gas-hmi audit --data-dir DIR [--since 24h] [--user U] [--action A] [--format table|csv|json]
    gas-hmi audit --data-dir DIR --verify

``--verify`` recomputes the hash chain over every row and exits 1 naming the first
row that does not fit (modified, deleted or inserted outside gas-hmi).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from hmi.cli._common import fail, fmt_ts, parse_since, print_json, print_table


def register(sub: Any) -> None:
    """Add the ``audit`` command."""
    p = sub.add_parser(
        "audit", help="audit trail: who did what, when (and --verify its hash chain)"
    )
    p.add_argument(
        "--data-dir", required=True, help="the station's data directory (holds users.db)"
    )
    p.add_argument(
        "--since", default="24h", help="how far back, e.g. 90s, 10m, 24h, 7d (default 24h)"
    )
    p.add_argument("--user", help="only this user")
    p.add_argument(
        "--action", help="only this action (login, write, ack, shelve, reset, user_add, ...)"
    )
    p.add_argument("--limit", type=int, default=0, help="only the newest N rows")
    p.add_argument(
        "--verify",
        action="store_true",
        help="check the hash chain over the whole trail (exit 1 when broken)",
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_audit)


def _open(data_dir: str) -> Any:
    from hmi.core.audit import open_trail
    from hmi.core.users import StoreError

    try:
        return open_trail(data_dir)
    except StoreError as exc:
        print(f"gas-hmi: no audit trail: {exc}", file=sys.stderr)
        return None


def cmd_audit(args: argparse.Namespace) -> int:
    """List or verify."""
    from hmi.core.audit import AuditError

    since = parse_since(args.since)
    if since is None:
        return 2
    trail = _open(args.data_dir)
    if trail is None:
        return 1
    try:
        if args.verify:
            return _verify(trail, args.format)
        records = trail.records(since, user=args.user, action=args.action, limit=args.limit or None)
    except AuditError as exc:
        return fail(str(exc))
    finally:
        trail.close()
    if args.format == "json":
        print_json([r.as_dict() for r in records])
    elif args.format == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(
            (
                "seq",
                "time",
                "ts",
                "user",
                "origin",
                "station",
                "action",
                "target",
                "result",
                "details",
                "hash",
            )
        )
        for r in records:
            w.writerow(
                (
                    r.seq,
                    fmt_ts(r.ts),
                    f"{r.ts:.3f}",
                    r.user,
                    r.origin,
                    r.station,
                    r.action,
                    r.target,
                    r.result,
                    _details(r.details),
                    r.hash,
                )
            )
    else:
        rows = [
            (
                r.seq,
                fmt_ts(r.ts),
                r.user,
                r.origin,
                r.action,
                r.target,
                r.result,
                _details(r.details, 80),
            )
            for r in records
        ]
        print_table(
            ("seq", "time", "user", "origin", "action", "target", "result", "details"), rows
        )
    return 0


def _details(d: dict[str, Any], width: int = 0) -> str:
    text = json.dumps(d, ensure_ascii=False, separators=(",", ":"), default=str) if d else ""
    return text if not width or len(text) <= width else text[: width - 1] + "…"


def _verify(trail: Any, fmt: str) -> int:
    report = trail.verify()
    if fmt == "json":
        print_json(
            {
                "ok": report.ok,
                "checked": report.checked,
                "first_bad": report.first_bad,
                "reason": report.reason,
            }
        )
        return 0 if report.ok else 1
    if report.ok:
        seq, digest = trail.head()
        print(f"audit trail ok: {report.checked} rows verified, head seq {seq} {digest[:16]}")
        return 0
    print(
        f"gas-hmi: audit trail BROKEN at seq {report.first_bad}: {report.reason}", file=sys.stderr
    )
    bad = [r for r in trail.records() if r.seq == report.first_bad]
    if bad:
        r = bad[0]
        print(
            f"  row {r.seq}: {fmt_ts(r.ts)} {r.user} {r.origin} {r.action} {r.target} {r.result} {_details(r.details, 120)}",
            file=sys.stderr,
        )
    print(f"  {report.checked} rows before it verified", file=sys.stderr)
    return 1
