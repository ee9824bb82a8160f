"""The node's record store: one SQLite file, searched by index only.

Schema (version :data:`SCHEMA_VERSION`)::

    records(record_id PK, kind, sealed, juvenile, expunged, body JSON)
    names(record_id, is_alias, surname, given_name,
          surname_nysiis, surname_metaphone, dob, derived)
                                                      one row per name, alias and reading
    identifiers(kind, value, record_id)               state_id, fbi_number, ...

    names indexed by (surname_nysiis, dob), (surname_metaphone, dob),
    (surname, given_name, dob), (dob) and (record_id)

Version 2 replaced version 1's single-column phonetic indexes by the
composite ones. Version 3 holds every reading of each name
(:func:`fieldgate.matching.name_forms.expand_names`: middle names, each word
of a compound surname, particles folded; ``derived`` = 1) and transliterates
before normalising. :meth:`RecordStore.open` refuses a store of an older
version, whose index would silently miss people: ``fieldgate node reindex``
(:mod:`fieldgate.node.reindex`) rebuilds it, resumably.

``body`` holds the record's fields exactly as validated, so a record read back
equals the record stored. ``names`` and ``identifiers`` are derived from it at
insert time and exist only to find candidates.

A search never scans a table: candidates are found by index lookups
(:mod:`fieldgate.matching.candidates` says which, and what that gives up) and only those
are scored (:mod:`fieldgate.matching.matcher`), from the ``names`` rows; record bodies
are decoded only for the best ``limit``.

Threads: a store may be handed between threads (the connection is opened with
``check_same_thread=False`` so an asyncio server can call it through
``asyncio.to_thread``), but it must be used by one thread at a time. The
caller serialises access, e.g. with an ``asyncio.Lock`` held around each call.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from fieldgate.core.query import PersonQuery
from fieldgate.matching.candidates import (
    INDEXES,
    candidate_union,
    first_given_range,
    name_counts_sql,
)
from fieldgate.matching.evidence import RARE_NAME_ROWS, weigh
from fieldgate.matching.matcher import CandidateName, Match, score_candidate
from fieldgate.node.errors import DuplicateRecordError, StoreError
from fieldgate.node.store_rows import (
    INSERT_IDENTIFIERS_SQL,
    INSERT_NAMES_SQL,
    INSERT_RECORD_SQL,
    UPDATE_RECORD_SQL,
    ChangeBatch,
    NameRow,
    RecordRow,
    name_rows,
    record_row,
)
from fieldgate.policy.records import FieldValue, Record

SCHEMA_VERSION = 3
"""The schema (and name index) version this build creates and reads."""

log = logging.getLogger("fieldgate.node")

_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE records (
    record_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    sealed INTEGER NOT NULL,
    juvenile INTEGER NOT NULL,
    expunged INTEGER NOT NULL,
    body TEXT NOT NULL
) STRICT;
CREATE TABLE names (
    record_id TEXT NOT NULL REFERENCES records (record_id) ON DELETE CASCADE,
    is_alias INTEGER NOT NULL,
    surname TEXT NOT NULL,
    given_name TEXT NOT NULL,
    surname_nysiis TEXT NOT NULL,
    surname_metaphone TEXT NOT NULL,
    dob TEXT,
    derived INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE identifiers (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    record_id TEXT NOT NULL REFERENCES records (record_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX identifiers_kind_value ON identifiers (kind, value);
CREATE INDEX identifiers_record ON identifiers (record_id);
"""

# Kept beside the schema proper (and created in stores of any version): what
# change sets need to stay idempotent and resumable (:mod:`node.changes`).
_CHANGE_TABLES = """
CREATE TABLE IF NOT EXISTS expunged (record_id TEXT PRIMARY KEY, at TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS watermarks (source TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
"""

_CHUNK = 500  # bound on SQL parameters per statement
_TIER_RANK = {"strong": 0, "possible": 1, "none": 2}
_BODIES_SQL = (
    "SELECT record_id, kind, sealed, juvenile, expunged, body FROM records"
    " WHERE record_id IN ({marks})"
)


@dataclass(frozen=True)
class Candidate:
    """A record that matched a search, with how it matched.

    Attributes:
        record: the record as stored.
        match: its score and reasons.
    """

    record: Record
    match: Match


