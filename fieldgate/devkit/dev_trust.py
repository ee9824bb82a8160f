"""A development trust setup: issuer keys, a court, a bundle, credentials.

Real agencies keep each issuer key on their own systems; the demo, the sample
federation and the tests need all of it in one place, made fresh each time.
:class:`DevTrust` writes the trust bundle and the revocation list every node
and the broker read, and issues credentials and warrants on demand.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fieldgate.policy.outbound import compute_reach
from fieldgate.trust.audience import Directory
from fieldgate.trust.bundle_signing import sign_bundle
from fieldgate.trust.config import TrustConfig
from fieldgate.trust.keys import (
    enc_public_jwk,
    generate_enc_key,
    generate_key,
    public_jwk,
    save_private_key,
    save_public_key,
)
from fieldgate.trust.reach import Reach, read_directory
from fieldgate.trust.tokens import (
    CredentialRequest,
    Identity,
    WarrantRequest,
    issue_credential,
    issue_warrant,
)


def answer_key_path(trust: TrustConfig, node_id: str) -> Path:
    """Where a development node's answer key lives: beside the trust bundle."""
    return trust.bundle.parent / "nodes" / f"{node_id}.pem"


def enc_key_path(trust: TrustConfig, node_id: str) -> Path:
    """Where a development node's X25519 key (opens queries sealed to it) lives."""
    return trust.bundle.parent / "nodes" / f"{node_id}-enc.pem"


