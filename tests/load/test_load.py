"""Load: N searches at 64 concurrent clients over 10 real nodes, through the real broker.

Nothing may be lost (every search has an answer from all 10 nodes), nothing
may be wrong (every answer equals the reference answer of its query, computed
once before the load), memory stays bounded (peak RSS is reported), and the
broker's search log and the nodes' audit logs reconcile exactly.

CI runs ``FIELDGATE_LOAD_SEARCHES`` searches (default 1000); the full run is
``FIELDGATE_LOAD_SEARCHES=10000 .venv/bin/pytest tests/load -s``. Limits are off
here: this is about the federation holding the load, not refusing it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import random
import resource
import time
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
import pytest

from fieldgate.broker.limits import LimitsConfig
from fieldgate.client.broker_client import Requester, build_request
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
from fieldgate.node.audit.schema import AuditReader
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import broker_pb2, broker_pb2_grpc, common_pb2
from tests.helpers.federation import LoopThread

SEARCHES = int(os.environ.get("FIELDGATE_LOAD_SEARCHES", "1000"))
CLIENTS = 64
NODES = 10
RECORDS_PER_NODE = 300
DEADLINE = 10.0  # the broker's maximum: under load a slow answer is still an answer
PEAK_RSS_LIMIT_MB = 1536
REPORT = os.environ.get("FIELDGATE_LOAD_REPORT", "")
"""If set, the figures are also written to this JSON file."""

pytestmark = [pytest.mark.load, pytest.mark.timeout(max(300, SEARCHES // 5))]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module")
def federation(
    loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> tuple[LocalFederation, Path, list[dict[str, Any]]]:
    workdir = tmp_path_factory.mktemp("load")
    specs: list[NodeSpec] = []
    records: list[dict[str, Any]] = []
    for index in range(NODES):
        base = DEMO_AGENCIES[index % len(DEMO_AGENCIES)]
        agency = dataclasses.replace(base, node_id=f"n{index:02d}", prefix=f"N{index:02d}")
        generated = generate_agency_records(agency, count=RECORDS_PER_NODE, seed=100 + index)
        records.extend(generated)
        path = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generated, path)
        spec = NodeSpec(
            agency.node_id, f"Agency {index}", shipped_contract("sanctuary_county"), path
        )
        import_records(spec, workdir)
        specs.append(spec)
    running = loop.run(
        start_federation(specs, workdir, audit=True, limits=LimitsConfig(enabled=False))
    )
    yield running, workdir, records  # type: ignore[misc]
    loop.run(running.stop())


def queries(records: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Distinct queries: the demo subject, people the nodes hold, and people nobody holds."""
    rng = random.Random(7)
    chosen = [
        {"surname": DEMO_SUBJECT.surname, "given_name": DEMO_SUBJECT.given_name, "dob": ""},
        {"surname": DEMO_SUBJECT.surname, "given_name": "", "dob": DEMO_SUBJECT.dob},
    ]
    for record in rng.sample(records, 30):
        chosen.append(
            {"surname": str(record["surname"]), "given_name": "", "dob": str(record["dob"])}
        )
    for n in range(8):
        chosen.append({"surname": f"NOBODY{n}", "given_name": "ZED", "dob": "1950-01-01"})
    return chosen


def _unreferenced(hit: common_pb2.Hit) -> common_pb2.Hit:
    copy = common_pb2.Hit()
    copy.CopyFrom(hit)
    copy.reference = ""
    return copy


def answer_of(response: broker_pb2.SearchResponse) -> tuple[tuple[str, int, bytes], ...]:
    """What must not change between two searches of one query: per node, status and hits."""
    return tuple(
        (
            r.node_id,
            r.status,
            # Each search's hits carry their own opaque references; all else must match.
            b"".join(_unreferenced(h).SerializeToString(deterministic=True) for h in r.hits),
        )
        for r in response.results
    )


