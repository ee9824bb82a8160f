"""Scenario 2: what the real contract costs against a node that releases everything.

Two nodes over copies of the same store (KCSO's synthetic records) run in one
worker process: one with the shipped ``sanctuary_county`` contract, one with
``bench/contracts/release_all.rego``. The detective's search discloses the same
records under both (the node withholds sealed, juvenile and expunged records
before any contract is asked); only which fields go out differs. Two queries:
the demo subject (2 hits) and the store's most common name without a date of
birth (many hits, capped at the node's 25).

Each is timed through gRPC (client → node, interleaved) and in process
(``AgencyNode.search`` with an in-memory disclosure log: no transport, no
audit write), which isolates the store, the contract and the disclosure.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from bench.common import (
    DETECTIVE,
    RELEASE_ALL_CONTRACT,
    SANCTUARY_CONTRACT,
    FreshSearches,
    fresh_case_number,
    node_config,
    node_request,
    person_query,
)
from bench.data import build_store, copy_store
from bench.echo import NODE_SEARCH_METHOD, open_channel, raw_call
from bench.procs import start_worker, stop_all, wait_ready
from bench.stats import Summary, summarize
from fieldgate.core.claims import validate_requester
from fieldgate.core.query import validate_query
from fieldgate.devkit.synthetic import DEMO_SUBJECT, KCSO
from fieldgate.node.disclosure_log import MemoryDisclosureLog
from fieldgate.node.search import AgencyNode
from fieldgate.node.server import build_node
from fieldgate.v2 import common_pb2, node_pb2


@dataclass(frozen=True)
class ContractSettings:
    """How much of the contract scenario to run."""

    records: int
    grpc_rounds: int
    inprocess_rounds: int


@dataclass
class ContractCase:
    """One query under both contracts."""

    label: str
    query: dict[str, Any]
    hits: int
    same_hits: bool
    grpc_sanctuary: Summary
    grpc_release_all: Summary
    local_sanctuary: Summary
    local_release_all: Summary
    grpc_sanctuary_repeated: Summary
    grpc_release_all_repeated: Summary

    @property
    def grpc_ratio(self) -> float:
        """Sanctuary p50 / release-everything p50 through gRPC."""
        return self.grpc_sanctuary.p50 / self.grpc_release_all.p50

    @property
    def grpc_repeated_ratio(self) -> float:
        """The same when the requester asked the same before (the node's decision cache is warm)."""
        return self.grpc_sanctuary_repeated.p50 / self.grpc_release_all_repeated.p50

    @property
    def local_ratio(self) -> float:
        """Sanctuary p50 / release-everything p50 in process."""
        return self.local_sanctuary.p50 / self.local_release_all.p50

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "label": self.label,
            "query": self.query,
            "hits": self.hits,
            "same_hits": self.same_hits,
            "grpc_sanctuary": self.grpc_sanctuary.as_dict(),
            "grpc_release_all": self.grpc_release_all.as_dict(),
            "local_sanctuary": self.local_sanctuary.as_dict(),
            "local_release_all": self.local_release_all.as_dict(),
            "grpc_sanctuary_repeated": self.grpc_sanctuary_repeated.as_dict(),
            "grpc_release_all_repeated": self.grpc_release_all_repeated.as_dict(),
            "grpc_ratio": self.grpc_ratio,
            "grpc_repeated_ratio": self.grpc_repeated_ratio,
            "local_ratio": self.local_ratio,
        }


@dataclass
class ContractResult:
    """Both queries' figures and the store they ran on."""

    records: int
    store: Path
    cases: list[ContractCase]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"records": self.records, "cases": [c.as_dict() for c in self.cases]}


def common_name(store: Path) -> tuple[str, str]:
    """The (surname, given name) most unrestricted records in ``store`` are held under."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT n.surname, n.given_name, count(*) AS c FROM names n"
            " JOIN records r ON r.record_id = n.record_id"
            " WHERE n.is_alias = 0 AND r.sealed = 0 AND r.juvenile = 0 AND r.expunged = 0"
            " GROUP BY n.surname, n.given_name ORDER BY c DESC, n.surname LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    return str(row[0]), str(row[1])


def contract_store(workdir: Path, records: int) -> Path:
    """KCSO's synthetic store of ``records`` background records."""
    path = workdir / "contract" / "kcso.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    build_store(path, [(KCSO, records)])
    return path


def _queries(store: Path) -> list[tuple[str, common_pb2.PersonQuery]]:
    surname, given = common_name(store)
    return [
        (
            f"demo subject ({DEMO_SUBJECT.surname}, {DEMO_SUBJECT.given_name}, {DEMO_SUBJECT.dob})",
            person_query(DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob),
        ),
        (f"common name ({surname}, {given}; no DOB)", person_query(surname, given)),
    ]


def local_node(store: Path, contract: Path, node_id: str) -> AgencyNode:
    """A node core in this process, with an in-memory disclosure log (no audit write)."""
    config = node_config(node_id, "King County Sheriff's Office", store, contract)
    return build_node(config, MemoryDisclosureLog())


