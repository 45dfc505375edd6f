"""``gas-hmi alarms``: the alarm list, the alarm journal and the alarm-system report.

Reads ``<data dir>/alarms.db`` directly and read-only (SQLite WAL), so it works while
the runtime is running::

    gas-hmi alarms --data-dir DIR [--active | --journal --since 1h] [--format table|json]
    gas-hmi alarms report --data-dir DIR --since 24h [--format table|json]
    gas-hmi alarms rationalization STATION_DIR [--format table|json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from hmi.cli._common import data_dir_for, fmt_ts, load_or_exit, print_json, print_table, since_to_ts

_FLAGS = (
    ("shelved", "SHELVED"),
    ("suppressed", "SUPPR"),
    ("out_of_service", "OOS"),
    ("latched", "RESET"),
)


def register(sub: Any) -> None:
    """Add the ``alarms`` command."""
    p = sub.add_parser(
        "alarms",
        help="active alarms, alarm journal, alarm-system report (reads alarms.db)",
        description="List active alarms (default) or the alarm journal, or print the ISA-18.2 / EEMUA 191 report.",
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=["report", "rationalization"],
        help="'report': alarm-system performance figures; "
        "'rationalization STATION_DIR': the configured alarms against ISA-18.2 targets",
    )
    p.add_argument("station_dir", nargs="?", help="rationalization: station config directory")
    p.add_argument("--data-dir", help="data directory holding alarms.db")
    p.add_argument(
        "--station", help="station config directory (to find its default data directory)"
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--active",
        action="store_true",
        help="alarms not in NORMAL, or shelved/suppressed/out of service (default)",
    )
    what.add_argument("--journal", action="store_true", help="alarm transitions since --since")
    p.add_argument(
        "--since",
        default=None,
        help="how far back, e.g. 90s, 10m, 1h, 7d (journal: 1h, report: 24h)",
    )
    p.add_argument("--limit", type=int, default=0, help="journal: only the newest N rows")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument(
        "--lang", choices=["en", "zh"], default=None, help="message language (default from $LANG)"
    )
    p.set_defaults(func=run)


def _lang(args: argparse.Namespace) -> str:
    if args.lang:
        return args.lang
    return "zh" if os.environ.get("LANG", "").lower().startswith("zh") else "en"


def _msg(row: dict[str, Any], lang: str) -> str:
    en, zh = row.get("message_en", ""), row.get("message_zh", "")
    return (zh or en) if lang == "zh" else (en or zh)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``gas-hmi alarms``."""
    from sqlalchemy.exc import SQLAlchemyError

    from hmi.core.alarms.journal import open_db

    if args.action == "rationalization":
        from hmi.cli.rationalization import run_rationalization

        return run_rationalization(args)
    cfg = load_or_exit(args.station) if args.station else None
    db = data_dir_for(cfg, args.data_dir) / "alarms.db"
    if not db.is_file():
        print(
            f"gas-hmi: no alarm database at {db} (has the runtime run with this data directory?)",
            file=sys.stderr,
        )
        return 1
    try:
        since = since_to_ts(args.since or ("24h" if args.action == "report" else "1h"))
    except ValueError as exc:
        print(f"gas-hmi: --since: {exc}", file=sys.stderr)
        return 2
    eng = open_db(db, readonly=True)
    try:
        if args.action == "report":
            return _report(eng, since, args)
        if args.journal:
            return _journal(eng, since, args)
        return _active(eng, args)
    except SQLAlchemyError as exc:
        print(f"gas-hmi: cannot read {db}: {getattr(exc, 'orig', exc)}", file=sys.stderr)
        return 1
    finally:
        eng.dispose()


def _active(eng: Any, args: argparse.Namespace) -> int:
    from hmi.core.alarms.journal import read_states

    rows = [
        r
        for r in read_states(eng).values()
        if r["state"] != "NORMAL" or r["shelved"] or r["suppressed"] or r["out_of_service"]
    ]
    rows.sort(key=lambda r: (r["priority"], -r["active_since_ms"], r["alarm_id"]))
    if args.format == "json":
        print_json([_state_json(r) for r in rows])
        return 0
    lang = _lang(args)
    print_table(
        ["ALARM", "TAG", "KIND", "P", "STATE", "ACTIVE SINCE", "ACK", "FLAGS", "MESSAGE"],
        [
            [
                r["alarm_id"],
                r["tag"],
                r["kind"],
                r["priority"],
                r["state"],
                fmt_ts(r["active_since_ms"] / 1000.0),
                f"{fmt_ts(r['ack_ts_ms'] / 1000.0)} {r['ack_user']}" if r["ack_ts_ms"] else "-",
                ",".join(name for key, name in _FLAGS if r[key]) or "-",
                _msg(r, lang),
            ]
            for r in rows
        ],
    )
    print(f"{len(rows)} alarm(s)")
    return 0


