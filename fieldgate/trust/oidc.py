"""The agency's credential issuer: an OpenID Connect ID token in, a Fieldgate credential out.

The ID token is verified with joserfc (the JOSE library of the Authlib project)
against the identity provider's own discovery document and JWKS: signature by a
key the provider publishes, with an algorithm the agency allows (never ``none``,
never an HMAC keyed with a public key), issuer, audience, expiry, and — when the
agency requires it — a ``nonce`` equal to the thumbprint of the holder's signing
key, so a stolen ID token cannot be exchanged for a credential bound to another
key. The holder also proves possession of that key by signing the request
(:func:`possession_proof`). The token's claims are mapped to a subject, roles and
allowed purposes by the agency's TOML config; a token whose roles map to no
purpose gets no credential.

:func:`credential_request` is the one place a :class:`CredentialRequest` is built
from a verified login, so claims added to credentials later are added there.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
import tomllib
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from fieldgate.core.errors import FieldgateError
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES
from fieldgate.trust.keys import public_jwk
from fieldgate.trust.tokens import MAX_CREDENTIAL_HOURS, CredentialRequest

POP_TYPE = "fieldgate-issuer-pop+jwt"
POP_MAX_AGE_SECONDS = 120
"""How old a holder's proof of possession may be: it is made just before the request."""
DEFAULT_ALGORITHMS = ("RS256", "ES256", "PS256", "EdDSA")
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                        "ES512", "EdDSA"})  # fmt: skip
HTTP_TIMEOUT_SECONDS = 10.0
JWKS_MIN_REFETCH_SECONDS = 60.0


class LoginRefused(FieldgateError):
    """An OpenID Connect login the credential issuer will not exchange (the message says why)."""


@dataclass(frozen=True)
class RoleGrant:
    """What one IdP role (a value of the roles claim) grants in Fieldgate."""

    role: str
    purposes: tuple[str, ...]


@dataclass(frozen=True)
class IssuerConfig:
    """The ``[issuer]`` table: who the agency is, which IdP it trusts, and the claim mapping."""

    issuer_id: str
    key_path: Path
    agency: str
    agency_type: str
    idp_issuer: str
    audience: str
    hours: float = 8.0
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    subject_claim: str = "sub"
    roles_claim: str = "groups"
    require_nonce: bool = True
    roles: Mapping[str, RoleGrant] = field(default_factory=dict)


