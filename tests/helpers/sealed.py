"""Tests' side of sealed answers: open what a node sealed to a test identity.

Tests that call a node directly (as a compromised broker would) get a sealed
answer; :func:`open_hits` opens and verifies it with the real client code
(:func:`fieldgate.trust.answers.open_answer`) so they can assert on the hits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.trust.answers import VerifiedAnswer, open_answer, unverified_nonce
from fieldgate.trust.reach import credential_reach
from fieldgate.trust.sealed_search import sign_search
from fieldgate.trust.tokens import Identity
from fieldgate.v2 import common_pb2, node_pb2

ENC_KEYS: dict[str, X25519PrivateKey] = {}
"""Credential → the X25519 key of its identity (filled by the tests' sign helpers)."""


def opened(
    kit: DevTrust, answer: node_pb2.NodeServiceSearchResponse, signed: common_pb2.SignedSearch
) -> VerifiedAnswer:
    """Open and verify ``answer`` to ``signed`` as its requester would.

    Raises:
        fieldgate.trust.answers.AnswerVerificationError: it does not open or verify.
    """
    return open_answer(
        answer.answer,
        enc_key=ENC_KEYS[signed.credential],
        node_id=answer.node_id,
        nonce=unverified_nonce(signed.proof),
        proof=signed.proof,
        node_keys={n: k.public_key() for n, k in kit.nodes.items()},
        now=dt.datetime.now(dt.UTC),
    )


def reached(kit: DevTrust, identity: Identity) -> list[str]:
    """The node ids ``identity``'s credential reaches in ``kit``'s directory (either form)."""
    claims = jwt.decode(identity.credential, options={"verify_signature": False})
    reach = credential_reach(claims)
    assert reach is not None, "the credential has no reach"
    return reach.audience.named(kit.serials())


def sign_for(
    kit: DevTrust,
    identity: Identity,
    extra_node_keys: Mapping[str, X25519PublicKey] | None = None,
    **kwargs: Any,
) -> common_pb2.SignedSearch:
    """:func:`fieldgate.trust.sealed_search.sign_search` sealed to ``kit``'s nodes (and
    ``extra_node_keys``), its identity's key remembered so :func:`hits` can open the answers."""
    assert identity.enc_key is not None
    ENC_KEYS[identity.credential] = identity.enc_key
    keys = {n: k.public_key() for n, k in kit.node_enc.items()}
    keys.update(extra_node_keys or {})
    return sign_search(
        credential=identity.credential, holder_key=identity.key, node_keys=keys, **kwargs
    )


def hits(
    kit: DevTrust, answer: node_pb2.NodeServiceSearchResponse, signed: common_pb2.SignedSearch
) -> tuple[common_pb2.Hit, ...]:
    """The hits of a node's sealed answer, opened and verified as the requester would."""
    return opened(kit, answer, signed).hits
