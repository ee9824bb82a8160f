"""Checking a signed search end to end, as every node (and the broker) does.

:meth:`SearchVerifier.verify` either returns the requester's claims (and, at
a node, the query and warrants it opened from its own sealed envelope,
:mod:`fieldgate.trust.sealed_search`), or raises :class:`VerificationError` with a short
``reason`` from :data:`REASONS` (for logs and metrics; never for the
requester, to whom a node answers exactly as if it held no record).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from fieldgate.core.claims import MAX_AUTHORITIES
from fieldgate.core.errors import FieldgateError
from fieldgate.core.request_shape import MAX_TOKEN_LENGTH
from fieldgate.trust.audience import Audience, Directory, within
from fieldgate.trust.keys import enc_key_from_jwk, key_from_jwk
from fieldgate.trust.nonce_cache import ReplayCache
from fieldgate.trust.reach import Reach, credential_reach
from fieldgate.trust.sealed_search import PROTOCOL_VERSION, OpenError, open_query
from fieldgate.trust.tokens import (
    ALGORITHM,
    CREDENTIAL_TYPE,
    MAX_CREDENTIAL_HOURS,
    PROOF_TYPE,
    WARRANT_TYPE,
)
from fieldgate.trust.trust_bundle import TrustStore, TrustUnavailable
from fieldgate.v2 import common_pb2

REASONS = (
    "unsigned",
    "trust_unavailable",
    "malformed",
    "unknown_issuer",
    "credential_signature",
    "credential_expired",
    "credential_not_yet_valid",
    "credential_lifetime",
    "issuer_mismatch",
    "revoked_credential",
    "revoked_issuer",
    "revoked_agency_type",
    "proof_signature",
    "proof_mismatch",
    "stale_timestamp",
    "purpose_not_allowed",
    "warrant_mismatch",
    "unknown_court",
    "warrant_signature",
    "warrant_expired",
    "clear_fields",
    "not_addressed",
    "outside_reach",
    "unsealable",
    "commitment",
    "warrant_holder",
    "replayed_nonce",
)
"""Every reason a verification can fail; a bounded label set for metrics."""


class VerificationError(FieldgateError):
    """A signed search that does not verify.

    Attributes:
        reason: one of :data:`REASONS`.
        detail: what exactly failed, for the operator's log.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VerifiedSearch:
    """What a signed search proves."""

    requester: common_pb2.Requester
    query: common_pb2.PersonQuery | None
    """The query this node opened; None at the broker, which cannot open any."""
    credential_id: str
    issuer: str
    allowed_purposes: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    """The node ids the investigator addressed this search to, in this party's directory
    (at a node: itself)."""
    nonce: str = ""
    """The proof's nonce, now remembered: a node's signed answer is bound to it, and
    :meth:`ReplayCache.forget` it if the search is refused before any agency is asked,
    so an honest retry is not taken for a replay."""
    sealed: str = ""
    """The proof's commitment to the sealed query (the broker's only handle on it)."""
    answer_key: X25519PublicKey | None = None
    """The requester's X25519 key (credential ``enc``): answers are sealed to it."""
    audience_claim: Audience | None = None
    """The proof's ``aud`` as signed (either form): the broker checks query keys against it."""


def _header_type(token: str, expected: str, reason: str) -> None:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise VerificationError("malformed", f"{reason}: {exc}") from None
    if header.get("typ") != expected or header.get("alg") != ALGORITHM:
        raise VerificationError("malformed", f"{reason}: not a {expected} signed with {ALGORITHM}")


