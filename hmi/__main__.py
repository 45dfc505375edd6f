"""``python -m hmi`` / the ``gas-hmi`` console script."""

from __future__ import annotations

import sys

from hmi.cli import main as _main


def main() -> None:
    """Console-script entry point."""
    sys.exit(_main())


if __name__ == "__main__":
    main()