def _state_json(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "alarm_id": r["alarm_id"],
        "tag": r["tag"],
        "kind": r["kind"],
        "priority": r["priority"],
        "state": r["state"],
        "active_since": r["active_since_ms"] / 1000.0,
        "last_change": r["last_change_ms"] / 1000.0,
        "ack_ts": r["ack_ts_ms"] / 1000.0,
        "ack_user": r["ack_user"],
        "value": r["value"],
        "limit": r["limit_value"],
        "shelved": bool(r["shelved"]),
        "shelved_until": r["shelve_until_ms"] / 1000.0 if r["shelved"] else 0.0,
        "shelve_reason": r["shelve_reason"],
        "suppressed": bool(r["suppressed"]),
        "out_of_service": bool(r["out_of_service"]),
        "latched": bool(r["latched"]),
        "message": {"en": r["message_en"], "zh": r["message_zh"]},
        "area": r["area"],
    }


def _journal(eng: Any, since: float, args: argparse.Namespace) -> int:
    from hmi.core.alarms.journal import read_journal

    events = read_journal(eng, since, None, args.limit or None)
    if args.format == "json":
        print_json(events)
        return 0
    lang = _lang(args)
    print_table(
        ["TIME", "ALARM", "TRANSITION", "STATE", "P", "VALUE", "USER", "COMMENT", "MESSAGE"],
        [
            [
                fmt_ts(e["ts"]),
                e["alarm_id"],
                e["transition"],
                e["state"],
                e["priority"],
                "-" if e["value"] is None else f"{e['value']:g}",
                (e["user"] + (" (remote)" if e["remote"] else "")) or "-",
                e["comment"] or "-",
                e["message"][lang] or e["message"]["en"],
            ]
            for e in events
        ],
    )
    print(f"{len(events)} transition(s) since {fmt_ts(since)}")
    return 0


def _report(eng: Any, since: float, args: argparse.Namespace) -> int:
    from hmi.core.alarms.journal import read_journal, read_states
    from hmi.core.alarms.metrics import MANAGEABLE_PER_DAY, compute_metrics

    until = time.time()
    m = compute_metrics(read_journal(eng, since, until), read_states(eng), since, until)
    if args.format == "json":
        print_json(m)
        return 0
    out = sys.stdout
    print(f"Alarm-system report {fmt_ts(since)} .. {fmt_ts(until)} ({m['hours']:g} h)", file=out)
    print_table(
        ["FIGURE", "VALUE", "GUIDE"],
        [
            ["annunciated alarms", m["alarms"], ""],
            [
                "alarms per day (rate)",
                m["per_day"],
                f"<= {MANAGEABLE_PER_DAY} manageable ({m['load']})",
            ],
            ["alarms per 10 min, average", m["per_10min_avg"], "<= 1"],
            ["alarms per 10 min, peak", m["per_10min_peak"], "<= 10"],
            ["flood periods", m["flood_count"], "flood: > 10 in 10 min"],
            ["time in flood", f"{m['flood_share_pct']} %", "< 1 %"],
            ["chattering alarms", len(m["chattering"]), "0 (>= 3 in 1 min)"],
            ["stale alarms", len(m["stale"]), "0 (active > 24 h)"],
            *[
                [
                    f"priority {band}",
                    f"{m['priority']['share_pct'][band]} %",
                    f"~{m['priority']['target_pct'][band]:g} %",
                ]
                for band in ("high", "medium", "low")
            ],
        ],
    )
    if m["floods"]:
        print("\nFlood periods", file=out)
        print_table(
            ["START", "END", "MINUTES", "ALARMS", "PEAK/10MIN"],
            [
                [
                    fmt_ts(f["start"]),
                    fmt_ts(f["end"]),
                    round(f["duration_s"] / 60, 1),
                    f["alarms"],
                    f["peak_per_10min"],
                ]
                for f in m["floods"]
            ],
        )
    if m["bad_actors"]:
        print("\nTop bad actors", file=out)
        print_table(
            ["ALARM", "KIND", "P", "ACTIVATIONS", "SHARE"],
            [
                [b["alarm_id"], b["kind"], b["priority"], b["activations"], f"{b['share_pct']} %"]
                for b in m["bad_actors"]
            ],
        )
    if m["chattering"]:
        print("\nChattering alarms", file=out)
        print_table(
            ["ALARM", "MAX PER MINUTE", "ACTIVATIONS"],
            [[c["alarm_id"], c["max_per_minute"], c["activations"]] for c in m["chattering"]],
        )
    if m["stale"]:
        print("\nStale alarms", file=out)
        print_table(
            ["ALARM", "STATE", "ACTIVE SINCE", "HOURS"],
            [
                [s["alarm_id"], s["state"], fmt_ts(s["active_since"]), s["hours"]]
                for s in m["stale"]
            ],
        )
    return 0
