"""The audit entry names, per matched record, the warrants that applied to it — over real gRPC.

A sanctuary-county node with its real audit store holds the demo subject's
booking and incident report, a sealed copy of the booking, and a booking of
a namesake born on 3 July instead of 7 March (a different person the fuzzy
search still matches). A federal agent presents four warrants: one naming the
subject for bookings only, one naming the subject for every record kind, one
naming the subject but expired, and one naming someone else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldgate.client.broker_client import Requester, Warrant
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
from fieldgate.node.audit.verify import verify_log
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub

TODAY = dt.date.today()
BOOKING, INCIDENT = "KCSO-B-004417", "KCSO-I-031552"
SEALED, NAMESAKE = "KCSO-B-990001", "KCSO-B-990002"
NAMESAKE_DOB = "1986-07-03"
QUERY = common_pb2.PersonQuery(
    surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
)


def _warrant(warrant_id: str, **changes: Any) -> Warrant:
    base = Warrant(
        id=warrant_id,
        court="U.S. District Court, W.D. Washington",
        subject_surname=DEMO_SUBJECT.surname,
        subject_given_name=DEMO_SUBJECT.given_name,
        subject_dob=DEMO_SUBJECT.dob,
        covers=("location", "custody_status", "biometric", "contact"),
        expires=(TODAY + dt.timedelta(days=30)).isoformat(),
    )
    return dataclasses.replace(base, **changes)


WARRANTS = (
    _warrant("W-BOOKINGS", record_kinds=("booking",)),
    _warrant("W-ALL"),
    _warrant("W-EXPIRED", expires=(TODAY - dt.timedelta(days=1)).isoformat()),
    _warrant(
        "W-OTHER",
        subject_surname="KOVALENKO",
        subject_given_name="DMYTRO",
        subject_dob="1979-11-30",
    ),
)
AGENT = dataclasses.replace(
    {p.requester.subject: p.requester for p in demo_personas(TODAY)}["sa-2231"],
    warrants=WARRANTS,
)


@pytest.fixture
def node(loop: LoopThread, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(address, audit log) of a running sanctuary-county node with the records above."""
    records = generate_agency_records(DEMO_AGENCIES[0], count=40, seed=21)
    (booking,) = [r for r in records if r["record_id"] == BOOKING]
    sealed = {**booking, "record_id": SEALED, "booking_number": "K26990001", "sealed": True}
    namesake = {**booking, "record_id": NAMESAKE, "booking_number": "K26990002"}
    namesake.update(dob=NAMESAKE_DOB, phone="206-555-0199", state_id="WA99990002")
    path = tmp_path / "kcso.jsonl"
    write_jsonl([*records, sealed, namesake], path)
    spec = NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"), path)
    import_records(spec, tmp_path)
    running: LocalFederation = loop.run(start_federation([spec], tmp_path, audit=True))
    try:
        yield running.nodes["kcso"].address, tmp_path / "kcso.audit.sqlite"
    finally:
        loop.run(running.stop())


def _search(
    address: str, requester: Requester, request_id: str
) -> node_pb2.NodeServiceSearchResponse:
    channel, stub = node_stub(address)
    with channel:
        return stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id=request_id, requester=requester.to_message(), query=QUERY
            ),
            timeout=10,
        )


def _entry(audit: Path, request_id: str) -> tuple[str, dict[str, Any]]:
    """(canonical body, data) of the search entry of ``request_id``."""
    with AuditReader(audit) as reader:
        for row in reader.entries("search"):
            data = row.document()["data"]
            if data["request_id"] == request_id:
                return row.body, data
    raise AssertionError(f"no entry for {request_id}")


def test_each_record_names_exactly_the_warrants_that_applied_to_it(
    node: tuple[str, Path],
) -> None:
    address, audit = node
    answer = _search(address, AGENT, "warrants-1")
    body, data = _entry(audit, "warrants-1")
    applied = {r["record_id"]: r["warrants_applied"] for r in data["records"]}
    assert {BOOKING, INCIDENT, SEALED, NAMESAKE} <= set(applied)
    # The booking-only warrant is not logged on the incident report (a kind it
    # excludes); no warrant on the namesake; never the expired one nor the one
    # naming someone else. In the order the agent presented them.
    assert applied[BOOKING] == ["W-BOOKINGS", "W-ALL"]
    assert applied[INCIDENT] == ["W-ALL"]
    assert applied[NAMESAKE] == []
    # A sealed record is withheld before the contract is asked; its warrants
    # are judged the same way all the same, so a replay needs no guess.
    assert applied[SEALED] == ["W-BOOKINGS", "W-ALL"]
    assert all(set(ids) <= {"W-BOOKINGS", "W-ALL"} for ids in applied.values())
    assert [a["id"] for a in data["requester"]["authority"]] == [w.id for w in WARRANTS]
    # What the contract was told is what it decided by: the subject's address
    # goes out whole under the warrant, the namesake's only as a city.
    masks = {h.record_id: {f.name: f.mask for f in h.fields} for h in answer.hits}
    assert masks[BOOKING]["address"] == ""
    assert masks[NAMESAKE]["address"] == "city"
    assert SEALED not in masks
    # Whom the warrants name is never logged.
    for secret in (DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob, "KOVALENKO"):
        assert secret not in body
    assert "subject_surname" not in body
    assert "subject_dob" not in body
    assert verify_log(audit).ok


def test_a_search_without_warrants_logs_none_on_any_record(node: tuple[str, Path]) -> None:
    address, audit = node
    detective = {p.requester.subject: p.requester for p in demo_personas(TODAY)}["det-4711"]
    _search(address, detective, "warrants-none")
    _, data = _entry(audit, "warrants-none")
    assert data["records"]
    assert all(r["warrants_applied"] == [] for r in data["records"])
    assert data["requester"]["authority"] == []
