"""The federation-scale scenario's smoke run (``bench.federation`` at N = 20).

The scenario itself (N up to 8,500) is a benchmark and never runs in CI; this
runs it at toy size and checks what cannot depend on the machine's speed:
every stand-in's answer reached the client through the real broker and
verified, the broker held a connection per stand-in, and every figure the
report shows was measured.
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
NODES = 20


@pytest.fixture(scope="module")
def point() -> dict[str, Any]:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.federation",
            "--nodes",
            str(NODES),
            "--rounds",
            "3",
            "--procs",
            "2",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    points = json.loads(run.stdout)
    assert [p["nodes"] for p in points] == [NODES]
    return dict(points[0])


def test_every_stand_in_answer_verifies_through_the_real_broker(point: dict[str, Any]) -> None:
    # The client opened each sealed answer and checked its node signature.
    assert point["verified"] == NODES
    assert point["answered"] == NODES


def test_the_broker_holds_a_connection_per_stand_in(point: dict[str, Any]) -> None:
    assert point["broker_sockets"] >= NODES
    assert point["broker_fds"] >= point["broker_sockets"]


def test_every_reported_figure_was_measured(point: dict[str, Any]) -> None:
    for series in ("broker", "echo"):
        assert point[series]["n"] == 3
        assert 0 < point[series]["p50_ms"] <= point[series]["p99_ms"]
    for key in (
        "broker_cpu_ms",
        "echo_client_cpu_ms",
        "standin_cpu_broker_ms",
        "broker_rss",
        "broker_reachable_s",
        "client_sign_ms",
        "client_verify_ms",
        "standin_sign_us",
    ):
        assert isinstance(point[key], int | float), key
        assert math.isfinite(point[key]), key
        assert point[key] > 0, key
    # What a node gets is one body and its own key, not every node's.
    assert point["node_request_bytes"] < 16 * 1024
