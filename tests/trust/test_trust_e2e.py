"""Signed credentials, proofs and warrants through real gRPC: every forgery gets nothing.

Each failure case is sent twice: through the broker (which refuses it early)
and straight to a node, as a compromised broker would (the node answers exactly
as for a person it does not hold). The honest request beside it still works.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import Requester, SearchClient, SearchError, build_request
from fieldgate.core.tls import DevPKI, TLSFiles
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
from fieldgate.trust.answers import NOT_ANSWERING
from fieldgate.trust.config import build_store
from fieldgate.trust.keys import generate_key
from fieldgate.trust.sealed_search import sign_search
from fieldgate.trust.sealing import ANSWER_BUCKETS
from fieldgate.trust.tokens import Identity
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.sealed import ENC_KEYS, opened

TODAY = dt.date.today()
NOW = dt.datetime.now(dt.UTC)
CRIMINAL = Requester("", "", "", "criminal_investigation", "BPD-2026-018233")
IMMIGRATION = Requester("", "", "", "civil_immigration", "A-2026-55310")
SUBJECT_QUERY = common_pb2.PersonQuery(
    surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
)


@dataclass
class Trusted:
    federation: LocalFederation
    kit: DevTrust
    pki: DevPKI

    def node(self, node_id: str) -> str:
        return self.federation.nodes[node_id].address


@pytest.fixture(scope="module")
def trusted(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trusted]:
    workdir = tmp_path_factory.mktemp("trusted")
    kit = DevTrust(workdir / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    kit.add_issuer("ice-ero-seattle", "civil_immigration")
    kit.add_issuer("fbi-seattle", "federal_law_enforcement")
    for agency in DEMO_AGENCIES:
        kit.add_node(agency.node_id)
    kit.write()
    pki = DevPKI.create(
        workdir / "pki", ["broker", "kcso", "spd", "pcso", "investigator", "intruder"]
    )
    specs = []
    for agency in DEMO_AGENCIES:
        path = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=100, seed=21), path)
        spec = NodeSpec(
            agency.node_id, agency.name, shipped_contract(CONTRACT_OF[agency.node_id]), path
        )
        import_records(spec, workdir)
        specs.append(spec)
    federation = loop.run(start_federation(specs, workdir, trust=kit.config(), pki=pki))
    KIT_ENC.clear()
    KIT_ENC.update(kit.node_enc)
    yield Trusted(federation, kit, pki)
    loop.run(federation.stop())


def detective(kit: DevTrust, **kwargs: object) -> Identity:
    return kit.identity(
        "bellevue-pd",
        "det-4711",
        ["criminal_investigation"],
        roles=["detective"],
        **kwargs,  # type: ignore[arg-type]
    )


def hits_via_broker(
    trusted: Trusted,
    identity: Identity,
    requester: Requester = CRIMINAL,
    warrants: tuple[str, ...] = (),
) -> dict[str, int] | str:
    """Hits per agency, or the broker's refusal code."""
    with SearchClient(
        trusted.federation.broker_address,
        trusted.pki.files("investigator"),
        answers=AnswerCheck(build_store(trusted.kit.config())),
    ) as client:
        try:
            result = client.search(
                requester,
                surname=DEMO_SUBJECT.surname,
                given_name=DEMO_SUBJECT.given_name,
                dob=DEMO_SUBJECT.dob,
                identity=identity,
                warrant_tokens=warrants,
            )
        except SearchError as exc:
            return exc.code.name
    return {a.node_id: len(a.hits) for a in result.agencies}


def node_answer(
    trusted: Trusted,
    node_id: str,
    signed: common_pb2.SignedSearch,
    request_id: str = "",
    **extra: object,
) -> node_pb2.NodeServiceSearchResponse:
    # Straight to the node with the broker's own certificate: a compromised broker.
    # A new request id per call unless given: a node refuses an id it has answered.
    request_id = request_id or f"r-{uuid.uuid4().hex}"
    channel, stub = node_stub(trusted.node(node_id), trusted.pki.files("broker"))
    with channel:
        answer: node_pb2.NodeServiceSearchResponse = stub.Search(
            node_pb2.NodeServiceSearchRequest(request_id=request_id, signed=signed, **extra),
            timeout=10,  # type: ignore[arg-type]
        )
    # Every answer of a trusting node is sealed, refusals included; opened here as
    # the requester would, its hits put where the assertions read them.
    assert not answer.hits
    answer.hits.extend(opened(trusted.kit, answer, signed).hits)
    return answer


