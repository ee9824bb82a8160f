"""Audit storage no requester can exhaust: one requester at full speed meets its budget, alone.

A real node with its real audit store (SQLite file) under the sanctuary
contract; an immigration requester searches the planted person (denied, but
audited, every time) as fast as it can. Its searches are refused with
RESOURCE_EXHAUSTED once its budget is spent, the audit file's growth stays
bounded by the budget, and a county detective is still served.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import grpc
import pytest

from fieldgate.core.claims import RequesterClaims
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import NodeSpec, import_records, node_config
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit_budget import AuditBudget, AuditBudgetConfig, AuditBudgetExceeded
from fieldgate.node.server import start_node
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub

BUDGET = 40_000
SUBJECT_QUERY = common_pb2.PersonQuery(
    surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
)


def _persona(purpose: str) -> common_pb2.Requester:
    for persona in demo_personas(dt.date.today()):
        if persona.requester.purpose == purpose:
            return persona.requester.to_message()
    raise AssertionError(purpose)


def _audit_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return sum(p.stat().st_size for p in (path, wal) if p.exists())


def test_one_requester_at_full_speed_meets_its_budget_and_no_one_else_does(
    loop: LoopThread, tmp_path: Path
) -> None:
    agency = DEMO_AGENCIES[0]  # kcso, sanctuary county: immigration searches are denied
    records = tmp_path / "kcso.jsonl"
    write_jsonl(generate_agency_records(agency, count=120, seed=5), records)
    spec = NodeSpec(agency.node_id, agency.name, shipped_contract("sanctuary_county"), records)
    import_records(spec, tmp_path)
    config = dataclasses.replace(
        node_config(spec, tmp_path),
        audit_budget=AuditBudgetConfig(requester_bytes=BUDGET, agency_bytes=10**9),
    )
    running = loop.run(start_node(config))
    audit_path = tmp_path / "kcso.audit.sqlite"
    immigration, detective = _persona("civil_immigration"), _persona("criminal_investigation")
    try:
        channel, stub = node_stub(running.address)
        with channel:
            before = _audit_bytes(audit_path)
            answered = 0
            refusal = None
            for number in range(2000):
                try:
                    stub.Search(
                        node_pb2.NodeServiceSearchRequest(
                            request_id=f"ice-{number}", requester=immigration, query=SUBJECT_QUERY
                        ),
                        timeout=10,
                    )
                except grpc.RpcError as exc:
                    refusal = exc
                    break
                answered += 1
            assert refusal is not None, "the budget never ran out"
            assert refusal.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "audit budget" in (refusal.details() or "")
            # Only the first refusal is audited: the log stops growing for this requester.
            for number in range(50):
                with pytest.raises(grpc.RpcError) as again:
                    stub.Search(
                        node_pb2.NodeServiceSearchRequest(
                            request_id=f"ice-again-{number}",
                            requester=immigration,
                            query=SUBJECT_QUERY,
                        ),
                        timeout=10,
                    )
                assert again.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            grown = _audit_bytes(audit_path) - before
            registry = running.node.metrics.registry
            refused = registry.get_sample_value(
                "fieldgate_node_audit_budget_refusals_total", {"budget": "requester"}
            )
            assert refused == 51
            volume = registry.get_sample_value("fieldgate_node_audit_volume_bytes")
            assert volume == _audit_bytes(audit_path)
            # Someone else is served as before.
            answer = stub.Search(
                node_pb2.NodeServiceSearchRequest(
                    request_id="detective-1", requester=detective, query=SUBJECT_QUERY
                ),
                timeout=10,
            )
            assert answer.hits
    finally:
        loop.run(running.stop())
    with AuditReader(audit_path) as reader:
        ice_entries = [
            row
            for row in reader.entries("search")
            if str(row.document().get("data", {}).get("request_id", "")).startswith("ice-")
        ]
        refusals = [row.document()["data"] for row in reader.entries("budget_refused")]
    # The refusal is in the log once (not 51 times), naming who and which budget.
    assert len(refusals) == 1
    assert refusals[0]["requester"]["subject"] == "ero-0917"
    assert refusals[0]["budget"] == "requester"
    assert refusals[0]["spent_bytes"] >= BUDGET
    assert len(ice_entries) == answered
    assert not any("again" in str(r.document()["data"]["request_id"]) for r in ice_entries)
    stored = sum(len(row.body.encode("utf-8")) for row in ice_entries)
    largest = max(len(row.body.encode("utf-8")) for row in ice_entries)
    print(
        f"\n{answered} audited searches ({stored} bytes of entries, largest {largest}), "
        f"then refused; audit files grew {grown} bytes for a budget of {BUDGET} bytes"
    )
    assert answered >= 2
    # The requester caused at most its budget plus the one entry that crossed it.
    assert stored <= BUDGET + largest
    # Charged exactly what the store kept (its body as written, and two chain hashes
    # per row): the size comes from the one serialisation the store made.
    assert refusals[0]["spent_bytes"] == stored + answered * 2 * 64


def _claims(subject: str, agency: str = "ice") -> RequesterClaims:
    return RequesterClaims(subject, agency, "civil_immigration", (), "civil_immigration", "", ())


def test_budgets_are_per_requester_and_agency_and_return_with_the_window() -> None:
    now = [0.0]
    budget = AuditBudget(
        AuditBudgetConfig(requester_bytes=1000, agency_bytes=1500, window_seconds=60),
        clock=lambda: now[0],
    )
    budget.charge(_claims("a"), 1000)
    with pytest.raises(AuditBudgetExceeded, match="requester"):
        budget.admit(_claims("a"))
    budget.admit(_claims("b"))  # another requester of the same agency
    budget.charge(_claims("b"), 600)
    with pytest.raises(AuditBudgetExceeded, match="agency"):
        budget.admit(_claims("c"))
    budget.admit(_claims("d", agency="spd"))  # another agency
    now[0] = 61.0
    budget.admit(_claims("a"))
    assert budget.refusals == 2
