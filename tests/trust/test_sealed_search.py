"""The v2 signed search at the verifier: what the broker can check, what only the node can.

Real keys, a real trust bundle, the real verifier (the same one brokers and
nodes run); the end-to-end attacks through gRPC are in test_trust_e2e,
test_addressed_and_bound and test_signed_answers.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jwt
import pytest

from fieldgate.broker.fanout import node_request
from fieldgate.core.request_shape import KEY_ENC_BYTES, QUERY_BODY_SIZES, WRAPPED_KEY_BYTES
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.trust.audience import Audience, Directory
from fieldgate.trust.keys import generate_enc_key
from fieldgate.trust.reach import Reach
from fieldgate.trust.sealed_search import sign_search
from fieldgate.trust.sealing import ENC_BYTES, QUERY_BUCKETS, TAG_BYTES, WRAPPED_BYTES
from fieldgate.trust.tokens import Identity
from fieldgate.trust.trust_bundle import TrustStore
from fieldgate.trust.verify import SearchVerifier, VerificationError
from fieldgate.v2 import common_pb2

QUERY = common_pb2.PersonQuery(surname="NGUYEN", given_name="LINH", dob="2005-09-12")
NODES = ("kcso", "spd")


@pytest.fixture
def kit(tmp_path: Path) -> DevTrust:
    kit = DevTrust(tmp_path / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    for node_id in NODES:
        kit.add_node(node_id)
    kit.write()
    # Made before any search is signed: a verifier refuses proofs older than itself.
    store = TrustStore(
        kit.bundle_path,
        kit.revocations_path,
        max_age=dt.timedelta(days=1),
        authority=kit.authority_key.public_key(),
    )
    for party in (None, *NODES):  # the broker's and each node's own nonce memory
        VERIFIERS[id(kit), party] = SearchVerifier(store)
    return kit


VERIFIERS: dict[tuple[int, str | None], SearchVerifier] = {}


def _verifier(kit: DevTrust, party: str | None = None) -> SearchVerifier:
    return VERIFIERS[id(kit), party]


def _sign(kit: DevTrust, identity: Identity, **kwargs: object) -> common_pb2.SignedSearch:
    arguments: dict[str, object] = {
        "query": QUERY,
        "purpose": "criminal_investigation",
        "case_number": "C-1",
        "audience": list(NODES),
        **kwargs,
    }
    return sign_search(
        credential=identity.credential,
        holder_key=identity.key,
        node_keys={n: k.public_key() for n, k in kit.node_enc.items()},
        **arguments,  # type: ignore[arg-type]
    )


def _reason(kit: DevTrust, signed: common_pb2.SignedSearch, node_id: str | None) -> str:
    with pytest.raises(VerificationError) as caught:
        _verifier(kit, node_id).verify(
            signed, node_id=node_id, enc_key=kit.node_enc[node_id] if node_id else None
        )
    return caught.value.reason


def _detective(kit: DevTrust, **kwargs: object) -> Identity:
    return kit.identity("bellevue-pd", "det-4711", ["criminal_investigation"], **kwargs)  # type: ignore[arg-type]


def test_the_broker_sees_who_why_and_where_but_not_whom(kit: DevTrust) -> None:
    signed = _sign(kit, _detective(kit))
    verified = _verifier(kit).verify(signed)
    assert verified.query is None  # the broker cannot open anything
    assert verified.audience == NODES
    assert verified.requester.purpose == "criminal_investigation"
    visible = (
        signed.credential
        + signed.proof
        + json.dumps(jwt.decode(signed.proof, options={"verify_signature": False}))
    )
    for secret in ("NGUYEN", "LINH", "2005-09-12"):
        assert secret not in visible
        assert secret.encode() not in signed.body
    # Each addressed node opens its own envelope to the very query.
    for node_id in NODES:
        opened = _verifier(kit, node_id).verify(
            signed, node_id=node_id, enc_key=kit.node_enc[node_id]
        )
        assert opened.query == QUERY


def test_the_credentials_reach_binds_the_audience_everywhere(kit: DevTrust) -> None:
    limited = _detective(kit, reach=["kcso"])
    assert _reason(kit, _sign(kit, limited), None) == "outside_reach"
    # Addressed beyond the reach: every node refuses, in it (kcso) or not (spd).
    assert _reason(kit, _sign(kit, limited), "kcso") == "outside_reach"
    assert _reason(kit, _sign(kit, limited), "spd") == "outside_reach"
    inside = _sign(kit, limited, audience=["kcso"])
    opened = _verifier(kit, "kcso").verify(inside, node_id="kcso", enc_key=kit.node_enc["kcso"])
    assert opened.query == QUERY


def test_a_compact_audience_names_exactly_the_nodes_it_should(kit: DevTrust) -> None:
    """{"dir", "except"}: nodes joined by dir, minus the excepted; a later joiner is not named."""
    detective = _detective(kit)
    kit.add_node("tpd")  # joins after the search's dir
    kit.write()
    VERIFIERS[id(kit), "tpd"] = SearchVerifier(_verifier(kit).trust)
    spd_since = kit.node_since["spd"]
    signed = _sign(
        kit,
        detective,
        audience=Audience(dir=spd_since, excepted=frozenset({"kcso"})),
        directory=kit.serials(),
    )
    claim = jwt.decode(signed.proof, options={"verify_signature": False})["aud"]
    assert claim == {"dir": spd_since, "except": ["kcso"]}
    assert [k.node_id for k in signed.keys] == ["spd"]
    assert _verifier(kit).verify(signed).audience == ("spd",)
    opened = _verifier(kit, "spd").verify(signed, node_id="spd", enc_key=kit.node_enc["spd"])
    assert opened.query == QUERY
    assert _reason(kit, signed, "kcso") == "not_addressed"  # excepted
    assert _reason(kit, signed, "tpd") == "not_addressed"  # since > dir


def test_a_compact_audience_newer_than_the_brokers_directory_is_refused(kit: DevTrust) -> None:
    signed = _sign(
        kit, _detective(kit), audience=Audience(dir=kit.serial + 5), directory=kit.serials()
    )
    assert _reason(kit, signed, None) == "not_addressed"


def test_a_compact_reach_binds_as_the_list_does(kit: DevTrust) -> None:
    """The issuer's compact form: every node by the serial, except kcso."""
    reach = Reach(Audience(dir=kit.serial, excepted=frozenset({"kcso"})), {"kcso": "not ours"})
    limited = _detective(kit, reach=reach)
    claims = jwt.decode(limited.credential, options={"verify_signature": False})
    assert claims["reach"] == {"dir": kit.serial, "except": ["kcso"]}
    assert claims["unreached"] == {"not ours": ["kcso"]}
    assert _reason(kit, _sign(kit, limited), None) == "outside_reach"
    assert _reason(kit, _sign(kit, limited), "kcso") == "outside_reach"
    inside = _sign(kit, limited, audience=["spd"])
    assert _verifier(kit).verify(inside).audience == ("spd",)
    opened = _verifier(kit, "spd").verify(inside, node_id="spd", enc_key=kit.node_enc["spd"])
    assert opened.query == QUERY


