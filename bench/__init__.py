"""Benchmarks: each ``bench/bench_*.py`` module prints comparable figures from ``main(argv)``.

Run all with ``python -m bench`` (or ``make bench``), one with
``python -m bench historian`` or ``python -m bench.bench_historian --help``.
"""
