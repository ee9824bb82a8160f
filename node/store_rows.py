"""The rows the record store writes for a record, and the batches a change set writes.

:func:`record_row` (the ``records`` row, body as canonical JSON text) and
:func:`name_rows` (every reading of every name, with phonetic keys) are all
the store derives from a record; :class:`ChangeBatch` gathers one batch of a
change set for :meth:`fieldgate.node.store.RecordStore.write_batch`. Kept
apart from :mod:`fieldgate.node.store` so that benchmarks and the reindex can
build the same rows without a store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from fieldgate.matching.matcher import phonetic_keys
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
        json.dumps(record.fields, ensure_ascii=False, separators=(",", ":")),
    )


UPDATE_RECORD_SQL = (
    "UPDATE records SET kind = ?, sealed = ?, juvenile = ?, expunged = ?, body = ?"
    " WHERE record_id = ?"
)
"""Rewrites a stored record's row in place: a :func:`record_row` with its record_id last."""

NAMES_ROWS_SQL = (
    "SELECT record_id, is_alias, surname, given_name, surname_nysiis, surname_metaphone,"
    " dob, derived FROM names WHERE record_id IN ({marks}) ORDER BY rowid"
)
"""The stored :func:`name_rows` of some records, in the order written (``{marks}``: ``?`` s)."""

IDENTIFIERS_ROWS_SQL = (
    "SELECT kind, value, record_id FROM identifiers WHERE record_id IN ({marks}) ORDER BY rowid"
)
"""The stored identifier rows (kind, value, record_id) of some records, in the order written."""

INSERT_IDENTIFIERS_SQL = "INSERT INTO identifiers (kind, value, record_id) VALUES (?, ?, ?)"
"""Inserts one identifier row."""


@dataclass
class ChangeBatch:
    """The writes of one batch of a change set, for :meth:`RecordStore.write_batch`.

    Attributes:
        inserted: (record, its :func:`record_row`) for records not stored.
        updated: (record, its :func:`record_row`) replacing a stored record.
        removed: ids of records to delete.
        sealed: (sealed flag, record_id) to set.
        expunged: ids to expunge (delete if stored, and remember).
    """

    inserted: list[tuple[Record, RecordRow]] = field(default_factory=list)
    updated: list[tuple[Record, RecordRow]] = field(default_factory=list)
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
    return [
        (
            record.record_id,
            int(name.alias),
            name.surname,
            name.given_name,
            *_phonetic_keys(name.surname),
            dob_text,
            int(name.derived),
        )
        for name in expand_names(record.names())
    ]


# Surnames repeat across records (families, common names): each one's keys
# are computed once per process rather than once per name row.
_phonetic_keys = lru_cache(maxsize=1 << 16)(phonetic_keys)
