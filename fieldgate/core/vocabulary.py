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
