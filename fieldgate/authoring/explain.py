"""``fieldgate contract explain``: for one persona and one record, what leaves and why.

The explanation is the node's own verdict (:func:`fieldgate.policy.evaluate.evaluate_record`
then :func:`fieldgate.policy.verdict.decide_fields`): released whole, masked (and by
which mask, with the masked value) or withheld, per field the record holds.
The reason is the contract's own (its ``reasons`` map) where it gave one, else
the node's: "not released by the contract", "field not in catalog", "mask …
does not fit", "record not disclosed", "sealed, juvenile or expunged record".
The ``reasons`` are for operators; they never reach a requester.
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldgate.authoring.inputs import Persona
from fieldgate.authoring.session import ContractSession
from fieldgate.policy.evaluate import PolicyDecision
from fieldgate.policy.records import Record

NOT_RELEASED = "not released by the contract"


@dataclass(frozen=True)
class FieldExplanation:
    """What happens to one field, and why.

    Attributes:
        name: the field.
        sensitivity: its class ("" when the catalog lacks it).
        outcome: ``released``, ``masked`` or ``withheld``.
        mask: the mask, when masked.
        value: what leaves (None when withheld).
        reason: why.
    """

    name: str
    sensitivity: str
    outcome: str
    mask: str
    value: object
    reason: str


@dataclass(frozen=True)
class Explanation:
    """The node's decision on one record for one persona, field by field."""

    persona: Persona
    record: Record
    contract: str
    contract_version: str
    disclose: bool
    error: str
    fields: tuple[FieldExplanation, ...]
    decision: PolicyDecision

    @property
    def warrants(self) -> list[tuple[str, bool]]:
        """(id, applies to this record) of every instrument presented, as the node judged it."""
        found = (self.decision.policy_input or {}).get("authority")
        return [
            (str(a.get("id", "")), a.get("applies_to_record") is True)
            for a in (found if isinstance(found, list) else [])
            if isinstance(a, dict)
        ]

    def to_json(self) -> dict[str, object]:
        """The explanation as a JSON-ready object."""
        claims = self.persona.claims
        return {
            "contract": self.contract,
            "contract_version": self.contract_version,
            "persona": {
                "name": self.persona.name,
                "agency_type": claims.agency_type,
                "purpose": claims.purpose,
                "warrants": [a.id for a in claims.authority],
            },
            "record": {"id": self.record.record_id, "kind": self.record.kind},
            "disclose": self.disclose,
            "error": self.error,
            "warrants": [{"id": i, "applies_to_record": a} for i, a in self.warrants],
            "fields": [
                {
                    "name": f.name,
                    "sensitivity": f.sensitivity,
                    "outcome": f.outcome,
                    "mask": f.mask,
                    "value": f.value,
                    "reason": f.reason,
                }
                for f in self.fields
            ],
        }


def explain(session: ContractSession, persona: Persona, record: Record) -> Explanation:
    """Decide ``record`` for ``persona`` through the node's path and explain every field."""
    decision = session.decide(persona.claims, record)
    verdict = decision.verdict
    fields = tuple(
        FieldExplanation(
            name=f.name,
            sensitivity=f.sensitivity,
            outcome=f.outcome,
            mask=f.mask,
            value=f.value,
            reason=NOT_RELEASED if f.reason == "not released" else f.reason,
        )
        for f in verdict.fields
    )
    return Explanation(
        persona=persona,
        record=record,
        contract=session.package,
        contract_version=session.version,
        disclose=verdict.disclose,
        error=verdict.error,
        fields=fields,
        decision=decision,
    )
