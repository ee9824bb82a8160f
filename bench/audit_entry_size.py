"""``python -m bench.audit_entry_size``: bytes per audit entry of the demo's searches.

A real node (KCSO's synthetic records, the ``sanctuary_county`` contract, no
TLS, no audit budget) answers the demo's three requesters searching the
planted person — the detective (disclosed), the immigration officer (denied:
every matching record withheld, every field logged) and the federal
investigator with a warrant. Each disclosure entry the node hands its log is
measured as the audit store keeps it: the canonical JSON of the whole entry
(:func:`fieldgate.node.audit.entries.envelope`), in the format this build
writes and in format 1 (every field's verdict spelt out per record, as builds
before compact entries wrote it).

    python -m bench.audit_entry_size [--records 3000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import grpc

from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import NodeSpec, import_records, node_config
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.audit.canonical import canonical_json
from fieldgate.node.audit.entries import ENTRY_FORMAT, SEARCH, envelope, search_data
from fieldgate.node.audit.entries_v1 import search_data_v1
from fieldgate.node.audit_budget import AuditBudgetConfig
from fieldgate.node.disclosure_log import DisclosureEntry, MemoryDisclosureLog
from fieldgate.node.server import start_node
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2, node_pb2, node_pb2_grpc


def _size(entry: DisclosureEntry, data: dict[str, Any], entry_format: int) -> int:
    document = envelope(1_000_000, SEARCH, entry.node_id, entry.time, data)
    document["format"] = entry_format
    return len(canonical_json(document).encode("utf-8"))


async def _entries(workdir: Path, records: int) -> list[DisclosureEntry]:
    agency = DEMO_AGENCIES[0]
    path = workdir / f"{agency.node_id}.jsonl"
    write_jsonl(generate_agency_records(agency, count=records, seed=11), path)
    spec = NodeSpec(agency.node_id, agency.name, shipped_contract("sanctuary_county"), path)
    import_records(spec, workdir)
    config = dataclasses.replace(
        node_config(spec, workdir), audit_budget=AuditBudgetConfig(enabled=False)
    )
    log = MemoryDisclosureLog()
    running = await start_node(config, log)
    query = common_pb2.PersonQuery(
        surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
    )
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            stub = node_pb2_grpc.NodeServiceStub(channel)
            for number, persona in enumerate(demo_personas(dt.date.today())):
                await stub.Search(
                    node_pb2.NodeServiceSearchRequest(
                        request_id=f"size-{number}",
                        requester=persona.requester.to_message(),
                        query=query,
                    ),
                    timeout=30,
                )
    finally:
        await running.stop()
    return list(log.entries)


def _per_record(entry: DisclosureEntry, writer: Any, entry_format: int) -> int:
    """What one more matching record adds to the entry (the whole less the first record)."""
    first = dataclasses.replace(
        entry,
        records=entry.records[:1],
        disclosed_record_ids=tuple(
            i for i in entry.disclosed_record_ids if i == entry.records[0].record_id
        ),
    )
    whole = _size(entry, writer(entry), entry_format)
    return (whole - _size(first, writer(first), entry_format)) // max(1, len(entry.records) - 1)


def measure(records: int) -> list[dict[str, Any]]:
    """One row per demo search: records matched, fields logged, bytes now and in format 1."""
    with tempfile.TemporaryDirectory(prefix="fieldgate-audit-size-") as directory:
        entries = asyncio.run(_entries(Path(directory), records))
    return [
        {
            "requester": entry.requester.subject,
            "purpose": entry.requester.purpose,
            "records": len(entry.records),
            "disclosed": len(entry.disclosed_record_ids),
            "fields": sum(len(r.verdict.fields) for r in entry.records),
            "format_1_bytes": _size(entry, search_data_v1(entry), 1),
            f"format_{ENTRY_FORMAT}_bytes": _size(entry, search_data(entry), ENTRY_FORMAT),
            "format_1_per_record": _per_record(entry, search_data_v1, 1),
            f"format_{ENTRY_FORMAT}_per_record": _per_record(entry, search_data, ENTRY_FORMAT),
        }
        for entry in entries
    ]


def main(argv: list[str] | None = None) -> int:
    """Run and print the table (or JSON)."""
    parser = argparse.ArgumentParser(prog="python -m bench.audit_entry_size")
    parser.add_argument("--records", type=int, default=3000, help="synthetic records at KCSO")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    rows = measure(args.records)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    now = f"format_{ENTRY_FORMAT}_bytes"
    more = f"format_{ENTRY_FORMAT}_per_record"
    print(f"{'requester':<10} {'purpose':<24} {'records':>7} {'fields':>6} "
          f"{'format 1':>9} {f'format {ENTRY_FORMAT}':>9}   per more record: "
          f"{'format 1':>9} {f'format {ENTRY_FORMAT}':>9}")  # fmt: skip
    for row in rows:
        print(f"{row['requester']:<10} {row['purpose']:<24} {row['records']:>7} "
              f"{row['fields']:>6} {row['format_1_bytes']:>9} {row[now]:>9}                    "
              f"{row['format_1_per_record']:>9} {row[more]:>9}")  # fmt: skip
    old = sum(r["format_1_bytes"] for r in rows) / len(rows)
    new = sum(r[now] for r in rows) / len(rows)
    print(f"mean bytes per entry: format 1 {old:.0f}, format {ENTRY_FORMAT} {new:.0f} "
          f"({new / old:.0%})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
