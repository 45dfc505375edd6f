"""Run every benchmark module in bench/ (``bench_*.py``; each exposes ``main()`` or ``main(argv)``).

``python -m bench`` runs them all in name order; ``python -m bench historian uplink``
runs the modules whose name contains one of the words. Options for a single module:
``python -m bench.bench_<name> --help``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import time
import traceback
from pathlib import Path


def modules(words: list[str]) -> list[str]:
    """Names of the benchmark modules to run."""
    found = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    return [m for m in found if not words or any(w in m for w in words)]


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks with their default sizes; exit 1 if one failed."""
    words = list(sys.argv[1:] if argv is None else argv)
    names = modules(words)
    if not names:
        print(f"no benchmark matches {words}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"=== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            # main(argv) gets an empty list (defaults, not our own argv); main() is called bare
            takes_argv = bool(inspect.signature(module.main).parameters)
            rc = module.main([]) if takes_argv else module.main()
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            rc = 1
        if rc:
            failed.append(name)
        print(f"=== {name} done in {time.perf_counter() - t0:.1f} s\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
