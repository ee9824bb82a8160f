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

from fieldgate.core.request_shape import SEALED_CIPHERTEXT_SIZES
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.trust.sealed_search import sign_search
from fieldgate.trust.sealing import QUERY_BUCKETS, TAG_BYTES
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
        assert all(secret.encode() not in s.ciphertext for s in signed.sealed)
    # Each addressed node opens its own envelope to the very query.
    for node_id in NODES:
        opened = _verifier(kit, node_id).verify(
            signed, node_id=node_id, enc_key=kit.node_enc[node_id]
        )
        assert opened.query == QUERY


def test_the_credentials_reach_binds_the_audience_everywhere(kit: DevTrust) -> None:
    limited = _detective(kit, reach=["kcso"])
    assert _reason(kit, _sign(kit, limited), None) == "outside_reach"
    assert _reason(kit, _sign(kit, limited), "kcso") == "outside_reach"
    inside = _sign(kit, limited, audience=["kcso"])
    opened = _verifier(kit, "kcso").verify(inside, node_id="kcso", enc_key=kit.node_enc["kcso"])
    assert opened.query == QUERY


def test_envelopes_out_of_order_are_refused_by_the_broker(kit: DevTrust) -> None:
    signed = _sign(kit, _detective(kit))
    swapped = common_pb2.SignedSearch(
        credential=signed.credential, proof=signed.proof, sealed=list(signed.sealed)[::-1]
    )
    assert _reason(kit, swapped, None) == "sealed_mismatch"


def test_an_envelope_of_another_plaintext_breaks_the_commitment(kit: DevTrust) -> None:
    """Same nonce, so the envelope opens: only the commitment tells it is not this query."""
    detective = _detective(kit)
    signed = _sign(kit, detective, nonce="ab" * 16)
    other = _sign(
        kit,
        detective,
        nonce="ab" * 16,
        query=common_pb2.PersonQuery(surname="DOE", given_name="JOHN", dob="1980-04-12"),
    )
    mixed = common_pb2.SignedSearch(
        credential=signed.credential, proof=signed.proof, sealed=other.sealed
    )
    assert _reason(kit, mixed, "kcso") == "commitment"


def test_a_node_without_its_envelope_or_key_opens_nothing(kit: DevTrust) -> None:
    signed = _sign(kit, _detective(kit), audience=["spd"])
    # Addressed to spd only: kcso refuses it before it would look for an envelope.
    assert _reason(kit, signed, "kcso") == "not_addressed"
    stripped = common_pb2.SignedSearch(credential=signed.credential, proof=signed.proof)
    assert _reason(kit, stripped, "spd") == "unsealable"
    with pytest.raises(VerificationError) as caught:
        _verifier(kit, "spd").verify(signed, node_id="spd", enc_key=None)
    assert caught.value.reason == "unsealable"
    with pytest.raises(VerificationError) as caught:
        _verifier(kit, "spd").verify(signed, node_id="spd", enc_key=kit.node_enc["kcso"])
    assert caught.value.reason == "unsealable"


def test_the_shape_check_knows_the_query_buckets() -> None:
    """core.request_shape repeats the sizes (it sits below the trust layer): they agree."""
    assert {b + TAG_BYTES for b in QUERY_BUCKETS} == SEALED_CIPHERTEXT_SIZES
