"""From a contract's raw decision to what leaves the node.

This module is the single point every disclosure passes: :func:`decide_fields`
turns whatever the contract returned into a per-field verdict, enforcing the
node's own rules whatever the contract says (default deny, catalog-only fields,
masks that fit), and :func:`build_hit` turns a disclosed record into the wire
hit. A malformed decision withholds the whole record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from google.protobuf import struct_pb2

from fieldgate.core.vocabulary import IDENTIFIER_KINDS
from fieldgate.matching.matcher import Match
from fieldgate.policy.catalog import FieldCatalog
from fieldgate.policy.masking import FieldValue, apply_mask
from fieldgate.policy.records import Record
from fieldgate.v2 import common_pb2

Outcome = Literal["released", "masked", "withheld"]


@dataclass(frozen=True)
class FieldVerdict:
    """What happens to one field of one record.

    Attributes:
        name: catalog field name.
        sensitivity: its sensitivity class ("" if the catalog no longer has it).
        outcome: released whole, masked, or withheld.
        mask: the mask applied when masked.
        value: the value that leaves the node (None when withheld).
        reason: why, for operators and the audit log; never sent to the requester.
    """

    name: str
    sensitivity: str
    outcome: Outcome
    mask: str
    value: FieldValue | None
    reason: str


@dataclass(frozen=True)
class RecordVerdict:
    """The node's verdict on one matching record.

    Attributes:
        disclose: whether the requester learns the record exists.
        fields: one verdict per field the record holds (all withheld unless disclosed).
        error: why the contract could not decide, or "" when it did.
    """

    disclose: bool
    fields: tuple[FieldVerdict, ...]
    error: str = ""

    def released(self) -> tuple[FieldVerdict, ...]:
        """Verdicts of fields that leave the node, whole or masked."""
        return tuple(f for f in self.fields if f.outcome != "withheld")


def _withhold_all(record: Record, catalog: FieldCatalog, reason: str) -> tuple[FieldVerdict, ...]:
    return tuple(
        FieldVerdict(
            name=name,
            sensitivity=spec.sensitivity if (spec := catalog.fields.get(name)) else "",
            outcome="withheld",
            mask="",
            value=None,
            reason=reason,
        )
        for name in record.fields
    )


def withhold(record: Record, catalog: FieldCatalog, reason: str) -> RecordVerdict:
    """A verdict that discloses nothing, by rule rather than by failure."""
    return RecordVerdict(False, _withhold_all(record, catalog, reason))


def pointer_only(record: Record, catalog: FieldCatalog, reason: str) -> RecordVerdict:
    """A verdict that discloses the record's existence (a pointer) and no field."""
    return RecordVerdict(True, _withhold_all(record, catalog, reason))


def deny(record: Record, catalog: FieldCatalog, error: str) -> RecordVerdict:
    """A verdict that discloses nothing because the contract failed to decide."""
    return RecordVerdict(False, _withhold_all(record, catalog, error), error)


def _string_set(value: object) -> frozenset[str] | None:
    if isinstance(value, set | frozenset | list | tuple) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    return None


_Parsed = tuple[frozenset[str], Mapping[str, str], Mapping[str, object]]
_parsed: dict[int, tuple[object, _Parsed | str]] = {}
"""Decisions already checked, by identity: a decision the node remembers
(:mod:`fieldgate.policy.decision_cache`) is one read-only object given to every
record of a kind in a search, and checking its shape again for each record was
a visible share of the policy path. Entries hold their decision, so an id is
never reused while remembered; bounded by :data:`_PARSED_SIZE`."""
_PARSED_SIZE = 256


def _parse(raw: object) -> _Parsed | str:
    """``raw``'s release set, masks and reasons, or why it is not a decision to disclose
    ("" when it does not disclose)."""
    if raw is None:
        return "contract decision is undefined"
    if not isinstance(raw, Mapping):
        return f"contract decision is a {type(raw).__name__}, not an object"
    if raw.get("disclose") is not True:
        return ""
    release = _string_set(raw.get("release", ()))
    mask = raw.get("mask", {})
    if release is None:
        return "contract decision 'release' is not a set of field names"
    if not isinstance(mask, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mask.items()
    ):
        return "contract decision 'mask' is not an object of field: mask"
    reasons = raw.get("reasons", {})
    return release, mask, reasons if isinstance(reasons, Mapping) else {}


