"""Change sets: upserts, deletions, sealing and expungement orders, applied all or nothing.

A change set is a sequence of :class:`Change` s, from a change file
(:mod:`node.change_files`) or one batch of a sync from the agency's own
database (:mod:`node.sync`). Operations:

- ``upsert``: insert the record, or replace the stored one with that id;
- ``delete``: remove a record entered in error (absent: nothing to do);
- ``seal`` / ``unseal``: set the sealed flag; a sealed record is withheld
  from every answer whatever the contract says;
- ``expunge``: remove the record for good. Its row and its name and
  identifier index rows are deleted with ``secure_delete`` on (zeroed, not
  left in free pages) and the write-ahead log is checkpointed and truncated
  afterwards, so no copy stays in the database files. Only the record_id is
  kept, so the record cannot come back: a later upsert, seal or unseal of it
  is skipped and counted (``skipped_expunged``), never applied.

:func:`check_changes` refuses a change set with every bad change named before
anything is written; :func:`apply_changes` then applies it in one transaction
of the record store and writes one ``records_changed`` audit entry (source,
watermark, counts per operation, the ids sealed, unsealed, deleted and
expunged; never a record's content) before that transaction commits, so no
change is visible without its entry. Applying the same change set twice
leaves the store as the first time left it (every operation is idempotent;
the counts say ``unchanged`` when each record appears once in the set).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fieldgate.node.audit.entries import RECORDS_CHANGED
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.store import RecordStore
from fieldgate.node.store_rows import ChangeBatch, index_changes, record_row
from fieldgate.policy.catalog import FieldCatalog
from fieldgate.policy.errors import RecordError
from fieldgate.policy.record_decoder import record_decoder
from fieldgate.policy.records import Record, validate_record

UPSERT, DELETE, SEAL, UNSEAL, EXPUNGE = "upsert", "delete", "seal", "unseal", "expunge"
OPERATIONS: tuple[str, ...] = (UPSERT, DELETE, SEAL, UNSEAL, EXPUNGE)
"""Every operation a change may carry."""

OP_KEY = "op"
"""The key (JSON) or column (CSV) naming a change's operation; absent or empty means upsert."""

SKIPPED_EXPUNGED = "skipped_expunged"
"""The count of upserts, seals and unseals of expunged records: skipped, never applied."""

# Past tense of each operation, as the audit entry lists the records it changed.
_LISTED = {DELETE: "deleted", SEAL: "sealed", UNSEAL: "unsealed", EXPUNGE: "expunged"}


@dataclass(frozen=True)
class Change:
    """One change to one record.

    Attributes:
        op: one of :data:`OPERATIONS`.
        record_id: the record changed.
        record: the whole new record (``upsert`` only).
    """

    op: str
    record_id: str
    record: Record | None = None


def change_or_reason(raw: Mapping[str, object], catalog: FieldCatalog) -> Change | str:
    """Read one change from its raw object, or say why it is not one.

    An upsert is a whole record (checked like an import) with ``op`` absent,
    empty or ``"upsert"``; the other operations take ``record_id`` and nothing else.
    """
    op = raw.get(OP_KEY) or UPSERT
    if not isinstance(op, str) or op.strip().lower() not in OPERATIONS:
        return f"{OP_KEY}: {str(op)[:40]!r} is not an operation; use one of {', '.join(OPERATIONS)}"
    op = op.strip().lower()
    fields = {key: value for key, value in raw.items() if key != OP_KEY}
    if op == UPSERT:
        # Checked in compiled code; validate_record when that is not sure (and for the reason).
        if (fast := record_decoder(catalog).convert(fields)) is not None:
            return Change(UPSERT, fast[0].record_id, fast[0])
        try:
            record = validate_record(fields, catalog)
        except RecordError as exc:
            return exc.reason
        return Change(UPSERT, record.record_id, record)
    extra = [k for k, v in fields.items() if k != "record_id" and not _empty(v)]
    if extra:
        return f"{op}: takes only record_id, not {extra[0][:40]!r}"
    record_id = fields.get("record_id")
    if not isinstance(record_id, str) or not record_id.strip():
        return "record_id: is missing"
    return Change(op, record_id.strip())


