"""Fieldgate's benchmark suite (issue 7): every figure a ratio against a limit of the same run.

``python -m bench`` (or ``make bench``) runs the whole suite on this machine,
everything on loopback, and writes ``BENCHMARKS.md`` and the plots in
``bench/plots/``; ``python -m bench --smoke`` runs every scenario at toy scale
in well under a minute (CI runs it through ``tests/test_bench_smoke.py``).
See ``BENCHMARKS.md`` for what each scenario measures and how.
"""
