"""Signed answers through a lying broker: every forgery is caught, agency by agency.

The broker in front of the client is hostile (a real gRPC Broker service that
forwards to the real broker and rewrites what comes back). Each way it can lie
about one agency's answer — alter it, hide its hits, strip its signature,
forge it with a key of its own, swap it with another agency's, replay one
from an earlier search — leaves that agency as ``failed_verification`` with
the reason counted, never as data and never as "no record"; the other
agencies' honest answers still come through.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from google.protobuf import struct_pb2
from rich.console import Console

from fieldgate.client.answer_check import FAILED_VERIFICATION, AnswerCheck
from fieldgate.client.broker_client import Requester, SearchClient
from fieldgate.client.render import result_group
from fieldgate.client.results import SearchResult
from fieldgate.client.stream import SearchFinished
from fieldgate.core.tls import DevPKI
from fieldgate.devkit.demo import CONTRACT_OF
from fieldgate.devkit.dev_trust import DevTrust
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
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.answers import AnswerSigner, unverified_nonce
from fieldgate.trust.config import build_store
from fieldgate.trust.keys import enc_key_from_jwk, generate_key, save_private_key
from fieldgate.trust.sealed_search import sign_search
from fieldgate.v2 import broker_pb2, common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.hostile_broker import HostileBroker
from tests.helpers.sealed import ENC_KEYS, opened

CRIMINAL = Requester("", "", "", "criminal_investigation", "BPD-2026-018233")


@dataclass
class Signed:
    federation: LocalFederation
    kit: DevTrust
    pki: DevPKI
    hostile: HostileBroker


@pytest.fixture(scope="module")
def signed(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    workdir = tmp_path_factory.mktemp("signed-answers")
    kit = DevTrust(workdir / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    specs = []
    for agency in DEMO_AGENCIES:
        path = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=100, seed=21), path)
        spec = NodeSpec(
            agency.node_id, agency.name, shipped_contract(CONTRACT_OF[agency.node_id]), path
        )
        import_records(spec, workdir)
        specs.append(spec)
        kit.add_node(agency.node_id)
    kit.write()
    pki = DevPKI.create(workdir / "pki", ["broker", "kcso", "spd", "pcso", "investigator"])
    federation = loop.run(start_federation(specs, workdir, trust=kit.config(), pki=pki))
    hostile = HostileBroker(federation.broker_address, pki.files("investigator"))
    yield Signed(federation, kit, pki, hostile)
    hostile.stop()
    loop.run(federation.stop())


def _check(kit: DevTrust) -> AnswerCheck:
    return AnswerCheck(build_store(kit.config()))


def _search(signed: Signed, address: str, check: AnswerCheck) -> SearchResult:
    identity = signed.kit.identity("bellevue-pd", "det-4711", ["criminal_investigation"])
    tls = None if address == signed.hostile.address else signed.pki.files("investigator")
    with SearchClient(address, tls, answers=check) as client:
        return client.search(
            CRIMINAL,
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
            identity=identity,
        )


def _result(response: broker_pb2.SearchResponse, node_id: str) -> broker_pb2.AgencyResult:
    return next(r for r in response.results if r.node_id == node_id)


def test_honest_answers_verify_through_the_real_broker(signed: Signed) -> None:
    check = _check(signed.kit)
    result = _search(signed, signed.federation.broker_address, check)
    assert {a.node_id: a.status for a in result.agencies} == {
        "kcso": "answered", "spd": "answered", "pcso": "answered",
    }  # fmt: skip
    assert next(a for a in result.agencies if a.node_id == "kcso").hits
    assert not check.failed


def _altered(response: broker_pb2.SearchResponse, signed: Signed) -> None:
    sealed = _result(response, "kcso").answer
    sealed.ciphertext = (
        sealed.ciphertext[:100] + bytes([sealed.ciphertext[100] ^ 1]) + (sealed.ciphertext[101:])
    )


def _hidden(response: broker_pb2.SearchResponse, signed: Signed) -> None:
    # "No record": the sealed answer withheld.
    _result(response, "kcso").answer.Clear()


def _clear_hits(response: broker_pb2.SearchResponse, signed: Signed) -> None:
    # Hits of the broker's own making, beside the genuine sealed answer.
    forged = common_pb2.Hit(record_id="FORGED-1", record_kind="booking", score=1.0)
    forged.fields.add(name="address", value=struct_pb2.Value(string_value="123 FORGED ST"))
    _result(response, "kcso").hits.append(forged)


def _forged(response: broker_pb2.SearchResponse, signed: Signed) -> None:
    # A whole answer the broker signs with its own key and seals to the requester's
    # public key (from the credential it relays), bound to the right search.
    request = signed.hostile.last_request
    claims = jwt.decode(request.signed.credential, options={"verify_signature": False})
    _result(response, "kcso").answer.CopyFrom(
        AnswerSigner("kcso", generate_key()).seal(
            recipient=enc_key_from_jwk(claims["enc"]),
            nonce=unverified_nonce(request.signed.proof),
            proof=request.signed.proof,
            hits=[],
        )
    )


def _swapped(response: broker_pb2.SearchResponse, signed: Signed) -> None:
    kcso, spd = _result(response, "kcso"), _result(response, "spd")
    kcso_answer = common_pb2.SealedAnswer()
    kcso_answer.CopyFrom(kcso.answer)
    kcso.answer.CopyFrom(spd.answer)
    spd.answer.CopyFrom(kcso_answer)


def _replayed(response: broker_pb2.SearchResponse, signed: Signed) -> None:
    # kcso's genuine answer to the previous search, put in for this one.
    _result(response, "kcso").CopyFrom(_result(signed.hostile.seen[-2], "kcso"))


ATTACKS: dict[str, tuple[Callable[[broker_pb2.SearchResponse, Signed], None], set[str]]] = {
    "altered ciphertext": (_altered, {"unsealable"}),
    "answer withheld (no record)": (_hidden, {"unsealable"}),
    "clear hits added": (_clear_hits, {"malformed"}),
    "forged with the broker's key": (_forged, {"signature"}),
    "swapped with another agency's": (_swapped, {"unsealable"}),
    "replayed from another search": (_replayed, {"unsealable"}),
}


def _keys(request: broker_pb2.SearchRequest) -> dict[str, common_pb2.QueryKey]:
    return {k.node_id: k for k in request.signed.keys}


def _given_anothers_key(request: broker_pb2.SearchRequest, signed: Signed) -> set[str]:
    # kcso's entry carries spd's wrapped key: the broker cannot tell, kcso cannot open it.
    keys = _keys(request)
    keys["kcso"].enc, keys["kcso"].wrapped = keys["spd"].enc, keys["spd"].wrapped
    return {"kcso"}


def _key_dropped(request: broker_pb2.SearchRequest, signed: Signed) -> set[str]:
    kept = [k for k in request.signed.keys if k.node_id != "kcso"]
    del request.signed.keys[:]
    request.signed.keys.extend(kept)
    return {"kcso"}


def _body_swapped(request: broker_pb2.SearchRequest, signed: Signed) -> set[str]:
    # The body of the previous search (same requester, same person, another key).
    request.signed.body = signed.hostile.requests[-2].signed.body
    return {"kcso", "spd", "pcso"}


REQUEST_ATTACKS: dict[str, Callable[[broker_pb2.SearchRequest, Signed], set[str]]] = {
    "another node's key forwarded": _given_anothers_key,
    "a node's key dropped": _key_dropped,
    "the body swapped for another search's": _body_swapped,
}


@pytest.mark.parametrize("attack", sorted(REQUEST_ATTACKS))
def test_a_broker_tampering_with_keys_or_body_gets_nothing(signed: Signed, attack: str) -> None:
    """The query side of the lying broker: each node it cheats answers as for an absent person."""
    check = _check(signed.kit)
    _search(signed, signed.hostile.address, check)  # an honest search first (for the body)
    cheated: set[str] = set()

    def lie(request: broker_pb2.SearchRequest) -> broker_pb2.SearchRequest:
        cheated.update(REQUEST_ATTACKS[attack](request, signed))
        return request

    nodes = signed.federation.nodes
    before = {n: nodes[n].gate.refused["unsealable"] for n in nodes}
    signed.hostile.tamper_request = lie
    try:
        result = _search(signed, signed.hostile.address, check)
    finally:
        signed.hostile.tamper_request = lambda request: request
    views = {a.node_id: a for a in result.agencies}
    for node_id in nodes:
        refused = nodes[node_id].gate.refused["unsealable"] - before[node_id]
        if node_id in cheated:
            # Refused, in its log and metrics; to everyone else exactly an absent person.
            assert refused == 1, node_id
            assert (views[node_id].status, views[node_id].hits) == ("answered", ()), node_id
        else:
            assert refused == 0, node_id
            assert views[node_id].status == "answered", node_id
    assert views["kcso"].hits == ()
    assert not check.failed  # genuine, signed "nothing" answers: the lie gained nothing


def _dropped(response: broker_pb2.SearchResponse, signed: Signed) -> None:
    kept = [r for r in response.results if r.node_id != "kcso"]
    del response.results[:]
    response.results.extend(kept)


@pytest.mark.parametrize("streamed", [False, True], ids=["search", "search_stream"])
def test_an_agency_the_broker_leaves_out_did_not_answer(signed: Signed, streamed: bool) -> None:
    """Addressed but missing from the broker's answer: shown and counted, never "no record"."""
    check = _check(signed.kit)
    identity = signed.kit.identity("bellevue-pd", "det-4711", ["criminal_investigation"])
    signed.hostile.tamper = lambda response: (_dropped(response, signed), response)[1]
    signed.hostile.drop = {"kcso"}
    try:
        with SearchClient(signed.hostile.address, None, answers=check) as client:
            query = {"surname": DEMO_SUBJECT.surname, "dob": DEMO_SUBJECT.dob}
            if streamed:
                updates = list(client.search_stream(CRIMINAL, identity=identity, **query))
                assert isinstance(updates[-1], SearchFinished)
                result = updates[-1].result
            else:
                result = client.search(CRIMINAL, identity=identity, **query)
    finally:
        signed.hostile.tamper = lambda response: response
        signed.hostile.drop = set()
    views = {a.node_id: a for a in result.agencies}
    assert views["kcso"].status == "not_relayed"
    assert views["kcso"].hits == ()
    assert "returned nothing" in views["kcso"].detail
    assert views["spd"].status == "answered"
    summary = result.to_json()["summary"]
    assert (summary["did_not_answer"], summary["failed"]) == (1, 1)
    assert not check.failed  # nothing failed verification: it was not there to verify
    table = Console(width=200, record=True)
    table.print(result_group(result))
    assert "did not answer" in table.export_text()


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_lying_broker_is_caught_for_the_agency_it_lied_about(signed: Signed, attack: str) -> None:
    tamper, reasons = ATTACKS[attack]
    check = _check(signed.kit)
    _search(signed, signed.hostile.address, check)  # an honest search first (for the replay)

    def lie(response: broker_pb2.SearchResponse) -> broker_pb2.SearchResponse:
        tamper(response, signed)
        return response

    signed.hostile.tamper = lie
    try:
        result = _search(signed, signed.hostile.address, check)
    finally:
        signed.hostile.tamper = lambda response: response
    views = {a.node_id: a for a in result.agencies}
    assert views["kcso"].status == FAILED_VERIFICATION
    assert views["kcso"].hits == ()
    assert set(check.failed) == reasons
    # A swap is two lies (both agencies fail); every other attack is one.
    assert sum(check.failed.values()) == (2 if attack.startswith("swapped") else 1)
    assert result.to_json()["summary"]["failed_verification"] == sum(check.failed.values())
    # The agency it did not touch still answers, verified.
    assert views["pcso"].status == "answered"


