"""Write the protocol v2 test vectors (tests/vectors/v2/*.json).

Fixed keys and inputs; for each structure the exact bytes: credential, warrant,
proof and answer JWS (Ed25519 is deterministic, so these compare byte for
byte), the sealed-query plaintext, its commitment and its body (ChaCha20-Poly1305
under a fixed content key: byte for byte too), and HPKE envelopes (randomised:
an implementation checks it OPENS them to the expected content key or padded
answer, and that its own seal round-trips); and the audience rules (both forms,
membership, the shorter-form choice, audience within reach). docs/protocol.md
describes each file. ``tests/trust/test_vectors_v2.py`` checks the committed vectors against
the implementation; a second implementation (the Node.js client) checks the
same files.

Usage: ``python scripts/gen_vectors.py [OUTPUT_DIR]`` (default tests/vectors/v2).
Re-running changes only the HPKE ciphertexts (fresh ephemeral keys).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from google.protobuf import struct_pb2

from fieldgate.trust.answers import AnswerSigner
from fieldgate.trust.audience import Audience, Directory, within
from fieldgate.trust.keys import enc_public_jwk, public_jwk
from fieldgate.trust.sealed_search import b64url, commitment, query_plaintext, sign_search
from fieldgate.trust.sealing import (
    ANSWER_BUCKETS,
    QUERY_BUCKETS,
    answer_info,
    body_aad,
    pad,
    query_key_info,
    seal,
)
from fieldgate.trust.tokens import CREDENTIAL_TYPE, WARRANT_TYPE
from fieldgate.v2 import common_pb2

ROOT = Path(__file__).resolve().parents[1]

SEEDS = {
    "issuer": bytes([1]) * 32,
    "investigator": bytes([2]) * 32,
    "court": bytes([3]) * 32,
    "kcso_answer": bytes([4]) * 32,
    "spd_answer": bytes([5]) * 32,
}
"""Ed25519 private keys (RFC 8032 seeds)."""
X25519 = {
    "kcso_enc": bytes([6]) * 32,
    "spd_enc": bytes([7]) * 32,
    "investigator_enc": bytes([8]) * 32,
}
"""X25519 private keys (raw 32 bytes, RFC 7748)."""

NOW = 1_796_300_000  # 2026-12-03T12:53:20Z
NONCE = "00112233445566778899aabbccddeeff"
SALT = bytes(range(32))
AUDIENCE = ("kcso", "spd")
CONTENT_KEY = bytes(range(32, 64))
"""The search's content key (fresh per search in use; fixed here so the body compares)."""
DIRECTORY = Directory(7, {"kcso": 2, "spd": 4, "ice-ero": 5, "tpd": 7})
"""The compact vectors' directory: serial 7, each node's since."""
COMPACT_AUDIENCE = Audience(dir=5, excepted=frozenset({"ice-ero"}))
"""Every node with since <= 5 except ice-ero: kcso and spd (tpd joined at 7)."""