def _unverified_claims(token: str, what: str) -> dict[str, Any]:
    """Claims read only to pick the key that will verify them."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise VerificationError("malformed", f"{what}: {exc}") from None
    if not isinstance(claims, dict):
        raise VerificationError("malformed", f"{what}: claims are not an object")
    return claims


def _decode(
    token: str,
    key: Ed25519PublicKey,
    *,
    leeway: float,
    require: list[str],
    what: str,
    verify_exp: bool = True,
) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            leeway=leeway,
            options={"require": require, "verify_exp": verify_exp, "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise VerificationError(f"{what}_expired", f"{what} has expired") from None
    except jwt.ImmatureSignatureError:
        raise VerificationError(
            f"{what}_not_yet_valid" if what == "credential" else "stale_timestamp",
            f"{what} is not valid yet",
        ) from None
    except jwt.InvalidSignatureError:
        raise VerificationError(
            "proof_signature" if what == "proof" else f"{what}_signature",
            f"{what} signature does not verify",
        ) from None
    except jwt.InvalidTokenError as exc:
        raise VerificationError("malformed", f"{what}: {exc}") from None


FUTURE_SKEW_SECONDS = 5.0
"""How far in the future a proof may be timed. Past skew is allowed for a full
``skew_seconds`` (a proof in flight ages), but a proof timed ahead would stay
fresh after a node restart, when the nonce memory is empty: a clock 45 s fast
let one search be answered again after a restart (issue 16). Refusing proofs
more than this far ahead, while a restart forgets only proofs timed before it
(``remembers_since``), leaves a replay across a restart only to a restart
completed within this many seconds of the original search."""


def _check_holder(
    holder: object, credential: dict[str, Any], case_number: str, warrant_id: str
) -> None:
    """A warrant binds to its applicant agency, case and (if named) investigator.

    A copy presented by anyone else fails the whole search (answered as not
    found): it is not silently ignored, so the node's operator sees the attempt.
    """
    if not isinstance(holder, dict) or not all(
        isinstance(holder.get(k), str) and holder.get(k) for k in ("agency", "case_number")
    ):
        raise VerificationError("malformed", f"warrant {warrant_id} names no holder")
    if holder["agency"] != credential.get("agency"):
        raise VerificationError(
            "warrant_holder",
            f"warrant {warrant_id} was granted to {holder['agency']!r}, "
            f"presented by {credential.get('agency')!r}",
        )
    if holder["case_number"] != case_number:
        raise VerificationError(
            "warrant_holder",
            f"warrant {warrant_id} is for case {holder['case_number']!r}, not {case_number!r}",
        )
    subject = holder.get("subject")
    if subject is not None and subject != credential.get("sub"):
        raise VerificationError(
            "warrant_holder", f"warrant {warrant_id} names another investigator"
        )


def _audience(
    proof: dict[str, Any], credential: dict[str, Any], node_id: str | None, directory: Directory
) -> tuple[Audience, tuple[str, ...]]:
    """The proof's audience, inside the credential's reach and naming this node.

    Returns the parsed claim and the node ids it names in this party's
    directory (a node: itself; the broker: every node it names).
    """
    try:
        audience = Audience.from_claim(proof.get("aud"), "proof aud")
    except ValueError as exc:
        raise VerificationError("not_addressed", f"proof names no audience: {exc}") from None
    try:
        reach = credential_reach(credential)
    except ValueError as exc:
        raise VerificationError("malformed", f"credential {exc}") from None
    if node_id is None:
        if audience.dir is not None and audience.dir > directory.serial:
            # The broker cannot know which nodes it names: fail closed.
            raise VerificationError(
                "not_addressed",
                f"proof audience names directory serial {audience.dir}, newer than this "
                f"trust bundle's {directory.serial}",
            )
        named = audience.named(directory)
        if reach is not None:
            _check_reach(audience, reach, directory)
        return audience, tuple(named)
    since = directory.since.get(node_id)
    # A node outside ``reach`` refuses whatever the proof says (a broker that
    # adds it to the fan-out), and so does every node for a proof addressed
    # beyond it (a client that forged its audience).
    if reach is not None:
        if not reach.contains(node_id, since):
            raise VerificationError(
                "outside_reach",
                f"node {node_id} is outside the credential's reach: {reach.why_not(node_id)}",
            )
        _check_reach(audience, reach, directory, newer_fails=False)
    # A node not in its own directory is never addressed, in either form.
    if since is None or not audience.contains(node_id, since):
        # A search captured at one node and replayed to another ends here.
        raise VerificationError(
            "not_addressed", f"proof is addressed to {audience.claim()!r:.200}, not here"
        )
    return audience, (node_id,)


def _check_reach(
    audience: Audience, reach: Reach, directory: Directory, *, newer_fails: bool = True
) -> None:
    """The requesting agency's outbound policy, bound into the credential by its issuer.

    A proof addressed beyond ``reach`` (a client that forged its audience) is
    refused, evaluated over this party's own directory
    (:func:`fieldgate.trust.audience.within`). A credential without ``reach``
    is a legacy one and passes (see :mod:`fieldgate.trust.reach`).
    """
    try:
        beyond = within(audience, reach.audience, directory, newer_fails=newer_fails)
    except ValueError as exc:
        raise VerificationError("outside_reach", str(exc)) from None
    if beyond:
        more = f" and {len(beyond) - 20} more" if len(beyond) > 20 else ""
        shown = ", ".join(beyond[:20]) + more
        raise VerificationError(
            "outside_reach", f"proof is addressed to {shown}, outside the credential's reach"
        )


CREDENTIAL_CACHE_SIZE = 4096
"""Credentials a verifier remembers as checked (the oldest is forgotten first).

