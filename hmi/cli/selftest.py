"""``gas-hmi --self-test [STATION_DIR]``: check an installation and exit 0 only when all pass.

A global flag rather than a command so that it reads the same in a bundle's desktop
launcher, a service unit and an installer: the bundle's own station is the default.
:func:`dispatch` runs before the main parser so that nothing else is imported first.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from hmi import paths

SELF_TEST = "--self-test"
#: internal: the self-test starts the program again with this flag to try one Qt platform
QT_PROBE = "--self-test-qt"


def build_parser() -> argparse.ArgumentParser:
    """Parser of the self-test's own options."""
    p = argparse.ArgumentParser(
        prog="gas-hmi --self-test",
        description="Check this installation: config, databases, keyring, Qt platforms, fonts, "
        "translations, drivers. Exit 0 only when every check passes.",
    )
    p.add_argument(
        "station_dir", nargs="?", help="station config folder (default: the bundle's station)"
    )
    p.add_argument(
        "--data-dir", help="the station's data folder (default: its per-user data folder)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument(
        "--no-gui", action="store_true", help="check Qt offscreen only, even with a display"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def dispatch(argv: Sequence[str]) -> int | None:
    """Run the self-test (or its Qt probe) when ``argv`` asks for it; None otherwise."""
    args = list(argv)
    if QT_PROBE in args:
        i = args.index(QT_PROBE)
        platform = args[i + 1] if i + 1 < len(args) else "offscreen"
        return _probe(platform)
    for i, a in enumerate(args):
        if a == SELF_TEST or a.startswith(SELF_TEST + "="):
            rest = args[:i] + ([a.split("=", 1)[1]] if "=" in a else []) + args[i + 1 :]
            return run(rest)
    return None


def run(argv: Sequence[str]) -> int:
    """``gas-hmi --self-test`` with the remaining arguments."""
    from hmi.logs import setup_logging
    from hmi.selftest import SelfTest, report

    args = build_parser().parse_args(list(argv))
    setup_logging(args.verbose)
    if not args.verbose:
        logging.getLogger().setLevel(
            logging.WARNING
        )  # the runtime's start/stop chatter is not the report
    station = Path(args.station_dir) if args.station_dir else paths.bundled_station_dir()
    if station is None:
        print("gas-hmi: --self-test needs a STATION_DIR outside a station bundle", file=sys.stderr)
        return 2
    test = SelfTest(station, Path(args.data_dir) if args.data_dir else None, gui=not args.no_gui)
    checks = test.run()
    info = paths.bundle_info()
    where = f"bundle {info['name']}" if info.get("name") else "source checkout"
    report(checks, as_json=args.json, header=f"gas-hmi self-test: {station} ({where})")
    return 0 if test.passed else 1


def _probe(platform: str) -> int:
    from hmi.selftest import qt_probe

    try:
        result = qt_probe(platform)
    except Exception as exc:  # reported by the parent as this platform's failure
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result), flush=True)
    return 0 if result.get("ok") else 1
