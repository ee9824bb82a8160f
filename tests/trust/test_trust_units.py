"""The trust primitives on their own: replay memory, trust files, malformed tokens."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.trust.keys import generate_enc_key, generate_key, public_jwk
from fieldgate.trust.nonce_cache import ReplayCache
from fieldgate.trust.sealed_search import sign_search
from fieldgate.trust.tokens import CREDENTIAL_TYPE
from fieldgate.trust.trust_bundle import TrustStore, TrustUnavailable
from fieldgate.trust.verify import SearchVerifier, VerificationError
from fieldgate.v2 import common_pb2

QUERY = common_pb2.PersonQuery(surname="DOE", given_name="JOHN", dob="1980-04-12")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_replay_cache_remembers_for_its_window_and_refuses_when_full() -> None:
    clock = Clock()
    cache = ReplayCache(window=10, capacity=2, clock=clock)
    assert cache.first_use("c", "n1")
    assert not cache.first_use("c", "n1")
    assert cache.first_use("c", "n2")
    assert not cache.first_use("c", "n3")  # full of live entries: fail closed
    clock.now += 11
    assert cache.first_use("c", "n3")  # the old ones expired
    assert len(cache) == 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.text(max_size=3)), max_size=30))
def test_no_pair_is_ever_accepted_twice_within_the_window(pairs: list[tuple[str, str]]) -> None:
    cache = ReplayCache(window=100, capacity=1000, clock=Clock())
    seen: set[tuple[str, str]] = set()
    for pair in pairs:
        assert cache.first_use(*pair) == (pair not in seen)
        seen.add(pair)


@pytest.fixture
def kit(tmp_path: Path) -> DevTrust:
    kit = DevTrust(tmp_path / "trust", sign=False)  # these check the bundle's own parsing
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    kit.write()
    return kit


def verifier(kit: DevTrust) -> SearchVerifier:
    store = TrustStore(kit.bundle_path, kit.revocations_path, max_age=dt.timedelta(days=1))
    return SearchVerifier(store)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "must hold a JSON object"),
        ('{"issued_at": "yesterday"}', "not a timestamp"),
        ('{"issued_at": "2026-01-01T00:00:00", "issuers": []}', "time zone"),
    ],
)
def test_broken_bundles_make_the_store_unavailable(
    kit: DevTrust, content: str, message: str
) -> None:
    kit.bundle_path.write_text(content)
    store = TrustStore(kit.bundle_path, kit.revocations_path, max_age=dt.timedelta(days=1))
    with pytest.raises(TrustUnavailable, match=message):
        store.current(dt.datetime.now(dt.UTC))


def test_an_issuer_of_unknown_agency_type_is_refused(kit: DevTrust) -> None:
    bundle = json.loads(kit.bundle_path.read_text())
    bundle["issuers"][0]["agency_type"] = "fan_club"
    kit.bundle_path.write_text(json.dumps(bundle))
    store = TrustStore(kit.bundle_path, kit.revocations_path, max_age=dt.timedelta(days=1))
    with pytest.raises(TrustUnavailable, match="fan_club"):
        store.current(dt.datetime.now(dt.UTC))


def _credential(kit: DevTrust, **changes: object) -> tuple[str, object]:
    """A credential from the kit's issuer, with some claims changed, and its holder key."""
    holder = generate_key()
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims: dict[str, object] = {
        "iss": "bellevue-pd", "sub": "det", "jti": "j1", "agency": "bellevue-pd",
        "agency_type": "local_law_enforcement", "roles": [], "purposes": ["criminal_investigation"],
        "iat": now, "nbf": now, "exp": now + 3600, "cnf": {"jwk": public_jwk(holder.public_key())},
    }  # fmt: skip
    claims.update(changes)
    _, issuer_key = kit.issuers["bellevue-pd"]
    token = jwt.encode(claims, issuer_key, algorithm="EdDSA", headers={"typ": CREDENTIAL_TYPE})
    return token, holder


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": int(dt.datetime.now(dt.UTC).timestamp()) + 30 * 24 * 3600}, "credential_lifetime"),
        ({"agency": "seattle-pd"}, "issuer_mismatch"),
        ({"agency_type": "federal_law_enforcement"}, "issuer_mismatch"),
        ({"cnf": {"jwk": {"kty": "RSA"}}}, "malformed"),
    ],
)
def test_credentials_an_issuer_may_not_sign(
    kit: DevTrust, changes: dict[str, object], reason: str
) -> None:
    token, holder = _credential(kit, **changes)
    signed = sign_search(
        credential=token, holder_key=holder, query=QUERY,  # type: ignore[arg-type]
        purpose="criminal_investigation", case_number="", audience=["kcso"],
        node_keys={"kcso": generate_enc_key().public_key()},
    )  # fmt: skip
    with pytest.raises(VerificationError) as caught:
        verifier(kit).verify(signed)
    assert caught.value.reason == reason


def _b64(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "credential",
    [
        "",
        "not-a-token",
        _b64({"alg": "EdDSA", "typ": CREDENTIAL_TYPE}) + "." + _b64([1, 2]) + ".c2ln",
        jwt.encode({"x": 1}, "s" * 32, algorithm="HS256"),  # wrong algorithm and type
    ],
)
def test_malformed_tokens_are_refused_not_crashed_on(kit: DevTrust, credential: str) -> None:
    signed = common_pb2.SignedSearch(credential=credential, proof="a.b.c")
    with pytest.raises(VerificationError) as caught:
        verifier(kit).verify(signed)
    assert caught.value.reason in {"malformed", "unsigned"}
