"""The rows the record store writes for a record, and the batches a change set writes.

:func:`record_row` (the ``records`` row, body as canonical JSON text) and
:func:`name_rows` (every reading of every name, with phonetic keys) are all
the store derives from a record; :func:`index_changes` tells whether a
replacement changes them; :class:`ChangeBatch` gathers one batch of a
change set for :meth:`fieldgate.node.store.RecordStore.write_batch`. Kept
apart from :mod:`fieldgate.node.store` so that benchmarks and the reindex can
build the same rows without a store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import msgspec

from fieldgate.core.vocabulary import IDENTIFIER_KINDS
from fieldgate.matching.matcher import CandidateName, phonetic_keys
from fieldgate.matching.name_forms import expand_names
from fieldgate.policy.records import Record

RecordRow = tuple[str, str, int, int, int, str]
"""A ``records`` row: record_id, kind, sealed, juvenile, expunged, body (JSON text)."""

INSERT_RECORD_SQL = (
    "INSERT INTO records (record_id, kind, sealed, juvenile, expunged, body)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
"""Inserts one :func:`record_row`."""


def record_row(record: Record) -> RecordRow:
    """The ``records`` row of ``record``.

    The body is the fields in the catalog's order (as validated), so equal
    records give equal rows: a change set compares rows, not decoded records.
    """
    return (
        record.record_id,
        record.kind,
        int(record.sealed),
        int(record.juvenile),
        int(record.expunged),
        _BODY.encode(record.fields).decode(),
    )


# The same text as json.dumps(fields, ensure_ascii=False, separators=(",", ":")),
# which wrote the bodies of older stores (a test holds the two equal), in C.
_BODY = msgspec.json.Encoder()

NAME_FIELDS = ("surname", "given_name", "aliases", "dob")
"""The fields a record's ``names`` rows are made of (beside its record_id)."""

IDENTIFIER_FIELDS = tuple(sorted(IDENTIFIER_KINDS))
"""The fields a record's ``identifiers`` rows are made of."""


def index_changes(stored_body: str, record: Record) -> tuple[bool, bool]:
    """Whether replacing the record stored as ``stored_body`` with ``record`` changes its
    ``names`` rows and its ``identifiers`` rows.

    Both are made from a few fields only (:data:`NAME_FIELDS`,
    :data:`IDENTIFIER_FIELDS`), so the stored body is decoded (in C) and those
    compared: a corrected release date leaves both alone, without reading
    the stored index rows or building the new ones.
    """
    held = msgspec.json.decode(stored_body)
    new = record.fields
    return (
        any(held.get(key) != new.get(key) for key in NAME_FIELDS),
        any(held.get(key) != new.get(key) for key in IDENTIFIER_FIELDS),
    )


UPDATE_RECORD_SQL = (
    "UPDATE records SET kind = ?, sealed = ?, juvenile = ?, expunged = ?, body = ?"
    " WHERE record_id = ?"
)
"""Rewrites a stored record's row in place: a :func:`record_row` with its record_id last."""

INSERT_IDENTIFIERS_SQL = "INSERT INTO identifiers (kind, value, record_id) VALUES (?, ?, ?)"
"""Inserts one identifier row."""


@dataclass
class ChangeBatch:
    """The writes of one batch of a change set, for :meth:`RecordStore.write_batch`.

    Attributes:
        inserted: (record, its :func:`record_row`) for records not stored.
        updated: (record, its :func:`record_row`, whether its names rows and
            whether its identifier rows change: :func:`index_changes`) replacing
            a stored record.
        removed: ids of records to delete.
        sealed: (sealed flag, record_id) to set.
        expunged: ids to expunge (delete if stored, and remember).
    """

    inserted: list[tuple[Record, RecordRow]] = field(default_factory=list)
    updated: list[tuple[Record, RecordRow, bool, bool]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    sealed: list[tuple[int, str]] = field(default_factory=list)
    expunged: list[str] = field(default_factory=list)


INSERT_NAMES_SQL = (
    "INSERT INTO names (record_id, is_alias, surname, given_name, surname_nysiis,"
    " surname_metaphone, dob, derived) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
"""Inserts one row of :func:`name_rows`."""


NameRow = tuple[str, int, str, str, str, str, str | None, int]
"""A ``names`` row: record_id, is_alias, surname, given_name, NYSIIS, metaphone, dob, derived."""


def name_rows(record: Record) -> list[NameRow]:
    """The ``names`` rows of ``record``: each name as filed, then each reading of it."""
    dob = record.dob()
    dob_text = dob.isoformat() if dob else None
    rid = record.record_id
    return [
        (rid, alias, surname, given, nysiis, metaphone, dob_text, derived)
        for alias, surname, given, nysiis, metaphone, derived in _name_forms(record.names())
    ]


# is_alias, surname, given_name, NYSIIS, metaphone, derived: a names row less record_id and dob.
_NameForm = tuple[int, str, str, str, str, int]


@lru_cache(maxsize=1 << 16)
def _name_forms(
    names: tuple[CandidateName, ...],
) -> tuple[tuple[int, str, str, str, str, int], ...]:
    """Every reading of ``names`` with its phonetic keys: the ``names`` rows less id and dob.

    Cached: names repeat across records (families, common names, one person's
    many bookings), so each distinct set is expanded once per process.
    """
    return tuple(
        (int(n.alias), n.surname, n.given_name, *_phonetic_keys(n.surname), int(n.derived))
        for n in expand_names(names)
    )


# Surnames repeat more than whole names: each one's keys are computed once per process.
_phonetic_keys = lru_cache(maxsize=1 << 16)(phonetic_keys)
