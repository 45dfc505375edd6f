"""``gas-hmi screenshot``: render one HMI screen offscreen with live simulated data."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hmi.cli._common import load_or_exit


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the screenshot command."""
    p = sub.add_parser(
        "screenshot",
        help="render a screen offscreen with live simulated data and save it as PNG",
        description="Screens: overview, pid (or a screen id), alarms, trends, diagnostics, faceplate:<tag>, login, confirm:<tag>=<value>.",
    )
    p.add_argument("station_dir")
    p.add_argument(
        "--screen",
        default="overview",
        help="overview | pid | alarms | trends | diagnostics | faceplate:<tag> | login | confirm:<tag>=<value> | <screen id>",
    )
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument(
        "--scenario",
        default="normal",
        help="simulator scenario (normal, gas_leak, filter_clog, ...)",
    )
    p.add_argument(
        "--after",
        type=float,
        default=4.0,
        help="seconds of live data before the picture (default 4)",
    )
    p.add_argument(
        "--speed", type=float, default=1.0, help="simulator speed factor (scenarios unfold faster)"
    )
    p.add_argument("--lang", choices=("zh_CN", "en"), help="language (default: the station's)")
    p.add_argument("--theme", choices=("light", "dark"), help="theme (default: the station's)")
    p.add_argument(
        "--size", default="1920x1080", help="window size WIDTHxHEIGHT (default 1920x1080)"
    )
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=cmd_screenshot)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"gas-hmi: --size must look like 1920x1080 (got {text!r})") from None
    if not (320 <= w <= 7680 and 240 <= h <= 4320):
        raise SystemExit(f"gas-hmi: --size {text} is out of range")
    return w, h


def cmd_screenshot(args: argparse.Namespace) -> int:
    """Start simulator + runtime, show the HMI offscreen, save the PNG."""
    size = _size(args.size)
    cfg = load_or_exit(args.station_dir)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from hmi.ui.app import show_main_window
        from hmi.ui.screenshot import capture, live_station
    except ImportError as exc:
        print(f"gas-hmi: the HMI cannot start ({exc})", file=sys.stderr)
        return 1
    try:
        with live_station(cfg, args.scenario, args.seed, args.speed) as (rt, _sim):
            win = show_main_window(rt, lang=args.lang, theme=args.theme, horn=False)
            try:
                out = capture(win, args.screen, Path(args.out), args.after, size)
            finally:
                win.close()
    except Exception as exc:  # runtime/simulator start errors carry a readable message
        if isinstance(exc, KeyboardInterrupt):
            raise
        print(f"gas-hmi: screenshot failed: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({size[0]}x{size[1]}, screen {args.screen})")
    return 0
