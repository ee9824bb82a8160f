"""A node's (or broker's) trust bundle and revocation list, reloaded without restart.

Both are JSON files the agency's operators maintain::

    trust bundle                              revocation list
    {"issued_at": "2026-11-21T04:00:00Z",     {"issued_at": "2026-11-21T04:00:00Z",
     "serial": 7,
     "issuers": [{"id": "bellevue-pd",          "credentials": ["<credential id>"],
                  "agency": "bellevue-pd",      "issuers": ["<issuer id>"],
                  "agency_type": "local_law_enforcement",
                  "jwk": {...}}],               "agency_types": ["civil_immigration"]}
     "courts": [{"id": "wawd", "name": "...", "jwk": {...}}],
     "nodes": [{"id": "kcso", "since": 3, "jwk": {...}, "enc": {...}}]}

``nodes`` (optional) publishes each agency node's answer key (``jwk``,
Ed25519): clients verify every answer a broker relays against it
(:mod:`fieldgate.trust.answers`); and its encryption key (``enc``, an X25519
JWK): clients seal their queries to it (:mod:`fieldgate.trust.sealed_search`).
``serial`` (bumped by the federation authority on every edit) and each node's
``since`` (the serial it joined at; missing: 0) are what a compact audience or
reach ``{"dir", "except"}`` names (:mod:`fieldgate.trust.audience`).

An issuer vouches only for its own agency and agency type: a credential that
names another is refused. :class:`TrustStore` re-reads a file as soon as it
changes on disk, so a revocation takes effect on the very next search. A file
that does not parse, or whose ``issued_at`` is older than the configured
maximum age, makes the store unavailable: the node then releases nothing until
it is fixed or refreshed — an outage costs availability, never a trust decision.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from fieldgate.core.errors import FieldgateError
from fieldgate.core.vocabulary import AGENCY_TYPES
from fieldgate.trust.audience import Directory
from fieldgate.trust.bundle_signing import BundleSignatureError, open_bundle, open_revocations
from fieldgate.trust.keys import enc_key_from_jwk, key_from_jwk


class TrustUnavailable(FieldgateError):
    """The trust bundle or revocation list is missing, broken or too old.

    Attributes:
        stale: True when the files are readable but older than the maximum age.
    """

    def __init__(self, message: str, *, stale: bool = False) -> None:
        super().__init__(message)
        self.stale = stale


@dataclass(frozen=True)
class Issuer:
    """An agency's credential issuer this party trusts."""

    id: str
    agency: str
    agency_type: str
    key: Ed25519PublicKey


@dataclass(frozen=True)
class Court:
    """A court whose warrant attestations this party trusts."""

    id: str
    name: str
    key: Ed25519PublicKey


@dataclass(frozen=True)
class TrustState:
    """One consistent view of the bundle and the revocation list."""

    issuers: Mapping[str, Issuer]
    courts: Mapping[str, Court]
    revoked_credentials: frozenset[str]
    revoked_issuers: frozenset[str]
    revoked_agency_types: frozenset[str]
    bundle_issued_at: dt.datetime
    revocations_issued_at: dt.datetime
    nodes: Mapping[str, Ed25519PublicKey] = dataclasses.field(default_factory=dict)
    """Node id → the key that node signs its answers with."""
    node_enc: Mapping[str, X25519PublicKey] = dataclasses.field(default_factory=dict)
    """Node id → the X25519 key queries to that node are sealed to."""
    directory: Directory = dataclasses.field(default_factory=Directory)
    """The bundle's ``serial`` and each node's ``since``: what compact audiences name."""