An investigator signs many searches with one credential: verifying its
Ed25519 signature and parsing its keys again for each was a visible share of
a node's cost per search (``python -m bench.node_cost``)."""


@dataclass(frozen=True)
class _CheckedCredential:
    """A credential whose signature, lifetime, issuer and keys were checked under ``state``.

    Only valid with that same trust state object (a reloaded bundle or
    revocation list is a new one); its time window and revocation are still
    checked on every use.
    """

    state: object
    claims: dict[str, Any]
    issuer: Any
    holder: Ed25519PublicKey
    answer_key: X25519PublicKey | None


def _still_valid(credential: dict[str, Any], now: float, leeway: float) -> None:
    """The time checks PyJWT made when the credential was first verified, made again now."""
    if int(credential["exp"]) <= now - leeway:
        raise VerificationError("credential_expired", "credential has expired")
    if int(credential["nbf"]) > now + leeway or int(credential["iat"]) > now + leeway:
        raise VerificationError("credential_not_yet_valid", "credential is not valid yet")


def _not_revoked(credential: dict[str, Any], issuer: Any, state: Any) -> None:
    """Refuse a revoked credential, issuer or agency type (checked on every search)."""
    if credential["jti"] in state.revoked_credentials:
        raise VerificationError("revoked_credential", f"credential {credential['jti']}")
    if issuer.id in state.revoked_issuers:
        raise VerificationError("revoked_issuer", f"issuer {issuer.id}")
    if issuer.agency_type in state.revoked_agency_types:
        raise VerificationError("revoked_agency_type", f"agency type {issuer.agency_type}")


