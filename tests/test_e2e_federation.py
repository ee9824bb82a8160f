"""End to end through real gRPC: three personas, three agencies, field by field.

Each answer is checked against an independent oracle (tests/helpers/oracle.py)
for every record the node holds that matches the search.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fieldgate.client.broker_client import Requester, SearchClient
from fieldgate.client.results import SearchResult
from fieldgate.core.query import validate_query
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.v2 import common_pb2
from tests.conftest import DemoFederation
from tests.helpers.oracle import expected

CLASSES = load_catalog(default_catalog_path()).classes()
PERSONAS = {p.label.split("\n")[0]: p.requester for p in demo_personas(dt.date.today())}


def search_subject(demo: DemoFederation, requester: Requester) -> SearchResult:
    with SearchClient(demo.broker_address) as client:
        return client.search(
            requester,
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
        )


def candidates(demo: DemoFederation, node_id: str) -> list[str]:
    """Record ids the node's store matches for the demo search (before any contract)."""
    store = demo.federation.nodes[node_id].store
    query = validate_query(
        common_pb2.PersonQuery(
            surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
        )
    )
    return [c.record.record_id for c in store.search(query, limit=100)]


def released(hit: Any) -> tuple[frozenset[str], dict[str, str]]:
    whole = frozenset(n for n, v in hit.fields.items() if not v.mask)
    masked = {n: v.mask for n, v in hit.fields.items() if v.mask}
    return whole, masked


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_every_agency_releases_exactly_what_its_contract_allows(
    demo: DemoFederation, persona: str
) -> None:
    requester = PERSONAS[persona]
    result = search_subject(demo, requester)
    assert [a.status for a in result.agencies] == ["answered"] * 3
    for agency in result.agencies:
        contract = demo.contracts[agency.node_id]
        held = demo.records[agency.node_id]
        matched = candidates(demo, agency.node_id)
        planted = {r.record_id for r in DEMO_SUBJECT.records_at(agency.node_id)}
        assert planted <= set(matched), f"{agency.node_id}: planted records not found"
        oracle = {
            rid: expected(contract, requester, held[rid], CLASSES, demo.today) for rid in matched
        }
        want_ids = {rid for rid, e in oracle.items() if e is not None}
        got = {h.record_id: h for h in agency.hits}
        assert set(got) == want_ids, f"{persona} at {agency.node_id}"
        for rid, hit in got.items():
            want = oracle[rid]
            assert want is not None
            whole, masked = released(hit)
            assert whole == want.whole, f"{persona} at {agency.node_id} {rid}: whole fields"
            assert masked == dict(want.masked), f"{persona} at {agency.node_id} {rid}: masks"
            for name in whole:
                assert hit.fields[name].value == held[rid][name]
            assert hit.contact["agency"] == agency.agency_name


def test_the_demo_makes_its_point(demo: DemoFederation) -> None:
    """Spot checks a reader of the demo relies on, independent of the oracle."""
    detective = search_subject(demo, PERSONAS["Detective"])
    officer = search_subject(demo, PERSONAS["Immigration officer"])
    federal = search_subject(demo, PERSONAS["Federal investigator"])

    def agency(result: SearchResult, node_id: str) -> Any:
        return next(a for a in result.agencies if a.node_id == node_id)

    kcso_detective = agency(detective, "kcso")
    assert kcso_detective.hits
    for hit in kcso_detective.hits:
        assert "surname" in hit.fields
        assert "citizenship" not in hit.fields
        assert "country_of_birth" not in hit.fields
        if "address" in hit.fields:
            assert hit.fields["address"].mask == "city"
            assert set(hit.fields["address"].value) == {"city", "state"}
    # The sanctuary county tells the immigration officer nothing at all.
    assert agency(officer, "kcso").hits == ()
    assert agency(officer, "spd").hits == ()
    # The permissive neighbour shares with everyone sworn, except citizenship.
    pcso_officer = agency(officer, "pcso")
    assert pcso_officer.hits
    assert all("citizenship" not in h.fields for h in pcso_officer.hits)
    # The warrant unlocks the address at the sanctuary county, not citizenship.
    kcso_federal = agency(federal, "kcso")
    bookings = [h for h in kcso_federal.hits if h.record_kind == "booking"]
    assert bookings
    assert any(
        "address" in h.fields
        and h.fields["address"].mask is None
        and "street" in h.fields["address"].value
        for h in bookings
    )
    assert all("citizenship" not in h.fields for h in kcso_federal.hits)
    # The pointer-only city answers with whom to call and nothing else.
    spd = agency(detective, "spd")
    assert spd.hits
    assert all(h.fields == {} and h.contact["phone"] for h in spd.hits)
    # Not even the match reasons: "birth date transposed" would reveal the withheld DOB.
    assert all(h.match_reasons == () for h in spd.hits)
