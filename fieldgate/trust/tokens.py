"""The three signed documents and how they are made.

All three (and the v2 proof, :mod:`fieldgate.trust.sealed_search`) are
compact JWS with EdDSA (Ed25519) through PyJWT. Each carries a ``typ``
header naming what it is, so a warrant can never be presented as a
credential or a proof as a warrant.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from fieldgate.core.request_shape import MAX_TOKEN_LENGTH
from fieldgate.trust.keys import enc_public_jwk, public_jwk
from fieldgate.trust.reach import Reach
from fieldgate.v2 import common_pb2

CREDENTIAL_TYPE = "fieldgate-credential+jwt"
PROOF_TYPE = "fieldgate-search-proof+jwt"
WARRANT_TYPE = "fieldgate-warrant+jwt"
ALGORITHM = "EdDSA"

MAX_CREDENTIAL_HOURS = 24
"""Longest credential lifetime an issuer may sign and a node accepts: hours, not years."""


def _sign(payload: dict[str, Any], key: Ed25519PrivateKey, typ: str) -> str:
    return jwt.encode(payload, key, algorithm=ALGORITHM, headers={"typ": typ})


@dataclass(frozen=True)
class Identity:
    """An investigator's credential and the private keys it is bound to (never sent)."""

    credential: str
    key: Ed25519PrivateKey
    enc_key: X25519PrivateKey | None = None
    """The X25519 key answers are sealed to (the credential's ``enc`` claim)."""


@dataclass(frozen=True)
class CredentialRequest:
    """What an agency vouches for about one investigator."""

    issuer: str
    subject: str
    agency: str
    agency_type: str
    roles: tuple[str, ...]
    purposes: tuple[str, ...]
    holder_key: Ed25519PublicKey
    hours: float = 8.0
    holder_enc_key: X25519PublicKey | None = None
    """The holder's X25519 key: nodes seal their answers to it (claim ``enc``)."""
    reach: Reach | None = None
    """Where the agency's outbound policy lets this credential's searches go
    (:mod:`fieldgate.policy.outbound` computes it); None: no ``reach`` claim
    (a legacy credential, served as before)."""


def issue_credential(
    request: CredentialRequest, issuer_key: Ed25519PrivateKey, *, now: dt.datetime | None = None
) -> str:
    """Sign a credential binding the investigator's public key to their claims.

    Raises:
        ValueError: the lifetime is not between a minute and MAX_CREDENTIAL_HOURS, or
            the credential would be longer than brokers and nodes accept.
    """
    if not 1 / 60 <= request.hours <= MAX_CREDENTIAL_HOURS:
        raise ValueError(f"a credential lives between 1 minute and {MAX_CREDENTIAL_HOURS} hours")
    issued = now or dt.datetime.now(dt.UTC)
    payload: dict[str, Any] = {
        "iss": request.issuer,
        "sub": request.subject,
        "jti": uuid.uuid4().hex,
        "agency": request.agency,
        "agency_type": request.agency_type,
        "roles": list(request.roles),
        "purposes": list(request.purposes),
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + dt.timedelta(hours=request.hours)).timestamp()),
        # RFC 7800 proof-of-possession: only the holder of this key can use it.
        "cnf": {"jwk": public_jwk(request.holder_key)},
    }
    if request.holder_enc_key is not None:
        # Beside "cnf" (RFC 7800 style): answers are sealed to this key only.
        payload["enc"] = enc_public_jwk(request.holder_enc_key)
    if request.reach is not None:
        # Bound by the issuer's signature: no client or broker can widen it.
        payload.update(request.reach.claims())
    token = _sign(payload, issuer_key, CREDENTIAL_TYPE)
    if len(token) > MAX_TOKEN_LENGTH:
        # Refused here, at issuance, rather than by every broker and node later.
        reach = request.reach
        named = (
            f" (its reach and unreached claims take {len(json.dumps(reach.claims()))} characters)"
            if reach
            else ""
        )
        raise ValueError(
            f"the credential would be {len(token)} characters{named}; brokers and nodes "
            f"accept at most {MAX_TOKEN_LENGTH}"
        )
    return token


