"""Change sets: upsert, delete, seal, unseal, expunge — checked whole, applied whole, audited."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.core.query import PersonQuery
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.audit.verify import verify_log
from fieldgate.node.change_files import apply_file
from fieldgate.node.errors import RecordImportError
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.records import validate_record

CATALOG = load_catalog(default_catalog_path())
DOE = PersonQuery("DOE", "JOHN", dt.date(1980, 4, 12), (), 50)


def person(record_id: str, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "record_id": record_id,
        "record_kind": "booking",
        "surname": "Doe",
        "given_name": "John",
        "dob": "1980-04-12",
    }
    return {**base, **fields}


def write_jsonl(path: Path, rows: Sequence[Mapping[str, object] | str]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordStore]:
    with RecordStore.open(tmp_path / "node.sqlite") as opened:
        opened.insert_many(validate_record(person(f"R{i}"), CATALOG) for i in range(1, 5))
        yield opened


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditStore]:
    log = AuditStore.open(
        tmp_path / "audit.sqlite", node_id="kcso", key=ensure_key(tmp_path / "key.pem")
    )
    yield log
    log.close()


def changes_entries(path: Path) -> list[dict[str, object]]:
    with AuditReader(path) as reader:
        return [row.document()["data"] for row in reader.entries("records_changed")]


def test_every_operation_applies_and_is_audited_once(
    store: RecordStore, audit: AuditStore, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "changes.jsonl",
        [
            {"op": "upsert", **person("R1", dob="1980-04-21")},  # corrected date of birth
            person("R9", booking_number="B9"),  # no op: an upsert
            {"op": "delete", "record_id": "R2"},
            {"op": "seal", "record_id": "R3"},
            {"op": "expunge", "record_id": "R4"},
            {"op": "delete", "record_id": "NEVER-HELD"},  # nothing to do
        ],
    )
    result = apply_file(store, audit, path, CATALOG)
    assert result.summary() == {
        "upsert": 2,
        "delete": 1,
        "seal": 1,
        "unseal": 0,
        "expunge": 1,
        "unchanged": 1,
        "skipped_expunged": 0,
    }
    assert store.get("R2") is None
    assert store.get("R4") is None
    sealed = store.get("R3")
    assert sealed is not None
    assert sealed.sealed
    found = {c.record.record_id: c.record.dob() for c in store.search(DOE, limit=50)}
    assert set(found) == {"R1", "R3", "R9"}  # the indexes follow: R2 and R4 are not found
    assert found["R1"] == dt.date(1980, 4, 21)
    entries = changes_entries(tmp_path / "audit.sqlite")
    assert len(entries) == 1
    data = entries[0]
    assert data["records"] == {"deleted": ["R2"], "sealed": ["R3"], "expunged": ["R4"]}
    assert data["source"]["sha256"]  # type: ignore[index]
    assert "Doe" not in json.dumps(data)
    assert "1980" not in json.dumps(data)
    key = ensure_key(tmp_path / "key.pem").public_key()
    assert verify_log(tmp_path / "audit.sqlite", public_key=key).ok


def test_applying_the_same_file_twice_changes_nothing_the_second_time(
    store: RecordStore, audit: AuditStore, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "changes.jsonl",
        [
            person("R1", booking_number="B1"),
            {"op": "seal", "record_id": "R2"},
            {"op": "unseal", "record_id": "R3"},
            {"op": "expunge", "record_id": "R4"},
        ],
    )
    first = apply_file(store, audit, path, CATALOG)
    snapshot = list(store.iter_records())
    second = apply_file(store, audit, path, CATALOG)
    assert first.changed == 3  # R3 was not sealed: unsealing it is no change
    assert second.changed == 0
    assert second.counts["unchanged"] == 4
    assert list(store.iter_records()) == snapshot


def test_a_bad_change_set_changes_nothing_and_names_every_bad_line(
    store: RecordStore, audit: AuditStore, tmp_path: Path
) -> None:
    before = list(store.iter_records())
    path = write_jsonl(
        tmp_path / "changes.jsonl",
        [
            person("R1", booking_number="B1"),  # good, but the file is refused
            {"op": "sael", "record_id": "R2"},
            {"op": "seal", "record_id": "R-MISSING"},
            {"op": "delete", "record_id": "R3", "surname": "Doe"},
            person("R5", dob="1980-02-30"),
            "{not json",
            {"op": "expunge", "record_id": "R-UNKNOWN"},
        ],
    )
    with pytest.raises(RecordImportError) as caught:
        apply_file(store, audit, path, CATALOG)
    lines = dict(caught.value.problems)
    assert set(lines) == {2, 3, 4, 5, 6, 7}
    assert "not an operation" in lines[2]
    assert "takes only record_id" in lines[4]
    assert "dob" in lines[5]
    assert "JSON" in lines[6]
    assert "not in the store" in lines[3]
    assert "not in the store" in lines[7]
    assert list(store.iter_records()) == before
    assert changes_entries(tmp_path / "audit.sqlite") == []
    path = write_jsonl(
        tmp_path / "changes.jsonl",
        [
            {"op": "seal", "record_id": "R-MISSING"},
            person("R-NEW"),
            {"op": "seal", "record_id": "R-NEW"},  # upserted above: fine
            {"op": "expunge", "record_id": "R-UNKNOWN"},
        ],
    )
    with pytest.raises(RecordImportError) as caught:
        apply_file(store, audit, path, CATALOG)
    assert [n for n, _ in caught.value.problems] == [1, 4]
    assert "not in the store" in str(caught.value)
    assert list(store.iter_records()) == before


def test_an_expunged_record_cannot_come_back(
    store: RecordStore, audit: AuditStore, tmp_path: Path
) -> None:
    expunge = write_jsonl(tmp_path / "a.jsonl", [{"op": "expunge", "record_id": "R1"}])
    apply_file(store, audit, expunge, CATALOG)
    again = write_jsonl(tmp_path / "b.jsonl", [person("R1"), {"op": "seal", "record_id": "R1"}])
    result = apply_file(store, audit, again, CATALOG)
    assert result.summary()["skipped_expunged"] == 2
    assert result.changed == 0
    assert store.get("R1") is None
    assert store.search(DOE, limit=10) != []  # R2..R4 are still found
    assert "R1" not in {c.record.record_id for c in store.search(DOE, limit=10)}


def test_csv_change_file_with_an_op_column(
    store: RecordStore, audit: AuditStore, tmp_path: Path
) -> None:
    path = tmp_path / "changes.csv"
    path.write_text(
        "op,record_id,record_kind,surname,given_name,dob,address.city,address.state\n"
        "upsert,R7,booking,Roe,Jane,1990-01-01,Kent,WA\n"
        ",R8,booking,Roe,Jim,,,\n"
        "seal,R1,,,,,,\n"
        "expunge,R2,,,,,,\n",
        encoding="utf-8",
    )
    result = apply_file(store, audit, path, CATALOG)
    assert (result.counts["upsert"], result.counts["seal"], result.counts["expunge"]) == (2, 1, 1)
    seven = store.get("R7")
    assert seven is not None
    assert seven.fields["address"] == {"city": "Kent", "state": "WA"}
    bad = tmp_path / "bad.csv"
    bad.write_text("op,surname\nseal,Doe\n", encoding="utf-8")
    with pytest.raises(RecordImportError, match="no record_id column"):
        apply_file(store, audit, bad, CATALOG)


def database_bytes(path: Path) -> bytes:
    """The store's file, WAL and shared memory: what an attacker copying them gets."""
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def test_expunged_values_are_gone_from_the_database_files(
    audit: AuditStore, tmp_path: Path
) -> None:
    path = tmp_path / "expunge.sqlite"
    secret = {
        "surname": "Quennevillard",
        "aliases": ["XANTHOPOULOU, ZOE"],
        "fbi_number": "FBI7734QX",
        "incident_summary": "Marker-9d1f-unique-summary " * 20,  # overflows a page
    }
    with RecordStore.open(path) as store:
        store.insert_many(
            [
                validate_record(person(f"K{i}", booking_number=f"KEEP{i:05d}"), CATALOG)
                for i in range(300)
            ]
            + [validate_record(person("GONE", **secret), CATALOG)]
        )
        store.purge_free_pages()  # as a long-running node would have: all in the main file
        markers = [
            b"Quennevillard",
            b"QUENNEVILLARD",
            b"XANTHOPOULOU",
            b"FBI7734QX",
            b"Marker-9d1f",
        ]
        assert all(m in database_bytes(path) for m in markers)
        result = apply_file(
            store,
            audit,
            write_jsonl(tmp_path / "x.jsonl", [{"op": "expunge", "record_id": "GONE"}]),
            CATALOG,
        )
        assert result.wal_truncated
        data = database_bytes(path)
        assert [m for m in markers if m in data] == []
        assert b"KEEP00299" in data  # the rest is still there
        assert store.count() == 300
        assert store.search(PersonQuery("QUENNEVILLARD", "", None, (), 10), limit=10) == []


