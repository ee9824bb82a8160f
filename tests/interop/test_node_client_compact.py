"""The Node.js client with compact audiences and reaches (``{"dir", "except"}``).

Four agencies answer here (the demo's three and the immigration agency's node),
so a search to all of them writes its audience compact — shorter than the list
— and a fifth agency is in the signed directory only (a later ``since``, no
node running). The Node.js client must address every node a compact audience
or reach names and no other; the real broker forwards it and the real nodes
evaluate it over their own directory: a search replayed to a node its compact
audience excepts gets nothing, and a key moved to another node does not open.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import Requester, SearchClient
from fieldgate.devkit.demo import DEMO_NODES
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.trust.audience import Audience
from fieldgate.trust.config import build_store
from fieldgate.trust.reach import Reach
from fieldgate.trust.sealing import ANSWER_BUCKETS
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.interop import (
    CASE,
    PURPOSE,
    Interop,
    by_node,
    detective,
    node_search,
    signed_search,
    start_interop,
    stop_interop,
)
from tests.helpers.nodejs import run_json, run_node
from tests.helpers.sealed import ENC_KEYS, hits

ANSWERING = [agency.node_id for agency in DEMO_NODES]
ARCHIVE = "olympia-records-archive-without-a-node"
"""In the signed directory (joined last), but no node runs it and no broker routes to it."""


@pytest.fixture(scope="module")
def interop(
    client_dir: object, loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Interop]:
    """Four answering agencies and a directory-only one (overrides conftest's three)."""
    running = start_interop(
        loop, tmp_path_factory.mktemp("node-compact"), DEMO_NODES, directory_only=[ARCHIVE]
    )
    yield running
    stop_interop(loop, running)


def _bundle(interop: Interop) -> dict[str, Any]:
    signed = json.loads(interop.kit.bundle_path.read_text(encoding="utf-8"))["signed"]
    document: dict[str, Any] = jwt.decode(signed, options={"verify_signature": False})
    return document


def _since(interop: Interop) -> dict[str, int]:
    return {n["id"]: n["since"] for n in _bundle(interop)["nodes"]}


def _asked(interop: Interop, request_id: str) -> set[str]:
    logs = interop.federation.disclosure_logs
    return {n for n in ANSWERING if any(e.request_id == request_id for e in logs[n].entries)}


def test_a_search_to_every_agency_goes_out_with_a_compact_audience(interop: Interop) -> None:
    identity = detective(interop)
    # Through the (for now honest) hostile broker: it shows what a broker receives.
    status, output = node_search(interop, identity, interop.hostile.address)
    assert status == 0, output
    assert output["audience_form"] == "compact"
    assert sorted(output["audience"]) == sorted(ANSWERING)
    assert output["not_asked"] == [{"node_id": ARCHIVE, "reason": "not_routed_by_broker"}]
    aud = jwt.decode(interop.hostile.last_proof, options={"verify_signature": False})["aud"]
    # Every answering node joined by ice-ero's serial; the archive joined later.
    since = _since(interop)
    assert aud == {"dir": since["ice-ero"], "except": []}
    assert since[ARCHIVE] > aud["dir"]
    # One body, one wrapped key per addressed node.
    keys = interop.hostile.last_request.signed.keys
    assert sorted(k.node_id for k in keys) == sorted(ANSWERING)
    assert all(a["status"] == "answered" for a in output["agencies"])
    assert _asked(interop, output["request_id"]) == set(ANSWERING)
    # The same hits the Python client finds, agency by agency.
    with SearchClient(
        interop.federation.broker_address,
        interop.pki.files("investigator"),
        answers=AnswerCheck(build_store(interop.kit.config())),
    ) as client:
        python = client.search(
            Requester("", "", "", PURPOSE, CASE),
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
            identity=identity,
            audience=ANSWERING,
        )
    found = {n: sorted(h["record_kind"] for h in a["hits"]) for n, a in by_node(output).items()}
    assert found == {a.node_id: sorted(h.record_kind for h in a.hits) for a in python.agencies}
    assert any(found.values())


def test_a_compact_reach_keeps_its_excepted_agency_out(interop: Interop) -> None:
    since = _since(interop)
    reason = "civil immigration agency (county ordinance 18-123)"
    reach = Reach(
        Audience(dir=max(since.values()), excepted=frozenset({"ice-ero"})),
        {"ice-ero": reason},
    )
    identity = detective(interop, reach=reach)
    claims = jwt.decode(identity.credential, options={"verify_signature": False})
    assert claims["reach"] == {"dir": max(since.values()), "except": ["ice-ero"]}
    assert claims["unreached"] == {reason: ["ice-ero"]}
    status, output = node_search(interop, identity, interop.federation.broker_address)
    assert status == 0, output
    assert sorted(output["audience"]) == ["kcso", "pcso", "spd"]
    # Three short ids: the list is as short as {"dir": d, "except": []}, so the list.
    assert output["audience_form"] == "list"
    assert {"node_id": "ice-ero", "reason": "outside_reach", "why": reason} in output["not_asked"]
    assert _asked(interop, output["request_id"]) == {"kcso", "pcso", "spd"}
    # Naming it is refused before anything is sent.
    done = run_node(
        "search.mjs",
        "--broker", interop.federation.broker_address,
        *interop.files("det-4711", identity),
        "--surname", "DOE", "--given-name", "JOHN",
        "--purpose", PURPOSE, "--case-number", CASE,
        "--audience", "kcso,ice-ero",
    )  # fmt: skip
    assert done.returncode == 2
    assert "outside the credential's reach: ice-ero" in done.stderr


def _sealed_by_node(interop: Interop, audience: list[str]) -> common_pb2.SignedSearch:
    """A search the Node.js client built for ``audience`` (its tool, the real directory)."""
    identity = detective(interop)
    assert identity.enc_key is not None
    ENC_KEYS[identity.credential] = identity.enc_key
    bundle = _bundle(interop)
    request = {
        "credential": identity.credential,
        "key_pem": identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii"),
        "nodes": {n["id"]: n["enc"]["x"] for n in bundle["nodes"]},
        "audience": audience,
        "query": {
            "surname": DEMO_SUBJECT.surname,
            "given_name": DEMO_SUBJECT.given_name,
            "dob": DEMO_SUBJECT.dob,
            "identifiers": [],
            "max_hits": 0,
        },
        "purpose": PURPOSE,
        "case_number": CASE,
        "directory": {"serial": bundle["serial"], "since": _since(interop)},
    }
    status, printed = run_json("tools/seal-search.mjs", stdin=json.dumps(request))
    assert status == 0, printed
    return signed_search(printed)


def _straight_to(
    interop: Interop, node_id: str, signed: common_pb2.SignedSearch
) -> node_pb2.NodeServiceSearchResponse:
    """What ``node_id`` answers a compromised broker (its certificate) sending ``signed``."""
    address = interop.federation.nodes[node_id].address
    channel, stub = node_stub(address, interop.pki.files("broker"))
    with channel:
        answer: node_pb2.NodeServiceSearchResponse = stub.Search(
            node_pb2.NodeServiceSearchRequest(request_id=f"r-{uuid.uuid4().hex}", signed=signed),
            timeout=10,
        )
    return answer


def _refused(interop: Interop, node_id: str, reason: str) -> int:
    return interop.federation.nodes[node_id].gate.refused[reason]


def test_a_compact_audience_replayed_to_the_agency_it_excepts_gets_nothing(
    interop: Interop,
) -> None:
    # Everyone but pcso, the archive included: {"dir": <archive's since>, "except": ["pcso"]}.
    audience = ["kcso", "spd", "ice-ero", ARCHIVE]
    signed = _sealed_by_node(interop, audience)
    aud = jwt.decode(signed.proof, options={"verify_signature": False})["aud"]
    assert aud == {"dir": _since(interop)[ARCHIVE], "except": ["pcso"]}
    # A compromised broker sends it to pcso, with kcso's key relabelled as pcso's.
    stolen = common_pb2.SignedSearch()
    stolen.CopyFrom(signed)
    stolen.keys[0].node_id = "pcso"
    before = _refused(interop, "pcso", "not_addressed")
    answer = _straight_to(interop, "pcso", stolen)
    assert hits(interop.kit, answer, signed) == ()
    assert len(answer.answer.ciphertext) == ANSWER_BUCKETS[0] + 16
    assert _refused(interop, "pcso", "not_addressed") == before + 1
    # The node it names answers it.
    assert hits(interop.kit, _straight_to(interop, "kcso", signed), signed)


def test_a_wrapped_key_moved_to_another_addressed_agency_does_not_open_there(
    interop: Interop,
) -> None:
    signed = _sealed_by_node(interop, ANSWERING)
    moved = common_pb2.SignedSearch()
    moved.CopyFrom(signed)
    kcso = next(k for k in moved.keys if k.node_id == "kcso")
    spd = next(k for k in moved.keys if k.node_id == "spd")
    kcso.enc, kcso.wrapped = spd.enc, spd.wrapped
    before = _refused(interop, "kcso", "unsealable")
    answer = _straight_to(interop, "kcso", moved)
    assert hits(interop.kit, answer, signed) == ()
    assert _refused(interop, "kcso", "unsealable") == before + 1
    # Its own key opens the same body: kcso holds the demo subject.
    assert hits(interop.kit, _straight_to(interop, "kcso", signed), signed)
