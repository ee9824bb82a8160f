"""Auditor reports over a node's audit log.

Each report is a :class:`Report`: a title, column names and rows of plain
values, rendered by the CLI as a table, JSON or CSV. Reports read the log only
(:class:`~fieldgate.node.audit.schema.AuditReader`); verify the log first to know the
report stands on an intact record (``fieldgate audit verify``).

- :func:`by_purpose`: per requester agency type and purpose, how many
  searches, hits, denials and policy errors, and fields released per
  sensitivity class;
- :func:`subject_history`: every disclosure of one person's records, and
  when they were sealed, unsealed, deleted or expunged (its notes);
- :func:`~fieldgate.node.audit.accounts.accounts` (its own module): the account
  review per person or per agency;
- :func:`credentials`: every credential seen, and those long unused;
- :func:`denials`: every denied search and every policy error.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldgate.core.names import normalize_name
from fieldgate.core.query import PersonQuery
from fieldgate.node.audit.entries import RECORDS_CHANGED, SEARCH, record_fields
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.store import RecordStore


@dataclass(frozen=True)
class Report:
    """A report's data."""

    title: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    notes: tuple[str, ...] = field(default=())
    log: dict[str, Any] | None = None
    """Whether the log it read was verified (:meth:`node.audit.basis.Basis.to_dict`)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        document: dict[str, Any] = {
            "report": self.title,
            "columns": list(self.columns),
            "rows": self.rows,
            "notes": list(self.notes),
        }
        if self.log is not None:
            document["log"] = self.log
        return document


@dataclass(frozen=True)
class Period:
    """A closed range of days (UTC); either end may be open."""

    since: dt.date | None = None
    until: dt.date | None = None

    def contains(self, time: str) -> bool:
        """Whether an entry time (ISO 8601, UTC) falls in the period."""
        day = dt.datetime.fromisoformat(time).astimezone(dt.UTC).date()
        return (self.since is None or day >= self.since) and (
            self.until is None or day <= self.until
        )


def searches(reader: AuditReader, period: Period) -> Iterator[tuple[str, dict[str, Any]]]:
    """(entry time, search data) of every search entry in the period (for every report)."""
    for row in reader.entries(SEARCH):
        if not period.contains(row.time):
            continue
        data = row.document().get("data")
        if isinstance(data, dict):
            yield row.time, data


def _sent_fields(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(record id, field verdict) of every field that left the node in this search."""
    for record in data.get("records", []):
        if record.get("sent"):
            for verdict in record_fields(data, record):
                if verdict.get("outcome") in ("released", "masked"):
                    yield record["record_id"], verdict


def by_purpose(reader: AuditReader, period: Period = Period()) -> Report:
    """Searches, hits and fields released per requester agency type and purpose."""
    groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    classes: set[str] = set()
    for _, data in searches(reader, period):
        requester = data.get("requester", {})
        counts = groups[(requester.get("agency_type", ""), requester.get("purpose", ""))]
        counts["searches"] += 1
        counts[data.get("outcome", "")] += 1
        counts["records_disclosed"] += len(data.get("disclosed", []))
        for _, verdict in _sent_fields(data):
            name = str(verdict.get("class") or "unclassified")
            classes.add(name)
            counts[f"class:{name}"] += 1
            if verdict.get("outcome") == "masked":
                counts["masked"] += 1
    rows = [
        {
            "agency_type": agency_type,
            "purpose": purpose,
            "searches": c["searches"],
            "with hits": c["hit"],
            "denied": c["denied"],
            "no hit": c["no_hit"],
            "policy errors": c["policy_error"],
            "records disclosed": c["records_disclosed"],
            "fields released by class": {
                name: c[f"class:{name}"] for name in sorted(classes) if c[f"class:{name}"]
            },
            "of which masked": c["masked"],
        }
        for (agency_type, purpose), c in sorted(groups.items())
    ]
    columns = (
        "agency_type",
        "purpose",
        "searches",
        "with hits",
        "denied",
        "no hit",
        "policy errors",
        "records disclosed",
        "fields released by class",
        "of which masked",
    )
    return Report("searches by agency type and purpose", columns, rows)


def _applied(record: dict[str, Any]) -> str:
    """The ids of the warrants that applied to a logged record; "?" for an older entry."""
    applied = record.get("warrants_applied")
    if not isinstance(applied, list):
        return "?"
    return ",".join(str(a) for a in applied)


def subject_history(reader: AuditReader, record_ids: set[str], period: Period = Period()) -> Report:
    """Every disclosure of any of ``record_ids``: when, to whom, why, which fields."""
    rows: list[dict[str, Any]] = []
    for time, data in searches(reader, period):
        requester = data.get("requester", {})
        for record in data.get("records", []):
            if not record.get("sent") or record.get("record_id") not in record_ids:
                continue
            fields = record_fields(data, record)
            rows.append(
                {
                    "time": time,
                    "request_id": data.get("request_id", ""),
                    "record_id": record["record_id"],
                    "agency": requester.get("agency", ""),
                    "agency_type": requester.get("agency_type", ""),
                    "subject": requester.get("subject", ""),
                    "purpose": requester.get("purpose", ""),
                    "case_number": requester.get("case_number", ""),
                    "authority": ",".join(a.get("id", "") for a in requester.get("authority", [])),
                    "warrants_applied": _applied(record),
                    "contract": str(data.get("contract_version", "")),
                    "match": " ".join(
                        [str(record.get("tier", "?")), *map(str, record.get("evidence", []))]
                    ),
                    "released": ",".join(
                        f["name"] for f in fields if f.get("outcome") == "released"
                    ),
                    "masked": ",".join(
                        f"{f['name']}({f.get('mask', '')})"
                        for f in fields
                        if f.get("outcome") == "masked"
                    ),
                }
            )
    columns = (
        "time",
        "request_id",
        "record_id",
        "agency",
        "agency_type",
        "subject",
        "purpose",
        "case_number",
        "authority",
        "warrants_applied",
        "contract",
        "match",
        "released",
        "masked",
    )
    notes = (
        f"records: {', '.join(sorted(record_ids)) or '(none)'}",
        *record_changes(reader, record_ids, period),
    )
    return Report("disclosures of one person's records", columns, rows, notes)


