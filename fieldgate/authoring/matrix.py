"""The decision matrix: every requester kind x purpose x warrant x record kind.

``fieldgate contract check`` and ``render`` do not read the contract's rules;
they ask the contract. The matrix is every combination of agency type and
purpose (:mod:`fieldgate.core.vocabulary`), each without legal authority and with a
criminal judicial warrant that applies to the record and covers every class
and field of the catalog, about a record of every kind that holds every
catalog field. Each cell is decided through the node's own path
(:meth:`fieldgate.authoring.session.ContractSession.decide`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fieldgate.authoring.session import ContractSession
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES, RECORD_KINDS
from fieldgate.policy.evaluate import PolicyDecision
from fieldgate.policy.sample_inputs import (
    SUBJECT_DOB,
    SUBJECT_GIVEN_NAME,
    SUBJECT_SURNAME,
    covering_warrant,
    full_record,
    matrix_claims,
    sample_value,
)

__all__ = [
    "SUBJECT_DOB",
    "SUBJECT_GIVEN_NAME",
    "SUBJECT_SURNAME",
    "Cell",
    "covering_warrant",
    "decision_matrix",
    "full_record",
    "matrix_claims",
    "requester_kinds",
    "sample_value",
]


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix and the node's decision for it.

    Attributes:
        agency_type: the requester's agency type.
        purpose: the stated purpose.
        warrant: whether the requester presents an applicable covering warrant.
        record_kind: the record's kind.
        decision: input, raw decision and verdict.
    """

    agency_type: str
    purpose: str
    warrant: bool
    record_kind: str
    decision: PolicyDecision

    @property
    def outcomes(self) -> dict[str, str]:
        """Field → ``released``, ``masked:<mask>`` or ``withheld``."""
        return {
            f.name: f"masked:{f.mask}" if f.outcome == "masked" else f.outcome
            for f in self.decision.verdict.fields
        }


def requester_kinds() -> Iterator[tuple[str, str]]:
    """Every (agency type, purpose), in a fixed order."""
    for agency_type in sorted(AGENCY_TYPES):
        for purpose in sorted(PURPOSES):
            yield agency_type, purpose


def decision_matrix(session: ContractSession) -> list[Cell]:
    """Decide every cell of the matrix for the session's contract and catalog."""
    warrant = covering_warrant(session.catalog, session.today)
    records = {kind: full_record(session.catalog, kind) for kind in sorted(RECORD_KINDS)}
    cells = []
    for agency_type, purpose in requester_kinds():
        for with_warrant in (False, True):
            claims = matrix_claims(agency_type, purpose, (warrant,) if with_warrant else ())
            for kind, record in records.items():
                decision = session.decide(claims, record)
                cells.append(Cell(agency_type, purpose, with_warrant, kind, decision))
    return cells