def test_another_nodes_key_or_an_altered_body_opens_nothing(kit: DevTrust) -> None:
    signed = _sign(kit, _detective(kit))
    keys = {k.node_id: k for k in signed.keys}
    theirs = common_pb2.SignedSearch(
        credential=signed.credential,
        proof=signed.proof,
        body=signed.body,
        keys=[
            common_pb2.QueryKey(node_id="kcso", enc=keys["spd"].enc, wrapped=keys["spd"].wrapped)
        ],
    )
    assert _reason(kit, theirs, "kcso") == "unsealable"
    altered = common_pb2.SignedSearch()
    altered.CopyFrom(signed)
    altered.body = bytes([signed.body[0] ^ 1]) + signed.body[1:]
    # The key opens; the body does not.
    assert _reason(kit, altered, "kcso") == "unsealable"


def test_a_body_of_another_plaintext_breaks_the_commitment(kit: DevTrust) -> None:
    """Same nonce, so the key and body open: only the commitment tells it is not this query."""
    detective = _detective(kit)
    signed = _sign(kit, detective, nonce="ab" * 16)
    other = _sign(
        kit,
        detective,
        nonce="ab" * 16,
        query=common_pb2.PersonQuery(surname="DOE", given_name="JOHN", dob="1980-04-12"),
    )
    mixed = common_pb2.SignedSearch(
        credential=signed.credential, proof=signed.proof, body=other.body, keys=other.keys
    )
    assert _reason(kit, mixed, "kcso") == "commitment"