@dataclass(frozen=True)
class WarrantRequest:
    """What a court attests a criminal judicial warrant covers."""

    court: str
    warrant_id: str
    subject_surname: str
    subject_given_name: str
    subject_dob: str
    covers: tuple[str, ...]
    expires: dt.date
    applicant_agency: str
    """The agency that applied for the warrant; only its investigators may use it."""
    case_number: str
    """The applicant's case the warrant was granted for; it applies only to searches for it."""
    record_kinds: tuple[str, ...] = ()
    investigator: str = ""
    """If set, the one investigator (credential subject) who may present it."""


def issue_warrant(request: WarrantRequest, court_key: Ed25519PrivateKey) -> str:
    """Sign a warrant attestation with a court's key.

    The attestation names its holder (applicant agency, case number and
    optionally the investigator): a node applies it only to a search whose
    signed requester matches, so a copy is worth nothing to anyone else.

    Raises:
        ValueError: the applicant agency or case number is empty.
    """
    if not request.applicant_agency or not request.case_number:
        raise ValueError("a warrant names the applicant agency and the case number it is for")
    holder = {"agency": request.applicant_agency, "case_number": request.case_number}
    if request.investigator:
        holder["subject"] = request.investigator
    expiry = dt.datetime.combine(request.expires, dt.time(23, 59, 59), dt.UTC)
    payload = {
        "iss": request.court,
        "jti": request.warrant_id,
        "kind": "criminal_judicial_warrant",
        "subject": {
            "surname": request.subject_surname,
            "given_name": request.subject_given_name,
            "dob": request.subject_dob,
        },
        "covers": list(request.covers),
        "record_kinds": list(request.record_kinds),
        "holder": holder,
        "exp": int(expiry.timestamp()),
    }
    return _sign(payload, court_key, WARRANT_TYPE)


def digest(token: str) -> str:
    """SHA-256 (hex) of a compact token, as the proof names warrants."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def query_payload(query: common_pb2.PersonQuery) -> dict[str, Any]:
    """The query exactly as signed: every field, identifiers in order.

    The corroboration fields (``sex``, ``age_min``, ``age_max``) are signed
    too, present only when given, so a query without them signs as before.
    """
    payload: dict[str, Any] = {
        "surname": query.surname,
        "given_name": query.given_name,
        "dob": query.dob,
        "identifiers": [[i.kind, i.value] for i in query.identifiers],
        "max_hits": query.max_hits,
    }
    extra = {"sex": query.sex, "age_min": query.age_min, "age_max": query.age_max}
    payload.update({key: value for key, value in extra.items() if value})
    return payload


def query_from_payload(payload: object) -> common_pb2.PersonQuery:
    """Rebuild the signed query.

    Raises:
        ValueError: the payload does not have the signed query's shape.
    """
    if not isinstance(payload, dict):
        raise ValueError("query is not an object")
    identifiers = payload.get("identifiers", [])
    if not isinstance(identifiers, list) or not all(
        isinstance(i, list) and len(i) == 2 and all(isinstance(p, str) for p in i)
        for i in identifiers
    ):
        raise ValueError("query.identifiers is not a list of [kind, value]")
    text = {k: payload.get(k, "") for k in ("surname", "given_name", "dob")}
    max_hits = payload.get("max_hits", 0)
    sex = payload.get("sex", "")
    ages = [payload.get("age_min", 0), payload.get("age_max", 0)]
    if not all(isinstance(v, str) for v in (*text.values(), sex)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in (max_hits, *ages)
    ):
        raise ValueError("query fields have the wrong types")
    return common_pb2.PersonQuery(
        surname=str(text["surname"]),
        given_name=str(text["given_name"]),
        dob=str(text["dob"]),
        identifiers=[common_pb2.Identifier(kind=k, value=v) for k, v in identifiers],
        max_hits=max(0, min(max_hits, 2**31)),
        sex=str(sex),
        # Out of range is refused by query validation, naming the field.
        age_min=max(0, min(int(ages[0]), 2**31)),
        age_max=max(0, min(int(ages[1]), 2**31)),
    )
