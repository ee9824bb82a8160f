"""Addressed searches and warrants bound to their holder, attacked through real gRPC.

A compromised broker holds a genuine signed search: it replays it to a node it
was not addressed to. An immigration officer holds a copy of the FBI's
warrant for the very person they search. Both get exactly the not-found
answer (or nothing more than without the warrant), and each node's operator
sees why in its log and counters.
"""

from __future__ import annotations

import datetime as dt
import logging

import grpc
import pytest

from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import SearchClient, SearchError
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.trust.config import build_store
from fieldgate.trust.sealing import ANSWER_BUCKETS
from fieldgate.v2 import node_pb2
from tests.trust import test_trust_e2e
from tests.trust.test_trust_e2e import (
    CRIMINAL,
    IMMIGRATION,
    TODAY,
    Trusted,
    hits_via_broker,
    node_answer,
    refused,
    sign,
)

trusted = test_trust_e2e.trusted
"""The same signed federation fixture (a federation of its own for this module)."""


class _Absent:
    """Equal to any answer shaped like a node's answer for a person it does not hold:
    no hits once opened, sealed in the smallest answer bucket."""

    def __init__(self, trusted: Trusted, node_id: str) -> None:
        self.node_id = node_id

    def __eq__(self, answer: object) -> bool:
        return (
            isinstance(answer, node_pb2.NodeServiceSearchResponse)
            and answer.request_id == "r1"
            and answer.node_id == self.node_id
            and not answer.hits
            and len(answer.answer.ciphertext) == ANSWER_BUCKETS[0] + 16
        )

    __hash__ = None  # type: ignore[assignment]


_absent = _Absent


def test_a_search_replayed_to_a_node_it_was_not_addressed_to_gets_nothing(
    trusted: Trusted, caplog: pytest.LogCaptureFixture
) -> None:
    identity = trusted.kit.identity("bellevue-pd", "det-4711", ["criminal_investigation"])
    for_kcso = sign(identity, audience=("kcso",))
    # The compromised broker replays it to the other agencies first.
    for node_id in ("spd", "pcso"):
        before = refused(trusted, node_id, "not_addressed")
        with caplog.at_level(logging.WARNING, logger="fieldgate.node"):
            answer = node_answer(trusted, node_id, for_kcso)
        assert answer == _absent(trusted, node_id)
        assert refused(trusted, node_id, "not_addressed") == before + 1
        assert any("not_addressed" in r.getMessage() for r in caplog.records)
        caplog.clear()
    # The node it was meant for answers it: the proof is genuine, only misdirected.
    assert node_answer(trusted, "kcso", for_kcso).hits


def test_the_broker_asks_only_the_addressed_agencies(trusted: Trusted) -> None:
    identity = trusted.kit.identity("bellevue-pd", "det-4711", ["criminal_investigation"])
    requests = {n: r.node.counters.requests for n, r in trusted.federation.nodes.items()}
    with SearchClient(
        trusted.federation.broker_address,
        trusted.pki.files("investigator"),
        answers=AnswerCheck(build_store(trusted.kit.config())),
    ) as client:
        result = client.search(
            CRIMINAL,
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
            identity=identity,
            audience=["kcso"],
        )
        assert [a.node_id for a in result.agencies] == ["kcso"]
        assert result.agencies[0].hits
        after = {n: r.node.counters.requests for n, r in trusted.federation.nodes.items()}
        assert after == {**requests, "kcso": requests["kcso"] + 1}
        # An audience naming a node the broker does not route to is refused, clearly.
        with pytest.raises(SearchError) as caught:
            client.search(
                CRIMINAL,
                surname=DEMO_SUBJECT.surname,
                dob=DEMO_SUBJECT.dob,
                identity=identity,
                audience=["kcso", "nowhere-pd"],
            )
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "nowhere-pd" in caught.value.details


def _address_fields(answer: node_pb2.NodeServiceSearchResponse) -> set[tuple[str, str]]:
    return {(f.name, f.mask) for h in answer.hits for f in h.fields}