def test_a_refusal_is_sealed_exactly_like_an_absent_persons_answer(signed: Signed) -> None:
    """A refused search still looks like a person the agency does not hold, to the byte count."""
    identity = signed.kit.identity("bellevue-pd", "det-4711", ["criminal_investigation"])
    nobody = common_pb2.PersonQuery(surname="QUIZZLEWICK", given_name="ZED", dob="1901-01-01")
    assert identity.enc_key is not None
    ENC_KEYS[identity.credential] = identity.enc_key

    def ask(audience: list[str]) -> node_pb2.NodeServiceSearchResponse:
        search = sign_search(
            credential=identity.credential, holder_key=identity.key, query=nobody,
            purpose="criminal_investigation", case_number="C-1", audience=audience,
            node_keys={n: k.public_key() for n, k in signed.kit.node_enc.items()},
        )  # fmt: skip
        channel, stub = node_stub(
            signed.federation.nodes["kcso"].address, signed.pki.files("broker")
        )
        with channel:
            answer: node_pb2.NodeServiceSearchResponse = stub.Search(
                node_pb2.NodeServiceSearchRequest(request_id="r1", signed=search), timeout=10
            )
        # Both open and verify as an answered, zero-hit answer from kcso.
        opened_answer = opened(signed.kit, answer, search)
        assert (opened_answer.status, opened_answer.hits) == ("answered", ())
        return answer

    gate = signed.federation.nodes["kcso"].gate
    before = gate.refused["not_addressed"]
    absent, refused = ask(["kcso"]), ask(["spd"])  # the second is not addressed to kcso
    assert gate.refused["not_addressed"] == before + 1
    assert len(absent.answer.ciphertext) == len(refused.answer.ciphertext)
    assert len(absent.SerializeToString()) == len(refused.SerializeToString())


