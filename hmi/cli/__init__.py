"""Command-line entry point: ``gas-hmi <command>``.

One module per command group under ``hmi/cli/``; each has ``register(subparsers)``
that adds its parser and sets ``func`` (returning the exit code). Modules import
heavy libraries (Qt, asyncua, paho) inside their functions so that ``gas-hmi check``
stays fast and works without a display.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hmi import __version__

#: command modules, in the order of ``gas-hmi --help``
COMMAND_MODULES = [
    "hmi.cli.station",  # check, tags
    "hmi.cli.run",  # run, demo
    "hmi.cli.simulate",  # simulate
    "hmi.cli.data",  # history, snapshot, trend-export
    "hmi.cli.alarms",  # alarms [report]
    "hmi.cli.report",  # report daily|warnings|forecast|backfill
    "hmi.cli.users",  # users add|passwd|role|disable|enable|list
    "hmi.cli.audit",  # audit [--verify]
    "hmi.cli.secrets",  # secrets set|delete|list|check
    "hmi.cli.browse",  # browse (OPC UA address space -> tags)
    "hmi.cli.gui",  # screenshot
    "hmi.cli.dispatch",  # dispatch, fleet
    "hmi.cli.demo_fleet",  # demo-fleet
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="gas-hmi", description="SCADA HMI for city natural-gas stations."
    )
    parser.add_argument("--version", action="version", version=f"gas-hmi {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    # handled by hmi.cli.selftest.dispatch before this parser runs; listed here for --help
    parser.add_argument(
        "--self-test",
        nargs="?",
        metavar="STATION_DIR",
        const="",
        help="check this installation (config, databases, keyring, Qt, fonts, drivers) and exit; "
        "default station: the bundle's (gas-hmi --self-test --help for options)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command group not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    from hmi.cli.selftest import dispatch
    from hmi.logs import setup_logging

    argv = list(sys.argv[1:] if argv is None else argv)
    code = dispatch(argv)
    if code is not None:
        return code
    parser = build_parser()
    args = parser.parse_args(argv)
    # standard error always; `run`/`demo` add <data_dir>/logs/gas-hmi.log (hmi.logs.add_file_log)
    setup_logging(args.verbose)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
