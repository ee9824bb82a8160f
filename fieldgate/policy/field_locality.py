"""Field-local contracts: one evaluation per kind of requester and record, not per record.

A contract is *field-local* when its verdict on each field depends only on
whether the record holds that field -- never on which *other* fields it holds
-- and whether it discloses the record at all does not depend on its fields.
All three shipped contracts are: they release classes of fields, mask some,
and hold some back, field by field. For such a contract any superset of a
record's fields gives that record's verdicts, so the node tells it, for each
record kind in a search, every field the search's records of that kind hold
(:func:`told_fields_by_kind`) and keeps, for each record, the verdicts of the
fields it holds (:func:`fieldgate.policy.verdict.decide_fields` only ever looks at a
record's own fields). Together with the decision cache that turns the 23
evaluations of a 25-hit common-name search into one per distinct (requester,
warrant applicability, record kind), 4: the engine is the dominant cost of a
disclosed hit (BENCHMARKS.md, "Policy evaluation").

The node takes this shortcut only when the contract *declares* it
(``field_local := true`` in its package) **and** a check finds no record on
which the two ways of asking -- the record's own fields, the catalog's whole
list (the largest superset) -- disagree (:func:`find_counterexample`): every
disagreement the check can find is one where the shortcut would release or
mask differently from asking about the record itself. A declaration the check
refutes is refused with an error in the node's log naming the field, and the
node asks about every record on its own -- the exact, slower path, which is
always safe. ``fieldgate contract check`` runs the same check with many more
cases for authors, and says when an undeclared contract could declare it.

A sampled check cannot prove the property, so the declaration stays the
author's promise; the check catches the usual ways of breaking it (a field
released only when another is present, a record disclosed only when it holds
some field).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from fieldgate.core.claims import LegalAuthority, RequesterClaims
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES, RECORD_KINDS
from fieldgate.policy.catalog import FieldCatalog
from fieldgate.policy.engine import ContractEngine
from fieldgate.policy.errors import ContractError
from fieldgate.policy.evaluate import evaluate_record
from fieldgate.policy.records import Record
from fieldgate.policy.sample_inputs import SUBJECT_DOB, covering_warrant, full_record, matrix_claims
from fieldgate.policy.verdict import RecordVerdict

log = logging.getLogger("fieldgate.node")

FIELD_LOCAL_RULE = "field_local"
"""The rule a contract sets to ``true`` to declare itself field-local."""

NODE_CHECK_CASES = 64
"""Sampled records the node checks a declaring contract on before it trusts the declaration.

Two evaluations each, ≈ 0.5 ms for the sanctuary contract: ≈ 30 ms per load,
once per contract and catalog in a process (:func:`adopt_field_locality`).
"""

AUTHOR_CHECK_CASES = 2000
"""Sampled records ``fieldgate contract check`` tries (≈ 1 s for the sanctuary contract)."""

_AUTHORITY_SHAPES = ("none", "covering", "partial", "elsewhere", "two")


@dataclass(frozen=True)
class Counterexample:
    """A record on which asking about the catalog's whole field list decides differently.

    Attributes:
        agency_type: the requester's agency type.
        purpose: the stated purpose.
        authority: which warrants the requester held (none, one covering
            everything, one covering some classes and fields, one for somebody
            else, or two).
        record_kind: the record's kind.
        fields: the fields the record held.
        field: the first field whose verdict differs, or "" when the record's
            disclosure itself differs.
        exact: the verdict when asked about the record itself.
        local: the verdict the shortcut would have given.
    """

    agency_type: str
    purpose: str
    authority: str
    record_kind: str
    fields: tuple[str, ...]
    field: str
    exact: str
    local: str

    def describe(self) -> str:
        """One line an author can act on."""
        what = f"field {self.field!r}" if self.field else "the record's disclosure"
        return (
            f"{what} is decided {self.exact} for a {self.record_kind} holding "
            f"{len(self.fields)} fields ({', '.join(self.fields)}) but {self.local} when asked "
            f"with the catalog's whole field list ({self.agency_type}, {self.purpose}, "
            f"warrants: {self.authority}): the verdict depends on which other fields "
            "the record holds"
        )


def declares_field_local(contract: ContractEngine) -> bool:
    """True when the contract's ``field_local`` rule is ``true`` for an empty input."""
    ask = getattr(contract, "evaluate_rule", None)
    if ask is None:  # a back end that can only be asked for decisions
        return False
    try:
        return ask(FIELD_LOCAL_RULE, {}) is True
    except ContractError:
        return False


def _authority(
    shape: str, covering: LegalAuthority, names: list[str], rng: random.Random
) -> tuple[LegalAuthority, ...]:
    partial = replace(
        covering, id="W-LOCALITY-2", covers=tuple(rng.sample(names, k=rng.randint(1, len(names))))
    )
    elsewhere = replace(covering, id="W-LOCALITY-3", subject_dob=SUBJECT_DOB.replace(year=1990))
    return {
        "none": (),
        "covering": (covering,),
        "partial": (partial,),
        "elsewhere": (elsewhere,),
        "two": (partial, elsewhere),
    }[shape]


