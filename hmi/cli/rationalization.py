"""``gas-hmi alarms rationalization STATION_DIR``: the configured alarms against ISA-18.2 targets.

Prints the distribution per priority and per area, the alarms without a response text or a
stated time to respond, and the duplicates; exits 1 when the station misses a target.
"""

from __future__ import annotations

import argparse
import sys

from hmi.cli._common import load_or_exit, print_json, print_table

PRIORITY_NAMES = {1: "P1 critical", 2: "P2 high", 3: "P3 medium", 4: "P4 low"}


def run_rationalization(args: argparse.Namespace) -> int:
    """Entry point of ``gas-hmi alarms rationalization``."""
    from hmi.config.rationalization import MAX_P1, MIN_P34, rationalize

    station = args.station_dir or args.station
    if not station:
        print("gas-hmi: alarms rationalization needs a station directory", file=sys.stderr)
        return 2
    r = rationalize(load_or_exit(station))
    problems = r.problems()
    if args.format == "json":
        print_json(
            {
                "total": r.total,
                "by_priority": {str(p): r.by_priority[p] for p in (1, 2, 3, 4)},
                "by_area": {a: {str(p): c[p] for p in (1, 2, 3, 4)} for a, c in r.by_area.items()},
                "no_response": r.no_response,
                "no_time_to_respond": r.no_time,
                "duplicates": [list(d) for d in r.duplicates],
                "problems": problems,
            }
        )
        return 1 if problems else 0
    print(f"{r.total} configured alarms")
    print_table(
        ["PRIORITY", "ALARMS", "SHARE"],
        [[PRIORITY_NAMES[p], r.by_priority[p], f"{r.by_priority[p] / max(r.total, 1):.1%}"]
         for p in (1, 2, 3, 4)],
    )  # fmt: skip
    print(
        f"targets: P1 <= {MAX_P1:.0%} (is {r.share(1):.1%}), "
        f"P3+P4 >= {MIN_P34:.0%} (is {r.share(3, 4):.1%})\n"
    )
    print_table(
        ["AREA", "P1", "P2", "P3", "P4", "TOTAL"],
        [[a, *(c[p] for p in (1, 2, 3, 4)), sum(c.values())] for a, c in sorted(r.by_area.items())],
    )
    print()
    print(f"without a response text: {', '.join(r.no_response) or 'none'}")
    print(f"without a time to respond: {', '.join(r.no_time) or 'none'}")
    if r.duplicates:
        print_table(["DUPLICATE", "OF", "WHY"], [[b, a, why] for a, b, why in r.duplicates])
    else:
        print("duplicates: none")
    print("\n" + ("; ".join(problems) if problems else "rationalised: every target met"))
    return 1 if problems else 0