def record_changes(
    reader: AuditReader, record_ids: set[str], period: Period = Period()
) -> list[str]:
    """When any of ``record_ids`` was sealed, unsealed, deleted or expunged, one line each.

    Read from the ``records_changed`` entries of applied change sets
    (:mod:`node.changes`); the disclosures made before stay in the log as they were.
    """
    lines: list[str] = []
    for row in reader.entries(RECORDS_CHANGED):
        data = row.document().get("data")
        if not period.contains(row.time) or not isinstance(data, dict):
            continue
        source = data.get("source", {})
        origin = source.get("path") or source.get("database") or "?"
        for what, ids in sorted(data.get("records", {}).items()):
            lines += [
                f"{row.time}: record {rid} {what} (audit entry {row.seq}, change set from {origin})"
                for rid in ids
                if rid in record_ids
            ]
    return lines


STALE_CREDENTIAL_DAYS = 90
"""CJIS asks that accounts unused this long be disabled."""


def credentials(
    reader: AuditReader, today: dt.date, stale_days: int = STALE_CREDENTIAL_DAYS
) -> Report:
    """The monthly credential review: every credential seen, and those unused for ``stale_days``.

    A credential lives hours, but an investigator's agency keeps issuing new
    ones; the review is per credential id with the subject it names, so an
    account that has gone quiet (or never should have searched) stands out.
    """
    seen: dict[str, dict[str, Any]] = {}
    for time, data in searches(reader, Period()):
        requester = data.get("requester", {})
        credential = requester.get("credential_id", "")
        if not credential:
            continue
        row = seen.setdefault(
            credential,
            {
                "credential": credential,
                "subject": requester.get("subject", ""),
                "agency": requester.get("agency", ""),
                "agency_type": requester.get("agency_type", ""),
                "issuer": requester.get("issuer", ""),
                "purposes": ", ".join(requester.get("allowed_purposes", [])),
                "first use": time,
                "last use": time,
                "searches": 0,
            },
        )
        row["last use"] = time
        row["searches"] += 1
    cutoff = today - dt.timedelta(days=stale_days)
    for row in seen.values():
        last = dt.date.fromisoformat(row["last use"][:10])
        row["flag"] = f"unused for {stale_days}+ days: disable" if last < cutoff else ""
    columns = (
        "credential", "subject", "agency", "agency_type", "issuer", "purposes",
        "first use", "last use", "searches", "flag",
    )  # fmt: skip
    notes = (f"review date {today.isoformat()}; stale after {stale_days} days without use",)
    rows = sorted(seen.values(), key=lambda r: (r["agency"], r["subject"], r["first use"]))
    return Report("credential review", columns, rows, notes)


def denials(reader: AuditReader, period: Period = Period()) -> Report:
    """Every search that was denied (records matched, none disclosed) or hit a policy error."""
    rows: list[dict[str, Any]] = []
    for time, data in searches(reader, period):
        outcome = data.get("outcome")
        if outcome not in ("denied", "policy_error"):
            continue
        requester = data.get("requester", {})
        records = data.get("records", [])
        errors = sorted({r.get("error", "") for r in records if r.get("error")})
        rows.append(
            {
                "time": time,
                "request_id": data.get("request_id", ""),
                "outcome": outcome,
                "subject": requester.get("subject", ""),
                "agency": requester.get("agency", ""),
                "agency_type": requester.get("agency_type", ""),
                "purpose": requester.get("purpose", ""),
                "records withheld": sum(1 for r in records if not r.get("sent")),
                "contract": str(data.get("contract_version", "")) or "(none)",
                "error": "; ".join(errors),
            }
        )
    columns = (
        "time",
        "request_id",
        "outcome",
        "subject",
        "agency",
        "agency_type",
        "purpose",
        "records withheld",
        "contract",
        "error",
    )
    return Report("denials and policy errors", columns, rows)


def record_ids_for_person(
    records_db: Path, surname: str, given_name: str, dob: dt.date, *, min_score: float | None
) -> set[str]:
    """The records of the node's store that are this person.

    Exact by default: a name of the record (primary or alias) has this
    surname and first given name, and the record has this date of birth. With
    ``min_score`` every candidate scoring at least that much counts (spelling
    variants, transposed dates), to be reviewed by the auditor.
    """
    query = PersonQuery(normalize_name(surname), normalize_name(given_name), dob, (), 1000)
    with RecordStore.open(records_db) as store:
        candidates = store.search(query, limit=10_000)
    if min_score is not None:
        return {c.record.record_id for c in candidates if c.match.score >= min_score}
    first = query.given_name.split(" ")[0] if query.given_name else ""
    found: set[str] = set()
    for candidate in candidates:
        record = candidate.record
        if record.dob() != dob:
            continue
        for name in record.names():
            if name.surname == query.surname and name.given_name.split(" ")[0] == first:
                found.add(record.record_id)
    return found