def upsert_from_line(line: bytes, catalog: FieldCatalog) -> Change | None:
    """The upsert on one JSON line of a change file, decoded and checked in compiled code.

    None when the line is anything else or the fast path is not sure
    (:class:`~fieldgate.policy.record_decoder.RecordDecoder`): read it with
    :func:`change_or_reason`, which says what is wrong, if anything.
    """
    decoded = record_decoder(catalog, (OP_KEY,)).decode(line)
    if decoded is None:
        return None
    record, (op,) = decoded
    if op is None or op == "" or (isinstance(op, str) and op.strip().lower() == UPSERT):
        return Change(UPSERT, record.record_id, record)
    return None


def _empty(value: object) -> bool:
    """Whether a value says nothing (a CSV row's blank cells for the columns it does not use)."""
    if isinstance(value, Mapping):
        return all(_empty(v) for v in value.values())
    return value in (None, "", [], False)


@dataclass
class ChangeSetResult:
    """What applying a change set did.

    Attributes:
        counts: per operation, how many changes changed the store; ``unchanged``
            counts those that found it already so, ``skipped_expunged`` those
            that named an expunged record.
        records: per past-tense operation (sealed, unsealed, deleted, expunged),
            the record ids it changed, in order.
        audit_seq: the sequence number of the ``records_changed`` audit entry.
        wal_truncated: after deletions, whether the write-ahead log was fully
            checkpointed (False: an old reader delayed it; retried next time).
    """

    counts: Counter[str] = field(default_factory=Counter)
    records: dict[str, list[str]] = field(default_factory=dict)
    audit_seq: int = 0
    wal_truncated: bool = True

    @property
    def changed(self) -> int:
        """How many changes changed the store."""
        return sum(n for op, n in self.counts.items() if op in OPERATIONS)

    def summary(self) -> dict[str, Any]:
        """Counts for people and JSON (every operation, zero or not)."""
        return {op: self.counts.get(op, 0) for op in (*OPERATIONS, "unchanged", SKIPPED_EXPUNGED)}


def check_changes(
    store: RecordStore, changes: Iterable[tuple[int, Change]], *, expunge_unknown: bool = False
) -> list[tuple[int, str]]:
    """Every change that cannot apply, as (line, reason), given the store and earlier changes.

    A seal, unseal or expunge needs the record stored (or upserted earlier in
    the set) — except an expunge of a record already expunged, which is
    nothing to do, as is a delete of a record not stored. An upsert, seal or
    unseal of an expunged record is no problem: it is skipped when applied.
    ``expunge_unknown`` lets an expunge name a record never stored (a sync's
    first cycle meets old expungements), so that it can never be stored.
    """
    listed = list(changes)
    ids = {change.record_id for _, change in listed}
    present = store.existing_ids(ids)
    expunged = store.expunged_ids(ids)
    problems: list[tuple[int, str]] = []
    for line, change in listed:
        rid = change.record_id
        if rid in expunged and change.op != EXPUNGE:
            continue  # skipped when applied
        if change.op == UPSERT:
            present.add(rid)
        elif change.op in (SEAL, UNSEAL) and rid not in present:
            problems.append((line, f"{change.op}: record_id {rid!r} is not in the store"))
        elif change.op == DELETE:
            present.discard(rid)
        elif change.op == EXPUNGE:
            if rid not in present and rid not in expunged and not expunge_unknown:
                problems.append((line, f"expunge: record_id {rid!r} is not in the store"))
            present.discard(rid)
            expunged.add(rid)
    return problems