def test_a_node_without_its_query_key_or_enc_key_opens_nothing(kit: DevTrust) -> None:
    signed = _sign(kit, _detective(kit), audience=["spd"])
    # Addressed to spd only: kcso refuses it before it would look for an envelope.
    assert _reason(kit, signed, "kcso") == "not_addressed"
    stripped = common_pb2.SignedSearch(
        credential=signed.credential, proof=signed.proof, body=signed.body
    )
    assert _reason(kit, stripped, "spd") == "unsealable"
    with pytest.raises(VerificationError) as caught:
        _verifier(kit, "spd").verify(signed, node_id="spd", enc_key=None)
    assert caught.value.reason == "unsealable"
    with pytest.raises(VerificationError) as caught:
        _verifier(kit, "spd").verify(signed, node_id="spd", enc_key=kit.node_enc["kcso"])
    assert caught.value.reason == "unsealable"


def test_the_shape_check_knows_the_query_sizes() -> None:
    """core.request_shape repeats the sizes (it sits below the trust layer): they agree."""
    assert {b + TAG_BYTES for b in QUERY_BUCKETS} == QUERY_BODY_SIZES
    assert (ENC_BYTES, WRAPPED_BYTES) == (KEY_ENC_BYTES, WRAPPED_KEY_BYTES)


def test_a_wide_search_costs_the_body_once_and_about_90_bytes_per_agency(kit: DevTrust) -> None:
    """Issue 22's sizes: one body, a small key per agency, and one key per forwarded node."""
    nodes = [f"agency-{i:04d}" for i in range(200)]
    keys = {n: generate_enc_key().public_key() for n in nodes}
    directory = Directory(300, {n: 1 + i for i, n in enumerate(nodes)} | {"ice-ero": 7})
    detective = _detective(kit)
    signed = sign_search(
        credential=detective.credential, holder_key=detective.key, query=QUERY,
        purpose="criminal_investigation", case_number="C-1", audience=nodes,
        node_keys=keys, directory=directory,
    )  # fmt: skip
    aud = jwt.decode(signed.proof, options={"verify_signature": False})["aud"]
    assert aud == {"dir": 200, "except": ["ice-ero"]}  # 200 ids would be ~3 kB of proof
    per_key = [len(k.SerializeToString()) for k in signed.keys]
    assert max(per_key) == 2 + 11 + 34 + 50  # tag+len and an 11-character id, enc, wrapped
    fixed = len(signed.credential) + len(signed.proof) + len(signed.body) + 16
    assert len(signed.SerializeToString()) <= fixed + 200 * (max(per_key) + 3)
    # What the broker forwards to one node: the same, with that node's key only.
    forwarded = node_request("r-1", signed, {k.node_id: k for k in signed.keys}, nodes[7])
    assert list(forwarded.signed.keys) == [signed.keys[7]]
    assert forwarded.signed.body == signed.body
    assert len(forwarded.SerializeToString()) <= fixed + max(per_key) + 3 + 16