def _need(table: Mapping[str, Any], key: str, where: str, kind: type = str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or (kind is str and not value):
        raise ValueError(f"{where}.{key} must be a non-empty {kind.__name__}")
    return value


def load_issuer_config(path: Path) -> IssuerConfig:
    """Read an issuer config; a wrong or missing value is named (ValueError)."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read issuer config ({exc})") from None
    table = raw.get("issuer")
    if not isinstance(table, dict):
        raise ValueError(f"{path}: no [issuer] table")
    oidc = table.get("oidc")
    if not isinstance(oidc, dict):
        raise ValueError(f"{path}: no [issuer.oidc] table")
    agency_type = _need(table, "agency_type", "issuer")
    if agency_type not in AGENCY_TYPES:
        raise ValueError(f"issuer.agency_type {agency_type!r} is not one of {sorted(AGENCY_TYPES)}")
    algorithms = tuple(oidc.get("algorithms", DEFAULT_ALGORITHMS))
    weak = [a for a in algorithms if a not in ASYMMETRIC]
    if weak or not algorithms:
        # "none" and HS* would let anyone holding the public key forge an ID token.
        raise ValueError(f"issuer.oidc.algorithms: not allowed {weak or '(empty)'}")
    hours = table.get("hours", 8.0)
    if not isinstance(hours, int | float) or not 1 / 60 <= hours <= MAX_CREDENTIAL_HOURS:
        raise ValueError(f"issuer.hours must be between 1/60 and {MAX_CREDENTIAL_HOURS}")
    roles: dict[str, RoleGrant] = {}
    for name, grant in dict(table.get("roles", {})).items():
        where = f"issuer.roles.{name}"
        if not isinstance(grant, dict):
            raise ValueError(f"{where} must be a table")
        purposes = tuple(grant.get("purposes", ()))
        unknown = [p for p in purposes if p not in PURPOSES]
        if unknown:
            raise ValueError(f"{where}.purposes: unknown purpose(s) {unknown}")
        roles[name] = RoleGrant(_need(grant, "role", where), purposes)
    key = Path(_need(table, "key", "issuer"))
    return IssuerConfig(
        issuer_id=_need(table, "id", "issuer"),
        key_path=key if key.is_absolute() else path.parent / key,
        agency=_need(table, "agency", "issuer"),
        agency_type=agency_type,
        idp_issuer=_need(oidc, "issuer", "issuer.oidc"),
        audience=_need(oidc, "audience", "issuer.oidc"),
        hours=float(hours),
        algorithms=algorithms,
        subject_claim=str(oidc.get("subject_claim", "sub")),
        roles_claim=str(oidc.get("roles_claim", "groups")),
        require_nonce=bool(oidc.get("require_nonce", True)),
        roles=roles,
    )


def key_thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint of the holder's key: the ``nonce`` the client asks the IdP for."""
    jwk = public_jwk(key)
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _token_hash(id_token: str) -> str:
    return hashlib.sha256(id_token.encode()).hexdigest()


def possession_proof(
    key: Ed25519PrivateKey, issuer_url: str, id_token: str, *, now: dt.datetime | None = None
) -> str:
    """The holder's signature over this exchange: the issuer URL and the ID token's hash."""
    issued = int((now or dt.datetime.now(dt.UTC)).timestamp())
    payload = {"aud": issuer_url, "iat": issued, "id_token_sha256": _token_hash(id_token)}
    return pyjwt.encode(payload, key, algorithm="EdDSA", headers={"typ": POP_TYPE})


def check_possession(proof: str, holder: Ed25519PublicKey, issuer_url: str, id_token: str) -> None:
    """Refuse a proof not signed by ``holder`` for this issuer and this ID token, or stale."""
    try:
        header = pyjwt.get_unverified_header(proof)
        claims = pyjwt.decode(proof, holder, algorithms=["EdDSA"], audience=issuer_url)
    except pyjwt.InvalidTokenError as exc:
        raise LoginRefused(f"proof of possession does not verify ({exc})") from None
    if header.get("typ") != POP_TYPE:
        raise LoginRefused("proof of possession has the wrong type")
    if claims.get("id_token_sha256") != _token_hash(id_token):
        raise LoginRefused("proof of possession is for another ID token")
    age = dt.datetime.now(dt.UTC).timestamp() - float(claims.get("iat", 0))
    if not -30 <= age <= POP_MAX_AGE_SECONDS:
        raise LoginRefused("proof of possession is not fresh")


def _fetch_json(url: str) -> dict[str, Any]:
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        # Plain HTTP only on loopback (tests, a sidecar); an IdP elsewhere is HTTPS.
        raise LoginRefused(f"{url}: the identity provider must be reached over HTTPS")
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
            body = json.loads(response.read(1_000_000))
    except (OSError, ValueError) as exc:
        raise LoginRefused(f"{url}: cannot fetch ({exc})") from None
    if not isinstance(body, dict):
        raise LoginRefused(f"{url}: not a JSON object")
    return body


class ProviderKeys:
    """The IdP's discovery document and JWKS, fetched once and again on an unknown ``kid``."""

    def __init__(self, idp_issuer: str) -> None:
        self.idp_issuer = idp_issuer
        self._keys: KeySet | None = None
        self._fetched = 0.0

    def refresh(self) -> KeySet:
        """Fetch discovery, check it names the configured issuer, then fetch its JWKS."""
        discovery = _fetch_json(self.idp_issuer.rstrip("/") + "/.well-known/openid-configuration")
        if discovery.get("issuer") != self.idp_issuer:
            raise LoginRefused(
                f"the discovery document names issuer {discovery.get('issuer')!r}, "
                f"not {self.idp_issuer!r}"
            )
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise LoginRefused("the discovery document has no jwks_uri")
        try:
            self._keys = KeySet.import_key_set(_fetch_json(jwks_uri))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise LoginRefused(f"the provider's JWKS is not usable ({exc})") from None
        return self._keys

    def keys(self, kid: object) -> KeySet:
        """The key set, refetched when it has no key of this ``kid`` (the IdP rotated)."""
        keys = self._keys
        unknown = keys is not None and all(k.kid != kid for k in keys.keys)
        # At most one refetch a minute for unknown kids: tokens with made-up kids must not
        # turn the issuer into a flood of requests at the agency's IdP.
        if keys is None or (
            unknown and time.monotonic() - self._fetched > JWKS_MIN_REFETCH_SECONDS
        ):
            self._fetched = time.monotonic()
            keys = self.refresh()
        return keys


def verify_id_token(
    id_token: str, config: IssuerConfig, provider: ProviderKeys, holder: Ed25519PublicKey
) -> dict[str, Any]:
    """The ID token's claims, if it is the IdP's, for this audience, current and bound."""
    try:
        header = json.loads(base64.urlsafe_b64decode(id_token.split(".")[0] + "=="))
    except (ValueError, IndexError) as exc:
        raise LoginRefused(f"not an ID token ({exc})") from None
    if not isinstance(header, dict) or header.get("alg") not in config.algorithms:
        alg = header.get("alg") if isinstance(header, dict) else None
        raise LoginRefused(f"ID token algorithm {alg!r} is not allowed")
    try:
        token = jwt.decode(
            id_token, provider.keys(header.get("kid")), algorithms=list(config.algorithms)
        )
        jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": config.idp_issuer},
            aud={"essential": True, "value": config.audience},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(token.claims)
    except JoseError as exc:
        raise LoginRefused(f"ID token refused: {exc.error}: {exc.description or ''}") from None
    claims = dict(token.claims)
    if config.require_nonce and claims.get("nonce") != key_thumbprint(holder):
        raise LoginRefused("ID token nonce is not the holder key's thumbprint")
    return claims


def map_claims(
    claims: Mapping[str, Any], config: IssuerConfig
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Subject, roles and purposes from the ID token's claims by the agency's mapping."""
    subject = claims.get(config.subject_claim)
    if not isinstance(subject, str) or not subject:
        raise LoginRefused(f"ID token has no {config.subject_claim!r} claim")
    raw = claims.get(config.roles_claim, [])
    names = [raw] if isinstance(raw, str) else [r for r in raw if isinstance(r, str)]
    grants = [config.roles[n] for n in names if n in config.roles]
    roles = tuple(sorted({g.role for g in grants}))
    purposes = tuple(sorted({p for g in grants for p in g.purposes}))
    return subject, roles, purposes


def credential_request(
    config: IssuerConfig,
    claims: Mapping[str, Any],
    holder: Ed25519PublicKey,
    holder_enc: X25519PublicKey | None,
) -> CredentialRequest:
    """The one place a verified login becomes a CredentialRequest (add new claims here)."""
    subject, roles, purposes = map_claims(claims, config)
    if not purposes:
        raise LoginRefused(f"{subject}: no role of this login is mapped to any purpose")
    return CredentialRequest(
        issuer=config.issuer_id,
        subject=subject,
        agency=config.agency,
        agency_type=config.agency_type,
        roles=roles,
        purposes=purposes,
        holder_key=holder,
        hours=config.hours,
        holder_enc_key=holder_enc,
    )
