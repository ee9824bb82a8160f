"""A verifier remembers credentials it checked, and nothing about them goes unchecked.

The verifier (the one brokers and nodes run) verifies a credential's signature
once per trust state and remembers it by its whole token
(``fieldgate.trust.verify.CREDENTIAL_CACHE_SIZE``). An attacker who presents a
token that differs in any byte, a credential that has since expired, or one
whose issuer the reloaded trust bundle no longer lists gets nothing.
Revocation through real gRPC, on the very next search, is
``tests/trust/test_trust_e2e.py::test_revocation_takes_effect_on_the_very_next_search``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import jwt
import pytest

from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.trust.keys import generate_key
from fieldgate.trust.sealed_search import sign_search
from fieldgate.trust.tokens import Identity
from fieldgate.trust.trust_bundle import TrustStore
from fieldgate.trust.verify import SearchVerifier, VerificationError
from fieldgate.v2 import common_pb2

QUERY = common_pb2.PersonQuery(surname="NGUYEN", given_name="LINH", dob="2005-09-12")
NODE = "kcso"


class Clock:
    """The verifier's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def kit(tmp_path: Path) -> DevTrust:
    kit = DevTrust(tmp_path / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    kit.add_node(NODE)
    kit.write()
    return kit


def _verifier(kit: DevTrust, clock: Clock) -> SearchVerifier:
    store = TrustStore(
        kit.bundle_path,
        kit.revocations_path,
        max_age=dt.timedelta(days=1),
        authority=kit.authority_key.public_key(),
    )
    return SearchVerifier(store, clock=clock)


def _search(
    kit: DevTrust, identity: Identity, credential: str | None = None, now: dt.datetime | None = None
) -> common_pb2.SignedSearch:
    return sign_search(
        credential=credential or identity.credential,
        holder_key=identity.key,
        query=QUERY,
        purpose="criminal_investigation",
        case_number="C-1",
        audience=[NODE],
        node_keys={NODE: kit.node_enc[NODE].public_key()},
        now=now,
    )


def _reason(verifier: SearchVerifier, kit: DevTrust, signed: common_pb2.SignedSearch) -> str:
    with pytest.raises(VerificationError) as caught:
        verifier.verify(signed, node_id=NODE, enc_key=kit.node_enc[NODE])
    return caught.value.reason


def _accepted(verifier: SearchVerifier, kit: DevTrust, signed: common_pb2.SignedSearch) -> None:
    assert verifier.verify(signed, node_id=NODE, enc_key=kit.node_enc[NODE]).query == QUERY


def _detective(kit: DevTrust, hours: float = 8.0) -> Identity:
    return kit.identity("bellevue-pd", "det-4711", ["criminal_investigation"], hours=hours)


def test_a_remembered_credential_is_refused_once_it_expires(kit: DevTrust) -> None:
    clock = Clock()
    verifier = _verifier(kit, clock)
    identity = _detective(kit, hours=1)
    _accepted(verifier, kit, _search(kit, identity))
    _accepted(verifier, kit, _search(kit, identity))  # remembered: still good
    clock.now += dt.timedelta(hours=1, seconds=verifier.skew + 1)
    late = _search(kit, identity, now=clock.now)
    assert _reason(verifier, kit, late) == "credential_expired"


def _forged(credential: str, **changes: object) -> str:
    """The credential's claims with ``changes``, signed by a key no issuer holds."""
    claims = jwt.decode(credential, options={"verify_signature": False})
    header = jwt.get_unverified_header(credential)
    return jwt.encode({**claims, **changes}, generate_key(), algorithm="EdDSA", headers=header)


def _with_payload(credential: str, **changes: object) -> str:
    """The credential with its payload changed and its genuine signature kept."""
    head, payload, signature = credential.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    altered = base64.urlsafe_b64encode(json.dumps({**claims, **changes}).encode()).rstrip(b"=")
    return f"{head}.{altered.decode()}.{signature}"


def test_a_token_that_differs_from_a_remembered_one_is_checked_from_scratch(
    kit: DevTrust,
) -> None:
    verifier = _verifier(kit, Clock())
    identity = _detective(kit)
    _accepted(verifier, kit, _search(kit, identity))
    immigration = {"agency_type": "civil_immigration", "purposes": ["civil_immigration"]}
    for credential in (
        _forged(identity.credential),  # the same claims, another key
        _forged(identity.credential, **immigration),
        _with_payload(identity.credential, **immigration),  # the genuine signature kept
    ):
        assert _reason(verifier, kit, _search(kit, identity, credential)) in {
            "credential_signature",
            "malformed",
        }
    _accepted(verifier, kit, _search(kit, identity))  # the genuine one still works


def test_a_reloaded_trust_bundle_checks_remembered_credentials_again(kit: DevTrust) -> None:
    verifier = _verifier(kit, Clock())
    identity = _detective(kit)
    _accepted(verifier, kit, _search(kit, identity))
    del kit.issuers["bellevue-pd"]  # the federation drops the issuer
    kit.write(issued_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    assert _reason(verifier, kit, _search(kit, identity)) == "unknown_issuer"
