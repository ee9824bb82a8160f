"""Retention and disposal: blank expired fields, delete emptied records, trim the audit log.

The catalog gives sensitivity classes a retention period
(``[classes.<class>] retention_days``). A record's age is counted from its
**event date**: ``booking_date``, else ``incident_date`` — the date of what
the record is about, which the agency controls and which does not change when
records are re-imported or migrated. A record with neither is kept and
counted as undated.

When ``today - event date > retention_days`` for a class, every field of that
class is blanked — except the event date itself while fields of classes that
still have a retention period remain (they age by it); it goes with the last
of them. A record is deleted when nothing but its pointer contact
(``agency_contact`` fields) is left, or when what is left could no longer be
found by any search (no name, alias or identifier). What is disposed of is
written to the audit log (``records_purged`` entries, field names only)
before the record store changes. Audit entries older than the node's
``[node.audit] retention_days`` are removed with
:meth:`~fieldgate.node.audit.store.AuditStore.purge_before`, which keeps the remaining
chain verifiable.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fieldgate.node.audit.entries import RECORDS_PURGED
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import FieldCatalog
from fieldgate.policy.errors import RecordError
from fieldgate.policy.records import Record, validate_record

EVENT_DATE_FIELDS: tuple[str, ...] = ("booking_date", "incident_date")
"""The fields a record's age is counted from, in order of preference."""

POINTER_CLASSES = frozenset({"agency_contact"})
"""Classes that alone do not keep a record: a pointer with no person behind it."""

CHUNK = 500
"""Records per ``records_purged`` audit entry and per store transaction."""


@dataclass(frozen=True)
class Disposal:
    """What retention does to one record.

    Attributes:
        record_id: the record.
        event_date: the date its age is counted from.
        blanked: fields removed, in catalog order.
        classes: their sensitivity classes.
        delete: whether the whole record goes.
        reason: why it is deleted ("" when only blanked).
    """

    record_id: str
    event_date: str
    blanked: tuple[str, ...]
    classes: tuple[str, ...]
    delete: bool
    reason: str = ""
    remaining: Record | None = None

    def audit_data(self) -> dict[str, Any]:
        """The record's part of a ``records_purged`` entry (names, never values)."""
        return {
            "record_id": self.record_id,
            "event_date": self.event_date,
            "blanked": list(self.blanked),
            "classes": list(self.classes),
            "deleted": self.delete,
            "reason": self.reason,
        }


@dataclass
class PurgePlan:
    """What a purge would do (``--dry-run`` shows it; :func:`apply_plan` does it)."""

    today: dt.date
    retention_days: dict[str, int]
    examined: int = 0
    undated: int = 0
    disposals: list[Disposal] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts for people and JSON."""
        fields_by_class: Counter[str] = Counter()
        for disposal in self.disposals:
            fields_by_class.update(disposal.classes)
        return {
            "today": self.today.isoformat(),
            "retention_days": dict(sorted(self.retention_days.items())),
            "records_examined": self.examined,
            "records_undated_kept": self.undated,
            "records_blanked": sum(1 for d in self.disposals if not d.delete),
            "records_deleted": sum(1 for d in self.disposals if d.delete),
            "fields_blanked_by_class": dict(sorted(fields_by_class.items())),
        }


def event_date(record: Record) -> dt.date | None:
    """The date a record's age is counted from, or None."""
    for name in EVENT_DATE_FIELDS:
        value = record.fields.get(name)
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                continue
    return None


def expired_classes(catalog: FieldCatalog, age_days: int) -> frozenset[str]:
    """The classes whose retention period an age of ``age_days`` exceeds."""
    return frozenset(c for c, days in catalog.retention_days.items() if age_days > days)


def plan_record(record: Record, catalog: FieldCatalog, today: dt.date) -> Disposal | None:
    """What retention does to ``record`` on ``today``, or None when nothing."""
    when = event_date(record)
    if when is None:
        return None
    expired = expired_classes(catalog, (today - when).days)
    if not expired:
        return None
    classes = {name: spec.sensitivity for name, spec in catalog.fields.items()}
    blanked = tuple(n for n in record.fields if classes.get(n) in expired)
    kept = {n: v for n, v in record.fields.items() if n not in blanked}
    anchor = next(n for n in EVENT_DATE_FIELDS if n in record.fields)
    if anchor in blanked and any(classes.get(n) in catalog.retention_days for n in kept):
        # The event date stays while fields that still age by it remain.
        blanked = tuple(n for n in blanked if n != anchor)
        kept[anchor] = record.fields[anchor]
    if not blanked:
        return None
    blanked_classes = tuple(classes[n] for n in blanked)

    def disposal(delete: bool, reason: str = "", remaining: Record | None = None) -> Disposal:
        return Disposal(
            record.record_id, when.isoformat(), blanked, blanked_classes, delete, reason, remaining
        )

    if all(classes.get(n) in POINTER_CLASSES for n in kept):
        return disposal(True, "nothing left but the pointer contact")
    remaining = Record(
        record.record_id, record.kind, record.sealed, record.juvenile, record.expunged, kept
    )
    try:
        remaining = validate_record(remaining.to_raw(), catalog)
    except RecordError as exc:
        return disposal(True, f"what is left is not a record: {exc}")
    return disposal(False, remaining=remaining)


def plan_purge(
    store: RecordStore,
    catalog: FieldCatalog,
    today: dt.date,
    progress: Callable[[int, int], None] | None = None,
) -> PurgePlan:
    """Examine every record and plan its disposal.

    ``progress(examined, total)`` is called every :data:`CHUNK` records and at the end.
    """
    plan = PurgePlan(today, dict(catalog.retention_days))
    total = store.count() if progress is not None else 0
    for record in store.iter_records():
        plan.examined += 1
        if progress is not None and plan.examined % CHUNK == 0:
            progress(plan.examined, total)
        if event_date(record) is None:
            plan.undated += 1
            continue
        disposal = plan_record(record, catalog, today)
        if disposal is not None:
            plan.disposals.append(disposal)
    if progress is not None:
        progress(plan.examined, max(total, plan.examined))
    return plan


def apply_plan(
    plan: PurgePlan,
    store: RecordStore,
    audit: AuditStore,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write each chunk of disposals to the audit log, then apply it to the store.

    ``progress(done, total)`` is called after each chunk.

    Returns:
        The number of records changed or deleted.

    Raises:
        node.errors.DisclosureLogError: the audit entry could not be written;
            that chunk and the rest are left untouched.
    """
    done = 0
    for start in range(0, len(plan.disposals), CHUNK):
        chunk: Sequence[Disposal] = plan.disposals[start : start + CHUNK]
        data = {
            "status": "disposing",
            "today": plan.today.isoformat(),
            "retention_days": dict(sorted(plan.retention_days.items())),
            "records": [d.audit_data() for d in chunk],
        }
        audit.append(RECORDS_PURGED, data, checkpoint=True)
        try:
            store.dispose(
                [d.remaining for d in chunk if d.remaining is not None and not d.delete],
                [d.record_id for d in chunk if d.delete],
            )
        except BaseException as exc:
            audit.append(
                RECORDS_PURGED,
                {**data, "status": "failed", "error": str(exc)[:500], "records": []},
                checkpoint=True,
            )
            raise
        done += len(chunk)
        if progress is not None:
            progress(done, len(plan.disposals))
    return done


def audit_cutoff(today: dt.date, retention_days: int) -> dt.datetime:
    """Audit entries written before this instant are past retention on ``today``."""
    day = today - dt.timedelta(days=retention_days)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
