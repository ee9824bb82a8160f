"""No field leaves a node unless its contract releases it: a differential property test.

Hypothesis draws requesters (every agency type and purpose, with warrants that
apply, that name someone else, that have expired, that cover any mix of
fields and classes) and a person to look for; the search runs through real
gRPC against nodes running each shipped contract and contracts that fail in
every way; every released field is checked against the independent oracle in
``tests/helpers/oracle.py``: whole values, masked values, which records are
disclosed, the pointer contact and the match evidence. Set
``FIELDGATE_PROPERTY_EXAMPLES`` (e.g. 5000) for the nightly run. The same
nodes and oracle with signed searches, valid and invalid credentials:
``test_no_leak_signed.py``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.client.broker_client import Requester, Warrant
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES, RECORD_KINDS
from fieldgate.devkit.local_federation import LocalFederation, start_federation
from fieldgate.v2 import node_pb2
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.no_leak import (
    CATALOG,
    CLASSES,
    CONTRACTS,
    EXAMPLES,
    RECORDS,
    TIMEOUT,
    TODAY,
    check_answer,
    contract_specs,
    person_query,
)


@pytest.fixture(scope="module")
def federation(
    loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalFederation]:
    workdir = tmp_path_factory.mktemp("property")
    # Content, not timing, is checked here (tests/timing holds the answer floor):
    # without the hold, 150 cases × 7 nodes fit the time budget.
    running = loop.run(start_federation(contract_specs(workdir), workdir, answer_floor_seconds=0.0))
    yield running
    loop.run(running.stop())


@st.composite
def warrants(draw: st.DrawFn, target: dict[str, Any]) -> Warrant:
    other = draw(st.sampled_from(RECORDS))
    person = draw(st.sampled_from([target, other]))
    names = sorted(CATALOG.fields) + sorted(set(CLASSES.values()))
    return Warrant(
        id=draw(st.text("ABC123", min_size=1, max_size=6)),
        court="Superior Court",
        subject_surname=person["surname"],
        subject_given_name=draw(st.sampled_from([person["given_name"], ""])),
        subject_dob=person["dob"],
        covers=tuple(draw(st.lists(st.sampled_from(names), max_size=6, unique=True))),
        expires=(TODAY + dt.timedelta(days=draw(st.integers(-5, 30)))).isoformat(),
        record_kinds=tuple(
            draw(st.lists(st.sampled_from(sorted(RECORD_KINDS)), max_size=2, unique=True))
        ),
    )


@st.composite
def searches(draw: st.DrawFn) -> tuple[Requester, dict[str, Any]]:
    target = draw(st.sampled_from(RECORDS))
    requester = Requester(
        subject="s-1",
        agency="agency-1",
        agency_type=draw(st.sampled_from(sorted(AGENCY_TYPES))),
        purpose=draw(st.sampled_from(sorted(PURPOSES))),
        case_number="C-1",
        warrants=tuple(draw(st.lists(warrants(target), max_size=2, unique_by=lambda w: w.id))),
    )
    return requester, target


@pytest.mark.timeout(TIMEOUT)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(search=searches())
def test_no_field_leaves_unless_the_contract_releases_it(
    federation: LocalFederation, search: tuple[Requester, dict[str, Any]]
) -> None:
    requester, target = search
    query = person_query(target)
    for contract in CONTRACTS:
        running = federation.nodes[contract]
        channel, stub = node_stub(running.address)
        request = node_pb2.NodeServiceSearchRequest(
            request_id=f"p-{uuid.uuid4().hex}", requester=requester.to_message(), query=query
        )
        with channel:
            if contract == "syntax_error":
                # A node whose contract does not compile has none: it says it is not
                # answering (for every search alike) and nothing leaves.
                with pytest.raises(grpc.RpcError) as refused:
                    stub.Search(request, timeout=20)
                assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
                continue
            answer = stub.Search(request, timeout=20)
        check_answer(
            contract, running, requester, query, answer, federation.disclosure_logs[contract]
        )
