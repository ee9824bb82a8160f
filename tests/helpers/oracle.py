"""An independent statement, in plain Python, of what each shipped contract releases.

It is written from the contracts' intent (the README and issue text), not from
the Rego, so the end-to-end tests compare two independent implementations.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fieldgate.client.broker_client import Requester

CRIMINAL_LE = {"local_law_enforcement", "state_law_enforcement", "federal_law_enforcement"}
SWORN = CRIMINAL_LE | {"civil_immigration"}
CRIMINAL_PURPOSES = {"criminal_investigation", "missing_person"}
SANCTUARY_CLASSES = {"identity", "physical_description", "criminal_history", "agency_contact"}
SANCTUARY_MASKS = {"address": "city", "phone": "last4"}
RESERVED = {"record_id", "record_kind", "sealed", "juvenile", "expunged"}


@dataclass(frozen=True)
class Expected:
    """Fields released whole and masked (name → mask) for one record."""

    whole: frozenset[str]
    masked: Mapping[str, str]


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).upper()
    kept = "".join(c if c.isalpha() or c == " " else "" if c in "'-" else " " for c in plain)
    return " ".join(kept.split())


def _names(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    names = [(_fold(record.get("surname", "")), _fold(record.get("given_name", "")))]
    for alias in record.get("aliases", []):
        surname, _, given = alias.partition(",")
        names.append((_fold(surname), _fold(given)))
    return names


def warrant_fields(
    requester: Requester, record: Mapping[str, Any], classes: Mapping[str, str], today: dt.date
) -> set[str] | None:
    """Fields an applicable warrant covers, or None when no warrant applies."""
    covered: set[str] | None = None
    for w in requester.warrants:
        if dt.date.fromisoformat(w.expires[:10]) < today:
            continue
        if w.record_kinds and record["record_kind"] not in w.record_kinds:
            continue
        if record.get("dob") != w.subject_dob:
            continue
        given = _fold(w.subject_given_name).split()[:1]
        if not any(
            " ".join(s.split()) == " ".join(_fold(w.subject_surname).split())
            and (not given or g.split()[:1] == given)
            for s, g in _names(record)
        ):
            continue
        covered = covered or set()
        covered |= {
            f for f in record if f not in RESERVED and (f in w.covers or classes.get(f) in w.covers)
        }
    return covered


def expected(
    contract: str,
    requester: Requester,
    record: Mapping[str, Any],
    classes: Mapping[str, str],
    today: dt.date,
) -> Expected | None:
    """What ``contract`` releases of ``record`` to ``requester``; None: not disclosed."""
    if any(record.get(flag) for flag in ("sealed", "juvenile", "expunged")):
        return None
    present = {f for f in record if f not in RESERVED}
    criminal = requester.agency_type in CRIMINAL_LE and requester.purpose in CRIMINAL_PURPOSES
    if contract == "pointer_only":
        return Expected(frozenset(), {}) if criminal else None
    if contract == "permissive":
        if requester.agency_type not in SWORN:
            return None
        return Expected(frozenset(f for f in present if classes[f] != "immigration_status"), {})
    assert contract == "sanctuary_county"
    immigration = (
        requester.purpose == "civil_immigration" or requester.agency_type == "civil_immigration"
    )
    investigator = criminal and not immigration
    covered = warrant_fields(requester, record, classes, today)
    # In an immigration context only a sworn officer holding a warrant that
    # applies learns anything; corrections and prosecution never do.
    warrant_route = immigration and requester.agency_type in SWORN and covered is not None
    if not investigator and not warrant_route:
        return None
    whole: set[str] = set()
    masked: dict[str, str] = {}
    if investigator:
        whole |= {f for f in present if classes[f] in SANCTUARY_CLASSES}
        masked |= {f: m for f, m in SANCTUARY_MASKS.items() if f in present}
    if covered is not None:
        whole |= covered | {f for f in present if classes[f] == "agency_contact"}
    whole = {f for f in whole if classes[f] != "immigration_status"}
    masked = {f: m for f, m in masked.items() if f not in whole}
    return Expected(frozenset(whole), masked)


def masked_value(mask: str, value: Any) -> Any:
    """What a mask makes of a value, written out independently of node/masking.py."""
    if mask == "city":
        return {"city": value["city"], "state": value["state"]}
    if mask == "last4":
        digits = [c for c in value if c.isalnum()]
        return "***-***-" + "".join(digits[-4:]) if len(digits) >= 6 else None
    raise AssertionError(f"the shipped contracts use no mask {mask!r}")
