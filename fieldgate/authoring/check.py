"""``fieldgate contract check``: a contract against the node's catalog.

Two questions, answered two ways:

- **Which catalog fields can no rule release?** Asked of the contract itself,
  over the whole decision matrix (:mod:`fieldgate.authoring.matrix`): a field
  that is withheld in every cell is withheld by default, and the author should
  know. Fields that leave only under a warrant are listed too.
- **Which names does the contract use that the catalog lacks?** A name the
  contract releases or masks that the catalog lacks shows up in the matrix's
  raw decisions; a misspelt name in a condition never does (it matches
  nothing), so the source's string literals are read as well
  (:mod:`fieldgate.authoring.source`). A literal one or two letters away from a
  catalog field, a class, a mask or a vocabulary word is a typo.

A third: **which fields leave by class membership rather than by name?**
(:func:`class_release_findings`). A field the contract releases or masks but
never names is released because of its class, so a catalog edit that adds a
field to that class (``ssn`` to ``identity``) releases it with no contract
change to review: each is a warning, and the catalog change itself is reviewed
with ``fieldgate contract diff --old-catalog --new-catalog``.

A fourth question: **does the contract keep its field-local promise?**
(:func:`locality_findings`, :mod:`fieldgate.policy.field_locality`).

Errors (typos, names the catalog lacks in a decision, masks that never fit,
evaluations that fail, a refuted ``field_local`` declaration) make the command
exit non-zero; warnings do not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

from rapidfuzz.distance import Levenshtein

from fieldgate.authoring.matrix import Cell, decision_matrix
from fieldgate.authoring.session import ContractSession
from fieldgate.authoring.source import name_like_literals
from fieldgate.core.vocabulary import (
    AGENCY_TYPES,
    AUTHORITY_KINDS,
    IDENTIFIER_KINDS,
    PURPOSES,
    RECORD_KINDS,
)
from fieldgate.policy.catalog import (
    ADDRESS_KEYS,
    SENSITIVITY_CLASSES,
    default_catalog_path,
    load_catalog,
)
from fieldgate.policy.field_locality import (
    AUTHOR_CHECK_CASES,
    FIELD_LOCAL_RULE,
    declares_field_local,
    find_counterexample,
)
from fieldgate.policy.masking import MASKS

Severity = Literal["error", "warning", "info"]

INPUT_AND_DECISION_KEYS = frozenset(
    {
        "requester",
        "subject",
        "agency",
        "agency_type",
        "roles",
        "purpose",
        "case_number",
        "authority",
        "kind",
        "court",
        "covers",
        "record_kinds",
        "applies_to_record",
        "record",
        "sealed",
        "juvenile",
        "expunged",
        "fields",
        "disclose",
        "release",
        "mask",
        "reasons",
        "catalog",
    }
)
"""Keys of the input document and of the decision (docs/contracts.md)."""

VOCABULARY = (
    PURPOSES
    | AGENCY_TYPES
    | RECORD_KINDS
    | AUTHORITY_KINDS
    | IDENTIFIER_KINDS
    | frozenset(MASKS)
    | frozenset(ADDRESS_KEYS)
    | INPUT_AND_DECISION_KEYS
)
"""Names a contract may use that are neither fields nor classes."""


@dataclass(frozen=True)
class Finding:
    """One thing ``check`` found.

    Attributes:
        severity: ``error`` (exit non-zero), ``warning`` or ``info``.
        kind: ``typo``, ``not_in_catalog``, ``unknown_name``, ``never_released``,
            ``warrant_only``, ``bad_mask``, ``evaluation_error``, ``released_by_class``,
            ``not_field_local`` or ``could_be_field_local``.
        name: the field, class or literal concerned.
        message: what it means, in words.
        line: 1-based source line for findings read from the source, else 0.
    """

    severity: Severity
    kind: str
    name: str
    message: str
    line: int = 0


@dataclass(frozen=True)
class CheckReport:
    """Everything ``check`` found about one contract and catalog."""

    contract: str
    catalog: str
    cells: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is an error."""
        return not any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, object]:
        """The report as a JSON-ready object."""
        return {
            "contract": self.contract,
            "catalog": self.catalog,
            "cells": self.cells,
            "ok": self.ok,
            "findings": [asdict(f) for f in self.findings],
        }


def _nearest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate within one edit (two for longer names) of ``name``, if any."""
    limit = 1 if len(name) <= 5 else 2
    best = min(
        ((Levenshtein.distance(name, c), c) for c in candidates if c != name),
        default=None,
    )
    return best[1] if best is not None and best[0] <= limit else None


def scan_source(source: str, fields: frozenset[str], classes: frozenset[str]) -> list[Finding]:
    """Findings about the name-like string literals of a contract's source."""
    standard = frozenset(load_catalog(default_catalog_path()).fields)
    known = fields | classes | VOCABULARY
    findings: list[Finding] = []
    seen: set[str] = set()
    for literal in name_like_literals(source):
        name = literal.value
        if name in known or name in seen:
            continue
        seen.add(name)
        near = _nearest(name, known)
        if name in standard or name in SENSITIVITY_CLASSES:
            findings.append(
                Finding(
                    "warning",
                    "not_in_catalog",
                    name,
                    f"{name!r} is a standard field or class this catalog lacks: "
                    "rules naming it release nothing here.",
                    literal.line,
                )
            )
        elif near is not None:
            what = "field" if near in fields else "class" if near in classes else "name"
            findings.append(
                Finding(
                    "error",
                    "typo",
                    name,
                    f"{name!r} is not in the catalog; did you mean the {what} {near!r}? "
                    "A misspelt name matches nothing and silently withholds.",
                    literal.line,
                )
            )
        else:
            findings.append(
                Finding(
                    "warning",
                    "unknown_name",
                    name,
                    f"{name!r} is no field, class or vocabulary word of this catalog "
                    "(fine for a role or an agency id; a field name here would be a typo).",
                    literal.line,
                )
            )
    return findings