def test_a_copy_of_another_agencys_warrant_unlocks_nothing(trusted: Trusted) -> None:
    kit = trusted.kit
    expires = TODAY + dt.timedelta(days=30)
    fbi_warrant = kit.warrant(
        "W-FBI-7", DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob,
        ["location"], expires, applicant_agency="fbi-seattle", case_number="C-1",
    )  # fmt: skip
    agent = kit.identity("fbi-seattle", "sa-2231", ["criminal_investigation"])
    # The holder's search gets what the warrant covers (positive control).
    with_warrant = node_answer(trusted, "pcso", sign(agent, warrants=(fbi_warrant,)))
    assert ("address", "") in _address_fields(with_warrant)

    # The immigration officer's search for the same person, with and without the copy.
    def officer_fields(warrants: tuple[str, ...]) -> set[tuple[str, str]]:
        officer = kit.identity("ice-ero-seattle", "ero-0917", ["civil_immigration"])
        return _address_fields(
            node_answer(trusted, "pcso", sign(officer, "civil_immigration", warrants=warrants))
        )

    without = officer_fields(())
    before = refused(trusted, "pcso", "warrant_holder")
    copied = officer_fields((fbi_warrant,))
    assert copied <= without
    assert ("address", "") not in copied
    assert refused(trusted, "pcso", "warrant_holder") == before + 1
    # Through the broker the copy is refused before any agency is asked.
    officer = kit.identity("ice-ero-seattle", "ero-0917", ["civil_immigration"])
    # The warrant is sealed: the broker cannot see it, every node refuses the copy.
    assert hits_via_broker(trusted, officer, IMMIGRATION, (fbi_warrant,)) == {
        "kcso": 0,
        "spd": 0,
        "pcso": 0,
    }


def test_a_warrant_applies_only_to_its_case_and_named_investigator(trusted: Trusted) -> None:
    kit = trusted.kit
    expires = TODAY + dt.timedelta(days=30)
    other_case = kit.warrant(
        "W-FBI-8", DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob,
        ["location"], expires, applicant_agency="fbi-seattle", case_number="C-OTHER",
    )  # fmt: skip
    personal = kit.warrant(
        "W-FBI-9", DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob,
        ["location"], expires, applicant_agency="fbi-seattle", case_number="C-1",
        investigator="sa-2231",
    )  # fmt: skip
    agent = kit.identity("fbi-seattle", "sa-2231", ["criminal_investigation"])
    colleague = kit.identity("fbi-seattle", "sa-0001", ["criminal_investigation"])
    before = refused(trusted, "kcso", "warrant_holder")
    assert node_answer(trusted, "kcso", sign(agent, warrants=(other_case,))) == _absent(
        trusted, "kcso"
    )
    assert node_answer(trusted, "kcso", sign(colleague, warrants=(personal,))) == _absent(
        trusted, "kcso"
    )
    assert refused(trusted, "kcso", "warrant_holder") == before + 2
    # The named investigator, on the warrant's own case, is served by it.
    answer = node_answer(trusted, "kcso", sign(agent, warrants=(personal,)))
    assert ("address", "") in _address_fields(answer)


def test_the_credentials_reach_decides_where_the_search_goes(trusted: Trusted) -> None:
    """The requesting agency's own rule (the credential's reach): the client addresses only
    those agencies, refuses an audience outside it, and nothing else is asked."""
    limited = trusted.kit.identity(
        "bellevue-pd", "det-4711", ["criminal_investigation"], reach=["kcso", "pcso"]
    )
    requests = {n: r.node.counters.requests for n, r in trusted.federation.nodes.items()}
    with SearchClient(
        trusted.federation.broker_address,
        trusted.pki.files("investigator"),
        answers=AnswerCheck(build_store(trusted.kit.config())),
    ) as client:
        result = client.search(
            CRIMINAL,
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
            identity=limited,
        )
        assert [a.node_id for a in result.agencies] == ["kcso", "pcso"]
        with pytest.raises(SearchError) as caught:
            client.search(CRIMINAL, surname="DOE", dob="1980-01-01", identity=limited,
                          audience=["spd"])  # fmt: skip
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "reach" in caught.value.details
    after = {n: r.node.counters.requests for n, r in trusted.federation.nodes.items()}
    assert after == {**requests, "kcso": requests["kcso"] + 1, "pcso": requests["pcso"] + 1}