def apply_changes(
    store: RecordStore,
    audit: AuditStore,
    changes: Iterable[Change],
    *,
    source: Mapping[str, Any],
    watermark: tuple[str, str] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> ChangeSetResult:
    """Apply checked ``changes`` in one transaction, with one audit entry, all or nothing.

    The changes are written in batches of up to :data:`BATCH` (a batch ends
    early where a record_id repeats, so each batch names a record once and
    its writes may run in bulk): one lookup of the batch's stored rows and
    expunged ids, then one ``executemany`` per statement
    (:meth:`RecordStore.write_batch`). An upsert is unchanged when its
    :func:`~fieldgate.node.store_rows.record_row` equals the stored row, compared
    as text, never decoded; a replaced record keeps its name and identifier
    index rows when they come out the same (a corrected release date does
    not touch the name index).

    Args:
        store: the node's record store.
        audit: the node's audit log; the entry is written before the store commits.
        changes: the change set, already passed by :func:`check_changes`; may
            be a generator (an exception it raises rolls everything back).
        source: where the changes come from (file and digest, or database),
            logged as the entry's ``source``.
        watermark: (sync source, new watermark) stored in the same transaction,
            so a sync resumes exactly after the last change set applied.
        on_batch: called after each batch with how many changes were applied so far.

    Raises:
        ValueError: a change cannot apply (the store changed since it was checked).
        node.errors.DisclosureLogError: the audit entry could not be written;
            nothing was changed.
    """
    result = ChangeSetResult()
    listed: dict[str, list[str]] = {name: [] for name in _LISTED.values()}
    now = dt.datetime.now(dt.UTC).isoformat()
    done = 0
    with store.write_transaction():
        batch: dict[str, Change] = {}
        for change in changes:
            if change.record_id in batch or len(batch) >= BATCH:
                done += _apply_batch(store, list(batch.values()), now, result.counts, listed)
                if on_batch is not None:
                    on_batch(done)
                batch = {}
            batch[change.record_id] = change
        if batch:
            done += _apply_batch(store, list(batch.values()), now, result.counts, listed)
            if on_batch is not None:
                on_batch(done)
        result.records = {name: ids for name, ids in listed.items() if ids}
        data: dict[str, Any] = {
            "source": dict(source),
            "counts": result.summary(),
            "records": result.records,
        }
        if watermark is not None:
            data["watermark"] = {"from": store.watermark(watermark[0]), "to": watermark[1]}
            store.set_watermark(*watermark)
        # Signed over at once: a serving node beside this process adopts only
        # entries a checkpoint under its own key covers (never a forgery).
        result.audit_seq = audit.append(RECORDS_CHANGED, data, checkpoint=True)
    if result.counts[DELETE] or result.counts[EXPUNGE]:
        result.wal_truncated = store.purge_free_pages()
    return result


BATCH = 2_000
"""Changes written per batch: one lookup and one ``executemany`` per statement each."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while a change set is read and applied.

    A change file's checked changes are all held in memory until they are
    applied; as they pile up the collector walks every one of them again and
    again (about 40 % of the CPU of a 50,000-change file), though none is part
    of a cycle: reference counting frees them. Restored afterwards, as it was.
    Used by the one-shot commands (``fieldgate node apply`` and ``sync``), not
    by a serving node.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _apply_batch(
    store: RecordStore,
    changes: list[Change],
    now: str,
    counts: Counter[str],
    listed: dict[str, list[str]],
) -> int:
    """Apply changes naming distinct records; count each; return how many there were."""
    ids = [change.record_id for change in changes]
    expunged = store.expunged_ids(ids)
    stored = store.stored_rows(ids)
    writes = ChangeBatch()
    for change in changes:
        rid, op = change.record_id, change.op
        if op in (UPSERT, SEAL, UNSEAL) and rid in expunged:
            counts[SKIPPED_EXPUNGED] += 1
            continue
        before = stored.get(rid)
        was_sealed = before is not None and bool(before[2])
        if op == UPSERT:
            assert change.record is not None
            row = record_row(change.record)
            if row == before:
                counts["unchanged"] += 1
                continue
            if before is None:
                writes.inserted.append((change.record, row))
            else:
                writes.updated.append(
                    (change.record, row, *index_changes(before[5], change.record))
                )
            if change.record.sealed and not was_sealed:
                listed["sealed"].append(rid)
            elif was_sealed and not change.record.sealed:
                listed["unsealed"].append(rid)
        elif op in (SEAL, UNSEAL):
            if before is None:
                raise ValueError(f"{op}: record_id {rid!r} is not in the store")
            if was_sealed == (op == SEAL):
                counts["unchanged"] += 1
                continue
            writes.sealed.append((int(op == SEAL), rid))
            listed[_LISTED[op]].append(rid)
        elif op == DELETE:
            if before is None:
                counts["unchanged"] += 1
                continue
            writes.removed.append(rid)
            listed[_LISTED[op]].append(rid)
        else:  # expunge: deleted if stored, and remembered so it cannot come back
            if rid in expunged:
                counts["unchanged"] += 1
                continue
            writes.expunged.append(rid)
            listed[_LISTED[op]].append(rid)
        counts[op] += 1
    store.write_batch(writes, now)
    return len(changes)
