"""``fieldgate contract render``: a contract in plain language, with its clauses and a hash.

The summary is computed from the decision matrix (:mod:`fieldgate.authoring.matrix`),
never by reading the rules: for every requester kind and purpose, without and
with an applicable criminal judicial warrant, it says whether the requester
learns the record exists and which sensitivity classes are released whole,
masked (by which mask) or withheld. Rows that read alike are merged.

Clauses come from ``# clause: ...`` comments above rules
(:func:`fieldgate.authoring.source.clauses`); a clause is listed on a row when
its rule holds (is defined and not false or empty) for that row's requesters —
again asked of the contract, not read from it. A clause above a function
cannot be asked alone and is listed as applying throughout.

The summary hash is the SHA-256 of the summary's canonical JSON: two contracts
with the same hash decide the whole matrix alike and name the same clauses.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass

from fieldgate.authoring.matrix import Cell, decision_matrix
from fieldgate.authoring.session import ContractSession
from fieldgate.authoring.source import Clause, clauses
from fieldgate.core.vocabulary import PURPOSES, RECORD_KINDS
from fieldgate.policy.catalog import FieldCatalog

EVERY_KIND = "every record kind"


@dataclass(frozen=True)
class Access:
    """What one kind of requester learns (identical for every requester in a row)."""

    disclose: bool
    released: tuple[str, ...]
    masked: tuple[str, ...]
    partly: tuple[str, ...]
    withheld: tuple[str, ...]
    clauses: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    """Requesters that learn the same, and what they learn."""

    warrant: bool
    record_kinds: str
    requesters: tuple[str, ...]
    access: Access


@dataclass(frozen=True)
class Rendering:
    """The plain-language summary of one contract."""

    contract: str
    path: str
    rows: tuple[Row, ...]
    clauses: tuple[Clause, ...]

    def summary(self) -> dict[str, object]:
        """The canonical summary the hash is taken over (no paths, no dates)."""
        return {
            "contract": self.contract,
            "rows": [asdict(r) for r in self.rows],
            "clauses": [{"text": c.text, "rule": c.rule} for c in self.clauses],
        }

    @property
    def summary_hash(self) -> str:
        """SHA-256 (hex) of the canonical summary."""
        text = json.dumps(self.summary(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def to_json(self) -> dict[str, object]:
        """The rendering as a JSON-ready object, hash included."""
        return {**self.summary(), "path": self.path, "summary_sha256": self.summary_hash}


def _words(name: str) -> str:
    return name.replace("_", " ")


def _truthy(value: object) -> bool:
    return value not in (None, False) and not (
        isinstance(value, list | set | frozenset | tuple | dict) and not value
    )


def class_access(cell: Cell, catalog: FieldCatalog, active: tuple[str, ...]) -> Access:
    """Summarise one cell by sensitivity class."""
    outcomes = cell.outcomes
    by_class: dict[str, list[str]] = defaultdict(list)
    for name, spec in catalog.fields.items():
        by_class[spec.sensitivity].append(name)
    released, masked, partly, withheld = [], [], [], []
    for cls, names in by_class.items():
        labels = {outcomes.get(n, "withheld") for n in names}
        if labels == {"released"}:
            released.append(_words(cls))
        elif labels == {"withheld"}:
            withheld.append(_words(cls))
        elif all(label.startswith("masked:") for label in labels):
            shown = ", ".join(f"{n} as {outcomes[n][7:]}" for n in names)
            masked.append(f"{_words(cls)} ({shown})")
        else:
            parts = []
            for label in ("released", *sorted({x for x in labels if x.startswith("masked:")})):
                got = [n for n in names if outcomes.get(n) == label]
                if got:
                    how = "whole" if label == "released" else f"as {label[7:]}"
                    parts.append(f"{', '.join(got)} {how}")
            partly.append(f"{_words(cls)}: {'; '.join(parts)}; the rest withheld")
    return Access(
        cell.decision.verdict.disclose,
        tuple(released),
        tuple(masked),
        tuple(partly),
        tuple(withheld),
        active,
    )


def _active_clauses(session: ContractSession, cell: Cell, found: list[Clause]) -> tuple[str, ...]:
    policy_input = cell.decision.policy_input
    active = []
    for clause in found:
        holds = policy_input is not None and _truthy(session.rule(clause.rule, policy_input))
        if clause.function or holds:
            active.append(clause.text)
    return tuple(dict.fromkeys(active))


def _requesters(pairs: set[tuple[str, str]]) -> tuple[str, ...]:
    """``agency types — purposes`` phrases covering exactly ``pairs``."""
    purposes_of: dict[str, set[str]] = defaultdict(set)
    for agency, purpose in pairs:
        purposes_of[agency].add(purpose)
    agencies_of: dict[frozenset[str], list[str]] = defaultdict(list)
    for agency in sorted(purposes_of):
        agencies_of[frozenset(purposes_of[agency])].append(agency)
    phrases = []
    for purposes, agencies in sorted(agencies_of.items(), key=lambda kv: kv[1]):
        asking = (
            "for any purpose"
            if purposes == PURPOSES
            else "for " + " or ".join(_words(p) for p in sorted(purposes))
        )
        phrases.append(f"{', '.join(_words(a) for a in agencies)} — {asking}")
    return tuple(phrases)


def render_contract(session: ContractSession) -> Rendering:
    """Decide the matrix and summarise it (see the module docstring)."""
    source = session.path.read_text(encoding="utf-8")
    found = clauses(source)
    cells = decision_matrix(session)
    per_requester: dict[tuple[bool, str, str], dict[str, Access]] = defaultdict(dict)
    for cell in cells:
        access = class_access(cell, session.catalog, _active_clauses(session, cell, found))
        per_requester[(cell.warrant, cell.agency_type, cell.purpose)][cell.record_kind] = access
    groups: dict[tuple[bool, str, Access], set[tuple[str, str]]] = defaultdict(set)
    for (warrant, agency, purpose), by_kind in per_requester.items():
        if len(set(by_kind.values())) == 1 and set(by_kind) == RECORD_KINDS:
            groups[(warrant, EVERY_KIND, next(iter(by_kind.values())))].add((agency, purpose))
        else:
            for kind, access in sorted(by_kind.items()):
                groups[(warrant, kind, access)].add((agency, purpose))
    rows = [
        Row(warrant, kinds, _requesters(pairs), access)
        for (warrant, kinds, access), pairs in groups.items()
    ]
    rows.sort(key=lambda r: (r.warrant, not r.access.disclose, r.record_kinds, r.requesters))
    return Rendering(session.package, str(session.path), tuple(rows), tuple(found))


def render_text(rendering: Rendering) -> str:
    """The summary as plain text for people."""
    lines = [f"Contract {rendering.contract} ({rendering.path})", ""]
    for warrant in (False, True):
        lines.append(
            "With a criminal judicial warrant that applies to the record "
            "(the matrix's warrant covers every class):"
            if warrant
            else "Without legal authority:"
        )
        for row in (r for r in rendering.rows if r.warrant == warrant):
            a = row.access
            for phrase in row.requesters:
                lines.append(f"  * {phrase}")
            if row.record_kinds != EVERY_KIND:
                lines.append(f"    (for {_words(row.record_kinds)} records)")
            if not a.disclose:
                lines.append("    learn nothing, not even that the record exists.")
            elif not (a.released or a.masked or a.partly):
                lines.append("    learn only that the record exists and whom to call.")
            else:
                lines.append("    learn that the record exists and whom to call;")
                for label, items in (
                    ("released whole", a.released),
                    ("masked", a.masked),
                    ("partly", a.partly),
                    ("withheld", a.withheld),
                ):
                    if items:
                        lines.append(f"    {label}: {'; '.join(items)}")
            for clause in a.clauses:
                lines.append(f"    per: {clause}")
            lines.append("")
    lines.append(
        "Always: sealed, juvenile and expunged records are never disclosed (the node's own rule)."
    )
    if rendering.clauses:
        lines += ["", "Clauses named in the contract:"]
        for c in rendering.clauses:
            kind = "function" if c.function else "rule"
            lines.append(f"  - {c.text}  ({kind} {c.rule}, line {c.line})")
    lines += ["", f"summary sha256: {rendering.summary_hash}"]
    return "\n".join(lines)
