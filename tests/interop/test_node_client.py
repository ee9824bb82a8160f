"""The independent Node.js client (clients/node) against the real federation.

A stranger's implementation of protocol v2 — written from docs/protocol.md in
another language with other libraries (node:crypto, @grpc/grpc-js, @hpke/*) —
runs as a subprocess and performs a real addressed, sealed, signed search
through the real broker (mutual TLS, the development PKI) to real nodes, then
opens and verifies every answer. It must see exactly what the Python client
sees; a broker that tampers with one sealed answer must leave that agency as
"failed verification" in its output; a node outside the audience is never asked;
and the two implementations must agree on every test vector and open each
other's envelopes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from fieldgate.broker.config import NodeEntry
from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import Requester, SearchClient
from fieldgate.devkit.demo import demo_personas, sign_personas
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.trust.config import build_store
from fieldgate.trust.sealed_search import OpenError, open_query
from tests.helpers.brokers import start_test_broker
from tests.helpers.federation import LoopThread
from tests.helpers.interop import (
    CASE,
    NODE_IDS,
    PURPOSE,
    Interop,
    by_node,
    closed_address,
    detective,
    node_search,
    signed_search,
)
from tests.helpers.nodejs import run_json, run_node


def _released(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {f["name"]: (f.get("value"), f.get("mask", "")) for f in fields}


def test_the_node_client_sees_exactly_what_the_python_client_sees(interop: Interop) -> None:
    identity = detective(interop)
    status, output = node_search(interop, identity, interop.federation.broker_address)
    check = AnswerCheck(build_store(interop.kit.config()))
    with SearchClient(
        interop.federation.broker_address, interop.pki.files("investigator"), answers=check
    ) as client:
        python = client.search(
            Requester("", "", "", PURPOSE, CASE),
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
            identity=identity,
            audience=NODE_IDS,
        )
    assert status == 0, output
    assert output["schema"] == "fieldgate.node-search/v1"
    assert sorted(output["audience"]) == sorted(NODE_IDS)
    node = by_node(output)
    assert {a.node_id: a.status for a in python.agencies} == dict.fromkeys(NODE_IDS, "answered")
    assert {n: a["status"] for n, a in node.items()} == dict.fromkeys(NODE_IDS, "answered")
    for agency in python.agencies:
        mine = node[agency.node_id]["hits"]
        # Each search gets its own opaque references (never record ids): same count and
        # kinds, every hit with a reference, none with a record id.
        assert len(mine) == len(agency.hits)
        assert all(h.get("reference") and not h.get("record_id") for h in mine)
        for theirs, ours in zip(agency.hits, mine, strict=True):
            assert ours["record_kind"] == theirs.record_kind
            assert _released(ours.get("fields", [])) == {
                name: (v.value, v.mask or "") for name, v in theirs.fields.items()
            }
    assert output["counts"]["hits"] == sum(len(a.hits) for a in python.agencies) > 0
    assert not check.failed


def test_a_streamed_search_finds_what_the_unary_search_finds(interop: Interop) -> None:
    # A national audience (more agencies than a unary Search takes) goes by SearchStream;
    # --stream takes that path here, with the same verification of every answer.
    identity = detective(interop)
    unary_status, unary = node_search(interop, identity, interop.federation.broker_address)
    status, streamed = node_search(interop, identity, interop.federation.broker_address, "--stream")
    assert unary_status == status == 0, streamed
    assert (unary["streamed"], streamed["streamed"]) == (False, True)
    assert streamed["request_id"]
    assert streamed["request_id"] != unary["request_id"]

    def found(output: dict[str, Any]) -> dict[str, list[tuple[str, float]]]:
        return {
            n: sorted((h["record_kind"], h.get("score", 0)) for h in a["hits"])
            for n, a in by_node(output).items()
        }

    assert found(streamed) == found(unary)
    assert {a["status"] for a in streamed["agencies"]} == {"answered"}
    assert streamed["counts"]["hits"] == unary["counts"]["hits"] > 0
    logs = interop.federation.disclosure_logs
    assert all(
        any(e.request_id == streamed["request_id"] for e in logs[n].entries) for n in NODE_IDS
    )


def test_an_identifier_search_from_the_node_client_finds_what_the_python_client_finds(
    interop: Interop,
) -> None:
    identity = detective(interop)
    status, output = run_json(
        "search.mjs",
        "--broker", interop.federation.broker_address,
        *interop.files("det-4711", identity),
        "--identifier", f"state_id:{DEMO_SUBJECT.state_id}",
        "--max-hits", "2",
        "--purpose", PURPOSE, "--case-number", CASE,
    )  # fmt: skip
    check = AnswerCheck(build_store(interop.kit.config()))
    with SearchClient(
        interop.federation.broker_address, interop.pki.files("investigator"), answers=check
    ) as client:
        python = client.search(
            Requester("", "", "", PURPOSE, CASE),
            identifiers=[("state_id", DEMO_SUBJECT.state_id)],
            max_hits=2,
            identity=identity,
            audience=NODE_IDS,
        )
    assert status == 0, output
    # References differ per search by design; what was found must not.
    found = {
        n: [(h["record_kind"], h.get("score", 0)) for h in a["hits"]]
        for n, a in by_node(output).items()
    }
    assert found == {a.node_id: [(h.record_kind, h.score) for h in a.hits] for a in python.agencies}
    assert any(found.values())
    assert all(len(ids) <= 2 for ids in found.values())


def test_a_warrant_sealed_by_the_node_client_is_applied_as_from_the_python_client(
    interop: Interop,
) -> None:
    federal = next(p for p in demo_personas(dt.date.today()) if p.requester.warrants)
    (signed,) = sign_personas([federal], interop.kit)
    token = interop.workdir / "warrant.jws"
    token.write_text(signed.warrant_tokens[0], encoding="ascii")
    requester = federal.requester

    def node(*extra: str) -> dict[str, Any]:
        status, output = run_json(
            "search.mjs",
            "--broker", interop.federation.broker_address,
            *interop.files(requester.subject, signed.identity),
            "--surname", DEMO_SUBJECT.surname,
            "--given-name", DEMO_SUBJECT.given_name,
            "--dob", DEMO_SUBJECT.dob,
            "--purpose", requester.purpose,
            "--case-number", requester.case_number,
            *extra,
        )  # fmt: skip
        assert status == 0, output
        return by_node(output)

    with_warrant, without = node("--warrant-token", str(token)), node()
    check = AnswerCheck(build_store(interop.kit.config()))
    with SearchClient(
        interop.federation.broker_address, interop.pki.files("investigator"), answers=check
    ) as client:
        python = client.search(
            Requester("", "", "", requester.purpose, requester.case_number),
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
            identity=signed.identity,
            warrant_tokens=signed.warrant_tokens,
            audience=NODE_IDS,
        )

    def released(agencies: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
        return {
            n: {f["name"] for h in a["hits"] for f in h.get("fields", [])}
            for n, a in agencies.items()
        }

    assert released(with_warrant) == {
        a.node_id: {name for h in a.hits for name in h.fields} for a in python.agencies
    }
    # The warrant, sealed inside the query, unlocked fields somewhere — and only widened.
    opened, plain = released(with_warrant), released(without)
    assert all(plain[n] <= opened[n] for n in NODE_IDS)
    assert any(plain[n] < opened[n] for n in NODE_IDS)


def test_a_node_outside_the_audience_is_not_asked(interop: Interop) -> None:
    # The issuer's outbound constraint: this detective's searches reach kcso and spd only.
    identity = detective(interop, reach=["kcso", "spd"])
    status, output = node_search(interop, identity, interop.federation.broker_address)
    assert status == 0, output
    assert output["audience"] == ["kcso", "spd"]
    assert output["not_asked"] == [{"node_id": "pcso", "reason": "outside_reach"}]
    assert set(by_node(output)) == {"kcso", "spd"}
    logs = interop.federation.disclosure_logs
    asked = {
        n for n in NODE_IDS if any(e.request_id == output["request_id"] for e in logs[n].entries)
    }
    assert asked == {"kcso", "spd"}


def test_a_node_the_broker_does_not_route_to_is_not_asked(
    interop: Interop, loop: LoopThread
) -> None:
    nodes = interop.federation.nodes
    broker = loop.run(
        start_test_broker(
            tuple(NodeEntry(n, n, nodes[n].address) for n in ("kcso", "spd")),
            interop.workdir,
            trust=interop.kit.config(),
            tls=interop.pki.files("broker"),
        )
    )
    try:
        status, output = node_search(interop, detective(interop), broker.address)
    finally:
        loop.run(broker.stop())
    assert status == 0, output
    assert sorted(output["audience"]) == ["kcso", "spd"]
    assert output["not_asked"] == [{"node_id": "pcso", "reason": "not_routed_by_broker"}]
    assert all(a["status"] == "answered" for a in output["agencies"])


def test_an_agency_that_cannot_be_reached_could_not_answer(
    interop: Interop, loop: LoopThread
) -> None:
    nodes = interop.federation.nodes
    entries = [NodeEntry(n, n, nodes[n].address) for n in ("kcso", "spd")]
    broker = loop.run(
        start_test_broker(
            (*entries, NodeEntry("pcso", "pcso", closed_address())),
            interop.workdir,
            trust=interop.kit.config(),
            tls=interop.pki.files("broker"),
        )
    )
    try:
        status, output = node_search(interop, detective(interop), broker.address)
    finally:
        loop.run(broker.stop())
    agencies = by_node(output)
    assert status == 4, output
    assert agencies["pcso"]["status"] == "could_not_answer"
    assert agencies["pcso"]["reason"] == "unreachable"
    assert "hits" not in agencies["pcso"]
    assert agencies["kcso"]["status"] == agencies["spd"]["status"] == "answered"


def test_an_audience_outside_the_reach_is_refused_before_anything_is_sent(
    interop: Interop,
) -> None:
    identity = detective(interop, reach=["kcso", "spd"])
    done = run_node(
        "search.mjs",
        "--broker", interop.federation.broker_address,
        *interop.files("det-4711", identity),
        "--surname", "DOE", "--given-name", "JOHN",
        "--purpose", PURPOSE, "--case-number", CASE,
        "--audience", "kcso,pcso",
    )  # fmt: skip
    assert done.returncode == 2
    assert "outside the credential's reach: pcso" in done.stderr
    assert done.stdout == ""


def test_the_node_implementation_verifies_every_test_vector(client_dir: Path) -> None:
    """clients/node/test: every vector byte for byte (both audience forms), every
    verification failure, both audience forms' rules."""
    done = run_node("--test", "test/", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    counts = dict(re.findall(r"^# (tests|pass|fail|skipped|todo) (\d+)$", done.stdout, re.M))
    # Every check ran and passed: none skipped, none left to do.
    assert int(counts["tests"]) >= 24
    assert counts["pass"] == counts["tests"]
    assert counts["skipped"] == counts["todo"] == "0"


def test_node_sealed_queries_open_in_python(interop: Interop) -> None:
    identity = detective(interop)
    warrant = interop.kit.warrant(
        "W-1", "HERNÁNDEZ", "MIGUEL", "1986-03-07", ["address"],
        dt.date.today() + dt.timedelta(days=30),
        applicant_agency="bellevue-pd", case_number=CASE,
    )  # fmt: skip
    query = {
        "surname": "HERNÁNDEZ",  # non-ASCII: the plaintext is UTF-8, hashed as sealed
        "given_name": "MIGUEL",
        "dob": "1986-03-07",
        "identifiers": [["state_id", "WA21857340"]],
        "max_hits": 3,
    }
    request = {
        "credential": identity.credential,
        "key_pem": identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii"),
        "nodes": {
            n: base64.urlsafe_b64encode(k.public_key().public_bytes_raw()).rstrip(b"=").decode()
            for n, k in interop.kit.node_enc.items()
        },
        "audience": ["kcso", "pcso"],
        "query": query,
        "purpose": PURPOSE,
        "case_number": CASE,
        "warrants": [warrant],
    }
    status, printed = run_json("tools/seal-search.mjs", stdin=json.dumps(request))
    assert status == 0
    signed = signed_search(printed)
    claims = jwt.decode(
        signed.proof, identity.key.public_key(), algorithms=["EdDSA"], audience=["kcso", "pcso"]
    )
    assert claims["aud"] == ["kcso", "pcso"]
    assert claims["v"] == 2
    assert "query" not in claims
    assert "HERN" not in json.dumps(claims)
    # One body for everyone, one wrapped key per addressed node.
    assert [k.node_id for k in signed.keys] == ["kcso", "pcso"]
    assert len(signed.body) == 4096 + 16
    assert all(len(k.enc) == 32 and len(k.wrapped) == 48 for k in signed.keys)
    for key in signed.keys:
        opened = open_query(
            signed,
            node_id=key.node_id,
            enc_key=interop.kit.node_enc[key.node_id],
            nonce=claims["nonce"],
            sealed_claim=claims["sealed"],
        )
        assert opened.query.surname == "HERNÁNDEZ"
        assert [(i.kind, i.value) for i in opened.query.identifiers] == [("state_id", "WA21857340")]
        assert opened.query.max_hits == 3
        assert opened.warrants == (warrant,)
    # A node not addressed has no key of its own: it cannot open the body.
    with pytest.raises(OpenError, match="unsealable"):
        open_query(
            signed,
            node_id="spd",
            enc_key=interop.kit.node_enc["spd"],
            nonce=claims["nonce"],
            sealed_claim=claims["sealed"],
        )
