"""Helpers shared by the command modules: config loading with clean errors, prompts, output formats."""

from __future__ import annotations

import getpass
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hmi.config import ConfigError, StationConfig, load_station

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w|y)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400, None: 1}


def load_or_exit(station_dir: str) -> StationConfig:
    """Load a station config; on problems print them (one per line) and exit 1."""
    try:
        return load_station(station_dir)
    except ConfigError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(f"gas-hmi: {len(exc.problems)} problem(s) in {station_dir}", file=sys.stderr)
        raise SystemExit(1) from None


def parse_duration(text: str) -> float:
    """'10m' -> 600.0; plain numbers are seconds. ValueError on anything else."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 10m, 24h, 7d)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def since_to_ts(text: str, now: float | None = None) -> float:
    """'--since 10m' -> Unix time 10 minutes ago."""
    return (time.time() if now is None else now) - parse_duration(text)


def parse_since(text: str) -> float | None:
    """``--since`` as a Unix time; None after printing why it is not a duration (exit 2)."""
    try:
        return since_to_ts(text)
    except ValueError as exc:
        print(f"gas-hmi: {exc}", file=sys.stderr)
        return None


def fail(message: str) -> int:
    """Print ``gas-hmi: message`` to standard error; returns the exit status 1."""
    print(f"gas-hmi: {message}", file=sys.stderr)
    return 1


def read_new_secret(
    from_stdin: bool, prompt: str, *, what: str, stdin_flag: str, nothing: str
) -> str | None:
    """A new password or secret value, never echoed: one line of standard input, or ``prompt``
    twice with getpass (the two must agree).

    None, after a message naming ``what`` ("password") and what did not happen
    (``nothing``: "changed", "stored"), when there is no terminal (use ``stdin_flag``),
    the two entries differ, or the value is empty.
    """
    if from_stdin:
        line = sys.stdin.readline()
        value = line[:-1] if line.endswith("\n") else line
        if value.endswith("\r"):
            value = value[:-1]
    else:
        try:
            value = getpass.getpass(prompt)
            again = getpass.getpass("repeat it: ")
        except EOFError:
            fail(f"no terminal to ask for the {what}: use {stdin_flag}")
            return None
        if value != again:
            fail(f"the two {what}s differ; nothing {nothing}")
            return None
    if not value:
        fail(f"empty {what}; nothing {nothing}")
        return None
    return value


def fmt_ts(ts: float) -> str:
    """Local ISO time with milliseconds."""
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{int((ts % 1) * 1000):03d}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: Any = None) -> None:
    """Plain aligned text table."""
    out = out or sys.stdout
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print(
            "  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def _width(s: str) -> int:
    # CJK characters take two columns in a terminal
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def print_json(data: Any) -> None:
    """JSON to stdout, UTF-8, stable key order."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def data_dir_for(cfg: StationConfig | None, given: str | None) -> Path:
    """--data-dir, else the station's default data folder."""
    from hmi import paths

    if given:
        return Path(given)
    if cfg is None:
        raise SystemExit("gas-hmi: --data-dir is required")
    return paths.station_data_dir(cfg.station.id)
