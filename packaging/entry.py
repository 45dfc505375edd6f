"""Entry script of the frozen bundle: the same ``gas-hmi`` command as the console script."""

from hmi.__main__ import main

if __name__ == "__main__":
    main()
