"""What the audit log costs a node: search latency, in-memory log vs the SQLite audit store.

Usage::

    .venv/bin/python scripts/bench_audit.py [--records 3000] [--searches 500]

Builds one node (King County's sanctuary contract, synthetic records) twice on
the same database — once with :class:`node.disclosure_log.MemoryDisclosureLog`,
once with the real :class:`node.audit.store.AuditStore` (WAL, synchronous=FULL,
a signed checkpoint every 100 entries) — and times ``AgencyNode.search`` (store
lookup, contract per candidate, audit write) in process, for a search that
hits (the planted person, as a detective) and one that matches nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from fieldgate.core.claims import validate_requester
from fieldgate.core.query import validate_query
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import NodeSpec, import_records, node_config
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.disclosure_log import DisclosureLog, MemoryDisclosureLog
from fieldgate.node.server import build_node, open_audit_log
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2


def timed(log: DisclosureLog, config: object, query: common_pb2.PersonQuery, n: int) -> list[float]:
    node = build_node(config, log)  # type: ignore[arg-type]
    claims = validate_requester(demo_personas(dt.date.today())[0].requester.to_message())
    validated = validate_query(query)
    for i in range(20):  # warm up
        node.search(f"warm-{i}", claims, validated)
    samples = []
    for i in range(n):
        started = time.perf_counter()
        node.search(f"req-{i}", claims, validated)
        samples.append((time.perf_counter() - started) * 1000)
    node.contract.close()
    node.store.close()
    return samples


def describe(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(ordered):.3f} ms, p95 {p95:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--searches", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        agency = DEMO_AGENCIES[0]
        path = workdir / "kcso.jsonl"
        write_jsonl(generate_agency_records(agency, count=args.records, seed=2026), path)
        spec = NodeSpec(agency.node_id, agency.name, shipped_contract("sanctuary_county"), path)
        import_records(spec, workdir)
        config = node_config(spec, workdir)
        queries = {
            "hit": common_pb2.PersonQuery(
                surname=DEMO_SUBJECT.surname,
                given_name=DEMO_SUBJECT.given_name,
                dob=DEMO_SUBJECT.dob,
            ),
            "no hit": common_pb2.PersonQuery(
                surname="QUIZZLEWICK", given_name="Z", dob="1950-01-01"
            ),
        }
        print(f"{args.records} records, {args.searches} searches each, in process")
        for label, query in queries.items():
            memory = timed(MemoryDisclosureLog(), config, query, args.searches)
            audit = open_audit_log(config)
            store = timed(audit, config, query, args.searches)
            audit.close()
            ratio = statistics.median(store) / statistics.median(memory)
            print(f"{label:7} memory log: {describe(memory)}")
            print(f"{label:7} audit log:  {describe(store)}  (median x{ratio:.2f})")


if __name__ == "__main__":
    main()
