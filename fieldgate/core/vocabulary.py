"""The fixed vocabularies requesters and contracts share.

Purposes, agency types, record kinds and identifier kinds are plain strings on
the wire so errors can name them; these sets are the only accepted values.
"""

from __future__ import annotations

PURPOSES: frozenset[str] = frozenset(
    {"criminal_investigation", "civil_immigration", "missing_person", "background_check"}
)
"""Why a search is made."""

AGENCY_TYPES: frozenset[str] = frozenset(
    {
        "local_law_enforcement",
        "state_law_enforcement",
        "federal_law_enforcement",
        "civil_immigration",
        "corrections",
        "prosecution",
    }
)
"""What kind of agency the requester works for."""

RECORD_KINDS: frozenset[str] = frozenset(
    {"booking", "incident_report", "field_interview", "warrant", "case_file"}
)
"""Kinds of records a node holds."""

IDENTIFIER_KINDS: frozenset[str] = frozenset(
    {"state_id", "fbi_number", "drivers_license", "booking_number"}
)
"""Identifiers a person can be looked up by exactly; each is also a catalog field."""

AUTHORITY_KINDS: frozenset[str] = frozenset({"criminal_judicial_warrant"})
"""Kinds of legal authority contracts know."""

NOT_ANSWERING_REASONS: dict[str, str] = {
    "no_contract": "no usable contract",
    "trust_stale": "trust data stale",
    "trust_unavailable": "trust data missing or unreadable",
    "audit_unavailable": "audit log unavailable",
}
"""Why a node cannot decide any search (reason → words for the requester's table).

The node says this for every search alike while it lasts, so it reveals
nothing about any person (issue 16 item 5).
"""


def not_answering_words(reason: str) -> str:
    """``"not answering — <words>"`` for a known reason; an unknown one is named as unknown."""
    words = NOT_ANSWERING_REASONS.get(reason, "unknown reason")
    return f"not answering — {words}"