def ed(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(SEEDS[name])


def x(name: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(X25519[name])


def raw_public(key: Ed25519PrivateKey | X25519PrivateKey) -> str:
    return b64url(
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def keys() -> dict[str, Any]:
    return {
        "ed25519": {
            name: {
                "seed_b64url": b64url(seed),
                "public_jwk": public_jwk(ed(name).public_key()),
            }
            for name, seed in SEEDS.items()
        },
        "x25519": {
            name: {
                "private_b64url": b64url(raw),
                "public_jwk": enc_public_jwk(x(name).public_key()),
            }
            for name, raw in X25519.items()
        },
        "node_keys": {
            "kcso": {"answer": "kcso_answer", "enc": "kcso_enc"},
            "spd": {"answer": "spd_answer", "enc": "spd_enc"},
        },
    }


def credential(compact: bool = False) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {
        "iss": "seattle-pd",
        "sub": "det-4711",
        "jti": "c0ffee00c0ffee00c0ffee00c0ffee00",
        "agency": "seattle-pd",
        "agency_type": "local_law_enforcement",
        "roles": ["detective"],
        "purposes": ["criminal_investigation"],
        "iat": NOW - 600,
        "nbf": NOW - 600,
        "exp": NOW + 8 * 3600 - 600,
        "cnf": {"jwk": public_jwk(ed("investigator").public_key())},
        "enc": enc_public_jwk(x("investigator_enc").public_key()),
        "reach": ["kcso", "spd"],
    }
    if compact:
        # The issuer's other form: every node with since <= 7 but two, grouped reasons.
        payload["jti"] = "c0ffee01c0ffee01c0ffee01c0ffee01"
        payload["reach"] = {"dir": 7, "except": ["ice-ero", "tpd"]}
        payload["unreached"] = {
            "civil immigration agency": ["ice-ero"],
            "outside the agency's sharing agreements": ["tpd"],
        }
    token = jwt.encode(payload, ed("issuer"), algorithm="EdDSA", headers={"typ": CREDENTIAL_TYPE})
    return token, payload


def warrant() -> tuple[str, dict[str, Any]]:
    payload = {
        "iss": "wawd",
        "jti": "W-2026-0042",
        "kind": "criminal_judicial_warrant",
        "subject": {"surname": "DOE", "given_name": "JOHN", "dob": "1980-04-12"},
        "covers": ["address"],
        "record_kinds": [],
        "holder": {"agency": "seattle-pd", "case_number": "2026-001234"},
        "exp": NOW + 30 * 86400,
    }
    token = jwt.encode(payload, ed("court"), algorithm="EdDSA", headers={"typ": WARRANT_TYPE})
    return token, payload


QUERY = common_pb2.PersonQuery(
    surname="DOE",
    given_name="JOHN",
    dob="1980-04-12",
    identifiers=[common_pb2.Identifier(kind="state_id", value="WA-1234567")],
    max_hits=5,
)


def search(cred: str, warrant_token: str, *, compact: bool = False) -> dict[str, Any]:
    audience: tuple[str, ...] | Audience = COMPACT_AUDIENCE if compact else AUDIENCE
    signed = sign_search(
        credential=cred,
        holder_key=ed("investigator"),
        query=QUERY,
        purpose="criminal_investigation",
        case_number="2026-001234",
        audience=audience,
        node_keys={"kcso": x("kcso_enc").public_key(), "spd": x("spd_enc").public_key()},
        warrants=[warrant_token],
        directory=DIRECTORY if compact else None,
        now=dt.datetime.fromtimestamp(NOW + 0.125, dt.UTC),
        nonce=NONCE,
        salt=SALT,
        content_key=CONTENT_KEY,
    )
    plaintext = query_plaintext(QUERY, [warrant_token], NONCE, SALT)
    header, payload, signature = signed.proof.split(".")
    return {
        "inputs": {
            "purpose": "criminal_investigation",
            "case_number": "2026-001234",
            "audience": COMPACT_AUDIENCE.claim() if compact else list(AUDIENCE),
            "directory": {"serial": DIRECTORY.serial, "since": dict(DIRECTORY.since)}
            if compact
            else None,
            "iat": NOW + 0.125,
            "nonce": NONCE,
            "salt_b64url": b64url(SALT),
            "content_key_b64url": b64url(CONTENT_KEY),
            "query": {
                "surname": "DOE",
                "given_name": "JOHN",
                "dob": "1980-04-12",
                "identifiers": [["state_id", "WA-1234567"]],
                "max_hits": 5,
            },
            "warrants": [warrant_token],
        },
        "plaintext": plaintext.decode("utf-8"),
        "commitment": commitment(plaintext),
        "proof": {
            "jws": signed.proof,
            "header_json": jwt.utils.base64url_decode(header).decode(),
            "payload_json": jwt.utils.base64url_decode(payload).decode(),
            "signature_b64url": signature,
        },
        "padded_b64url": b64url(pad(plaintext, QUERY_BUCKETS)),
        "body_nonce_b64url": b64url(bytes(12)),
        "body_aad": body_aad(NONCE).decode(),
        "body_b64url": b64url(signed.body),
        "keys": [
            {
                "node_id": k.node_id,
                "recipient": f"{k.node_id}_enc",
                "info": query_key_info(k.node_id).decode(),
                "aad": NONCE,
                "enc_b64url": b64url(k.enc),
                "wrapped_b64url": b64url(k.wrapped),
            }
            for k in signed.keys
        ],
    }


def audience_rules() -> dict[str, Any]:
    """Membership, the shorter-form choice and audience-within-reach, over DIRECTORY."""
    since = dict(DIRECTORY.since)
    claims = [["kcso", "spd"], {"dir": 5, "except": ["ice-ero"]}, {"dir": 7, "except": []}]
    contains = [
        {
            "claim": claim,
            "node_id": node_id,
            "since": since.get(node_id),
            "named": Audience.from_claim(claim, "aud").contains(node_id, since.get(node_id)),
        }
        for claim in claims
        for node_id in ("kcso", "spd", "ice-ero", "tpd", "not-in-directory")
    ]
    wide = Directory(9, {f"n{i:02d}": 1 + i % 9 for i in range(30)})
    choices = [
        {"members": members, "directory": {"serial": d.serial, "since": dict(d.since)},
         "claim": Audience.of(members, d).claim()}
        for members, d in (
            (["kcso", "spd"], DIRECTORY),
            ([f"n{i:02d}" for i in range(30) if i != 4], wide),
            ([f"n{i:02d}" for i in range(30) if i % 9 <= 3], wide),
        )
    ]  # fmt: skip
    pairs = [
        (["kcso", "spd"], {"dir": 7, "except": ["ice-ero", "tpd"]}),
        ({"dir": 5, "except": ["ice-ero"]}, {"dir": 7, "except": ["ice-ero", "tpd"]}),
        ({"dir": 5, "except": []}, {"dir": 7, "except": ["ice-ero", "tpd"]}),
        ({"dir": 7, "except": []}, ["kcso", "spd", "ice-ero", "tpd"]),
        ({"dir": 8, "except": []}, {"dir": 7, "except": []}),
    ]
    cases = []
    for aud, reach in pairs:
        try:
            beyond: list[str] | str = within(
                Audience.from_claim(aud, "aud"), Audience.from_claim(reach, "reach"), DIRECTORY
            )
        except ValueError:
            beyond = "refused: a serial newer than the directory"
        cases.append({"audience": aud, "reach": reach, "beyond": beyond})
    return {
        "directory": {"serial": DIRECTORY.serial, "since": since},
        "contains": contains,
        "shorter_form": choices,
        "within_reach": cases,
    }


def hit() -> common_pb2.Hit:
    return common_pb2.Hit(
        record_id="KC-2019-000123",
        record_kind="booking",
        score=1.0,
        match_reasons=["surname exact", "dob exact"],
        fields=[
            common_pb2.ReleasedField(
                name="surname", sensitivity="identity", value=struct_pb2.Value(string_value="DOE")
            ),
            common_pb2.ReleasedField(
                name="dob",
                sensitivity="identity",
                value=struct_pb2.Value(string_value="1980"),
                mask="year",
            ),
        ],
        contact=common_pb2.PointerContact(
            agency="King County Sheriff's Office", unit="Records", phone="206-555-0100"
        ),
    )


def answers(proof: str) -> dict[str, Any]:
    signer = AnswerSigner(
        "kcso", ed("kcso_answer"), clock=lambda: dt.datetime.fromtimestamp(NOW + 1, dt.UTC)
    )
    investigator = x("investigator_enc").public_key()
    cases = []
    for name, hits, status, reason in (
        ("one_hit", [hit()], "answered", ""),
        ("no_hit", [], "answered", ""),
        ("not_answering", [], "not_answering", "trust_stale"),
    ):
        token = signer.sign(nonce=NONCE, proof=proof, hits=hits, status=status, reason=reason)
        padded = pad(token.encode("ascii"), ANSWER_BUCKETS)
        enc, ciphertext = seal(investigator, padded, info=answer_info("kcso"), aad=NONCE.encode())
        _, payload, _ = token.split(".")
        cases.append(
            {
                "name": name,
                "node_id": "kcso",
                "signer": "kcso_answer",
                "recipient": "investigator_enc",
                "iat": NOW + 1,
                "status": status,
                "reason": reason,
                "hits": [
                    json.loads(json.dumps(h))
                    for h in json.loads(jwt.utils.base64url_decode(payload))["hits"]
                ],
                "jws": token,
                "payload_json": jwt.utils.base64url_decode(payload).decode(),
                "padded_length": len(padded),
                "info": answer_info("kcso").decode(),
                "aad": NONCE,
                "enc_b64url": b64url(enc),
                "ciphertext_b64url": b64url(ciphertext),
            }
        )
    return {"proof": proof, "answers": cases}


def padding() -> dict[str, Any]:
    good = [
        {"body_length": n, "buckets": "query", "padded_length": len(pad(bytes(n), QUERY_BUCKETS))}
        for n in (0, 1, 4092, 4093, 16380, 16381, 65532)
    ] + [
        {"body_length": n, "buckets": "answer", "padded_length": len(pad(bytes(n), ANSWER_BUCKETS))}
        for n in (0, 8188, 8189, 2097148)
    ]
    too_large = [
        {"body_length": 65533, "buckets": "query"},
        {"body_length": 2097149, "buckets": "answer"},
    ]
    bad = bytearray(pad(b"abc", QUERY_BUCKETS))
    prefix_beyond = bytearray(bad)
    prefix_beyond[0:4] = (4093).to_bytes(4, "big")
    nonzero = bytearray(bad)
    nonzero[-1] = 1
    return {
        "buckets": {"query": list(QUERY_BUCKETS), "answer": list(ANSWER_BUCKETS)},
        "format": "uint32_be(len(body)) || body || zero bytes up to the bucket size",
        "good": good,
        "too_large": too_large,
        "refused": [
            {"why": "length prefix beyond the padded size", "padded_b64url": b64url(prefix_beyond)},
            {"why": "non-zero padding", "padded_b64url": b64url(nonzero)},
            {"why": "not a bucket size", "padded_b64url": b64url(bytes(bad[:-1]))},
        ],
    }


def generate(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    cred, cred_payload = credential()
    compact_cred, compact_payload = credential(compact=True)
    warrant_token, warrant_payload = warrant()
    searched = search(cred, warrant_token)
    documents = {
        "keys.json": keys(),
        "tokens.json": {
            "credential": {"jws": cred, "payload": cred_payload},
            "credential_compact": {"jws": compact_cred, "payload": compact_payload},
            "warrant": {"jws": warrant_token, "payload": warrant_payload},
        },
        "search.json": searched,
        "search_compact.json": search(compact_cred, warrant_token, compact=True),
        "audience.json": audience_rules(),
        "answers.json": answers(searched["proof"]["jws"]),
        "padding.json": padding(),
    }
    written = []
    for name, document in documents.items():
        path = out / name
        path.write_text(json.dumps(document, indent=2) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "vectors" / "v2"
    for path in generate(target):
        print(path)