def test_the_broker_never_holds_a_name_a_date_of_birth_or_a_field(
    signed: Signed, caplog: pytest.LogCaptureFixture
) -> None:
    """Everything a broker receives and logs for a search, searched for the person."""
    check = _check(signed.kit)
    with caplog.at_level(logging.DEBUG):
        result = _search(signed, signed.hostile.address, check)
    released = [
        str(v.value)
        for a in result.agencies
        for h in a.hits
        for v in h.fields.values()
        if len(str(v.value)) >= 6
    ]
    assert released, "the requester saw fields (so the broker relayed them, sealed)"
    received = signed.hostile.last_request.SerializeToString()
    relayed = signed.hostile.seen[-1].SerializeToString()
    secrets = [DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob, *released]
    for secret in secrets:
        for form in {secret, secret.upper(), secret.lower()}:
            assert form.encode() not in received, form
            assert form.encode() not in relayed, form
            assert form not in caplog.text, form


def _cli_search(signed: Signed, tmp_path: Path, broker: str, *extra: str) -> tuple[int, str]:
    """``fieldgate search`` as an investigator runs it, signed and sealed; (status, stdout)."""
    identity = signed.kit.identity("bellevue-pd", "det-4711", ["criminal_investigation"])
    assert identity.enc_key is not None
    credential = tmp_path / "det.credential"
    credential.write_text(identity.credential)
    save_private_key(identity.key, tmp_path / "det.key")
    save_private_key(identity.enc_key, tmp_path / "det.enc.key")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "fieldgate"), "search", "--broker", broker,
            "--name", f"{DEMO_SUBJECT.surname}, {DEMO_SUBJECT.given_name}",
            "--dob", DEMO_SUBJECT.dob, "--purpose", "criminal_investigation",
            "--case", CRIMINAL.case_number, "--credential", str(credential),
            "--key", str(tmp_path / "det.key"), "--enc-key", str(tmp_path / "det.enc.key"),
            "--trust-bundle", str(signed.kit.bundle_path),
            "--revocations", str(signed.kit.revocations_path),
            "--authority-key", str(signed.kit.authority_path), *extra,
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_fieldgate_search_verifies_every_answer_and_exits_3_on_a_forgery(
    signed: Signed, tmp_path: Path
) -> None:
    tls = signed.pki.files("investigator")
    tls_flags = ("--tls-ca", str(tls.ca), "--tls-cert", str(tls.cert), "--tls-key", str(tls.key))
    status, out = _cli_search(signed, tmp_path, signed.federation.broker_address, *tls_flags)
    assert status == 0, out
    assert "FAILED VERIFICATION" not in out
    status, out = _cli_search(
        signed, tmp_path, signed.federation.broker_address, *tls_flags, "--json"
    )
    document = json.loads(out)
    assert status == 0
    assert document["summary"]["failed_verification"] == 0
    assert any(a["hits"] for a in document["agencies"])
    # Through a broker that forges King County's answer: the table says so, and so does
    # the exit status; the forged agency shows no data and not "no record".
    signed.hostile.tamper = lambda response: (_forged(response, signed), response)[1]
    try:
        status, out = _cli_search(signed, tmp_path, signed.hostile.address, "--insecure")
        assert status == 3, out
        assert "FAILED VERIFICATION" in out
        status, out = _cli_search(signed, tmp_path, signed.hostile.address, "--insecure", "--json")
    finally:
        signed.hostile.tamper = lambda response: response
    assert status == 3
    document = json.loads(out[: out.rindex("}") + 1])
    kcso = next(a for a in document["agencies"] if a["node_id"] == "kcso")
    assert (kcso["status"], kcso["hits"]) == ("failed_verification", [])
    assert "signature" in kcso["detail"]