class SearchVerifier:
    """Verifies signed searches against a trust store, remembering nonces."""

    def __init__(
        self,
        trust: TrustStore,
        *,
        skew_seconds: float = 60.0,
        future_seconds: float = FUTURE_SKEW_SECONDS,
        replay: ReplayCache | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        """Check credentials and proofs with ``skew_seconds`` of clock tolerance."""
        self.trust = trust
        self.skew = skew_seconds
        self.future = min(future_seconds, skew_seconds)
        """How far ahead of this clock a proof may be timed (see FUTURE_SKEW_SECONDS)."""
        self.replay = replay or ReplayCache(window=2 * skew_seconds)
        self._clock = clock
        # The nonce memory starts empty here: a proof signed before now may
        # have been used with an earlier process (a node restarted within the
        # skew window), so it is refused. Proof times carry milliseconds; a
        # client whose clock runs behind this one is refused for that long
        # after a start (fail closed), never longer than the skew. Less one
        # millisecond: a proof's time is rounded to it, so a proof signed in the
        # same millisecond as the start may carry a time just before it (no
        # process restarts within a millisecond, so no replay gets through).
        self.remembers_since = clock().timestamp() - 0.001
        """Proofs timed before this (epoch seconds) are refused: the nonce memory began then."""
        self._credentials: dict[str, _CheckedCredential] = {}
        """Credentials whose signature was checked, by token (see ``_checked_credential``)."""
        self._credentials_lock = threading.Lock()

    def verify(
        self,
        signed: common_pb2.SignedSearch,
        *,
        node_id: str | None = None,
        enc_key: X25519PrivateKey | None = None,
    ) -> VerifiedSearch:
        """Check the whole chain; see the module docstring and docs/protocol.md.

        Args:
            signed: the credential, proof, body and query keys as the client sent them.
            node_id: the verifying node; the proof must be addressed to it and
                its query key and the body must open with ``enc_key``. None (the
                broker): the audience must lie within the credential's reach.
            enc_key: the node's X25519 private key (with ``node_id``).

        Raises:
            VerificationError: naming the first check that failed.
        """
        now = self._clock()
        try:
            state = self.trust.current(now)
        except TrustUnavailable as exc:
            raise VerificationError("trust_unavailable", str(exc)) from None
        if not signed.credential or not signed.proof:
            raise VerificationError("unsigned", "no credential or proof")
        credential, issuer_id, holder, answer_key = self._checked_credential(
            signed.credential, state, now
        )

        _header_type(signed.proof, PROOF_TYPE, "proof")
        proof = _decode(
            signed.proof, holder, leeway=self.skew, require=["iat"], what="proof", verify_exp=False
        )
        if proof.get("v") != PROTOCOL_VERSION:
            raise VerificationError("malformed", "proof is not version 2")
        if proof.get("cid") != credential["jti"] or proof.get("sub") != credential["sub"]:
            raise VerificationError("proof_mismatch", "proof is for another credential")
        self._check_time(proof["iat"], now)
        purposes = credential.get("purposes", [])
        if not isinstance(purposes, list) or proof.get("purpose") not in purposes:
            raise VerificationError(
                "purpose_not_allowed", f"purpose {proof.get('purpose')!r} not in the credential"
            )
        audience_claim, audience = _audience(proof, credential, node_id, state.directory)
        nonce, sealed_claim = proof.get("nonce"), proof.get("sealed")
        if not isinstance(nonce, str) or not isinstance(sealed_claim, str):
            raise VerificationError("malformed", "proof names no nonce or sealed commitment")
        query: common_pb2.PersonQuery | None = None
        authority: list[common_pb2.LegalAuthority] = []
        if node_id is not None:
            if enc_key is None:
                raise VerificationError("unsealable", "this node has no encryption key")
            try:
                opened = open_query(
                    signed, node_id=node_id, enc_key=enc_key, nonce=nonce, sealed_claim=sealed_claim
                )
            except OpenError as exc:
                raise VerificationError(exc.reason, str(exc)) from None
            if len(opened.warrants) > MAX_AUTHORITIES or any(
                len(w) > MAX_TOKEN_LENGTH for w in opened.warrants
            ):
                raise VerificationError("malformed", "too many or too long sealed warrants")
            case_number = str(proof.get("case_number", ""))
            authority = [
                self._warrant(w, state.courts, credential, case_number) for w in opened.warrants
            ]
            query = opened.query
        roles = credential.get("roles", [])
        requester = common_pb2.Requester(
            subject=str(credential["sub"]),
            agency=str(credential.get("agency", "")),
            agency_type=str(credential.get("agency_type", "")),
            roles=[str(r) for r in roles] if isinstance(roles, list) else [],
            purpose=str(proof.get("purpose", "")),
            case_number=str(proof.get("case_number", "")),
            authority=authority,
        )
        # Last, after every signature: junk cannot fill the nonce memory.
        if not self.replay.first_use(credential["jti"], nonce):
            raise VerificationError("replayed_nonce", "proof already used (or replay cache full)")
        return VerifiedSearch(
            requester,
            query,
            str(credential["jti"]),
            issuer_id,
            tuple(str(p) for p in purposes),
            audience,
            nonce,
            sealed_claim,
            answer_key,
            audience_claim,
        )

    def _checked_credential(
        self, token: str, state: Any, now: dt.datetime
    ) -> tuple[dict[str, Any], str, Ed25519PublicKey, X25519PublicKey | None]:
        """The credential's claims, issuer id, holder key and answer key, all checked.

        Its signature, shape and keys are checked once per trust state and
        remembered (:class:`_CheckedCredential`); its time window and the
        revocation list are checked on every search, remembered or not.
        """
        cached = self._credentials.get(token)
        if cached is not None and cached.state is state:
            _still_valid(cached.claims, now.timestamp(), self.skew)
            _not_revoked(cached.claims, cached.issuer, state)
            return cached.claims, str(cached.issuer.id), cached.holder, cached.answer_key
        credential, issuer = self._credential(token, state)
        _not_revoked(credential, issuer, state)
        try:
            holder = key_from_jwk(credential.get("cnf", {}).get("jwk"))
        except (ValueError, AttributeError) as exc:
            raise VerificationError("malformed", f"credential holder key: {exc}") from None
        answer_key = None
        if "enc" in credential:
            try:
                answer_key = enc_key_from_jwk(credential["enc"])
            except ValueError as exc:
                raise VerificationError("malformed", f"credential enc key: {exc}") from None
        with self._credentials_lock:  # a broker may verify from several threads
            if len(self._credentials) >= CREDENTIAL_CACHE_SIZE:
                del self._credentials[next(iter(self._credentials))]  # the oldest
            self._credentials[token] = _CheckedCredential(
                state, credential, issuer, holder, answer_key
            )
        return credential, str(issuer.id), holder, answer_key

    def _credential(self, token: str, state: Any) -> tuple[dict[str, Any], Any]:
        """The verified credential's claims and its issuer's entry in the trust state."""
        _header_type(token, CREDENTIAL_TYPE, "credential")
        unverified = _unverified_claims(token, "credential")
        issuer = state.issuers.get(str(unverified.get("iss", "")))
        if issuer is None:
            raise VerificationError("unknown_issuer", f"issuer {unverified.get('iss')!r}")
        credential = _decode(
            token,
            issuer.key,
            leeway=self.skew,
            require=["iss", "sub", "jti", "exp", "nbf", "iat"],
            what="credential",
        )
        if credential["exp"] - credential["nbf"] > MAX_CREDENTIAL_HOURS * 3600:
            raise VerificationError("credential_lifetime", "credential lives longer than allowed")
        if credential.get("agency") != issuer.agency or (
            credential.get("agency_type") != issuer.agency_type
        ):
            raise VerificationError(
                "issuer_mismatch", f"issuer {issuer.id} cannot vouch for that agency or type"
            )
        return credential, issuer

    def _check_time(self, iat: object, now: dt.datetime) -> None:
        if not isinstance(iat, int | float) or abs(now.timestamp() - iat) > self.skew:
            raise VerificationError("stale_timestamp", f"proof time {iat} is not within skew")
        if iat > now.timestamp() + self.future:
            raise VerificationError(
                "stale_timestamp",
                f"proof time {iat} is more than {self.future:g} s ahead of this node's clock",
            )
        if iat < self.remembers_since:
            raise VerificationError(
                "stale_timestamp",
                f"proof time {iat} is before this node began remembering nonces "
                f"({self.remembers_since}): it may have been used before a restart",
            )

    def _warrant(
        self,
        token: str,
        courts: dict[str, Any] | Any,
        credential: dict[str, Any],
        case_number: str,
    ) -> common_pb2.LegalAuthority:
        _header_type(token, WARRANT_TYPE, "warrant")
        unverified = _unverified_claims(token, "warrant")
        court = courts.get(str(unverified.get("iss", "")))
        if court is None:
            raise VerificationError("unknown_court", f"court {unverified.get('iss')!r}")
        claims = _decode(token, court.key, leeway=0, require=["iss", "jti", "exp"], what="warrant")
        subject = claims.get("subject")
        if not isinstance(subject, dict):
            raise VerificationError("malformed", "warrant names no subject")
        _check_holder(claims.get("holder"), credential, case_number, str(claims["jti"]))
        expires = dt.datetime.fromtimestamp(claims["exp"], dt.UTC).date()
        return common_pb2.LegalAuthority(
            kind=str(claims.get("kind", "")),
            id=str(claims["jti"]),
            court=court.name,
            subject_surname=str(subject.get("surname", "")),
            subject_given_name=str(subject.get("given_name", "")),
            subject_dob=str(subject.get("dob", "")),
            covers=[str(c) for c in claims.get("covers", [])],
            record_kinds=[str(k) for k in claims.get("record_kinds", [])],
            expires=expires.isoformat(),
        )