def _parsed_decision(raw: object) -> _Parsed | str:
    """:func:`_parse`, remembered for read-only decisions (mappings behind a proxy)."""
    if not isinstance(raw, MappingProxyType):
        return _parse(raw)  # a mutable decision could change: checked every time
    known = _parsed.get(id(raw))
    if known is not None and known[0] is raw:
        return known[1]
    parsed = _parse(raw)
    if len(_parsed) >= _PARSED_SIZE:
        _parsed.clear()
    _parsed[id(raw)] = (raw, parsed)
    return parsed


def decide_fields(raw: object, record: Record, catalog: FieldCatalog) -> RecordVerdict:
    """Turn the contract's raw decision for ``record`` into the node's verdict."""
    parsed = _parsed_decision(raw)
    if parsed == "":
        return withhold(record, catalog, "record not disclosed")
    if isinstance(parsed, str):
        return deny(record, catalog, parsed)
    release, mask, reasons = parsed
    verdicts: list[FieldVerdict] = []
    for name, value in record.fields.items():
        spec = catalog.fields.get(name)
        why = reasons.get(name)
        stated = why if isinstance(why, str) else ""
        if spec is None:
            verdicts.append(FieldVerdict(name, "", "withheld", "", None, "field not in catalog"))
        elif name in mask:
            masked = apply_mask(mask[name], spec.type, value)
            if masked is None:
                reason = f"mask {mask[name]!r} does not fit a {spec.type} field"
                verdicts.append(FieldVerdict(name, spec.sensitivity, "withheld", "", None, reason))
            else:
                verdicts.append(
                    FieldVerdict(
                        name, spec.sensitivity, "masked", mask[name], masked, stated or "masked"
                    )
                )
        elif name in release:
            verdicts.append(
                FieldVerdict(name, spec.sensitivity, "released", "", value, stated or "released")
            )
        else:
            verdicts.append(
                FieldVerdict(name, spec.sensitivity, "withheld", "", None, "not released")
            )
    return RecordVerdict(True, tuple(verdicts))


def fill_value(out: struct_pb2.Value, value: FieldValue) -> None:
    """Write a stored field value into the protobuf ``Value`` ``out``, in place.

    In place because building a message per value and copying it into its
    parent costs a copy per level, for every released field of every hit.
    """
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int | float):
        out.number_value = float(value)
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, list):
        out.list_value.SetInParent()  # an empty list is still a list
        items = out.list_value.values
        for item in value:
            fill_value(items.add(), item)
    elif isinstance(value, Mapping):
        out.struct_value.SetInParent()
        fields = out.struct_value.fields
        for key, item in value.items():
            fill_value(fields[str(key)], item)
    else:
        raise TypeError(f"cannot send a {type(value).__name__} value")


NAME_FIELDS = ("surname", "given_name", "aliases", "dob")
"""Fields every name match is scored on (whichever the record holds)."""


def match_evidence(match: Match, record: Record, verdict: RecordVerdict) -> tuple[float, list[str]]:
    """The score and reasons to send: all of them, or none.

    A score of 0.955 says the held birth date is the query's with day and
    month swapped; "surname exact" after an alias match names the alias. So
    the evidence goes out only when every field it could come from that this
    record holds is released whole; otherwise the hit carries no score (0)
    and no reasons — a pointer says only whom to call. The match's tier
    (``strong match``) is evidence too (it says how the birth date agrees), so
    it leads the reasons on the same condition.
    """
    whole = {f.name for f in verdict.fields if f.outcome == "released"}
    # An identifier counts only when the match used it ("state_id exact").
    used = {r.split(" ", 1)[0] for r in match.reasons} & IDENTIFIER_KINDS
    sources = (*NAME_FIELDS, *sorted(used))
    if all(name in whole for name in sources if name in record.fields):
        return round(match.score, 4), [f"{match.tier} match", *match.reasons]
    return 0.0, []


def build_hit(
    record: Record,
    match: Match,
    verdict: RecordVerdict,
    contact: common_pb2.PointerContact,
    *,
    reference: str,
) -> common_pb2.Hit:
    """Build the wire hit for a disclosed record: released fields and the pointer contact.

    ``reference``: the opaque reference the hit carries instead of the record id
    (the node makes it: :mod:`fieldgate.node.references`).
    """
    if not verdict.disclose:
        raise ValueError("build_hit called for a record that is not disclosed")
    score, reasons = match_evidence(match, record, verdict)
    hit = common_pb2.Hit(
        reference=reference,
        record_kind=record.kind,
        score=score,
        match_reasons=reasons,
        contact=contact,
    )
    for field in verdict.released():
        assert field.value is not None  # released and masked verdicts carry their value
        # Filled in place: building each message and appending it copies it twice.
        sent = hit.fields.add(name=field.name, sensitivity=field.sensitivity, mask=field.mask)
        fill_value(sent.value, field.value)
    return hit
