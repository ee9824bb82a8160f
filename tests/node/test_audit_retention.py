"""Retention per sensitivity class: exactly the expired classes go, and the log still verifies."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.retention import apply_plan, audit_cutoff, event_date, plan_purge
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.audit.verify import verify_log
from fieldgate.node.importer import import_file
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog, parse_catalog
from fieldgate.policy.errors import CatalogError

TODAY = dt.date(2026, 6, 1)

RETENTION = """
[classes.immigration_status]
retention_days = 365
[classes.location]
retention_days = 1825
[classes.contact]
retention_days = 1825
[classes.custody_status]
retention_days = 3650
[classes.identity]
retention_days = 7300
"""

PERSON = {"surname": "DOE", "given_name": "JANE", "dob": "1980-02-03"}
RECORDS = [
    {  # booked 2020: citizenship (1 y), address and phone (5 y) expired; custody (10 y) kept
        "record_id": "OLD-BOOKING",
        "record_kind": "booking",
        **PERSON,
        "booking_date": "2020-01-01",
        "booking_number": "B1",
        "citizenship": "MEXICO",
        "address": {"street": "1 MAIN ST", "city": "KENT", "state": "WA"},
        "phone": "206-555-0199",
        "charges": ["RCW 9A.56.020 THEFT 3"],
        "contact_unit": "Records",
    },
    {  # booked this year: nothing expired
        "record_id": "NEW-BOOKING",
        "record_kind": "booking",
        **PERSON,
        "booking_date": "2026-01-01",
        "citizenship": "MEXICO",
        "phone": "206-555-0199",
    },
    {  # 1990: identity (20 y) expired too; nothing but the pointer contact left
        "record_id": "ANCIENT",
        "record_kind": "field_interview",
        **PERSON,
        "incident_date": "1990-05-05",
        "citizenship": "MEXICO",
        "contact_unit": "Records",
    },
    {  # no event date: kept whole
        "record_id": "UNDATED",
        "record_kind": "warrant",
        **PERSON,
        "citizenship": "MEXICO",
        "warrant_number": "W-1",
    },
]


def write_catalog(directory: Path, classes: str = RETENTION) -> Path:
    text = default_catalog_path().read_text(encoding="utf-8")
    text = text.split("# Retention per sensitivity class")[0]
    path = directory / "catalog.toml"
    path.write_text(text + classes, encoding="utf-8")
    return path


def write_records(directory: Path) -> Path:
    path = directory / "records.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n", encoding="utf-8")
    return path


def test_the_standard_catalog_has_retention_for_the_sensitive_classes() -> None:
    catalog = load_catalog(default_catalog_path())
    assert catalog.retention_days["immigration_status"] == 365
    assert "identity" not in catalog.retention_days  # kept


@pytest.mark.parametrize(
    ("classes", "key", "words"),
    [
        ("[classes.idenity]\nretention_days = 5\n", "classes.idenity", "unknown class"),
        ("[classes.location]\nretention_days = 0\n", "classes.location.retention_days", "≥ 1"),
        ('[classes.location]\nretention_days = "5y"\n', "classes.location.retention_days", "days"),
        ("[classes.location]\nkeep = 5\n", "classes.location.keep", "unknown key"),
        ("classes = 5\n", "classes", "table"),
    ],
)
def test_a_bad_retention_table_names_its_key(classes: str, key: str, words: str) -> None:
    import tomllib

    top, tables = (classes, "") if classes.startswith("classes =") else ("", classes)
    document = tomllib.loads(
        f'version = 1\n{top}[fields.surname]\nclass = "identity"\ntype = "string"\n{tables}'
    )
    with pytest.raises(CatalogError) as caught:
        parse_catalog(document, source="c.toml")
    assert caught.value.key == key
    assert words in caught.value.reason


def test_purge_removes_exactly_the_expired_classes_and_the_log_still_verifies(
    tmp_path: Path,
) -> None:
    catalog = load_catalog(write_catalog(tmp_path))
    with RecordStore.open(tmp_path / "node.sqlite") as store:
        import_file(store, write_records(tmp_path), catalog)
        before = {r.record_id: r for r in store.iter_records()}
        key = ensure_key(tmp_path / "key.pem")
        audit = AuditStore.open(tmp_path / "audit.sqlite", node_id="kcso", key=key)
        audit.append("search", {"request_id": "earlier"})
        examined: list[tuple[int, int]] = []
        disposed: list[tuple[int, int]] = []
        plan = plan_purge(store, catalog, TODAY, lambda *done: examined.append(done))
        assert plan.summary()["records_undated_kept"] == 1
        apply_plan(plan, store, audit, lambda *done: disposed.append(done))
        # Progress is reported, ending at the whole (the purge CLI's bar follows it).
        assert examined[-1] == (len(before), len(before))
        assert disposed[-1] == (len(plan.disposals), len(plan.disposals))
        after = {r.record_id: r for r in store.iter_records()}
        audit.close()
        # Searches still find what is left, through rebuilt indexes.
        from fieldgate.core.query import PersonQuery

        found = store.search(PersonQuery("DOE", "JANE", dt.date(1980, 2, 3), (), 10), limit=10)
        assert {c.record.record_id for c in found} == {"OLD-BOOKING", "NEW-BOOKING", "UNDATED"}
    assert set(after) == {"OLD-BOOKING", "NEW-BOOKING", "UNDATED"}
    gone = set(before["OLD-BOOKING"].fields) - set(after["OLD-BOOKING"].fields)
    assert gone == {"citizenship", "address", "phone"}
    assert after["OLD-BOOKING"].fields["booking_number"] == "B1"  # custody: 10 years
    assert after["NEW-BOOKING"] == before["NEW-BOOKING"]
    assert after["UNDATED"] == before["UNDATED"]
    report = verify_log(tmp_path / "audit.sqlite", public_key=key.public_key())
    assert report.ok, report.problems
    with AuditReader(tmp_path / "audit.sqlite") as reader:
        purged = [r.document()["data"] for r in reader.entries("records_purged")]
    assert len(purged) == 1
    disposed = {r["record_id"]: r for r in purged[0]["records"]}
    assert set(disposed) == {"OLD-BOOKING", "ANCIENT"}
    assert disposed["ANCIENT"]["deleted"] is True
    assert disposed["OLD-BOOKING"]["classes"] == ["location", "contact", "immigration_status"]
    assert "MEXICO" not in json.dumps(purged)  # names of fields, never values


def test_event_date_prefers_the_booking_date() -> None:
    catalog = load_catalog(default_catalog_path())
    from fieldgate.policy.records import validate_record

    record = validate_record({**RECORDS[0], "incident_date": "2019-01-01"}, catalog)
    assert event_date(record) == dt.date(2020, 1, 1)


def test_audit_cutoff_is_midnight_utc_retention_days_back() -> None:
    assert audit_cutoff(TODAY, 365) == dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
