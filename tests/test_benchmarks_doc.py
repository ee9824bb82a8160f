"""BENCHMARKS.md keeps every hand-written section a benchmark run would write back.

``python -m bench`` regenerates BENCHMARKS.md from its measured tables plus
``bench/analysis.md`` (:func:`bench.report.render`). A section written into
BENCHMARKS.md alone would be lost at the next run, so the document must end
with the analysis file, word for word.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_md_ends_with_the_analysis_a_run_appends() -> None:
    document = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    analysis = (ROOT / "bench" / "analysis.md").read_text(encoding="utf-8").strip()
    assert analysis, "bench/analysis.md is empty"
    assert document.rstrip().endswith(analysis), (
        "BENCHMARKS.md and bench/analysis.md differ: edit the hand-written sections in "
        "bench/analysis.md and copy them to the end of BENCHMARKS.md (or run `make bench`)"
    )
