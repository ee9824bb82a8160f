"""``fieldgate contract diff``: what a new contract would release that the old did not.

Every persona asks about every sample record under both contracts, each
decided through the node's path. Per field the outcomes are ranked — withheld,
masked (``zip3`` reveals more than ``city``; the other masks rank alike),
released whole — and a field that moves up is **wider**, one that moves down
**narrower**, one that swaps between masks of equal rank **changed**. A record
the requester now learns exists at all is a widening of its own, listed as
``(record exists)``.

Any widening for a persona in an immigration context (agency type or purpose
``civil_immigration``) is flagged: the command exits non-zero unless the author
accepts it with ``--accept-widening``.

Each contract comes with its catalog (``--old-catalog``/``--new-catalog``): the
same contract under two catalogs shows what a catalog change would release.
When the catalogs differ, the sample records are joined by a record of each
kind holding every field of the new catalog (the matrix's sample record), so a
field the new catalog adds is asked about even if no sample record holds it;
any widening of a field the new catalog adds or moves to another class is
flagged whoever the persona (:mod:`fieldgate.policy.catalog_review`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from fieldgate.authoring.inputs import Persona
from fieldgate.authoring.session import ContractSession
from fieldgate.core.vocabulary import RECORD_KINDS
from fieldgate.policy.catalog_review import catalog_changes
from fieldgate.policy.records import Record
from fieldgate.policy.sample_inputs import full_record
from fieldgate.policy.verdict import FieldVerdict, RecordVerdict

Direction = Literal["wider", "narrower", "changed"]

EXISTENCE = "(record exists)"
"""The pseudo-field of a change in whether the record is disclosed at all."""

_LEVEL = {"withheld": 0, "masked": 1, "released": 2, "disclosed": 1}
_MASK_REVEALS = {"zip3": 2}  # every other mask ranks 1


def _label(field: FieldVerdict) -> str:
    return f"masked:{field.mask}" if field.outcome == "masked" else field.outcome


def outcome_rank(label: str) -> tuple[int, int]:
    """How much an outcome label (``released``, ``masked:city``, ``withheld``) reveals."""
    outcome, _, mask = label.partition(":")
    return _LEVEL.get(outcome, 0), _MASK_REVEALS.get(mask, 1) if mask else 0


@dataclass(frozen=True)
class Change:
    """One field of one record that a persona sees differently under the new contract."""

    persona: str
    record_id: str
    record_kind: str
    field: str
    sensitivity: str
    old: str
    new: str
    direction: Direction


@dataclass(frozen=True)
class PersonaDiff:
    """Every change one persona would see."""

    persona: Persona
    changes: tuple[Change, ...]

    @property
    def widened(self) -> bool:
        """True when anything moves up for this persona."""
        return any(c.direction == "wider" for c in self.changes)

    @property
    def flagged(self) -> bool:
        """True when this persona is in an immigration context and anything widens."""
        return self.persona.immigration_context and self.widened

    def by_class(self) -> dict[str, dict[str, list[tuple[str, str, str, int]]]]:
        """Sensitivity class → direction → [(field, old, new, records)], sorted."""
        counts = Counter((c.sensitivity, c.direction, c.field, c.old, c.new) for c in self.changes)
        grouped: dict[str, dict[str, list[tuple[str, str, str, int]]]] = {}
        for (cls, direction, field, old, new), n in sorted(counts.items()):
            grouped.setdefault(cls, {}).setdefault(direction, []).append((field, old, new, n))
        return grouped


@dataclass(frozen=True)
class DiffReport:
    """The impact of replacing the old contract by the new one."""

    old: str
    new: str
    records: int
    personas: tuple[PersonaDiff, ...]
    catalog_changes: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    """Fields the new catalog adds or moves to another class: field → (old class, new class)."""

    @property
    def catalog_widened(self) -> list[str]:
        """Fields a catalog change adds that any persona would now see more of."""
        wider = {c.field for p in self.personas for c in p.changes if c.direction == "wider"}
        return sorted(wider & set(self.catalog_changes))

    @property
    def flagged(self) -> bool:
        """True when any immigration-context persona would see more, or a catalog change
        would release a field to anyone."""
        return any(p.flagged for p in self.personas) or bool(self.catalog_widened)

    def to_json(self) -> dict[str, object]:
        """The report as a JSON-ready object."""
        return {
            "old": self.old,
            "new": self.new,
            "records": self.records,
            "catalog_changes": {
                name: {"old_class": old, "new_class": new}
                for name, (old, new) in sorted(self.catalog_changes.items())
            },
            "catalog_widened": self.catalog_widened,
            "flagged": self.flagged,
            "personas": [
                {
                    "name": p.persona.name,
                    "agency_type": p.persona.claims.agency_type,
                    "purpose": p.persona.claims.purpose,
                    "immigration_context": p.persona.immigration_context,
                    "flagged": p.flagged,
                    "classes": {
                        cls: {
                            direction: [
                                {"field": f, "old": o, "new": n, "records": k}
                                for f, o, n, k in rows
                            ]
                            for direction, rows in directions.items()
                        }
                        for cls, directions in p.by_class().items()
                    },
                }
                for p in self.personas
            ],
        }


def compare_verdicts(
    persona: str, record: Record, old: RecordVerdict, new: RecordVerdict
) -> list[Change]:
    """The changes between two verdicts on the same record for the same persona."""
    changes: list[Change] = []

    def add(field: str, sensitivity: str, before: str, after: str) -> None:
        if before == after:
            return
        a, b = outcome_rank(before), outcome_rank(after)
        direction: Direction = "wider" if b > a else "narrower" if b < a else "changed"
        changes.append(
            Change(
                persona, record.record_id, record.kind, field, sensitivity, before, after, direction
            )
        )

    add(
        EXISTENCE,
        EXISTENCE,
        "disclosed" if old.disclose else "withheld",
        "disclosed" if new.disclose else "withheld",
    )
    before = {f.name: f for f in old.fields}
    for field in new.fields:
        prior = before.get(field.name)
        add(field.name, field.sensitivity, _label(prior) if prior else "withheld", _label(field))
    return changes


def diff_contracts(
    old: ContractSession, new: ContractSession, personas: list[Persona], records: list[Record]
) -> DiffReport:
    """Decide every persona x record under both contracts (each with its catalog)."""
    changed = catalog_changes(old.catalog.classes(), new.catalog.classes())
    if changed:
        records = [*records, *(full_record(new.catalog, kind) for kind in sorted(RECORD_KINDS))]
    results = []
    for persona in personas:
        changes: list[Change] = []
        for record in records:
            changes.extend(
                compare_verdicts(
                    persona.name,
                    record,
                    old.decide(persona.claims, record).verdict,
                    new.decide(persona.claims, record).verdict,
                )
            )
        results.append(PersonaDiff(persona, tuple(changes)))
    return DiffReport(str(old.path), str(new.path), len(records), tuple(results), changed)