@dataclass
class DevTrust:
    """Issuers (one per requesting agency), one court, and the files nodes read."""

    directory: Path
    issuers: dict[str, tuple[str, Ed25519PrivateKey]] = field(default_factory=dict)
    court_id: str = "us-wawd"
    court_name: str = "U.S. District Court, W.D. Washington"
    court_key: Ed25519PrivateKey = field(default_factory=generate_key)
    revoked_credentials: list[str] = field(default_factory=list)
    revoked_issuers: list[str] = field(default_factory=list)
    revoked_agency_types: list[str] = field(default_factory=list)
    authority_key: Ed25519PrivateKey = field(default_factory=generate_key)
    """The federation authority: signs the bundle every party pins it for."""
    sign: bool = True
    """Write the bundle signed (and pin the authority in :meth:`config`)."""
    nodes: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    """Node id → its answer key (published in the bundle's ``nodes``)."""
    node_facts: dict[str, dict[str, str]] = field(default_factory=dict)
    """Node id → its directory facts (``agency``, ``agency_type``, ``jurisdiction``)."""
    outbound: dict[str, Path] = field(default_factory=dict)
    """Agency → its outbound policy: its credentials then carry ``reach``
    (:mod:`fieldgate.policy.outbound`); agencies not named issue legacy ones."""
    node_enc: dict[str, X25519PrivateKey] = field(default_factory=dict)
    """Node id → its X25519 key (published in the bundle's ``nodes[].enc``)."""
    serial: int = 0
    """The bundle's ``serial``: bumped by every :meth:`add_node` and :meth:`write`."""
    node_since: dict[str, int] = field(default_factory=dict)
    """Node id → the serial it joined at (the bundle's ``nodes[].since``)."""

    def serials(self) -> Directory:
        """The directory serials as the next :meth:`write` publishes them."""
        return Directory(self.serial, dict(self.node_since))

    @property
    def bundle_path(self) -> Path:
        return self.directory / "trust.json"

    @property
    def revocations_path(self) -> Path:
        return self.directory / "revocations.json"

    @property
    def authority_path(self) -> Path:
        return self.directory / "federation.pub.pem"

    def config(self, **overrides: Any) -> TrustConfig:
        """The ``trust`` settings pointing at this kit's files (pinning its authority)."""
        authority = self.authority_path if self.sign else None
        return TrustConfig(
            self.bundle_path, self.revocations_path, authority_key=authority, **overrides
        )

    def add_issuer(self, agency: str, agency_type: str) -> None:
        """Give ``agency`` its own issuer key (saved beside the bundle)."""
        key = generate_key()
        self.issuers[agency] = (agency_type, key)
        save_private_key(key, self.directory / "issuers" / f"{agency}.pem")

    def add_node(
        self, node_id: str, *, agency: str = "", agency_type: str = "", jurisdiction: str = ""
    ) -> Path:
        """Give node ``node_id`` an answer key (saved as :func:`answer_key_path`) and an
        X25519 key (:func:`enc_key_path`); the answer key's path.

        ``agency``, ``agency_type`` and ``jurisdiction`` go into its directory
        entry, where outbound policies read them.
        """
        key = generate_key()
        self.nodes[node_id] = key
        # The authority bumps the serial on every edit; the node joined at it.
        self.serial += 1
        self.node_since[node_id] = self.serial
        facts = {"agency": agency, "agency_type": agency_type, "jurisdiction": jurisdiction}
        self.node_facts[node_id] = {k: v for k, v in facts.items() if v}
        path = answer_key_path(self.config(), node_id)
        save_private_key(key, path)
        enc = generate_enc_key()
        self.node_enc[node_id] = enc
        save_private_key(enc, enc_key_path(self.config(), node_id))
        return path

    def write(self, *, issued_at: dt.datetime | None = None) -> None:
        """(Re)write the trust bundle and the revocation list."""
        stamp = (issued_at or dt.datetime.now(dt.UTC)).isoformat()
        self.serial += 1
        bundle = {
            "issued_at": stamp,
            "serial": self.serial,
            "issuers": [
                {
                    "id": agency,
                    "agency": agency,
                    "agency_type": kind,
                    "jwk": public_jwk(key.public_key()),
                }
                for agency, (kind, key) in sorted(self.issuers.items())
            ],
            "courts": [
                {
                    "id": self.court_id,
                    "name": self.court_name,
                    "jwk": public_jwk(self.court_key.public_key()),
                }
            ],
            "nodes": [
                {
                    "id": node_id,
                    "since": self.node_since.get(node_id, 0),
                    **self.node_facts.get(node_id, {}),
                    "jwk": public_jwk(key.public_key()),
                    "enc": enc_public_jwk(self.node_enc[node_id].public_key()),
                }
                for node_id, key in sorted(self.nodes.items())
            ],
        }
        revocations = {
            "issued_at": stamp,
            "credentials": self.revoked_credentials,
            "issuers": self.revoked_issuers,
            "agency_types": self.revoked_agency_types,
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        save_public_key(self.authority_key.public_key(), self.authority_path)
        # Write then rename, so a node never reads half a file.
        written: dict[str, object] = dict(bundle)
        if self.sign:
            written = dict(sign_bundle(bundle, self.authority_key))
        for path, document in (
            (self.bundle_path, written),
            (self.revocations_path, revocations),
        ):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(document, indent=2), encoding="utf-8")
            tmp.replace(path)

    def identity(
        self,
        agency: str,
        subject: str,
        purposes: Sequence[str],
        *,
        roles: Sequence[str] = (),
        hours: float = 8.0,
        now: dt.datetime | None = None,
        reach: Sequence[str] | Reach | None = None,
    ) -> Identity:
        """Fresh investigator keys (Ed25519 to sign, X25519 to receive answers) and a
        credential for them from ``agency``'s issuer.

        ``reach`` names the nodes its searches may reach by hand; otherwise,
        with an outbound policy for ``agency`` (:attr:`outbound`), the issuer
        evaluates it against the written, signed bundle's directory and binds
        the result as the credential's ``reach``.
        """
        agency_type, issuer_key = self.issuers[agency]
        holder = generate_key()
        enc = generate_enc_key()
        credential = issue_credential(
            CredentialRequest(
                issuer=agency,
                subject=subject,
                agency=agency,
                agency_type=agency_type,
                roles=tuple(roles),
                purposes=tuple(purposes),
                holder_key=holder.public_key(),
                hours=hours,
                holder_enc_key=enc.public_key(),
                reach=self._reach(agency, reach),
            ),
            issuer_key,
            now=now,
        )
        return Identity(credential, holder, enc)

    def _reach(self, agency: str, reach: Sequence[str] | Reach | None) -> Reach | None:
        if reach is None:
            return self.reach_for(agency)
        if isinstance(reach, Reach):
            return reach
        # The shorter form, as an issuer picks it: small kits keep the list.
        return Reach.of(reach, directory=self.serials())

    def reach_for(self, agency: str) -> Reach | None:
        """What ``agency``'s outbound policy reaches in the written bundle; None without one.

        Raises:
            fieldgate.trust.trust_bundle.TrustUnavailable: the bundle is not written
                (call :meth:`write`) or does not verify.
            fieldgate.policy.errors.OutboundPolicyError: the policy cannot be used.
        """
        policy = self.outbound.get(agency)
        if policy is None:
            return None
        authority = self.authority_key.public_key() if self.sign else None
        directory = read_directory(self.bundle_path, authority)
        agency_type, _ = self.issuers[agency]
        return compute_reach(policy, directory, {"id": agency, "agency_type": agency_type})

    def warrant(
        self,
        warrant_id: str,
        surname: str,
        given_name: str,
        dob: str,
        covers: Sequence[str],
        expires: dt.date,
        *,
        applicant_agency: str,
        case_number: str,
        investigator: str = "",
        record_kinds: Sequence[str] = (),
        court_key: Ed25519PrivateKey | None = None,
    ) -> str:
        """A warrant attestation signed by this kit's court (or by ``court_key``).

        Only ``applicant_agency``'s searches for ``case_number`` (and only
        ``investigator``'s, if named) may use it.
        """
        return issue_warrant(
            WarrantRequest(
                court=self.court_id,
                warrant_id=warrant_id,
                subject_surname=surname,
                subject_given_name=given_name,
                subject_dob=dob,
                covers=tuple(covers),
                expires=expires,
                applicant_agency=applicant_agency,
                case_number=case_number,
                record_kinds=tuple(record_kinds),
                investigator=investigator,
            ),
            court_key or self.court_key,
        )