def _decision_names(cell: Cell) -> set[str]:
    raw = cell.decision.raw
    if not isinstance(raw, dict):
        return set()
    names: set[str] = set()
    release, mask = raw.get("release"), raw.get("mask")
    if isinstance(release, list | set | frozenset | tuple):
        names.update(n for n in release if isinstance(n, str))
    if isinstance(mask, dict):
        names.update(n for n in mask if isinstance(n, str))
    return names


def matrix_findings(cells: list[Cell], session: ContractSession) -> list[Finding]:
    """Findings from the contract's own decisions over the matrix."""
    catalog = session.catalog
    findings: list[Finding] = []
    errors = sorted({c.decision.verdict.error for c in cells if c.decision.verdict.error})
    findings.extend(
        Finding("error", "evaluation_error", "", f"the contract failed to decide: {e}")
        for e in errors
    )
    unknown = sorted(set().union(*(_decision_names(c) for c in cells)) - set(catalog.fields))
    findings.extend(
        Finding(
            "error",
            "not_in_catalog",
            name,
            f"the contract releases or masks {name!r}, which the catalog lacks: "
            "it never leaves (a typo?).",
        )
        for name in unknown
    )
    bad_masks = sorted(
        {
            (f.name, f.reason)
            for c in cells
            for f in c.decision.verdict.fields
            if f.reason.startswith("mask ")
        }
    )
    findings.extend(
        Finding("error", "bad_mask", name, f"{name}: {reason}, so it is withheld")
        for name, reason in bad_masks
    )
    leaves_without = {f.name for c in cells if not c.warrant for f in c.decision.verdict.released()}
    leaves_with = {f.name for c in cells if c.warrant for f in c.decision.verdict.released()}
    for name, spec in catalog.fields.items():
        if name not in leaves_without | leaves_with:
            findings.append(
                Finding(
                    "warning",
                    "never_released",
                    name,
                    f"{name} ({spec.sensitivity}): no rule releases or masks it for any "
                    "requester, purpose or warrant — withheld by default.",
                )
            )
        elif name not in leaves_without:
            findings.append(
                Finding(
                    "info",
                    "warrant_only",
                    name,
                    f"{name} ({spec.sensitivity}): leaves only under an applicable warrant.",
                )
            )
    return findings


def class_release_findings(
    cells: list[Cell], source: str, session: ContractSession
) -> list[Finding]:
    """A warning per field released or masked to someone although the source never names it."""
    named = {literal.value for literal in name_like_literals(source)}
    released = {f.name for c in cells for f in c.decision.verdict.released()}
    return [
        Finding(
            "warning",
            "released_by_class",
            name,
            f"{name} ({spec.sensitivity}): released because its class is, not by name — a "
            f"field the catalog adds to {spec.sensitivity} would leave too; review catalog "
            "changes with `fieldgate contract diff --old-catalog --new-catalog`.",
        )
        for name, spec in session.catalog.fields.items()
        if name in released and name not in named
    ]


def locality_findings(session: ContractSession, cases: int = AUTHOR_CHECK_CASES) -> list[Finding]:
    """Whether the contract keeps (or could make) the field-local promise.

    A contract that declares ``field_local := true`` and is refuted on a
    sampled record is an error: the node would refuse the declaration and ask
    about every record on its own (slower, never less safe). One that does not
    declare it and passes gets a hint, since declaring it makes searches with
    many hits several times cheaper (:mod:`fieldgate.policy.field_locality`).
    """
    declared = declares_field_local(session.engine)
    found = find_counterexample(session.engine, session.catalog, count=cases)
    if declared and found is not None:
        return [Finding("error", "not_field_local", found.field, found.describe())]
    if not declared and found is None:
        return [
            Finding(
                "info",
                "could_be_field_local",
                FIELD_LOCAL_RULE,
                f"{cases} sampled records are decided the same with the catalog's whole field "
                "list: declaring `field_local := true` lets the node ask once per kind of "
                "record instead of once per record (docs/contracts.md, field-local contracts)",
            )
        ]
    return []


def check_contract(session: ContractSession) -> CheckReport:
    """Check the session's contract against its catalog (see the module docstring)."""
    cells = decision_matrix(session)
    fields = frozenset(session.catalog.fields)
    classes = frozenset(spec.sensitivity for spec in session.catalog.fields.values())
    source = session.path.read_text(encoding="utf-8")
    findings = [
        *scan_source(source, fields, classes),
        *matrix_findings(cells, session),
        *class_release_findings(cells, source, session),
        *locality_findings(session),
    ]
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: (order[f.severity], f.kind, f.line, f.name))
    return CheckReport(str(session.path), session.catalog.source, len(cells), tuple(findings))