def _time_local(node: AgencyNode, query: common_pb2.PersonQuery, rounds: int) -> list[float]:
    parsed = validate_query(query)
    out: list[float] = []
    for i in range(rounds):
        requester = common_pb2.Requester()
        requester.CopyFrom(DETECTIVE)
        requester.case_number = fresh_case_number()  # a first search
        claims = validate_requester(requester)
        started = time.perf_counter()
        node.search(f"local-{i}", claims, parsed)
        out.append(time.perf_counter() - started)
    return out


async def run_contract(
    settings: ContractSettings, workdir: Path, log: Callable[[str], None]
) -> ContractResult:
    """Measure both contracts on both queries."""
    store = contract_store(workdir, settings.records)
    sanctuary_db = copy_store(store, workdir / "contract" / "sanctuary.sqlite")
    release_db = copy_store(store, workdir / "contract" / "release_all.sqlite")
    queries = _queries(store)
    worker = start_worker(
        {
            "kind": "nodes",
            "nodes": [
                {
                    "node_id": "kcso-sanctuary",
                    "agency_name": "King County Sheriff's Office",
                    "database": str(sanctuary_db),
                    "contract": str(SANCTUARY_CONTRACT),
                },
                {
                    "node_id": "kcso-release-all",
                    "agency_name": "King County Sheriff's Office",
                    "database": str(release_db),
                    "contract": str(RELEASE_ALL_CONTRACT),
                },
            ],
            "echo": False,
        },
        workdir,
        "contract-nodes",
    )
    wait_ready([worker], timeout=60)
    addresses = {n["node_id"]: n["address"] for n in worker.info["nodes"]}
    channels = {k: open_channel(a) for k, a in addresses.items()}
    calls = {k: raw_call(c, NODE_SEARCH_METHOD) for k, c in channels.items()}
    cases: list[ContractCase] = []
    try:
        for label, query in queries:
            payload = node_request(query, "bench-contract").SerializeToString()
            answers = {
                k: node_pb2.NodeServiceSearchResponse.FromString(await call(payload, timeout=60))
                for k, call in calls.items()
            }
            ids = {k: [h.record_id for h in a.hits] for k, a in answers.items()}
            rounds = settings.grpc_rounds + 10
            # First searches: every round under a case number never seen, so the
            # node's decision cache cannot answer and the engine decides each hit.
            searches = FreshSearches(query, "bench-contract")
            fresh = [searches.node() for _ in range(rounds)]
            samples = await _interleaved(calls, fresh)
            repeated = await _interleaved(calls, [payload] * rounds)
            local = await asyncio.to_thread(_local_pair, store, workdir, query, settings)
            case = ContractCase(
                label=label,
                query={"surname": query.surname, "given_name": query.given_name, "dob": query.dob},
                hits=len(ids["kcso-sanctuary"]),
                same_hits=ids["kcso-sanctuary"] == ids["kcso-release-all"],
                grpc_sanctuary=summarize(samples["kcso-sanctuary"]),
                grpc_release_all=summarize(samples["kcso-release-all"]),
                local_sanctuary=summarize(local[0]),
                local_release_all=summarize(local[1]),
                grpc_sanctuary_repeated=summarize(repeated["kcso-sanctuary"]),
                grpc_release_all_repeated=summarize(repeated["kcso-release-all"]),
            )
            log(
                f"contract, {label}: {case.hits} hits, gRPC p50 "
                f"{case.grpc_sanctuary.p50:.2f} vs {case.grpc_release_all.p50:.2f} ms "
                f"(×{case.grpc_ratio:.2f}); in process {case.local_sanctuary.p50:.2f} vs "
                f"{case.local_release_all.p50:.2f} ms (×{case.local_ratio:.2f})"
            )
            cases.append(case)
    finally:
        await asyncio.gather(*(c.close(None) for c in channels.values()))
        stop_all([worker])
    return ContractResult(settings.records, store, cases)


async def _interleaved(
    calls: Mapping[str, grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]], payloads: list[bytes]
) -> dict[str, list[float]]:
    """Send each payload to every node in turn (alternating the order); times after 10 rounds."""
    samples: dict[str, list[float]] = {k: [] for k in calls}
    order = list(calls)
    for r, payload in enumerate(payloads):
        for k in order if r % 2 == 0 else reversed(order):
            started = time.perf_counter()
            await calls[k](payload, timeout=60)
            if r >= 10:
                samples[k].append(time.perf_counter() - started)
    return samples


def _local_pair(
    store: Path, workdir: Path, query: common_pb2.PersonQuery, settings: ContractSettings
) -> tuple[list[float], list[float]]:
    sanctuary = local_node(
        copy_store(store, workdir / "contract" / "local-sanctuary.sqlite"),
        SANCTUARY_CONTRACT,
        "kcso",
    )
    release_all = local_node(
        copy_store(store, workdir / "contract" / "local-release-all.sqlite"),
        RELEASE_ALL_CONTRACT,
        "kcso",
    )
    try:
        a: list[float] = []
        b: list[float] = []
        _time_local(sanctuary, query, 10)
        _time_local(release_all, query, 10)
        chunk = 10
        for _ in range(max(1, settings.inprocess_rounds // chunk)):
            a += _time_local(sanctuary, query, chunk)
            b += _time_local(release_all, query, chunk)
        return a, b
    finally:
        for node in (sanctuary, release_all):
            node.contract.close()
            node.store.close()
