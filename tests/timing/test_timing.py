"""No inference by timing: absent, denied and withheld-field answers take the same time.

A node behind the sanctuary contract, with its real audit store, is asked
three kinds of question over real gRPC, interleaved at random:

- **absent**: a person the agency does not hold (no candidates at all);
- **denied**: a person it holds, asked by civil immigration (every record withheld);
- **withheld**: the same person asked by a detective (hits, some fields withheld).

An absent and a denied answer must not be told apart: same shape (no hits)
and a median latency within ``TARGET_MS``; the withheld-field answer, which
does carry hits, is held to the same median target. CI takes
``FIELDGATE_TIMING_SAMPLES`` samples of each (default 400); the full run is
``FIELDGATE_TIMING_SAMPLES=3000 .venv/bin/pytest tests/timing -s``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.answer_timing import DEFAULT_MAX_LOAD_FACTOR
from fieldgate.node.limits import NodeLimitsConfig
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub

SAMPLES = int(os.environ.get("FIELDGATE_TIMING_SAMPLES", "400"))
TARGET_MS = 5.0
REPORT = os.environ.get("FIELDGATE_TIMING_REPORT", "")
"""If set, the figures are also written to this JSON file."""
PERSONAS = demo_personas(dt.date.today())
DETECTIVE, IMMIGRATION = PERSONAS[0].requester, PERSONAS[1].requester

# At 8 floors (160 ms) 1,260 searches take 200 s.
pytestmark = [pytest.mark.timing, pytest.mark.timeout(max(600, SAMPLES // 2))]


@pytest.fixture(scope="module")
def federation(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("timing")
    records = workdir / "kcso.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=300, seed=11), records)
    spec = NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"), records)
    import_records(spec, workdir)
    running: LocalFederation = loop.run(
        start_federation(
            [spec],
            workdir,
            audit=True,
            answer_floor_seconds=0.02,
            # Scaled with the machine's load, as a production node's floor is
            # by default: on a loaded CI machine a fixed 20 ms is overrun.
            max_load_factor=DEFAULT_MAX_LOAD_FACTOR,
            node_limits=NodeLimitsConfig(enabled=False),  # the same searches, on purpose
        )
    )
    yield running.nodes["kcso"].address
    loop.run(running.stop())


SUBJECT = common_pb2.PersonQuery(
    surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
)
NOBODY = common_pb2.PersonQuery(surname="QUILLFEATHER", given_name="ZEBEDEE", dob="1961-07-13")
KINDS = {
    "absent": (DETECTIVE, NOBODY),
    "denied": (IMMIGRATION, SUBJECT),
    "withheld": (DETECTIVE, SUBJECT),
}


def test_absent_denied_and_withheld_answers_take_the_same_time(federation: str) -> None:
    channel, stub = node_stub(federation)
    with channel:

        def ask(kind: str, number: int) -> tuple[float, node_pb2.NodeServiceSearchResponse]:
            requester, query = KINDS[kind]
            request = node_pb2.NodeServiceSearchRequest(
                request_id=f"t-{kind}-{number}", requester=requester.to_message(), query=query
            )
            started = time.perf_counter()
            answer: node_pb2.NodeServiceSearchResponse = stub.Search(request, timeout=10)
            return time.perf_counter() - started, answer

        # The shapes first: absent and denied are the same message; withheld has hits
        # with some field held back.
        _, absent = ask("absent", -1)
        _, denied = ask("denied", -1)
        _, withheld = ask("withheld", -1)
        assert list(absent.hits) == list(denied.hits) == []
        assert absent.node_id == denied.node_id
        assert absent.ByteSize() - len(absent.request_id) == (
            denied.ByteSize() - len(denied.request_id)
        )
        assert withheld.hits
        assert all("citizenship" not in {f.name for f in h.fields} for h in withheld.hits)

        for number in range(
            20
        ):  # warm up (ids apart from the timed ones: a node answers each once)
            for kind in KINDS:
                ask(kind, -2 - number)
        order = [kind for kind in KINDS for _ in range(SAMPLES)]
        random.Random(5).shuffle(order)
        seconds: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for number, kind in enumerate(order):
            elapsed, _ = ask(kind, number)
            seconds[kind].append(elapsed)

    medians = {kind: statistics.median(v) * 1000 for kind, v in seconds.items()}
    figures = {
        "samples_per_kind": SAMPLES,
        "median_ms": {k: round(v, 3) for k, v in medians.items()},
        "p90_ms": {
            k: round(statistics.quantiles(v, n=10)[-1] * 1000, 3) for k, v in seconds.items()
        },
        "max_median_difference_ms": round(max(medians.values()) - min(medians.values()), 3),
        "absent_vs_denied_ms": round(abs(medians["absent"] - medians["denied"]), 3),
    }
    print("\ntiming:", json.dumps(figures))
    if REPORT:
        Path(REPORT).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    assert figures["max_median_difference_ms"] < TARGET_MS, figures
