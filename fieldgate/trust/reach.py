"""Where an agency's queries may go: the federation directory and a credential's ``reach``.

The requesting agency's outbound policy (:mod:`fieldgate.policy.outbound`) is
evaluated by its issuer, at issuance, against every node of the signed trust
bundle's directory. The result is bound into the credential it signs::

    "reach":     ["kcso", "spd", "fbi-seattle"],          node ids its searches may address
    "unreached": {"ice-ero": "civil immigration agency"}  node id → why not (for the investigator)

Every hop then enforces it: the client addresses only ``reach`` ∩ the broker's
nodes, the broker refuses a proof whose audience leaves ``reach``, and a node
not in ``reach`` answers as for an absent person (``outside_reach``). A node
that joins later is outside every credential issued before it: it is reached
after the holder's next issuance (at most 24 hours), never before — fail closed.

A credential without ``reach`` predates outbound policies and is served as
before (every node its proof addresses): only its own issuer could have left
the claim out, and the policy protects that same agency's queries.

The directory is the trust bundle's ``nodes``; each entry may name the
agency running the node, its agency type, its jurisdiction and the agency's
display name (``name``, what investigators are shown; a broker serving the
directory reports it)::

    {"id": "ice-ero", "agency": "ice-ero-seattle", "agency_type": "civil_immigration",
     "jurisdiction": "US", "name": "ICE ERO Seattle", "jwk": {...}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldgate.core.vocabulary import AGENCY_TYPES
from fieldgate.trust.bundle_signing import BundleSignatureError, open_bundle
from fieldgate.trust.trust_bundle import TrustUnavailable, _entries, _read, parse_bundle

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
        name: the agency's display name; empty when not said.
    """

    node_id: str
    agency: str = ""
    agency_type: str = ""
    jurisdiction: str = ""
    issuers: tuple[str, ...] = ()
    name: str = ""

    @property
    def display_name(self) -> str:
        """What people are shown for this node: its name, else its agency, else its id."""
        return self.name or self.agency or self.node_id

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
    entries: dict[str, DirectoryEntry] = {}
    for i, entry in enumerate(_entries(bundle, "nodes", bundle_path)):
        where = f"{bundle_path}: nodes[{i}]"
        keys = ("id", "agency", "agency_type", "jurisdiction", "name")
        values = {k: entry.get(k, "") for k in keys}
        if not all(isinstance(v, str) for v in values.values()) or not values["id"]:
            raise TrustUnavailable(
                f"{where}: id, agency, agency_type, jurisdiction, name are strings"
            )
        kind = str(values["agency_type"])
        if kind and kind not in AGENCY_TYPES:
            raise TrustUnavailable(f"{where}: unknown agency_type {kind!r}")
        node_id, agency = str(values["id"]), str(values["agency"])
        if node_id in entries:
            raise TrustUnavailable(f"{where}: node {node_id!r} is listed twice")
        vouching = tuple(sorted(i.id for i in issuers.values() if agency and i.agency == agency))
        entries[node_id] = DirectoryEntry(
            node_id, agency, kind, str(values["jurisdiction"]), vouching, str(values["name"])
        )
    return [entries[k] for k in sorted(entries)]


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
        nodes: node ids its searches may be addressed to.
        unreached: node id → why the issuer's outbound policy keeps it out.
    """

    nodes: frozenset[str]
    unreached: Mapping[str, str] = field(default_factory=dict)

    def claims(self) -> dict[str, object]:
        """The claims a credential carries for it (sorted, so issuance is reproducible)."""
        return {
            "reach": sorted(self.nodes),
            "unreached": {k: self.unreached[k][:MAX_REASON_LENGTH] for k in sorted(self.unreached)},
        }

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
    nodes = claims["reach"]
    if not isinstance(nodes, list) or not all(isinstance(n, str) and n for n in nodes):
        raise ValueError("reach is not a list of node ids")
    unreached = claims.get("unreached", {})
    if not isinstance(unreached, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in unreached.items()
    ):
        raise ValueError("unreached is not an object of node id → reason")
    if set(nodes) & set(unreached):
        raise ValueError("a node is both reached and unreached")
    return Reach(frozenset(nodes), dict(unreached))