ALL_NODES = ("kcso", "spd", "pcso")
KIT_ENC: dict[str, X25519PrivateKey] = {}
"""The nodes' X25519 keys of the module's kit (set by the fixture)."""


def sign(
    identity: Identity,
    purpose: str = "criminal_investigation",
    warrants: tuple[str, ...] = (),
    now: dt.datetime | None = None,
    audience: tuple[str, ...] = ALL_NODES,
) -> common_pb2.SignedSearch:
    assert identity.enc_key is not None
    ENC_KEYS[identity.credential] = identity.enc_key
    return sign_search(
        credential=identity.credential,
        holder_key=identity.key,
        query=SUBJECT_QUERY,
        purpose=purpose,
        case_number="C-1",
        audience=audience,
        node_keys={n: k.public_key() for n, k in KIT_ENC.items()},
        warrants=warrants,
        now=now,
    )


def refused(trusted: Trusted, node_id: str, reason: str) -> int:
    return trusted.federation.nodes[node_id].gate.refused[reason]


def assert_nothing_at_node(
    trusted: Trusted, signed: common_pb2.SignedSearch, reason: str, **extra: object
) -> None:
    before = refused(trusted, "kcso", reason)
    answer = node_answer(trusted, "kcso", signed, "r1", **extra)
    assert list(answer.hits) == []
    # The same size as an absent person's answer: the smallest answer bucket.
    assert len(answer.answer.ciphertext) == ANSWER_BUCKETS[0] + 16
    assert refused(trusted, "kcso", reason) == before + 1, reason


def test_the_honest_detective_is_answered(trusted: Trusted) -> None:
    hits = hits_via_broker(trusted, detective(trusted.kit))
    assert isinstance(hits, dict)
    assert hits["kcso"] >= 1
    assert node_answer(trusted, "kcso", sign(detective(trusted.kit))).hits


def _forged_key(kit: DevTrust) -> Identity:
    honest = detective(kit)
    # The proof signed by a key not in the credential.
    return Identity(honest.credential, generate_key(), honest.enc_key)


def _foreign_issuer(kit: DevTrust) -> Identity:
    rogue = DevTrust(kit.directory.parent / "rogue")
    rogue.add_issuer("bellevue-pd", "local_law_enforcement")  # same name, key not trusted
    return rogue.identity("bellevue-pd", "det-4711", ["criminal_investigation"])


def _expired(kit: DevTrust) -> Identity:
    return detective(kit, hours=1, now=NOW - dt.timedelta(hours=3))


def _not_yet_valid(kit: DevTrust) -> Identity:
    return detective(kit, hours=1, now=NOW + dt.timedelta(hours=2))


