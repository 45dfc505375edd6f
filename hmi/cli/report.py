"""``gas-hmi report``: metering reports, early warnings and the send-out forecast from a data directory.

    gas-hmi report daily    --data-dir DIR [--station DIR] [--date YYYY-MM-DD] --out FILE.pdf|csv|json
    gas-hmi report warnings --station DIR [--data-dir DIR] [--at TIME]
    gas-hmi report forecast --station DIR [--data-dir DIR] [--hours N]
    gas-hmi report backfill --station DIR [--data-dir DIR] --days N [--scenario NAME]

Everything reads the station's own files and works while the station runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hmi.cli._common import data_dir_for, fail, load_or_exit, print_json, print_table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``report`` and its sub-commands."""
    p = sub.add_parser("report", help="metering reports, early warnings and the send-out forecast")
    rs = p.add_subparsers(dest="report_command", metavar="WHAT")

    d = rs.add_parser("daily", help="daily metering report (PDF, CSV or JSON)")
    d.add_argument("--data-dir", help="station data directory (default: the station's)")
    d.add_argument("--station", help="station config directory (meter runs, time zone, labels)")
    d.add_argument("--date", help="local date YYYY-MM-DD (default: yesterday)")
    d.add_argument("--out", required=True, help="output file: .pdf, .csv or .json")
    d.add_argument(
        "--lang", choices=("zh_CN", "en"), help="language of the PDF (default: the station's)"
    )
    d.set_defaults(func=cmd_daily)

    w = rs.add_parser("warnings", help="run the early-warning detectors once on the history")
    w.add_argument("--station", required=True)
    w.add_argument("--data-dir")
    w.add_argument(
        "--at", help="end of the windows: Unix time or YYYY-MM-DDTHH:MM local (default: now)"
    )
    w.add_argument("--format", choices=("table", "json"), default="table")
    w.set_defaults(func=cmd_warnings)

    f = rs.add_parser("forecast", help="fit the send-out forecast on the history and print it")
    f.add_argument("--station", required=True)
    f.add_argument("--data-dir")
    f.add_argument("--hours", type=int, default=24)
    f.add_argument("--format", choices=("table", "json"), default="table")
    f.set_defaults(func=cmd_forecast)

    b = rs.add_parser(
        "backfill", help="fill a data directory with simulated history (demo, training)"
    )
    b.add_argument("--station", required=True)
    b.add_argument("--data-dir")
    b.add_argument("--days", type=float, required=True)
    b.add_argument("--scenario", default="normal")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument(
        "--no-alarms", action="store_true", help="do not journal the alarms of the simulated period"
    )
    b.set_defaults(func=cmd_backfill)

    def usage(_args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


def _open(data_dir: Path, create: bool = False) -> Any:
    from hmi.config.schema import HistorianConfig
    from hmi.core.historian import Historian, HistorianError

    path = data_dir / "history.db"
    if not create and not path.is_file():
        raise SystemExit(fail(f"no history in {data_dir} (expected {path})"))
    try:
        if create:
            data_dir.mkdir(parents=True, exist_ok=True)
        return Historian(path, HistorianConfig(), create=create)
    except (HistorianError, OSError) as exc:
        raise SystemExit(fail(str(exc))) from None


def _config_from_history(hist: Any) -> Any:
    """A minimal station config when no --station is given: every ``<run>.total.std`` is a meter run."""
    from hmi.config.schema import StationConfig

    runs = sorted(n[: -len(".total.std")] for n in hist.tag_names() if n.endswith(".total.std"))
    if not runs:
        raise SystemExit(fail("no meter totals (<run>.total.std) in the history: pass --station"))
    meters = []
    names = set(hist.tag_names())
    for r in runs:
        m: dict[str, Any] = {"id": r, "total": f"{r}.total.std"}
        for key, suffix in (
            ("flow", "flow.std"),
            ("pressure", "pressure"),
            ("temperature", "temperature"),
        ):
            if f"{r}.{suffix}" in names:
                m[key] = f"{r}.{suffix}"
        meters.append(m)
    tz = _local_zone()
    tags = [{"name": n, "device": "x", "address": "x"} for n in sorted(names)]
    return StationConfig.model_validate(
        {
            "station": {"id": "station", "name": "Station", "timezone": tz},
            "tags": tags,
            "analytics": {"meters": meters},
        }
    )


def _local_zone() -> str:
    """IANA name of this computer's time zone (TZ, /etc/localtime), else UTC."""
    import os

    for cand in (
        os.environ.get("TZ", ""),
        str(Path("/etc/localtime").resolve()).partition("zoneinfo/")[2],
    ):
        if cand:
            try:
                ZoneInfo(cand)
                return cand
            except (ValueError, OSError, KeyError):
                continue
    return "UTC"


def _cfg_and_dir(args: argparse.Namespace) -> tuple[Any, Path]:
    cfg = load_or_exit(args.station) if getattr(args, "station", None) else None
    return cfg, data_dir_for(cfg, args.data_dir)


def cmd_daily(args: argparse.Namespace) -> int:
    """Write the daily metering report."""
    from hmi.core.analytics.metering import MeteringReports
    from hmi.core.analytics.reportfile import ReportError, write_report

    cfg, data_dir = _cfg_and_dir(args)
    out = Path(args.out)
    if out.suffix.lower() not in (".pdf", ".csv", ".json"):
        return fail(f"{out}: unknown report format (use .pdf, .csv or .json)")
    hist = _open(data_dir)
    try:
        if cfg is None:
            cfg = _config_from_history(hist)
        elif not cfg.analytics.meters:
            return fail(f"{args.station} has no analytics.meters: no metering runs to report")
        tz = ZoneInfo(cfg.station.timezone)
        try:
            day = (
                dt.date.fromisoformat(args.date)
                if args.date
                else dt.datetime.now(tz).date() - dt.timedelta(days=1)
            )
        except ValueError:
            return fail(f"not a date: {args.date!r} (use YYYY-MM-DD)")
        report = MeteringReports(cfg, hist, data_dir / "alarms.db").daily(day)
        lang = args.lang or cfg.analytics.report.language or cfg.station.language
        write_report(report, out, lang)
    except ReportError as exc:
        return fail(str(exc))
    finally:
        hist.close()
    vol = report["station_volume"]
    state = (
        "" if report["complete"] else " (incomplete: the day is not over or readings are missing)"
    )
    shown = f"{vol:,.0f}" if vol is not None else f"{report['station_volume_known']:,.0f} known"
    print(f"wrote {out}: {cfg.station.id} {day}: {shown} Sm³{state}")
    return 0


def _parse_at(text: str | None, tz: ZoneInfo) -> float:
    if not text:
        return time.time()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()
    except ValueError:
        raise SystemExit(fail(f"not a time: {text!r} (Unix seconds or YYYY-MM-DDTHH:MM)")) from None


def cmd_warnings(args: argparse.Namespace) -> int:
    """Run every detector once and print the figures."""
    from hmi.core.analytics.warnings import WarningEngine

    cfg, data_dir = _cfg_and_dir(args)
    if not cfg.analytics.warnings:
        return fail(f"{args.station} has no analytics.warnings")
    at = _parse_at(args.at, ZoneInfo(cfg.station.timezone))
    hist = _open(data_dir)
    try:
        results = WarningEngine(cfg, hist).evaluate(at)
    finally:
        hist.close()
    if args.format == "json":
        print_json([r.as_dict() for r in results.values()])
        return 0
    print_table(
        ["detector", "kind", "value", "unit", "note"],
        [
            [r.id, r.kind, f"{r.value:.2f}" if r.judged else "-", r.unit, r.reason]
            for r in results.values()
        ],
    )
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    """Fit the forecast on the history and print the next hours."""
    from hmi.core.analytics.sendout import SendOutForecaster

    cfg, data_dir = _cfg_and_dir(args)
    if cfg.analytics.forecast is None:
        return fail(f"{args.station} has no analytics.forecast section")
    hist = _open(data_dir)
    try:
        fc = SendOutForecaster(cfg, hist)
        now = time.time()
        fc.retrain(now)
        res = fc.issue(now)
    finally:
        hist.close()
    n = max(1, min(args.hours, len(res.ts)))
    if args.format == "json":
        print_json(res.as_dict())
        return 0
    tz = ZoneInfo(cfg.station.timezone)
    if res.note:
        print(f"note: {res.note}", file=sys.stderr)
    print_table(
        ["hour", "forecast Sm3", "baseline Sm3", "ambient C"],
        [
            [dt.datetime.fromtimestamp(t, tz).strftime("%m-%d %H:%M"), _fmt(f), _fmt(b), _fmt(a, 1)]
            for t, f, b, a in zip(
                res.ts[:n], res.forecast[:n], res.baseline[:n], res.temperature[:n], strict=True
            )
        ],
    )
    return 0


def _fmt(v: float, nd: int = 0) -> str:
    return "-" if v != v else f"{v:,.{nd}f}"


def cmd_backfill(args: argparse.Namespace) -> int:
    """Simulated history for the last --days, ending now."""
    from drivers.sim.scenarios import SCENARIOS
    from hmi.core.analytics.synthetic import backfill

    if args.scenario not in SCENARIOS:
        return fail(f"unknown scenario {args.scenario!r} (known: {', '.join(SCENARIOS)})")
    if not 0 < args.days <= 400:
        return fail("--days must be between 0 and 400")
    cfg, data_dir = _cfg_and_dir(args)
    hist = _open(data_dir, create=True)
    start = time.time() - args.days * 86400.0
    try:
        backfill(
            cfg,
            hist,
            start,
            args.days * 86400.0,
            scenario=args.scenario,
            seed=args.seed,
            alarms_db=None if args.no_alarms else data_dir / "alarms.db",
            progress=lambda f: print(f"\r{f:5.0%}", end="", file=sys.stderr, flush=True),
        )
    except Exception as exc:
        print(file=sys.stderr)
        return fail(f"backfill failed: {exc}")
    finally:
        hist.close()
    print(
        f"\nstored {args.days:g} days of simulated history ({args.scenario}) in {data_dir}",
        file=sys.stderr,
    )
    return 0