def test_a_search_during_a_change_set_sees_all_of_it_or_none(tmp_path: Path) -> None:
    path = tmp_path / "race.sqlite"
    old = [validate_record(person(f"OLD{i}"), CATALOG) for i in range(300)]
    with RecordStore.open(path) as store:
        store.insert_many(old)
    new_rows = [{"op": "delete", "record_id": f"OLD{i}"} for i in range(300)]
    new_rows += [person(f"NEW{i}") for i in range(300)]
    forward = write_jsonl(tmp_path / "forward.jsonl", new_rows)
    back_rows = [{"op": "delete", "record_id": f"NEW{i}"} for i in range(300)]
    back_rows += [person(f"OLD{i}") for i in range(300)]
    backward = write_jsonl(tmp_path / "backward.jsonl", back_rows)
    old_ids = {f"OLD{i}" for i in range(300)}
    new_ids = {f"NEW{i}" for i in range(300)}
    seen: list[set[str]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def searcher() -> None:
        try:
            with RecordStore.open(path) as reader:
                while not done.is_set():
                    seen.append({c.record.record_id for c in reader.search(DOE, limit=1000)})
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        with (
            RecordStore.open(path) as writer,
            AuditStore.open(
                tmp_path / "audit.sqlite", node_id="kcso", key=ensure_key(tmp_path / "key.pem")
            ) as log,
        ):
            for _ in range(4):
                apply_file(writer, log, forward, CATALOG)
                apply_file(writer, log, backward, CATALOG)
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert seen
    assert all(ids in (old_ids, new_ids) for ids in seen), {len(ids) for ids in seen}


OPS = st.sampled_from(["upsert", "delete", "seal", "unseal", "expunge"])
IDS = st.sampled_from(["A", "B", "C"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    held=st.sets(IDS),
    steps=st.lists(st.tuples(OPS, IDS, st.sampled_from(["Doe", "Roe"])), min_size=1, max_size=8),
)
def test_a_change_set_applies_like_its_steps_in_order_or_not_at_all_and_is_idempotent(
    tmp_path: Path, held: set[str], steps: list[tuple[str, str, str]]
) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        directory = Path(scratch)
        with (
            RecordStore.open(directory / "node.sqlite") as store,
            AuditStore.open(
                directory / "audit.sqlite", node_id="kcso", key=ensure_key(directory / "k.pem")
            ) as log,
        ):
            store.insert_many(validate_record(person(i), CATALOG) for i in sorted(held))
            before = list(store.iter_records())
            rows: list[dict[str, object]] = []
            model = {r.record_id: r.to_raw() for r in before}
            gone: set[str] = set()
            for op, rid, surname in steps:
                if rid in gone and op != "delete":
                    rows.append({"op": op, **person(rid, surname=surname)})  # skipped
                    if op != "upsert":
                        rows[-1] = {"op": op, "record_id": rid}
                elif op == "upsert":
                    rows.append({"op": op, **person(rid, surname=surname)})
                    model[rid] = validate_record(person(rid, surname=surname), CATALOG).to_raw()
                else:
                    rows.append({"op": op, "record_id": rid})
                    if op in ("delete", "expunge"):
                        model.pop(rid, None)
                        if op == "expunge":
                            gone.add(rid)
                    elif rid in model:
                        model[rid] = {**model[rid], "sealed": op == "seal"}
            path = write_jsonl(directory / "changes.jsonl", rows)
            try:
                apply_file(store, log, path, CATALOG)
            except RecordImportError:
                assert list(store.iter_records()) == before  # refused: nothing changed
                return
            assert {r.record_id: r.to_raw() for r in store.iter_records()} == model
            after = list(store.iter_records())
            try:  # a file that seals a record it deletes is refused the second time
                again = apply_file(store, log, path, CATALOG)
            except RecordImportError:
                again = None
            assert list(store.iter_records()) == after
            if again is not None and len({rid for _, rid, _ in steps}) == len(steps):
                assert again.changed == 0  # each record named once: nothing to count either


def test_batches_split_where_a_record_repeats_and_apply_in_file_order(
    store: RecordStore, audit: AuditStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so that the set spans several and a record repeats both
    # inside what would be one batch and across a batch boundary.
    monkeypatch.setattr("fieldgate.node.changes.BATCH", 3)
    rows: list[dict[str, object]] = [
        {"op": "upsert", **person("R1", surname="Roe")},
        {"op": "seal", "record_id": "R1"},
        person("N1", booking_number="N-1"),
        {"op": "unseal", "record_id": "R1"},
        {"op": "delete", "record_id": "N1"},
        person("N1", booking_number="N-1b"),
        {"op": "seal", "record_id": "R2"},
        {"op": "expunge", "record_id": "R3"},
        person("R3", surname="Back"),  # expunged: skipped
        {"op": "upsert", **person("R4")},  # as stored: unchanged
    ]
    path = write_jsonl(tmp_path / "changes.jsonl", rows)
    result = apply_file(store, audit, path, CATALOG)
    held = {r.record_id: r for r in store.iter_records()}
    assert sorted(held) == ["N1", "R1", "R2", "R4"]
    assert held["R1"].fields["surname"] == "Roe"
    assert not held["R1"].sealed
    assert held["N1"].fields["booking_number"] == "N-1b"
    assert held["R2"].sealed
    assert result.summary() == {
        "upsert": 3,
        "delete": 1,
        "seal": 2,
        "unseal": 1,
        "expunge": 1,
        "unchanged": 1,
        "skipped_expunged": 1,
    }
    assert result.records["sealed"] == ["R1", "R2"]
    # N1 is found once, as last written; the expunged R3 not at all.
    found = [c.record for c in store.search(DOE, 10)]
    assert [r.fields["booking_number"] for r in found if r.record_id == "N1"] == ["N-1b"]
    assert "R3" not in {r.record_id for r in found}
    before = list(store.iter_records())
    tail = write_jsonl(tmp_path / "again.jsonl", [rows[0], rows[5], rows[6], rows[9]])
    again = apply_file(store, audit, tail, CATALOG)
    assert again.changed == 0
    assert again.counts["unchanged"] == 4
    assert list(store.iter_records()) == before


def test_a_replaced_record_is_found_by_its_new_names_and_identifiers_only(
    store: RecordStore, audit: AuditStore, tmp_path: Path
) -> None:
    # R1 gets a new surname and FBI number (an entry under the wrong person
    # corrected); R2 only a new custody status, so its index rows are kept.
    first = write_jsonl(tmp_path / "one.jsonl", [person("R1", fbi_number="111AA1")])
    apply_file(store, audit, first, CATALOG)
    path = write_jsonl(
        tmp_path / "two.jsonl",
        [
            person("R1", surname="Quist", fbi_number="222BB2"),
            person("R2", custody_status="released"),
        ],
    )
    result = apply_file(store, audit, path, CATALOG)
    assert result.counts["upsert"] == 2

    def found(query: PersonQuery) -> set[str]:
        return {c.record.record_id for c in store.search(query, 10) if c.match.tier == "strong"}

    by_name = found(DOE)
    assert "R1" not in by_name
    assert "R2" in by_name
    assert "R1" in found(PersonQuery("QUIST", "JOHN", DOE.dob, (), 50))
    old_fbi = PersonQuery("", "", None, (("fbi_number", "111AA1"),), 50)
    new_fbi = PersonQuery("", "", None, (("fbi_number", "222BB2"),), 50)
    assert found(old_fbi) == set()
    assert found(new_fbi) == {"R1"}
    assert store.get("R2") == validate_record(person("R2", custody_status="released"), CATALOG)