class RecordStore:
    """Records in one SQLite file; see the module docstring for threading rules."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        """Wrap an open connection; use :meth:`open` instead."""
        self._db = connection
        self.path = path
        # Name counts survive from one search to the next until the data
        # changes (see _NameCounts): at a million records each is a range of
        # up to 2,000 index entries, and the same names are counted again and
        # again.
        self._counts: dict[tuple[int, str, str], int] = {}
        self._counts_version: tuple[int, int] = (-1, -1)

    @classmethod
    def open(cls, path: str | Path) -> RecordStore:
        """Open the store at ``path``, creating the file and schema if new.

        Raises:
            StoreError: the file is not a Fieldgate store, has another schema
                version, or cannot be opened in WAL mode.
        """
        path = Path(path)
        try:
            # isolation_level=None: no implicit transactions; each write below
            # runs in an explicit BEGIN IMMEDIATE ... COMMIT.
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open: {exc}") from exc
        try:
            db.execute("PRAGMA busy_timeout = 5000")
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{path}: cannot use WAL journaling (got {mode!r})")
            # NORMAL is durable across process crashes in WAL mode; only an OS
            # crash can lose the last transactions, never corrupt the file.
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            # 64 MiB of page cache (allocated only as used): a change set of
            # 100k records in one transaction otherwise spills index pages to
            # the WAL and reads them back, which grew its cost superlinearly;
            # and a fuzzy search at a million records probes a few hundred
            # index pages, which 16 MiB kept re-reading from the OS.
            db.execute("PRAGMA cache_size = -65536")
            # Deleted rows (expunged records, disposed fields) are overwritten
            # with zeros, not left in free space to be read from the file.
            db.execute("PRAGMA secure_delete = ON")
            cls._ensure_schema(db, path)
            db.executescript(_CHANGE_TABLES)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreError(f"{path}: cannot use as a record store: {exc}") from exc
        except StoreError:
            db.close()
            raise
        return cls(db, path)

    @staticmethod
    def _ensure_schema(db: sqlite3.Connection, path: Path) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_schema")}
            if not tables:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                for statement in INDEXES:
                    db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif "schema_version" not in tables:
                raise StoreError(f"{path}: is an SQLite file but not a Fieldgate record store")
            else:
                version = db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
                if version in (1, 2):
                    raise StoreError(
                        f"{path}: has name index version {version}, older than this build's"
                        f" {SCHEMA_VERSION}; it would miss people. Run `fieldgate node reindex"
                        f" --store {path}` first"
                    )
                if version != SCHEMA_VERSION:
                    raise StoreError(
                        f"{path}: has schema version {version}; this build reads {SCHEMA_VERSION}"
                    )
                for statement in INDEXES:  # an index added within the version
                    db.execute(statement)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the database; the store cannot be used afterwards."""
        self._db.close()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def count(self) -> int:
        """Return how many records the store holds."""
        return int(self._db.execute("SELECT count(*) FROM records").fetchone()[0])

    def insert_many(self, records: Iterable[Record]) -> int:
        """Insert ``records`` in one transaction: all of them, or none.

        ``records`` may be a generator; an exception it raises rolls back
        everything inserted so far and propagates.

        Returns:
            How many records were inserted.

        Raises:
            DuplicateRecordError: a record_id is already stored (or repeats).
        """
        inserted = 0
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for record in records:
                self._insert(record)
                inserted += 1
            self._db.execute("COMMIT")
        except BaseException:
            # SQLite may already have rolled back by itself (disk full, I/O error).
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        return inserted

    def _insert(self, record: Record) -> None:
        try:
            self._db.execute(INSERT_RECORD_SQL, record_row(record))
        except sqlite3.IntegrityError as exc:
            raise DuplicateRecordError(record.record_id) from exc
        self._db.executemany(INSERT_NAMES_SQL, name_rows(record))
        self._db.executemany(
            "INSERT INTO identifiers (kind, value, record_id) VALUES (?, ?, ?)",
            [(kind, value, record.record_id) for kind, value in record.identifiers()],
        )

    def dispose(self, replacements: Iterable[Record], deletions: Iterable[str]) -> None:
        """Replace records by their blanked versions and delete others, in one transaction.

        Used by retention (:mod:`fieldgate.node.audit.retention`): a replacement keeps its
        record_id and gets its name and identifier index rows rebuilt.

        Raises:
            StoreError: a record to replace or delete is not in the store.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for record in replacements:
                self._delete(record.record_id)
                self._insert(record)
            for record_id in deletions:
                self._delete(record_id)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _delete(self, record_id: str) -> None:
        # names and identifiers go with it (ON DELETE CASCADE).
        cursor = self._db.execute("DELETE FROM records WHERE record_id = ?", (record_id,))
        if cursor.rowcount != 1:
            raise StoreError(f"record_id {record_id!r} is not in the store")

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        """Run the block in one write transaction: committed whole, or rolled back whole.

        Change sets (:mod:`node.changes`) use :meth:`write_batch` and
        :meth:`set_watermark` inside it, the one way records change after an
        import; a search on another connection sees the store as before or as after.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def stored_rows(self, record_ids: Iterable[str]) -> dict[str, RecordRow]:
        """The stored :func:`record_row` of each of ``record_ids`` the store holds, undecoded.

        A change set compares these with the new records' rows to tell an
        unchanged upsert without decoding the stored body.
        """
        wanted = list(dict.fromkeys(record_ids))
        found: dict[str, RecordRow] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(_BODIES_SQL.format(marks=marks), chunk):
                found[row[0]] = row
        return found

    def write_batch(self, batch: ChangeBatch, at: str) -> None:
        """Write one batch of a change set (inside :meth:`write_transaction`), in bulk.

        Each record_id appears at most once in a batch, so the statements
        may run one kind at a time, each as one ``executemany``: deletions
        (removed and expunged records, their index rows with them), updates
        of replaced records' rows in place, inserts, seal flags and expunged
        ids. A replaced record's ``names`` and ``identifiers`` rows are
        rewritten only when the fields they are made of changed
        (:func:`~fieldgate.node.store_rows.index_changes`).
        """
        db = self._db
        gone = [(rid,) for rid in (*batch.removed, *batch.expunged)]
        if gone:
            db.executemany("DELETE FROM records WHERE record_id = ?", gone)
        names: list[NameRow] = []
        identifiers: list[tuple[str, str, str]] = []
        if updated := batch.updated:
            db.executemany(UPDATE_RECORD_SQL, [(*row[1:], row[0]) for _, row, _, _ in updated])
            renamed = [record for record, _, names_change, _ in updated if names_change]
            if renamed:
                db.executemany(
                    "DELETE FROM names WHERE record_id = ?", [(r.record_id,) for r in renamed]
                )
                names.extend(row for record in renamed for row in name_rows(record))
            reidentified = [
                record for record, _, _, identifiers_change in updated if identifiers_change
            ]
            if reidentified:
                db.executemany(
                    "DELETE FROM identifiers WHERE record_id = ?",
                    [(r.record_id,) for r in reidentified],
                )
                identifiers.extend(
                    (kind, value, r.record_id)
                    for r in reidentified
                    for kind, value in r.identifiers()
                )
        if batch.inserted:
            db.executemany(INSERT_RECORD_SQL, [row for _, row in batch.inserted])
            for record, _ in batch.inserted:
                names.extend(name_rows(record))
                rid = record.record_id
                identifiers.extend((kind, value, rid) for kind, value in record.identifiers())
        if names:
            db.executemany(INSERT_NAMES_SQL, names)
        if identifiers:
            db.executemany(INSERT_IDENTIFIERS_SQL, identifiers)
        if batch.sealed:
            db.executemany("UPDATE records SET sealed = ? WHERE record_id = ?", batch.sealed)
        if batch.expunged:
            db.executemany(
                "INSERT INTO expunged (record_id, at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(rid, at) for rid in batch.expunged],
            )

    def expunged_ids(self, record_ids: Iterable[str]) -> set[str]:
        """Return which of ``record_ids`` were expunged (and may not come back)."""
        return self._ids_in("expunged", record_ids)

    def watermark(self, source: str) -> str | None:
        """The watermark stored for a sync ``source``, or None before its first change set."""
        row = self._db.execute(
            "SELECT value FROM watermarks WHERE source = ?", (source,)
        ).fetchone()
        return str(row[0]) if row else None

    def set_watermark(self, source: str, value: str) -> None:
        """Store a sync ``source``'s watermark (inside the change set's transaction)."""
        self._db.execute(
            "INSERT INTO watermarks (source, value) VALUES (?, ?)"
            " ON CONFLICT (source) DO UPDATE SET value = excluded.value",
            (source, value),
        )

    def purge_free_pages(self) -> bool:
        """Copy the write-ahead log into the file and truncate it; True when it got all of it.

        Deleted content is zeroed in the pages the last transactions wrote,
        but older copies of those pages can still sit in the WAL until it is
        checkpointed; a reader holding an old snapshot delays that (up to the
        busy timeout), and False says some of the log is left for next time.
        """
        busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    def get(self, record_id: str) -> Record | None:
        """Return the record with ``record_id``, or None."""
        row = self._db.execute(
            "SELECT record_id, kind, sealed, juvenile, expunged, body FROM records"
            " WHERE record_id = ?",
            (record_id,),
        ).fetchone()
        return _record(row) if row else None

    def existing_ids(self, record_ids: Iterable[str]) -> set[str]:
        """Return which of ``record_ids`` the store already holds."""
        return self._ids_in("records", record_ids)

    def _ids_in(self, table: str, record_ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(record_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0]
                for row in self._db.execute(
                    f"SELECT record_id FROM {table} WHERE record_id IN ({marks})", chunk
                )
            )
        return found

    def search(self, query: PersonQuery, limit: int) -> list[Candidate]:
        """Return the best matches for ``query``, best first, at most ``limit``.

        Sealed, juvenile and expunged records are returned like any other;
        whether they may be disclosed is the caller's (and contract's) decision.
        Ties are broken by record_id so answers are repeatable. The search
        reads one snapshot: a change set committed meanwhile is seen whole or
        not at all.
        """
        if self._db.in_transaction:  # inside the caller's own transaction: already one snapshot
            return self._search(query, limit)
        self._db.execute("BEGIN")  # deferred: a read snapshot from the first SELECT
        try:
            return self._search(query, limit)
        finally:
            if self._db.in_transaction:
                self._db.execute("COMMIT")

    def search_views(
        self, query: PersonQuery, blind: PersonQuery | None, limit: int
    ) -> tuple[list[Candidate], list[Candidate]]:
        """:meth:`search` for ``query`` and for ``blind`` (names only), in one snapshot.

        For :mod:`fieldgate.node.requester_view`; ``blind`` None gives no blind candidates.
        """
        if self._db.in_transaction:
            return self._search(query, limit), self._search(blind, limit) if blind else []
        self._db.execute("BEGIN")
        try:
            return self._search(query, limit), self._search(blind, limit) if blind else []
        finally:
            if self._db.in_transaction:
                self._db.execute("COMMIT")

    def _search(self, query: PersonQuery, limit: int) -> list[Candidate]:
        counts = _NameCounts(self._db, self._counts_for_this_snapshot())
        rare = bool(query.dob and query.given_name)
        rare = rare and counts.pair(query.surname, query.given_name) <= RARE_NAME_ROWS
        union, params = candidate_union(query, rare_name=rare)
        if not union or limit <= 0:
            return []
        # Score from the small, indexed name rows; decode record bodies only
        # for the few that make the cut (bodies are most of the cost).
        names, dobs = self._candidate_names(union, params)
        identifiers: dict[str, list[tuple[str, str]]] = {}
        if query.identifiers:
            for record_id, kind, value in self._db.execute(
                f"WITH candidates (record_id) AS ({union})"
                " SELECT identifiers.record_id, kind, value FROM candidates"
                " JOIN identifiers ON identifiers.record_id = candidates.record_id",
                params,
            ):
                identifiers.setdefault(record_id, []).append((kind, value))
        matches: dict[str, tuple[Match, dt.date | None]] = {}
        for record_id, held_names in names.items():
            dob_text = dobs.get(record_id)
            held_dob = dt.date.fromisoformat(dob_text) if dob_text else None
            match = score_candidate(
                query,
                held_names,
                held_dob,
                identifiers.get(record_id, ()),
                keep_none=query.dob is not None,
            )
            if match is not None:
                matches[record_id] = (match, held_dob)
        # The query's sex is weighed against each record's, which only its body holds.
        bodies = self._records(list(matches)) if query.sex else {}
        scored: list[tuple[int, float, str, Match]] = []
        for record_id, (match, held_dob) in matches.items():
            sex = bodies[record_id].fields.get("sex") if record_id in bodies else None
            sex = sex if isinstance(sex, str) else ""
            weighed = weigh(match, query, counts, sex, held_dob)
            if weighed.tier != "none":
                scored.append((_TIER_RANK[weighed.tier], -weighed.score, record_id, weighed))
        # Strong matches first, so a possible one never crowds a strong one out.
        scored.sort(key=lambda item: item[:3])
        best = scored[:limit]
        bodies.update(self._records([rid for _, _, rid, _ in best if rid not in bodies]))
        return [Candidate(bodies[record_id], match) for _, _, record_id, match in best]

    def _counts_for_this_snapshot(self) -> dict[tuple[int, str, str], int]:
        """The name counts cache, emptied when the store changed since it was filled.

        ``data_version`` moves when another connection commits, ``total_changes``
        when this one writes. Read inside the search's transaction, before its
        first read of the data: a commit landing in between leaves counts of
        the newer data under the older version, which the next search sees as
        changed and drops, so a count is never older than the search using it.
        """
        version = (
            int(self._db.execute("PRAGMA data_version").fetchone()[0]),
            self._db.total_changes,
        )
        if version != self._counts_version or len(self._counts) > _COUNTS_KEPT:
            self._counts.clear()
            self._counts_version = version
        return self._counts

    def candidate_names(
        self, query: PersonQuery
    ) -> tuple[dict[str, list[CandidateName]], dict[str, str | None]]:
        """Each candidate record's names and date of birth (text), as :meth:`search` scores them.

        For measuring the search step by step (``python -m bench.profiles split``).
        """
        union, params = candidate_union(query)
        return self._candidate_names(union, params) if union else ({}, {})

    def _candidate_names(
        self, union: str, params: list[str]
    ) -> tuple[dict[str, list[CandidateName]], dict[str, str | None]]:
        names: dict[str, list[CandidateName]] = {}
        dobs: dict[str, str | None] = {}
        for record_id, is_alias, surname, given, dob, derived in self._db.execute(
            f"WITH candidates (record_id) AS ({union})"
            " SELECT candidates.record_id, is_alias, surname, given_name, dob, derived"
            " FROM candidates LEFT JOIN names ON names.record_id = candidates.record_id"
            " ORDER BY candidates.record_id, names.rowid",
            params,
        ):
            held = names.setdefault(record_id, [])
            if surname is not None:
                held.append(CandidateName(surname, given, bool(is_alias), bool(derived)))
                dobs[record_id] = dob
        return names, dobs

    def _records(self, record_ids: list[str]) -> dict[str, Record]:
        """The records with these ids, decoded."""
        found: dict[str, Record] = {}
        for start in range(0, len(record_ids), _CHUNK):
            chunk = record_ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(_BODIES_SQL.format(marks=marks), chunk):
                found[row[0]] = _record(row)
        return found

    def explain_search(self, query: PersonQuery) -> list[str]:
        """Return SQLite's query plan for the candidate lookup of ``query``.

        For operators and tests: every line should be an index SEARCH, never a
        SCAN of records, names or identifiers.
        """
        sql, params = _candidate_sql(query)
        if not sql:
            return []
        statements = [(sql, params), (_BODIES_SQL.format(marks="?"), ["-"])]
        return [
            str(row[3])
            for statement, values in statements
            for row in self._db.execute(f"EXPLAIN QUERY PLAN {statement}", values)
        ]

    def iter_records(self) -> Iterator[Record]:
        """Yield every record in record_id order (for exports and checks, not searches)."""
        yield from (
            _record(row)
            for row in self._db.execute(
                "SELECT record_id, kind, sealed, juvenile, expunged, body FROM records"
                " ORDER BY record_id"
            )
        )


