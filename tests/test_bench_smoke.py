"""The benchmark suite's smoke run: every scenario at toy size, so the suite cannot rot.

The full suite (``make bench``) is a benchmark, not a test, and never runs in
CI; this runs ``python -m bench --smoke`` (no plots, so no matplotlib needed)
and checks that it produced every scenario's figures, not merely that it exited.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

SECTIONS = (
    "## Targets of issue 7",
    "## 1. Fan-out overhead (real nodes on one machine: measures the nodes' summed work)",
    "## 2. Cost of the contract",
    "## 3. Person search",
    "## 4. Throughput",
    "## 5. Policy evaluation",
    "## 6. Footprint",
)

TARGETS_MEASURED_IN_SMOKE = {
    "fanout_p50_10",
    "fanout_p99_p50",
    "fixed_cost",
    "scale_slope",
    "contract_ratio_0",
    "contract_ratio_1",
    "policy_hits_per_core",
    "search_ratio",
    "recall",
}
TARGETS_ONLY_AT_FULL_SCALE = {"fanout_p50_200", "fanout_p50_500", "footprint"}


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    report, results = out / "BENCHMARKS.md", out / "results.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--no-plots",
            "--out",
            str(report),
            "--json",
            str(results),
            "--cache",
            str(out / "cache"),
            "--workdir",
            str(out / "work"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(results.read_text(encoding="utf-8")), report.read_text(encoding="utf-8")


@pytest.mark.slow
def test_fanout_has_every_series_at_every_node_count(smoke: tuple[dict[str, Any], str]) -> None:
    fanout = smoke[0]["scenarios"]["fanout"]
    assert [p["nodes"] for p in fanout["points"]] == [1, 10]
    for point in fanout["points"]:
        assert point["answered"] == point["nodes"]
        assert point["hits"] == point["expected_hits"] == 2
        for series in ("echo", "direct", "broker"):
            assert point[series]["n"] > 0
            assert _positive(point[series]["p50_ms"]), (point["nodes"], series)
            assert point[series]["p99_ms"] >= point[series]["p50_ms"]
    assert all(_positive(v) for v in fanout["slopes_ms_per_node"].values())


@pytest.mark.slow
def test_contract_throughput_policy_and_search_figures(smoke: tuple[dict[str, Any], str]) -> None:
    scenarios = smoke[0]["scenarios"]
    cases = scenarios["contract"]["cases"]
    assert len(cases) == 2
    for case in cases:
        assert case["same_hits"]
        assert case["hits"] > 0
        assert _positive(case["grpc_ratio"])
        assert _positive(case["local_ratio"])
        assert _positive(case["grpc_repeated_ratio"])
    throughput = scenarios["throughput"]
    assert throughput["nodes"] == 10
    assert throughput["clients"] == 32
    assert _positive(throughput["echo_per_s"])
    assert _positive(throughput["broker_per_s"])
    policy = scenarios["policy"]
    names = [p["name"] for p in policy["paths"]]
    assert names == [
        "bare",
        "contract",
        "decide",
        "decide, handed off",
        "decide, record by record",
        "decide, repeated",
        "decide+hit",
    ]
    assert all(_positive(p["hits_per_core_second"]) for p in policy["paths"])
    search = scenarios["person_search"]
    assert search["records"] >= 10_000
    assert _positive(search["ratio_p50"])
    assert search["recall_queries"] > 0
    assert 0 < search["recall"] <= 1
    footprint = scenarios["footprint"]
    assert _positive(footprint["fleet"]["total_rss"])
    assert _positive(footprint["node_at_scale"]["rss"])
    assert _positive(footprint["node_at_scale"]["disk_bytes"])


@pytest.mark.slow
def test_every_target_is_judged_and_reported(smoke: tuple[dict[str, Any], str]) -> None:
    results, report = smoke
    targets = {t["key"]: t for t in results["targets"]}
    assert set(targets) == TARGETS_MEASURED_IN_SMOKE | TARGETS_ONLY_AT_FULL_SCALE
    for key in TARGETS_MEASURED_IN_SMOKE:
        assert targets[key]["met"] in (True, False), key
        assert targets[key]["value"] is not None, key
    for key in TARGETS_ONLY_AT_FULL_SCALE:
        assert targets[key]["met"] is None, key
    for section in SECTIONS:
        assert section in report
    for target in targets.values():
        assert target["target"] in report
