"""``gas-hmi history``, ``snapshot`` and ``trend-export``: read the station's own data."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

from drivers.base import Quality
from hmi.cli._common import fail, fmt_ts, parse_since, print_json, print_table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add history, snapshot and trend-export."""
    p = sub.add_parser("history", help="export the samples of one tag (timestamp, value, quality)")
    p.add_argument("tag")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--since", default="10m", help="e.g. 90s, 10m, 24h, 7d (default 10m)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.set_defaults(func=cmd_history)
    p = sub.add_parser(
        "snapshot", help="latest value, quality (with reason) and timestamp of every tag"
    )
    p.add_argument("--data-dir", required=True)
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_snapshot)
    p = sub.add_parser("trend-export", help="export several tags' history to one CSV")
    p.add_argument("tags", nargs="+")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--since", default="24h")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_trend_export)


def open_history(data_dir: str) -> Any:
    """Open a station's history.db read-only for a CLI (works while the runtime runs)."""
    from hmi.config.schema import HistorianConfig
    from hmi.core.historian import Historian

    path = Path(data_dir) / "history.db"
    if not path.is_file():
        print(f"gas-hmi: no history in {data_dir} (expected {path})", file=sys.stderr)
        raise SystemExit(1)
    from hmi.core.historian import HistorianError

    try:
        return Historian(path, HistorianConfig(), create=False)
    except HistorianError as exc:
        print(f"gas-hmi: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _quality_name(q: int) -> str:
    return Quality.of(int(q)).name


def cmd_history(args: argparse.Namespace) -> int:
    """Samples of one tag."""
    start = parse_since(args.since)
    if start is None:
        return 2
    hist = open_history(args.data_dir)
    try:
        if args.tag not in hist.tag_names():
            return fail(f"no history for tag {args.tag!r} in {args.data_dir}")
        data = hist.raw(args.tag, start, time.time() + 1)
    finally:
        hist.close()
    rows = [
        {
            "ts": float(t),
            "time": fmt_ts(float(t)),
            "value": (None if v != v else float(v)),
            "quality": _quality_name(q),
        }
        for t, v, q in zip(data.ts, data.value, data.quality, strict=True)
    ]
    if args.format == "json":
        print_json({"tag": args.tag, "samples": rows})
        return 0
    w = csv.writer(sys.stdout)
    w.writerow(["timestamp", "time", "value", "quality"])
    for r in rows:
        w.writerow(
            [
                f"{r['ts']:.3f}",
                r["time"],
                "" if r["value"] is None else repr(r["value"]),
                r["quality"],
            ]
        )
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Latest value of every tag."""
    hist = open_history(args.data_dir)
    try:
        latest = hist.latest()
    finally:
        hist.close()
    rows = [
        {
            "tag": name,
            "value": rec.value
            if isinstance(rec.value, str) or (rec.value is not None and rec.value == rec.value)
            else None,
            "quality": _quality_name(rec.quality),
            "reason": rec.reason or "",
            "ts": rec.ts,
            "time": fmt_ts(rec.ts),
        }
        for name, rec in sorted(latest.items())
    ]
    if args.format == "json":
        print_json(rows)
        return 0
    print_table(
        ["tag", "value", "quality", "time", "reason"],
        [[r["tag"], _fmt_value(r["value"]), r["quality"], r["time"], r["reason"]] for r in rows],
    )
    return 0


def _fmt_value(v: Any) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else f"{v:.6g}"


def cmd_trend_export(args: argparse.Namespace) -> int:
    """Several tags' samples to one CSV (timestamp, tag, value, quality)."""
    start = parse_since(args.since)
    if start is None:
        return 2
    hist = open_history(args.data_dir)
    try:
        known = set(hist.tag_names())
        missing = [t for t in args.tags if t not in known]
        if missing:
            return fail(f"no history for {', '.join(missing)} in {args.data_dir}")
        n = 0
        try:
            with open(args.out, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["timestamp", "time", "tag", "value", "quality"])
                for row in hist.export_rows(args.tags, start, time.time() + 1):
                    value = (
                        ""
                        if row.value is None
                        else (row.value if isinstance(row.value, str) else repr(float(row.value)))
                    )
                    w.writerow(
                        [
                            f"{row.ts:.3f}",
                            fmt_ts(row.ts),
                            row.name,
                            value,
                            _quality_name(row.quality),
                        ]
                    )
                    n += 1
        except OSError as exc:  # unwritable folder, disk full: say so, no traceback
            return fail(f"cannot write {args.out}: {exc.strerror or exc} ({n} samples written)")
    finally:
        hist.close()
    print(f"wrote {n} samples of {len(args.tags)} tags to {args.out}")
    return 0