def _serial(value: object, where: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TrustUnavailable(f"{where} is not a directory serial (an integer >= 0)")
    return value


def parse_directory_serials(bundle: Mapping[str, object], bundle_path: Path) -> Directory:
    """The bundle's ``serial`` and its nodes' ``since`` (missing: 0, a bundle older than serials).

    Raises:
        TrustUnavailable: a serial is not an integer >= 0, or a node joined
            after the bundle's own serial.
    """
    serial = _serial(bundle.get("serial"), f"{bundle_path}: serial")
    since: dict[str, int] = {}
    for i, entry in enumerate(_entries(bundle, "nodes", bundle_path)):
        where = f"{bundle_path}: nodes[{i}].since"
        joined = _serial(entry.get("since"), where)
        if joined > serial:
            raise TrustUnavailable(f"{where} is {joined}, after the bundle's serial {serial}")
        since[str(entry.get("id"))] = joined
    return Directory(serial, since)


def _timestamp(value: object, where: str) -> dt.datetime:
    if not isinstance(value, str):
        raise TrustUnavailable(f"{where}: issued_at must be an RFC 3339 timestamp")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TrustUnavailable(f"{where}: issued_at {value!r} is not a timestamp") from None
    if parsed.tzinfo is None:
        raise TrustUnavailable(f"{where}: issued_at needs a time zone")
    return parsed


def _read(path: Path) -> dict[str, object]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TrustUnavailable(f"{path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrustUnavailable(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise TrustUnavailable(f"{path}: must hold a JSON object")
    return document


def _strings(document: Mapping[str, object], key: str, where: Path) -> frozenset[str]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TrustUnavailable(f"{where}: {key} must be a list of strings")
    return frozenset(value)


def _entries(document: Mapping[str, object], key: str, where: Path) -> list[dict[str, object]]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TrustUnavailable(f"{where}: {key} must be a list of objects")
    return value


def _key(entry: Mapping[str, object], where: str) -> Ed25519PublicKey:
    try:
        return key_from_jwk(entry.get("jwk"))
    except ValueError as exc:
        raise TrustUnavailable(f"{where}.jwk: {exc}") from None


def parse_nodes(bundle: Mapping[str, object], bundle_path: Path) -> dict[str, Ed25519PublicKey]:
    """The ``nodes`` of a trust bundle: node id → answer key."""
    nodes: dict[str, Ed25519PublicKey] = {}
    for i, entry in enumerate(_entries(bundle, "nodes", bundle_path)):
        where = f"{bundle_path}: nodes[{i}]"
        node_id = entry.get("id")
        if not isinstance(node_id, str) or not node_id:
            raise TrustUnavailable(f"{where}: id is a required string")
        if node_id in nodes:
            raise TrustUnavailable(f"{where}: node {node_id!r} is listed twice")
        nodes[node_id] = _key(entry, where)
    return nodes


def parse_node_enc(bundle: Mapping[str, object], bundle_path: Path) -> dict[str, X25519PublicKey]:
    """The ``enc`` keys of a trust bundle's ``nodes``: node id → X25519 key (if published)."""
    keys: dict[str, X25519PublicKey] = {}
    for i, entry in enumerate(_entries(bundle, "nodes", bundle_path)):
        if "enc" not in entry:
            continue
        try:
            keys[str(entry.get("id"))] = enc_key_from_jwk(entry["enc"])
        except ValueError as exc:
            raise TrustUnavailable(f"{bundle_path}: nodes[{i}].enc: {exc}") from None
    return keys


def parse_bundle(
    bundle: Mapping[str, object], bundle_path: Path
) -> tuple[dict[str, Issuer], dict[str, Court], dt.datetime]:
    """Parse a trust bundle document."""
    issuers: dict[str, Issuer] = {}
    for i, entry in enumerate(_entries(bundle, "issuers", bundle_path)):
        where = f"{bundle_path}: issuers[{i}]"
        fields = {k: entry.get(k) for k in ("id", "agency", "agency_type")}
        if not all(isinstance(v, str) and v for v in fields.values()):
            raise TrustUnavailable(f"{where}: id, agency and agency_type are required strings")
        if fields["agency_type"] not in AGENCY_TYPES:
            raise TrustUnavailable(f"{where}: unknown agency_type {fields['agency_type']!r}")
        issuer = Issuer(str(fields["id"]), str(fields["agency"]), str(fields["agency_type"]),
                        _key(entry, where))  # fmt: skip
        issuers[issuer.id] = issuer
    courts: dict[str, Court] = {}
    for i, entry in enumerate(_entries(bundle, "courts", bundle_path)):
        where = f"{bundle_path}: courts[{i}]"
        court_id, name = entry.get("id"), entry.get("name")
        if not isinstance(court_id, str) or not court_id or not isinstance(name, str):
            raise TrustUnavailable(f"{where}: id and name are required strings")
        courts[court_id] = Court(court_id, name, _key(entry, where))
    return issuers, courts, _timestamp(bundle.get("issued_at"), str(bundle_path))


class TrustStore:
    """Loads the bundle and revocation list, reloading whenever either file changes."""

    def __init__(
        self,
        bundle_path: Path,
        revocations_path: Path,
        *,
        max_age: dt.timedelta,
        authority: Ed25519PublicKey | None = None,
    ) -> None:
        """Watch ``bundle_path`` and ``revocations_path``; refuse state older than ``max_age``.

        With ``authority`` (the pinned federation authority key) only a bundle
        it signed is accepted (:mod:`fieldgate.trust.bundle_signing`).
        """
        self.authority = authority
        self.bundle_path = bundle_path
        self.revocations_path = revocations_path
        self.max_age = max_age
        self._lock = threading.Lock()
        self._stamp: tuple[object, ...] | None = None
        self._state: TrustState | None = None
        self._error = "not loaded yet"

    def _file_stamp(self) -> tuple[object, ...]:
        stamps: list[object] = []
        for path in (self.bundle_path, self.revocations_path):
            try:
                st = os.stat(path)
            except OSError as exc:
                stamps.append(exc.strerror)
            else:
                stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(stamps)

    def _load(self) -> TrustState:
        try:
            bundle = open_bundle(_read(self.bundle_path), self.authority, self.bundle_path)
            revocations = open_revocations(
                _read(self.revocations_path), self.authority, self.revocations_path
            )
        except BundleSignatureError as exc:
            raise TrustUnavailable(str(exc)) from None
        issuers, courts, bundle_time = parse_bundle(bundle, self.bundle_path)
        return TrustState(
            issuers=issuers,
            courts=courts,
            revoked_credentials=_strings(revocations, "credentials", self.revocations_path),
            revoked_issuers=_strings(revocations, "issuers", self.revocations_path),
            revoked_agency_types=_strings(revocations, "agency_types", self.revocations_path),
            bundle_issued_at=bundle_time,
            revocations_issued_at=_timestamp(
                revocations.get("issued_at"), str(self.revocations_path)
            ),
            nodes=parse_nodes(bundle, self.bundle_path),
            node_enc=parse_node_enc(bundle, self.bundle_path),
            directory=parse_directory_serials(bundle, self.bundle_path),
        )

    def current(self, now: dt.datetime) -> TrustState:
        """The state in force now.

        Raises:
            TrustUnavailable: a file is missing, broken, or older than the maximum age.
        """
        with self._lock:
            stamp = self._file_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._state, self._error = self._load(), ""
                except TrustUnavailable as exc:
                    self._state, self._error = None, str(exc)
            state, error = self._state, self._error
        if state is None:
            raise TrustUnavailable(error)
        for label, issued in (
            ("trust bundle", state.bundle_issued_at),
            ("revocation list", state.revocations_issued_at),
        ):
            if now - issued > self.max_age:
                raise TrustUnavailable(
                    f"{label} issued {issued.isoformat()} is older than {self.max_age}; refresh it",
                    stale=True,
                )
        return state

    def last_loaded(self) -> TrustState | None:
        """The state last read from the files, however old (None if none could be read)."""
        with self._lock:
            return self._state