async def run_load(
    address: str, plan: list[tuple[Requester, dict[str, str]]], clients: int
) -> tuple[list[broker_pb2.SearchResponse | BaseException], float]:
    """Run ``plan`` with ``clients`` concurrent clients, each on its own channel."""
    work: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(plan)):
        work.put_nowait(index)
    results: list[broker_pb2.SearchResponse | BaseException] = [
        RuntimeError("never run") for _ in plan
    ]

    async def client() -> None:
        # Its own connection, as a separate investigator's tool has: channels in one
        # process otherwise share one, past the broker's 32 streams per connection.
        own_connection = [("grpc.use_local_subchannel_pool", 1)]
        async with grpc.aio.insecure_channel(address, options=own_connection) as channel:
            stub = broker_pb2_grpc.BrokerServiceStub(channel)
            while not work.empty():
                index = work.get_nowait()
                requester, query = plan[index]
                request = build_request(requester, deadline_seconds=DEADLINE, **query)
                try:
                    results[index] = await stub.Search(request, timeout=DEADLINE + 20)
                except grpc.aio.AioRpcError as exc:
                    results[index] = exc

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return results, time.monotonic() - started


def test_load_nothing_lost_nothing_wrong_audit_reconciles(
    federation: tuple[LocalFederation, Path, list[dict[str, Any]]],
) -> None:
    running, workdir, records = federation
    personas = [p.requester for p in demo_personas(dt.date.today())]
    distinct = [(p, q) for p in personas for q in queries(records)]

    # The reference answer of every distinct search, asked once, one at a time.
    reference_responses, _ = asyncio.run(run_load(running.broker_address, distinct, 1))
    reference: dict[int, tuple[tuple[str, int, bytes], ...]] = {}
    for index, response in enumerate(reference_responses):
        assert isinstance(response, broker_pb2.SearchResponse), response
        assert all(r.status == broker_pb2.NODE_STATUS_ANSWERED for r in response.results)
        reference[index] = answer_of(response)
    assert any(any(r[2] for r in ref) for ref in reference.values()), "some searches have hits"
    assert any(not any(r[2] for r in ref) for ref in reference.values()), "and some have none"

    rng = random.Random(SEARCHES)
    picks = [rng.randrange(len(distinct)) for _ in range(SEARCHES)]
    rss_before = peak_rss_mb()
    results, elapsed = asyncio.run(
        run_load(running.broker_address, [distinct[i] for i in picks], CLIENTS)
    )
    peak = peak_rss_mb()

    lost = Counter[str]()
    wrong = 0
    for pick, result in zip(picks, results, strict=True):
        if not isinstance(result, broker_pb2.SearchResponse):
            code = result.code() if isinstance(result, grpc.aio.AioRpcError) else result
            lost[f"rpc {code}"] += 1
            continue
        unanswered = [r for r in result.results if r.status != broker_pb2.NODE_STATUS_ANSWERED]
        if len(result.results) != NODES or unanswered:
            lost[f"{len(unanswered)} nodes unanswered"] += 1
        elif answer_of(result) != reference[pick]:
            wrong += 1

    # Reconcile: every search the broker logged was logged once by each of the 10 nodes.
    assert running.broker.search_log is not None
    broker_ids = {str(row["request_id"]) for row in running.broker.search_log.rows()}
    node_entries = 0
    for node_id in running.nodes:
        with AuditReader(workdir / f"{node_id}.audit.sqlite") as reader:
            ids = [row.document()["data"]["request_id"] for row in reader.entries("search")]
        assert len(ids) == len(set(ids)), f"{node_id} logged a request twice"
        node_entries += sum(1 for i in ids if i in broker_ids)
        assert set(ids) == broker_ids, f"{node_id}'s audit log and the broker's disagree"

    figures = {
        "searches": SEARCHES,
        "clients": CLIENTS,
        "nodes": NODES,
        "records_per_node": RECORDS_PER_NODE,
        "distinct_searches": len(distinct),
        "seconds": round(elapsed, 1),
        "searches_per_second": round(SEARCHES / elapsed, 1),
        "lost": sum(lost.values()),
        "wrong": wrong,
        "peak_rss_mb": round(peak, 1),
        "peak_rss_mb_before_load": round(rss_before, 1),
        "broker_log_entries": len(broker_ids),
        "node_audit_entries": node_entries,
    }
    print("\nload:", json.dumps(figures))
    if REPORT:
        Path(REPORT).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")

    assert not lost, dict(lost)
    assert wrong == 0
    assert len(broker_ids) == SEARCHES + len(distinct)
    assert node_entries == len(broker_ids) * NODES
    assert peak < PEAK_RSS_LIMIT_MB, f"peak RSS {peak:.0f} MB"