CASES: dict[str, tuple[Callable[[DevTrust], Identity], str]] = {
    "forged proof signature": (_forged_key, "proof_signature"),
    "issuer key not trusted": (_foreign_issuer, "credential_signature"),
    "expired credential": (_expired, "credential_expired"),
    "not-yet-valid credential": (_not_yet_valid, "credential_not_yet_valid"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_credentials_get_nothing(trusted: Trusted, case: str) -> None:
    make, reason = CASES[case]
    identity = make(trusted.kit)
    assert hits_via_broker(trusted, identity) == "UNAUTHENTICATED"
    assert_nothing_at_node(trusted, sign(identity), reason)


def test_purpose_outside_the_credential_gets_nothing(trusted: Trusted) -> None:
    identity = detective(trusted.kit)
    assert hits_via_broker(trusted, identity, IMMIGRATION) == "UNAUTHENTICATED"
    assert_nothing_at_node(trusted, sign(identity, purpose="missing_person"), "purpose_not_allowed")


def test_a_replayed_search_gets_nothing(trusted: Trusted) -> None:
    signed = sign(detective(trusted.kit))
    assert node_answer(trusted, "kcso", signed).hits
    assert_nothing_at_node(trusted, signed, "replayed_nonce")


def test_a_stale_proof_gets_nothing(trusted: Trusted) -> None:
    signed = sign(detective(trusted.kit), now=NOW - dt.timedelta(minutes=10))
    assert_nothing_at_node(trusted, signed, "stale_timestamp")


def test_a_proof_timed_ahead_of_the_node_clock_gets_nothing(trusted: Trusted) -> None:
    """A clock 45 s fast would keep a proof fresh across a node restart (an empty nonce memory)."""
    signed = sign(detective(trusted.kit), now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=45))
    assert_nothing_at_node(trusted, signed, "stale_timestamp")


def test_a_request_id_that_could_forge_log_lines_is_refused(trusted: Trusted) -> None:
    for bad in ("r1\nforged line", "r 1", "x" * 65):
        channel, stub = node_stub(trusted.node("kcso"), trusted.pki.files("broker"))
        with channel, pytest.raises(grpc.RpcError) as refused_call:
            stub.Search(
                node_pb2.NodeServiceSearchRequest(
                    request_id=bad, signed=sign(detective(trusted.kit))
                ),
                timeout=10,
            )
        assert refused_call.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        assert "request_id" in (refused_call.value.details() or ""), bad


def _tamper_payload(token: str, change: Callable[[dict[str, object]], None]) -> str:
    header, payload, signature = token.split(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    change(document)
    encoded = base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()
    return ".".join((header, encoded, signature))


def test_a_tampering_broker_is_refused_by_every_node(trusted: Trusted) -> None:
    """What a compromised broker might do to a signed search on its way to the nodes."""
    warrant = trusted.kit.warrant(
        "W-1", DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob,
        ["location"], TODAY + dt.timedelta(days=30),
        applicant_agency="fbi-seattle", case_number="C-1",
    )  # fmt: skip
    fed = trusted.kit.identity("fbi-seattle", "sa-2231", ["criminal_investigation"])
    honest = sign(fed, warrants=(warrant,))

    def purpose(d: dict[str, object]) -> None:
        d["purpose"] = "missing_person"

    def swap_keys(signed: common_pb2.SignedSearch) -> common_pb2.SignedSearch:
        """Every node gets the key wrapped to another node."""
        keys = list(signed.keys)
        rotated = [
            common_pb2.QueryKey(node_id=a.node_id, enc=b.enc, wrapped=b.wrapped)
            for a, b in zip(keys, keys[1:] + keys[:1], strict=True)
        ]
        return common_pb2.SignedSearch(
            credential=signed.credential, proof=signed.proof, body=signed.body, keys=rotated
        )

    def flip_a_bit(signed: common_pb2.SignedSearch) -> common_pb2.SignedSearch:
        altered = common_pb2.SignedSearch()
        altered.CopyFrom(signed)
        altered.body = bytes([signed.body[0] ^ 1]) + signed.body[1:]
        return altered

    def from_another_search(signed: common_pb2.SignedSearch) -> common_pb2.SignedSearch:
        """The warrant dropped: the body and keys of the same requester's warrant-less search."""
        other = sign(fed)
        return common_pb2.SignedSearch(
            credential=signed.credential, proof=signed.proof, body=other.body, keys=other.keys
        )

    tampered = {
        "purpose changed": common_pb2.SignedSearch(
            credential=honest.credential, proof=_tamper_payload(honest.proof, purpose),
            body=honest.body, keys=honest.keys,
        ),
        "keys swapped": swap_keys(honest),
        "body altered": flip_a_bit(honest),
        "warrant dropped": from_another_search(honest),
        "key missing": common_pb2.SignedSearch(
            credential=honest.credential, proof=honest.proof, body=honest.body
        ),
    }  # fmt: skip
    reasons = {
        "purpose changed": "proof_signature",
        "keys swapped": "unsealable",
        "body altered": "unsealable",
        "warrant dropped": "unsealable",
        "key missing": "unsealable",
    }
    for label, signed in tampered.items():
        for node_id in ("kcso", "spd", "pcso"):
            before = refused(trusted, node_id, reasons[label])
            assert list(node_answer(trusted, node_id, signed).hits) == [], (label, node_id)
            assert refused(trusted, node_id, reasons[label]) == before + 1, (label, node_id)
    # A clear query beside an intact signed search is refused too.
    assert_nothing_at_node(
        trusted,
        sign(fed, warrants=(warrant,)),
        "clear_fields",
        query=common_pb2.PersonQuery(surname="NGUYEN", given_name="LINH", dob="2005-09-12"),
    )
    # And the untouched search is answered, warrant and all.
    answer = node_answer(trusted, "kcso", honest)
    assert any(f.name == "address" and not f.mask for h in answer.hits for f in h.fields)


def test_warrants_must_be_genuine_and_for_this_person(trusted: Trusted) -> None:
    fed = trusted.kit.identity("fbi-seattle", "sa-2231", ["criminal_investigation"])
    expires = TODAY + dt.timedelta(days=30)
    genuine = trusted.kit.warrant(
        "W-2",
        DEMO_SUBJECT.surname,
        DEMO_SUBJECT.given_name,
        DEMO_SUBJECT.dob,
        ["location"],
        expires,
        applicant_agency="fbi-seattle",
        case_number="C-1",
    )
    forged = trusted.kit.warrant(
        "W-3", DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob, ["location"],
        expires, court_key=generate_key(), applicant_agency="fbi-seattle", case_number="C-1",
    )  # fmt: skip
    other_person = trusted.kit.warrant(
        "W-4", "NGUYEN", "LINH", "2005-09-12", ["location"], expires,
        applicant_agency="fbi-seattle", case_number="C-1",
    )  # fmt: skip

    def address_masks(warrants: tuple[str, ...]) -> set[str]:
        answer = node_answer(trusted, "kcso", sign(fed, warrants=warrants))
        return {f.mask for h in answer.hits for f in h.fields if f.name == "address"}

    assert address_masks((genuine,)) == {""}  # the warrant releases the whole address
    assert_nothing_at_node(trusted, sign(fed, warrants=(forged,)), "warrant_signature")
    assert address_masks((other_person,)) == {"city"}  # no more than without a warrant
    # The immigration officer with another person's warrant learns nothing at the county.
    ice = trusted.kit.identity("ice-ero-seattle", "ero-0917", ["civil_immigration"])
    answer = node_answer(
        trusted, "kcso", sign(ice, purpose="civil_immigration", warrants=(other_person,))
    )
    assert list(answer.hits) == []


def test_revocation_takes_effect_on_the_very_next_search(trusted: Trusted) -> None:
    import jwt

    identity = detective(trusted.kit)
    ice = trusted.kit.identity("ice-ero-seattle", "ero-0917", ["civil_immigration"])
    assert hits_via_broker(trusted, identity) != "UNAUTHENTICATED"
    assert node_answer(trusted, "pcso", sign(ice, purpose="civil_immigration")).hits
    try:
        trusted.kit.revoked_credentials.append(
            jwt.decode(identity.credential, options={"verify_signature": False})["jti"]
        )
        trusted.kit.revoked_agency_types.append("civil_immigration")
        trusted.kit.write()
        assert_nothing_at_node(trusted, sign(identity), "revoked_credential")
        assert hits_via_broker(trusted, identity) == "UNAUTHENTICATED"
        before = refused(trusted, "pcso", "revoked_agency_type")
        assert not node_answer(trusted, "pcso", sign(ice, purpose="civil_immigration")).hits
        assert refused(trusted, "pcso", "revoked_agency_type") == before + 1
        assert node_answer(trusted, "kcso", sign(detective(trusted.kit))).hits  # others unaffected
    finally:
        trusted.kit.revoked_credentials.clear()
        trusted.kit.revoked_agency_types.clear()
        trusted.kit.write()


def assert_not_answering(trusted: Trusted, signed: common_pb2.SignedSearch, reason: str) -> None:
    """Nothing released, and the node signs that it could not decide (never "no record")."""
    answer = node_answer(trusted, "kcso", signed)
    assert list(answer.hits) == []
    # The same size as an absent person's answer: the smallest answer bucket.
    assert len(answer.answer.ciphertext) == ANSWER_BUCKETS[0] + 16
    verified = opened(trusted.kit, answer, signed)
    assert (verified.status, verified.reason) == (NOT_ANSWERING, reason)


def test_stale_or_broken_trust_files_release_nothing(trusted: Trusted) -> None:
    try:
        trusted.kit.write(issued_at=NOW - dt.timedelta(days=3))
        assert_not_answering(trusted, sign(detective(trusted.kit)), "trust_stale")
        trusted.kit.revocations_path.write_text("{not json")
        assert_not_answering(trusted, sign(detective(trusted.kit)), "trust_unavailable")
    finally:
        trusted.kit.write()
    assert node_answer(trusted, "kcso", sign(detective(trusted.kit))).hits


def test_unsigned_searches_get_nothing_from_a_trusting_node(trusted: Trusted) -> None:
    plain = Requester("det-4711", "bellevue-pd", "local_law_enforcement", "criminal_investigation")
    request = build_request(
        plain,
        surname=DEMO_SUBJECT.surname,
        given_name=DEMO_SUBJECT.given_name,
        dob=DEMO_SUBJECT.dob,
    )
    before = refused(trusted, "kcso", "unsigned")
    channel, stub = node_stub(trusted.node("kcso"), trusted.pki.files("broker"))
    with channel:
        answer = stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id="r1", requester=request.requester, query=request.query
            ),
            timeout=10,
        )
    assert list(answer.hits) == []
    assert refused(trusted, "kcso", "unsigned") == before + 1
    with (
        SearchClient(
            trusted.federation.broker_address, trusted.pki.files("investigator")
        ) as client,
        pytest.raises(SearchError) as caught,
    ):
        client.search(plain, surname=DEMO_SUBJECT.surname, dob=DEMO_SUBJECT.dob)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_only_mutual_tls_from_the_federation_reaches_a_node(trusted: Trusted) -> None:
    honest = sign(detective(trusted.kit))
    request = node_pb2.NodeServiceSearchRequest(request_id="r1", signed=honest)
    address = trusted.node("kcso")
    # Plaintext to a TLS node: no connection at all.
    channel, stub = node_stub(address)
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Search(request, timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    # A certificate from the federation's CA that is not a broker's: refused by name.
    channel, stub = node_stub(address, trusted.pki.files("intruder"))
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Search(request, timeout=5)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # A certificate from another CA: the handshake fails.
    other = DevPKI.create(trusted.pki.directory.parent / "other-ca", ["broker"]).files("broker")
    channel, stub = node_stub(address, TLSFiles(trusted.pki.ca, other.cert, other.key))
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Search(request, timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    # The broker's certificate gets the honest answer.
    assert node_answer(trusted, "kcso", honest).hits


def test_plaintext_to_a_tls_broker_gets_nothing(trusted: Trusted) -> None:
    with (
        SearchClient(trusted.federation.broker_address) as client,
        pytest.raises(SearchError) as caught,
    ):
        client.search(
            CRIMINAL,
            surname=DEMO_SUBJECT.surname,
            dob=DEMO_SUBJECT.dob,
            identity=detective(trusted.kit),
            deadline_seconds=2,
        )
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


def test_a_node_with_stale_trust_files_says_it_cannot_answer(trusted: Trusted) -> None:
    """Stale trust is the same for every search: the node signs "not answering", never
    an answer that reads as "no record"."""
    search = sign(detective(trusted.kit))
    try:
        trusted.kit.write(issued_at=NOW - dt.timedelta(days=3))
        channel, stub = node_stub(trusted.node("kcso"), trusted.pki.files("broker"))
        with channel:
            answer = stub.Search(
                node_pb2.NodeServiceSearchRequest(request_id="r1", signed=search), timeout=10
            )
    finally:
        trusted.kit.write()
    verified = opened(trusted.kit, answer, search)
    assert (verified.status, verified.reason, verified.hits) == ("not_answering", "trust_stale", ())
    # Sealed in the same bucket as every other answer.
    assert len(answer.answer.ciphertext) == ANSWER_BUCKETS[0] + 16
