"""``python -m bench.node_cost`` at toy size, so the benchmark cannot rot.

A real node process (sealed: signed, sealed searches against a development
trust kit) and its echo; only that figures came out is checked, never a
bound on them (timed targets live in bench/, BENCHMARKS.md).
"""

from __future__ import annotations

from pathlib import Path

from bench.node_cost import CONCURRENCY, measure, table


def test_the_sealed_node_and_its_echo_are_measured(tmp_path: Path) -> None:
    series = measure(calls=100, rounds=1, workdir=tmp_path, modes=("sealed",))
    assert [(s.mode, s.concurrency) for s in series] == [("sealed", c) for c in CONCURRENCY]
    # Every sealed search costs the node CPU (a signature check at least).
    assert all(s.node_us > 0 for s in series)
    assert "| sealed | 1 |" in table(series)
