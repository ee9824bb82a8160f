"""Fieldgate's benchmark suite (issue 7): every figure a ratio against a limit of the same run.

``python -m bench`` (or ``make bench``) runs the whole suite on this machine,
everything on loopback, and writes ``BENCHMARKS.md`` and the plots in
``bench/plots/``; ``python -m bench --smoke`` runs every scenario at toy scale
in well under a minute (CI runs it through ``tests/test_bench_smoke.py``).
See ``BENCHMARKS.md`` for what each scenario measures and how.

Run separately: ``python -m bench.federation`` (issue 22) times one real broker
against up to 8,500 stand-in agencies (``bench/standin.py``: many per process,
each answering with a real signed, sealed node answer); CI runs it at N = 20
through ``tests/test_bench_federation_smoke.py``.
"""
