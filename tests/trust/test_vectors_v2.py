"""The committed protocol v2 test vectors (tests/vectors/v2) hold for this implementation.

Deterministic structures (Ed25519 JWS, the sealed-query plaintext, its
commitment and its body under the fixed content key) are rebuilt from the
vectors' inputs and compared byte for byte; HPKE envelopes are randomised, so
the committed ones must open to the expected content key or padded answer, and
a fresh seal must round-trip. The audience rules (both forms) are replayed. The Node.js
client checks the same files (docs/protocol.md, "Test vectors").
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from google.protobuf import json_format

from fieldgate.trust.answers import AnswerSigner, open_answer
from fieldgate.trust.audience import Audience, Directory, within
from fieldgate.trust.keys import enc_key_from_jwk, enc_public_jwk, key_from_jwk, public_jwk
from fieldgate.trust.sealed_search import commitment, query_plaintext, sign_search
from fieldgate.trust.sealing import (
    ANSWER_BUCKETS,
    QUERY_BUCKETS,
    SealingError,
    answer_info,
    body_aad,
    open_body,
    open_sealed,
    pad,
    query_key_info,
    seal,
    unpad,
)
from fieldgate.trust.tokens import query_from_payload
from fieldgate.v2 import common_pb2

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "v2"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


KEYS = _load("keys.json")


def _ed(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_b64(KEYS["ed25519"][name]["seed_b64url"]))


def _x(name: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(_b64(KEYS["x25519"][name]["private_b64url"]))


def test_public_keys_are_derived_from_the_private_ones() -> None:
    for name in KEYS["ed25519"]:
        jwk = KEYS["ed25519"][name]["public_jwk"]
        assert public_jwk(_ed(name).public_key()) == jwk
        key_from_jwk(jwk)
    for name in KEYS["x25519"]:
        jwk = KEYS["x25519"][name]["public_jwk"]
        assert enc_public_jwk(_x(name).public_key()) == jwk
        enc_key_from_jwk(jwk)


def test_credential_and_warrant_signatures_are_byte_for_byte() -> None:
    tokens = _load("tokens.json")
    for what, signer, typ in (
        ("credential", "issuer", "fieldgate-credential+jwt"),
        ("warrant", "court", "fieldgate-warrant+jwt"),
    ):
        vector = tokens[what]
        again = jwt.encode(vector["payload"], _ed(signer), algorithm="EdDSA", headers={"typ": typ})
        assert again == vector["jws"]


def _directory(document: dict[str, Any] | None) -> Directory | None:
    return None if document is None else Directory(document["serial"], document["since"])


SEARCHES = [("search.json", "credential"), ("search_compact.json", "credential_compact")]


@pytest.mark.parametrize(("name", "credential"), SEARCHES)
def test_search_proof_plaintext_commitment_and_body_are_byte_for_byte(
    name: str, credential: str
) -> None:
    vector = _load(name)
    inputs = vector["inputs"]
    query = query_from_payload(inputs["query"])
    salt = _b64(inputs["salt_b64url"])
    plaintext = query_plaintext(query, inputs["warrants"], inputs["nonce"], salt)
    assert plaintext.decode("utf-8") == vector["plaintext"]
    assert commitment(plaintext) == vector["commitment"]
    assert pad(plaintext, QUERY_BUCKETS) == _b64(vector["padded_b64url"])
    directory = _directory(inputs["directory"])
    audience = Audience.from_claim(inputs["audience"], "aud")
    named = audience.named(directory or Directory())
    signed = sign_search(
        credential=_load("tokens.json")[credential]["jws"],
        holder_key=_ed("investigator"),
        query=query,
        purpose=inputs["purpose"],
        case_number=inputs["case_number"],
        audience=audience,
        node_keys={n: _x(f"{n}_enc").public_key() for n in named},
        warrants=inputs["warrants"],
        directory=directory,
        now=dt.datetime.fromtimestamp(inputs["iat"], dt.UTC),
        nonce=inputs["nonce"],
        salt=salt,
        content_key=_b64(inputs["content_key_b64url"]),
    )
    assert signed.proof == vector["proof"]["jws"]
    assert signed.body == _b64(vector["body_b64url"])
    assert vector["body_aad"].encode() == body_aad(inputs["nonce"])
    header, payload, _ = signed.proof.split(".")
    assert _b64(header).decode() == vector["proof"]["header_json"]
    assert _b64(payload).decode() == vector["proof"]["payload_json"]
    claims = json.loads(vector["proof"]["payload_json"])
    assert claims["sealed"] == vector["commitment"]
    assert claims["aud"] == inputs["audience"]
    assert [k.node_id for k in signed.keys] == [k["node_id"] for k in vector["keys"]] == named


@pytest.mark.parametrize("name", ["search.json", "search_compact.json"])
def test_committed_query_keys_open_to_the_content_key_and_the_body_to_the_plaintext(
    name: str,
) -> None:
    vector = _load(name)
    content_key = _b64(vector["inputs"]["content_key_b64url"])
    nonce = vector["inputs"]["nonce"]
    for wrapped in vector["keys"]:
        enc, ciphertext = _b64(wrapped["enc_b64url"]), _b64(wrapped["wrapped_b64url"])
        assert (len(enc), len(ciphertext)) == (32, 48)
        info, aad = wrapped["info"].encode(), wrapped["aad"].encode()
        assert info == query_key_info(wrapped["node_id"])
        assert open_sealed(_x(wrapped["recipient"]), enc, ciphertext, info=info, aad=aad) == (
            content_key
        )
        # Another node's key, another node's info or another nonce: it does not open.
        for key, bad_info, bad_aad in (
            (_x("investigator_enc"), info, aad),
            (_x(wrapped["recipient"]), query_key_info("ice-ero"), aad),
            (_x(wrapped["recipient"]), info, b"ffffffffffffffffffffffffffffffff"),
        ):
            with pytest.raises(SealingError):
                open_sealed(key, enc, ciphertext, info=bad_info, aad=bad_aad)
    body = _b64(vector["body_b64url"])
    assert open_body(content_key, body, nonce) == vector["plaintext"].encode("utf-8")
    with pytest.raises(SealingError, match="unsealable"):
        open_body(content_key, body, "ffffffffffffffffffffffffffffffff")
    with pytest.raises(SealingError, match="unsealable"):
        open_body(bytes(32), body, nonce)


def test_audience_rules_hold_for_both_forms() -> None:
    vector = _load("audience.json")
    directory = _directory(vector["directory"])
    assert directory is not None
    for case in vector["contains"]:
        audience = Audience.from_claim(case["claim"], "aud")
        assert audience.contains(case["node_id"], case["since"]) is case["named"], case
    for case in vector["shorter_form"]:
        chosen = Audience.of(case["members"], _directory(case["directory"]))
        assert chosen.claim() == case["claim"]
    for case in vector["within_reach"]:
        audience = Audience.from_claim(case["audience"], "aud")
        reach = Audience.from_claim(case["reach"], "reach")
        if isinstance(case["beyond"], str):
            with pytest.raises(ValueError, match="newer"):
                within(audience, reach, directory)
        else:
            assert within(audience, reach, directory) == case["beyond"]
    # The vectors exercise both outcomes, both forms.
    assert {c["named"] for c in vector["contains"]} == {True, False}
    assert any(isinstance(c["claim"], dict) for c in vector["shorter_form"])
    assert any(isinstance(c["claim"], list) for c in vector["shorter_form"])


def test_answers_are_byte_for_byte_and_their_envelopes_open_and_verify() -> None:
    vector = _load("answers.json")
    proof = vector["proof"]
    nonce = json.loads(_b64(proof.split(".")[1]))["nonce"]
    for case in vector["answers"]:
        signer = AnswerSigner(
            case["node_id"],
            _ed(case["signer"]),
            clock=lambda case=case: dt.datetime.fromtimestamp(case["iat"], dt.UTC),
        )
        hits = [json_format.ParseDict(h, common_pb2.Hit()) for h in case["hits"]]
        token = signer.sign(
            nonce=nonce, proof=proof, hits=hits, status=case["status"], reason=case["reason"]
        )
        assert token == case["jws"], case["name"]
        sealed = common_pb2.SealedAnswer(
            enc=_b64(case["enc_b64url"]), ciphertext=_b64(case["ciphertext_b64url"])
        )
        assert len(sealed.ciphertext) == case["padded_length"] + 16
        verified = open_answer(
            sealed,
            enc_key=_x(case["recipient"]),
            node_id=case["node_id"],
            nonce=nonce,
            proof=proof,
            node_keys={case["node_id"]: _ed(case["signer"]).public_key()},
            now=dt.datetime.fromtimestamp(case["iat"] + 2, dt.UTC),
        )
        assert verified.status == case["status"]
        assert [json_format.MessageToDict(h, preserving_proto_field_name=True)
                for h in verified.hits] == case["hits"]  # fmt: skip


def test_a_fresh_seal_round_trips() -> None:
    key = _x("kcso_enc")
    body = b'{"v":2}'
    enc, ciphertext = seal(
        key.public_key(), pad(body, ANSWER_BUCKETS), info=answer_info("kcso"), aad=b"n"
    )
    assert len(ciphertext) == ANSWER_BUCKETS[0] + 16
    opened = open_sealed(key, enc, ciphertext, info=answer_info("kcso"), aad=b"n")
    assert unpad(opened, ANSWER_BUCKETS) == body


def test_padding_sizes_and_refusals() -> None:
    vector = _load("padding.json")
    buckets = {"query": QUERY_BUCKETS, "answer": ANSWER_BUCKETS}
    assert vector["buckets"] == {k: list(v) for k, v in buckets.items()}
    for case in vector["good"]:
        padded = pad(bytes(case["body_length"]), buckets[case["buckets"]])
        assert len(padded) == case["padded_length"]
        assert unpad(padded, buckets[case["buckets"]]) == bytes(case["body_length"])
    for case in vector["too_large"]:
        with pytest.raises(SealingError, match="too_large"):
            pad(bytes(case["body_length"]), buckets[case["buckets"]])
    for case in vector["refused"]:
        with pytest.raises(SealingError, match="malformed"):
            unpad(_b64(case["padded_b64url"]), QUERY_BUCKETS)
