"""The trust bundle is signed by the federation authority every party pins.

An unsigned bundle, one signed by another key, or a signed one whose payload
was edited is refused: the store is unavailable and a node releases nothing
(fail closed), through real gRPC, until the genuine bundle is back.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest

from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.trust.bundle_signing import sign_bundle, unverified_payload
from fieldgate.trust.config import build_store
from fieldgate.trust.keys import generate_key
from fieldgate.trust.trust_bundle import TrustUnavailable
from tests.trust import test_trust_e2e
from tests.trust.test_trust_e2e import Trusted, assert_not_answering, detective, node_answer, sign

trusted = test_trust_e2e.trusted
"""The signed federation fixture (its bundle signed, its parties pinning the authority)."""

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def kit(tmp_path: Path) -> DevTrust:
    kit = DevTrust(tmp_path / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    kit.write()
    return kit


def _document(kit: DevTrust) -> dict[str, object]:
    return unverified_payload(json.loads(kit.bundle_path.read_text()), kit.bundle_path)


def test_a_bundle_signed_by_the_pinned_authority_is_used(kit: DevTrust) -> None:
    state = build_store(kit.config()).current(NOW)
    assert set(state.issuers) == {"bellevue-pd"}


def test_an_unsigned_bundle_is_refused_by_a_pinning_party(kit: DevTrust) -> None:
    kit.bundle_path.write_text(json.dumps(_document(kit)))
    with pytest.raises(TrustUnavailable, match="not signed"):
        build_store(kit.config()).current(NOW)


def test_a_bundle_signed_by_another_key_is_refused(kit: DevTrust) -> None:
    document = _document(kit)
    document["issuers"] = []
    kit.bundle_path.write_text(json.dumps(sign_bundle(document, generate_key())))
    with pytest.raises(TrustUnavailable, match="pinned federation authority"):
        build_store(kit.config()).current(NOW)


def test_an_edited_signed_bundle_is_refused(kit: DevTrust) -> None:
    token = json.loads(kit.bundle_path.read_text())["signed"]
    header, payload, signature = token.split(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    document["issuers"][0]["agency_type"] = "federal_law_enforcement"
    edited = base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()
    kit.bundle_path.write_text(json.dumps({"signed": f"{header}.{edited}.{signature}"}))
    with pytest.raises(TrustUnavailable, match="pinned federation authority"):
        build_store(kit.config()).current(NOW)


def test_a_node_given_a_rogue_bundle_releases_nothing(trusted: Trusted) -> None:
    """An attacker who can write the bundle file adds their own issuer; the node refuses it all."""
    kit = trusted.kit
    rogue_issuer = generate_key()
    document = _document(kit)
    try:
        issuers = list(document["issuers"])  # type: ignore[call-overload]
        issuers.append({**issuers[0], "id": "rogue", "agency": "rogue-pd"})
        document["issuers"] = issuers
        kit.bundle_path.write_text(json.dumps(sign_bundle(document, rogue_issuer)))
        assert_not_answering(trusted, sign(detective(kit)), "trust_unavailable")
        kit.bundle_path.write_text(json.dumps(document))  # and unsigned
        assert_not_answering(trusted, sign(detective(kit)), "trust_unavailable")
    finally:
        kit.write()
    assert node_answer(trusted, "kcso", sign(detective(kit))).hits