def locality_cases(
    catalog: FieldCatalog, *, count: int, seed: int
) -> Iterator[tuple[str, RequesterClaims, Record]]:
    """``count`` sampled (authority shape, requester, record) triples, the same for the same seed.

    Requesters of every agency type and purpose, with and without warrants
    that apply; records of every kind holding a random half of the catalog's
    fields, about the sample person the warrants name.
    """
    rng = random.Random(seed)
    covering = covering_warrant(catalog, dt.date.today())
    names = sorted({*covering.covers})
    full = {kind: full_record(catalog, kind) for kind in sorted(RECORD_KINDS)}
    for _ in range(count):
        shape = rng.choice(_AUTHORITY_SHAPES)
        claims = matrix_claims(
            rng.choice(sorted(AGENCY_TYPES)),
            rng.choice(sorted(PURPOSES)),
            _authority(shape, covering, names, rng),
        )
        base = full[rng.choice(sorted(full))]
        held = {name: value for name, value in base.fields.items() if rng.random() < 0.5}
        yield shape, claims, replace(base, fields=held)


def _verdict_text(verdict: RecordVerdict, name: str = "") -> str:
    if not name:
        return "disclosed" if verdict.disclose else f"withheld ({verdict.error or 'not disclosed'})"
    for f in verdict.fields:
        if f.name == name:
            return f"{f.outcome}{f' ({f.mask})' if f.mask else ''}"
    return "absent"


def find_counterexample(
    contract: ContractEngine, catalog: FieldCatalog, *, count: int, seed: int = 0
) -> Counterexample | None:
    """The first sampled record the two ways of asking decide differently, or None."""
    today = dt.date.today()
    for shape, claims, record in locality_cases(catalog, count=count, seed=seed):
        exact, local = (
            evaluate_record(
                contract,
                claims,
                record,
                catalog,
                node_id="locality-check",
                today=today,
                told_fields=told,
            ).verdict
            for told in (None, catalog.field_names)
        )
        if exact == local:
            continue
        # "" names the disclosure itself; else the first field whose verdict differs.
        differing = (
            ""
            if exact.disclose != local.disclose
            else next(
                (a.name for a, b in zip(exact.fields, local.fields, strict=True) if a != b), ""
            )
        )
        return Counterexample(
            claims.agency_type,
            claims.purpose,
            shape,
            record.kind,
            tuple(record.fields),
            differing,
            _verdict_text(exact, differing),
            _verdict_text(local, differing),
        )
    return None


def told_fields_by_kind(records: Iterable[Record]) -> dict[str, tuple[str, ...]]:
    """Per record kind, every field any of ``records`` of that kind holds, sorted.

    What the node tells a field-local contract a search's records hold: a
    superset of each record's own fields (so each verdict is the record's
    own), the same for all records of a kind (so one evaluation serves them,
    :mod:`fieldgate.policy.decision_cache`), and no larger than the search needs (the
    engine's cost grows with the list: ≈ 250 µs for a booking's 20 fields,
    ≈ 425 µs for the standard catalog's 32).
    """
    held: dict[str, set[str]] = {}
    for record in records:
        held.setdefault(record.kind, set()).update(record.fields)
    return {kind: tuple(sorted(names)) for kind, names in held.items()}


_checked: dict[str, Counterexample | None] = {}
_checked_lock = threading.Lock()


def _check_key(contract: ContractEngine, catalog: FieldCatalog) -> str:
    # What the check's answer depends on: the contract's modules and data, and the catalog.
    sources = getattr(contract, "sources_digest", "") or contract.version
    classes = json.dumps(
        {name: [spec.type, spec.sensitivity] for name, spec in catalog.fields.items()},
        sort_keys=True,
    )
    return hashlib.sha256(f"{sources}\0{classes}".encode()).hexdigest()


def adopt_field_locality(contract: ContractEngine, catalog: FieldCatalog) -> bool:
    """Let the node ask ``contract`` once per kind of record when it declares and passes the check.

    Sets ``contract.field_local`` and returns it. The check runs once per
    contract and catalog in a process: nodes sharing a process (tests, the
    benchmark) share the answer.
    """
    if not declares_field_local(contract):
        return False
    key = _check_key(contract, catalog)
    with _checked_lock:
        if key not in _checked:
            _checked[key] = find_counterexample(
                contract, catalog, count=NODE_CHECK_CASES, seed=int(key[:8], 16)
            )
        found = _checked[key]
    if found is not None:
        log.error(
            "contract %s declares field_local but the check refutes it; every record is "
            "decided on its own: %s",
            contract.name,
            found.describe(),
        )
        return False
    contract.field_local = True
    return True
