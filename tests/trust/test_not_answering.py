"""A node that cannot decide says so, for every search alike (issue 16 item 5, issue 21 item 3).

Through real gRPC: nodes whose trust data went stale answer "not answering —
trust data stale" (``status``/``reason`` inside their signed answer, sealed
to the requester: the broker relays bytes it cannot read), the client shows
it per agency, its table and JSON never read it as "no record", the answer is
the same for a held person and an absent one, and a hostile broker that
replaces it with a "no record" answer of its own making is caught by the
answer's signature.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import jwt
import pytest
from rich.console import Console

from fieldgate.client.answer_check import FAILED_VERIFICATION, AnswerCheck
from fieldgate.client.broker_client import SearchClient
from fieldgate.client.render import agency_table
from fieldgate.client.results import SearchResult
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.trust.answers import AnswerSigner, unverified_nonce
from fieldgate.trust.keys import enc_key_from_jwk, generate_key
from fieldgate.v2 import broker_pb2
from tests.helpers.federation import LoopThread
from tests.helpers.signed_federation import (
    CRIMINAL,
    SignedFed,
    answer_check,
    signed_federation,
)


@pytest.fixture(scope="module")
def fed(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignedFed]:
    with signed_federation(loop, tmp_path_factory.mktemp("not-answering"), 60) as running:
        yield running


def _search(
    fed: SignedFed, address: str, surname: str, dob: str
) -> tuple[SearchResult, AnswerCheck]:
    # The investigator's own copy of the node keys stays usable: only the nodes' data is stale.
    check = answer_check(fed.kit)
    identity = fed.kit.identity("bellevue-pd", "det-4711", ["criminal_investigation"])
    tls = None if address == fed.hostile.address else fed.pki.files("investigator")
    with SearchClient(address, tls, answers=check) as client:
        result = client.search(
            CRIMINAL, surname=surname, given_name=DEMO_SUBJECT.given_name, dob=dob,
            identity=identity,
        )  # fmt: skip
    return result, check


@pytest.fixture
def stale(fed: SignedFed) -> Iterator[None]:
    """Every node's trust data is past its maximum age (the broker's copy is still fresh)."""
    stores = []
    for node in fed.federation.nodes.values():
        assert node.gate.verifier is not None
        stores.append((node.gate.verifier.trust, node.gate.verifier.trust.max_age))
        node.gate.verifier.trust.max_age = dt.timedelta(0)
    try:
        yield
    finally:
        for store, max_age in stores:
            store.max_age = max_age


def _shape(result: SearchResult) -> list[tuple[str, str, str, str, int]]:
    return [
        (a.node_id, a.status, a.not_answering_reason, a.detail, len(a.hits))
        for a in result.agencies
    ]


@pytest.mark.usefixtures("stale")
def test_stale_trust_reads_not_answering_never_no_record(fed: SignedFed) -> None:
    broker = fed.federation.broker_address
    held, check = _search(fed, broker, DEMO_SUBJECT.surname, DEMO_SUBJECT.dob)
    assert not check.failed  # the reason verified against each node's signature
    kcso = next(a for a in held.agencies if a.node_id == "kcso")
    assert kcso.status == "not_answering"
    assert kcso.not_answering_reason == "trust_stale"
    assert kcso.detail == "King County Sheriff's Office: not answering — trust data stale"
    document = held.to_json()
    assert document["summary"]["answered"] == 0
    assert document["summary"]["not_answering"] == 3
    assert all(a["answered"] is False for a in document["agencies"])
    # The table says "could not answer", never "no records disclosed".
    console = Console(width=80, record=True)
    console.print(agency_table(kcso))
    text = console.export_text()
    assert "not answering" in text
    assert "no records disclosed" not in text
    assert "not 'no record'" in text
    # The same for a person nobody holds: the status reveals nothing about anyone.
    absent, _ = _search(fed, broker, "QUIZZLEWICK", "1901-01-01")
    assert _shape(absent) == _shape(held)


@pytest.mark.usefixtures("stale")
def test_a_broker_faking_no_record_is_caught(fed: SignedFed) -> None:
    def fake(response: broker_pb2.SearchResponse) -> broker_pb2.SearchResponse:
        # The broker cannot read or strip the sealed reason: it can only put in an
        # "answered, no hits" of its own making, sealed to the requester's key.
        request = fed.hostile.last_request
        claims = jwt.decode(request.signed.credential, options={"verify_signature": False})
        kcso = next(r for r in response.results if r.node_id == "kcso")
        kcso.answer.CopyFrom(
            AnswerSigner("kcso", generate_key()).seal(
                recipient=enc_key_from_jwk(claims["enc"]),
                nonce=unverified_nonce(request.signed.proof),
                proof=request.signed.proof,
                hits=[],
            )
        )
        return response

    fed.hostile.tamper = fake
    try:
        result, check = _search(fed, fed.hostile.address, DEMO_SUBJECT.surname, DEMO_SUBJECT.dob)
    finally:
        fed.hostile.tamper = lambda response: response
    views = {a.node_id: a.status for a in result.agencies}
    assert views["kcso"] == FAILED_VERIFICATION
    assert views["spd"] == "not_answering"
    assert check.failed


def test_fresh_trust_answers_again(fed: SignedFed) -> None:
    result, check = _search(
        fed, fed.federation.broker_address, DEMO_SUBJECT.surname, DEMO_SUBJECT.dob
    )
    assert {a.status for a in result.agencies} == {"answered"}
    assert not check.failed
