"""Catalog changes are reviewed like contract changes: what a new catalog would release.

Contracts release by class (``identity`` to criminal investigators), so adding
a field to a class, or moving one into it, releases that field without a word
of the contract changing: adding ``ssn`` to ``identity`` released it whole to
every criminal investigator (issue 16, item 9). This module answers, for a
contract, which fields a catalog change would newly release:

- :func:`catalog_changes`: the fields the new catalog adds or moves to
  another class, against the one the contract was reviewed with;
- :func:`released_changes`: those of them the contract releases or masks for
  some requester kind, purpose, warrant or record kind. It asks the contract
  itself (the contract is told field names and classes, never values), over
  the same matrix as ``fieldgate contract check``.

A signed contract bundle records the catalog it was reviewed with and the
fields its signer acknowledges (:mod:`fieldgate.policy.contract_bundle`); a
node refuses the bundle when its own catalog would release a field the bundle
does not acknowledge.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping

from fieldgate.core.claims import LegalAuthority, RequesterClaims
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES, RECORD_KINDS
from fieldgate.policy.engine import ContractEngine
from fieldgate.policy.errors import ContractError
from fieldgate.policy.evaluate import build_policy_input
from fieldgate.policy.records import Record
from fieldgate.policy.sample_inputs import (
    SUBJECT_DOB,
    SUBJECT_GIVEN_NAME,
    SUBJECT_SURNAME,
    matrix_claims,
    sample_value,
)

__all__ = ["catalog_changes", "classes_version", "released_changes"]


def classes_version(classes: Mapping[str, str]) -> str:
    """SHA-256 (hex) of a field → class mapping, as a bundle manifest records it."""
    canonical = json.dumps(dict(classes), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def catalog_changes(
    reviewed: Mapping[str, str], current: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """Fields ``current`` adds or puts in another class: field → (old class or "", new class)."""
    return {
        name: (reviewed.get(name, ""), cls)
        for name, cls in sorted(current.items())
        if reviewed.get(name) != cls
    }


def _warrant(classes: Mapping[str, str], today: dt.date) -> LegalAuthority:
    """A warrant naming the sample subject and covering every class and field."""
    return LegalAuthority(
        kind="criminal_judicial_warrant",
        id="W-CATALOG-REVIEW",
        court="Catalog Review Court",
        subject_surname=SUBJECT_SURNAME,
        subject_given_name=SUBJECT_GIVEN_NAME,
        subject_dob=SUBJECT_DOB,
        covers=(*sorted(set(classes.values())), *sorted(classes)),
        record_kinds=(),
        expires=today + dt.timedelta(days=30),
    )


def _requesters(classes: Mapping[str, str], today: dt.date) -> list[RequesterClaims]:
    warrant = _warrant(classes, today)
    return [
        matrix_claims(agency_type, purpose, authority)
        for agency_type in sorted(AGENCY_TYPES)
        for purpose in sorted(PURPOSES)
        for authority in ((), (warrant,))
    ]


def released_changes(
    contract: ContractEngine,
    reviewed: Mapping[str, str],
    current: Mapping[str, str],
    *,
    node_id: str = "catalog-review",
    today: dt.date | None = None,
) -> dict[str, tuple[str, str]]:
    """The changed fields (:func:`catalog_changes`) the contract releases or masks to anyone.

    ``contract`` must have been loaded with ``current`` as its ``data.catalog``.
    A cell the contract fails to decide releases nothing (the node withholds
    it), so it counts as no release here.
    """
    changed = catalog_changes(reviewed, current)
    if not changed:
        return {}
    today = today or dt.date.today()
    fields = {name: sample_value(name, "string") for name in current}
    released: set[str] = set()
    for kind in sorted(RECORD_KINDS):
        record = Record(
            f"CATALOG-REVIEW-{kind}",
            kind,
            sealed=False,
            juvenile=False,
            expunged=False,
            fields=fields,
        )
        for claims in _requesters(current, today):
            document = build_policy_input(claims, record, node_id=node_id, today=today)
            try:
                raw = contract.evaluate(document)
            except ContractError:
                continue
            released |= _named(raw) & set(changed)
        if released == set(changed):
            break
    return {name: change for name, change in changed.items() if name in released}


def _named(raw: object) -> set[str]:
    """Field names a raw decision releases or masks, when it discloses the record."""
    if not isinstance(raw, Mapping) or raw.get("disclose") is not True:
        return set()
    names: set[str] = set()
    release, mask = raw.get("release"), raw.get("mask")
    if isinstance(release, list | set | frozenset | tuple):
        names.update(n for n in release if isinstance(n, str))
    if isinstance(mask, Mapping):
        names.update(n for n in mask if isinstance(n, str))
    return names