def _candidate_sql(query: PersonQuery) -> tuple[str, list[str]]:
    """The whole candidate lookup (ids joined to records), as ``explain_search`` shows it."""
    union, params = candidate_union(query)
    if not union:
        return "", []
    sql = (
        f"WITH candidates (record_id) AS ({union})"
        " SELECT candidates.record_id, is_alias, surname, given_name, dob"
        " FROM candidates LEFT JOIN names ON names.record_id = candidates.record_id"
    )
    return sql, params


_COUNT_CAP = 2_000  # past this a name is common for every rule of fieldgate.matching.evidence


_COUNTS_KEPT = 50_000  # names counted between changes of the store, at most


class _NameCounts:
    """:class:`~fieldgate.matching.evidence.NameCounts` of a search: index ranges, each once.

    ``seen`` is the store's cache of counts while its data is unchanged
    (:meth:`RecordStore._counts_for_this_snapshot`); a new dict counts afresh.
    """

    def __init__(
        self, db: sqlite3.Connection, seen: dict[tuple[int, str, str], int] | None = None
    ) -> None:
        self._db = db
        self._sql = name_counts_sql(_COUNT_CAP)
        self._seen: dict[tuple[int, str, str], int] = {} if seen is None else seen

    def _count(self, which: int, params: tuple[str, ...]) -> int:
        key = (which, params[0], params[-1])
        if key not in self._seen:
            self._seen[key] = int(self._db.execute(self._sql[which], params).fetchone()[0])
        return self._seen[key]

    def surname(self, surname: str) -> int:
        return self._count(0, (surname,)) if surname else 0

    def given(self, given_name: str) -> int:
        first, last = first_given_range(given_name)
        return self._count(1, (first, last)) if first else 0

    def pair(self, surname: str, given_name: str) -> int:
        first, last = first_given_range(given_name)
        return self._count(2, (surname, first, last)) if surname and first else 0


def _record(row: tuple[str, str, int, int, int, str]) -> Record:
    record_id, kind, sealed, juvenile, expunged, body = row
    fields: dict[str, FieldValue] = json.loads(body)
    return Record(record_id, kind, bool(sealed), bool(juvenile), bool(expunged), fields)
