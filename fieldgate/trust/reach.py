"""Where an agency's queries may go: the federation directory and a credential's ``reach``.

The requesting agency's outbound policy (:mod:`fieldgate.policy.outbound`) is
evaluated by its issuer, at issuance, against every node of the signed trust
bundle's directory. The result is bound into the credential it signs::

    "reach":     ["kcso", "spd", "fbi-seattle"]            node ids its searches may address,
                 or {"dir": 42, "except": ["ice-ero"]}     or every node with since <= 42 but these
    "unreached": {"civil immigration agency": ["ice-ero"]} why not → node ids (for the investigator)

The issuer picks the shorter ``reach`` form (:mod:`fieldgate.trust.audience`,
the one membership rule everyone evaluates).

Every hop then enforces it: the client addresses only ``reach`` ∩ the broker's
nodes, the broker refuses a proof whose audience leaves ``reach``, and a node
not in ``reach`` answers as for an absent person (``outside_reach``). A node
that joins later is outside every credential issued before it: it is reached
after the holder's next issuance (at most 24 hours), never before — fail closed.

A credential without ``reach`` predates outbound policies and is served as
before (every node its proof addresses): only its own issuer could have left
the claim out, and the policy protects that same agency's queries.

The directory is the trust bundle's ``nodes``; each entry may name the
agency running the node, its agency type and its jurisdiction::

    {"id": "ice-ero", "agency": "ice-ero-seattle", "agency_type": "civil_immigration",
     "jurisdiction": "US", "jwk": {...}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldgate.core.vocabulary import AGENCY_TYPES
from fieldgate.trust.audience import Audience, Directory
from fieldgate.trust.bundle_signing import BundleSignatureError, open_bundle
from fieldgate.trust.trust_bundle import (
    TrustUnavailable,
    _entries,
    _read,
    parse_bundle,
    parse_directory_serials,
)

MAX_REASON_LENGTH = 200
"""Longest ``unreached`` reason a credential carries (the policy's words, shown to people)."""


@dataclass(frozen=True)
class DirectoryEntry:
    """One node of the federation, as the signed trust bundle describes it.

    Attributes:
        node_id: the node's id (what a proof's audience names).
        agency: the agency running it; empty when the bundle does not say.
        agency_type: its agency type (``AGENCY_TYPES``); empty when not said.
        jurisdiction: e.g. ``"WA"`` or ``"US"``; empty when not said.
        issuers: ids of the bundle's issuers that vouch for that agency.
        since: the bundle serial the node joined at (0 when the bundle does not say).
    """

    node_id: str
    agency: str = ""
    agency_type: str = ""
    jurisdiction: str = ""
    issuers: tuple[str, ...] = ()
    since: int = 0

    def to_input(self) -> dict[str, object]:
        """The entry as an outbound policy sees it (``input.node``)."""
        return {
            "id": self.node_id,
            "agency": self.agency,
            "agency_type": self.agency_type,
            "jurisdiction": self.jurisdiction,
            "issuers": list(self.issuers),
        }


def parse_directory(bundle: Mapping[str, object], bundle_path: Path) -> list[DirectoryEntry]:
    """The directory of an (opened) trust bundle document, in node id order.

    Raises:
        TrustUnavailable: an entry is malformed, naming it.
    """
    issuers, _, _ = parse_bundle(bundle, bundle_path)
    since = parse_directory_serials(bundle, bundle_path).since
    entries: dict[str, DirectoryEntry] = {}
    for i, entry in enumerate(_entries(bundle, "nodes", bundle_path)):
        where = f"{bundle_path}: nodes[{i}]"
        values = {k: entry.get(k, "") for k in ("id", "agency", "agency_type", "jurisdiction")}
        if not all(isinstance(v, str) for v in values.values()) or not values["id"]:
            raise TrustUnavailable(f"{where}: id, agency, agency_type, jurisdiction are strings")
        kind = str(values["agency_type"])
        if kind and kind not in AGENCY_TYPES:
            raise TrustUnavailable(f"{where}: unknown agency_type {kind!r}")
        node_id, agency = str(values["id"]), str(values["agency"])
        if node_id in entries:
            raise TrustUnavailable(f"{where}: node {node_id!r} is listed twice")
        vouching = tuple(sorted(i.id for i in issuers.values() if agency and i.agency == agency))
        entries[node_id] = DirectoryEntry(
            node_id, agency, kind, str(values["jurisdiction"]), vouching, since[node_id]
        )
    return [entries[k] for k in sorted(entries)]


def serials(directory: Iterable[DirectoryEntry]) -> Directory:
    """The ``since`` of each entry, for choosing the shorter reach or audience form."""
    since = {e.node_id: e.since for e in directory}
    return Directory(max(since.values(), default=0), since)


def read_directory(bundle_path: Path, authority: Ed25519PublicKey | None) -> list[DirectoryEntry]:
    """The directory of the trust bundle file at ``bundle_path``, opened with ``authority``.

    Raises:
        TrustUnavailable: the file is unreadable, not signed by ``authority``
            (when given), or malformed.
    """
    try:
        bundle = open_bundle(_read(bundle_path), authority, bundle_path)
    except BundleSignatureError as exc:
        raise TrustUnavailable(str(exc)) from None
    return parse_directory(bundle, bundle_path)


@dataclass(frozen=True)
class Reach:
    """Which nodes a credential's searches may address, and why the others may not.

    Attributes:
        audience: the nodes its searches may be addressed to, in either form
            (:class:`~fieldgate.trust.audience.Audience`).
        unreached: node id → why the issuer's outbound policy keeps it out.
    """

    audience: Audience
    unreached: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        nodes: Iterable[str],
        unreached: Mapping[str, str] | None = None,
        directory: Directory | None = None,
    ) -> Reach:
        """The reach of exactly ``nodes``, in the shorter form over ``directory``."""
        return cls(Audience.of(sorted(nodes), directory), dict(unreached or {}))

    def contains(self, node_id: str, since: int | None) -> bool:
        """Whether searches may reach ``node_id`` (its ``since`` in the caller's directory)."""
        return self.audience.contains(node_id, since)

    def claims(self) -> dict[str, object]:
        """The claims a credential carries for it: ``unreached`` grouped by reason, sorted."""
        grouped: dict[str, list[str]] = {}
        for node_id in sorted(self.unreached):
            grouped.setdefault(self.unreached[node_id][:MAX_REASON_LENGTH], []).append(node_id)
        return {"reach": self.audience.claim(), "unreached": dict(sorted(grouped.items()))}

    def why_not(self, node_id: str) -> str:
        """Why ``node_id`` is not reached (a node unknown at issuance says so)."""
        return self.unreached.get(
            node_id,
            "not in the federation directory when this credential was issued "
            "(reached after the next issuance, if the agency's outbound policy allows)",
        )


def credential_reach(claims: Mapping[str, object]) -> Reach | None:
    """The ``reach`` a credential's claims bind, or None for a credential without one.

    Raises:
        ValueError: ``reach`` or ``unreached`` is present but malformed.
    """
    if "reach" not in claims:
        return None
    audience = Audience.from_claim(claims["reach"], "reach", empty_ok=True)
    grouped = claims.get("unreached", {})
    if not isinstance(grouped, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) and n for n in v)
        for k, v in grouped.items()
    ):
        raise ValueError("unreached is not an object of reason → [node ids]")
    unreached = {node_id: reason for reason, ids in grouped.items() for node_id in ids}
    if len(unreached) != sum(len(ids) for ids in grouped.values()):
        raise ValueError("unreached names a node under two reasons")
    if any(audience.contains(n, None) for n in unreached):
        raise ValueError("a node is both reached and unreached")
    return Reach(audience, unreached)
