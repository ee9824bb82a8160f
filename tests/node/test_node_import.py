"""Bulk import: all lines good or nothing written, every bad line named."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.core.names import normalize_name
from fieldgate.core.query import PersonQuery
from fieldgate.node.errors import RecordImportError
from fieldgate.node.importer import import_file
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.records import Record, validate_record

CATALOG = load_catalog(default_catalog_path())


def person(record_id: str, surname: str = "Doe", **fields: object) -> dict[str, object]:
    return {"record_id": record_id, "record_kind": "booking", "surname": surname, **fields}


def write_jsonl(path: Path, rows: Sequence[Mapping[str, object] | str]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordStore]:
    with RecordStore.open(tmp_path / "node.sqlite") as opened:
        yield opened


@pytest.fixture
def seeded(store: RecordStore) -> RecordStore:
    store.insert_many([validate_record(person("OLD-1", "Existing"), CATALOG)])
    return store


def refused(store: RecordStore, path: Path) -> RecordImportError:
    with pytest.raises(RecordImportError) as caught:
        import_file(store, path, CATALOG)
    return caught.value


def test_jsonl_import_stores_every_record(store: RecordStore, tmp_path: Path) -> None:
    rows = [person(f"R{i}", dob="1980-04-12", given_name=f"N{i}") for i in range(20)]
    path = write_jsonl(tmp_path / "records.jsonl", [*rows[:10], "", "   ", *rows[10:]])
    report = import_file(store, path, CATALOG)
    assert (report.imported, report.format, report.size) == (20, "jsonl", path.stat().st_size)
    assert store.count() == 20
    assert store.get("R7") == validate_record(rows[7], CATALOG)


def test_csv_import_reads_lists_addresses_booleans_and_integers(
    store: RecordStore, tmp_path: Path
) -> None:
    path = tmp_path / "records.csv"
    path.write_text(
        "\ufeffrecord_id,record_kind,surname,given_name,aliases,dob,height_cm,sealed,"
        "address.street,address.city,address.state,address.postal_code,incident_summary\n"
        'C1,booking,Hernandez,Miguel,"GOMEZ, MIKE|HERNANDES, MIGUEL",1980-04-12,178,TRUE,'
        '1 Main St,Seattle,WA,98101,"Seen at\r\nthe pier"\n'
        "C2,field_interview,Doe,,,,,0,,,,,\n",
        encoding="utf-8",
        newline="",
    )
    report = import_file(store, path, CATALOG)
    assert (report.imported, report.format) == (2, "csv")
    assert store.get("C1") == Record(
        record_id="C1",
        kind="booking",
        sealed=True,
        juvenile=False,
        expunged=False,
        fields={
            "surname": "Hernandez",
            "given_name": "Miguel",
            "aliases": ["GOMEZ, MIKE", "HERNANDES, MIGUEL"],
            "dob": "1980-04-12",
            "height_cm": 178,
            "address": {
                "street": "1 Main St",
                "city": "Seattle",
                "state": "WA",
                "postal_code": "98101",
            },
            "incident_summary": "Seen at\nthe pier",
        },
    )
    assert store.get("C2") == Record(
        "C2", "field_interview", False, False, False, {"surname": "Doe"}
    )


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_one_bad_line_in_the_middle_loads_nothing_and_is_named(
    seeded: RecordStore, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"records{suffix}"
    if suffix == ".jsonl":
        rows = [person(f"R{i}", dob="1980-04-12") for i in range(1, 10)]
        rows[4]["dob"] = "1980-02-30"
        write_jsonl(path, rows)
        bad_line = 5
    else:
        lines = ["record_id,record_kind,surname,dob"]
        lines += [f"R{i},booking,Doe,1980-04-12" for i in range(1, 10)]
        lines[5] = "R5,booking,Doe,1980-02-30"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        bad_line = 6  # the header is line 1
    error = refused(seeded, path)
    assert error.problems == [(bad_line, "dob: '1980-02-30' is not a valid date; use YYYY-MM-DD")]
    assert error.bad_lines == 1
    assert f"line {bad_line}: dob:" in str(error)
    assert "nothing was imported" in str(error)
    assert seeded.count() == 1
    assert seeded.existing_ids(f"R{i}" for i in range(1, 10)) == set()


def test_every_bad_line_is_listed_with_a_clear_reason(store: RecordStore, tmp_path: Path) -> None:
    path = tmp_path / "records.ndjson"
    path.write_bytes(
        b"\n".join(
            [
                json.dumps(person("A")).encode(),
                b'{"record_id": "B", "record_kind": "booking", ',
                b"[1, 2]",
                b'{"record_id": "C", "record_id": "D"}',
                b'{"record_id": "E", "record_kind": "booking", "height_cm": NaN}',
                b'{"record_id": "F", "record_kind": "booking", "surname": "M\xfcller"}',
                json.dumps(person("G", shoe_size=44)).encode(),
                b"[" * 100_000,
            ]
        )
    )
    error = refused(store, path)
    reasons = dict(error.problems)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8]
    assert reasons[2].startswith("not valid JSON: Expecting property name")
    assert reasons[3] == "expected a JSON object, got list"
    assert reasons[4] == "not valid JSON: key 'record_id' appears twice"
    assert reasons[5] == "not valid JSON: NaN is not a number JSON allows"
    assert reasons[6] == "not valid UTF-8"
    assert reasons[7] == "'shoe_size' is not a field of this node's catalog"
    assert reasons[8].startswith("not valid JSON")
    assert store.count() == 0


def test_many_bad_lines_are_capped_with_a_total(store: RecordStore, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "records.jsonl", [person(f"R{i}", dob="bad") for i in range(120)])
    error = refused(store, path)
    assert len(error.problems) == RecordImportError.MAX_LISTED_PROBLEMS
    assert error.problems[0][0] == 1
    assert error.bad_lines == 120
    assert "and 70 more bad lines" in str(error)


def test_listed_problems_are_the_first_in_file_order_whatever_their_kind(
    seeded: RecordStore, tmp_path: Path
) -> None:
    rows = [person("OLD-1")] + [person(f"R{i}", dob="bad") for i in range(60)]
    error = refused(seeded, write_jsonl(tmp_path / "records.jsonl", rows))
    assert error.bad_lines == 61
    assert error.problems[0] == (1, "record_id 'OLD-1' is already in the store")
    assert [line for line, _ in error.problems] == list(range(1, 51))


def test_duplicates_in_the_file_and_in_the_store_name_the_lines(
    seeded: RecordStore, tmp_path: Path
) -> None:
    rows = [person("R1"), person("OLD-1"), person("R2"), person("R1")]
    error = refused(seeded, write_jsonl(tmp_path / "records.jsonl", rows))
    assert error.problems == [
        (2, "record_id 'OLD-1' is already in the store"),
        (4, "record_id 'R1' already appears on line 1"),
    ]
    assert seeded.count() == 1


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        (
            b"record_id,record_kind,surname\nR1,booking\nR2,booking,Doe\n",
            [(2, "has 2 columns; the header has 3")],
        ),
        (
            b'record_id,record_kind,surname\nR1,booking,"Do"e\nR2,booking,Doe\n',
            [(2, "not valid CSV: ',' expected after '\"'")],
        ),
        (
            b"record_id,record_kind,surname,sealed,height_cm\nR1,booking,Doe,maybe,\n"
            b"R2,booking,Doe,,1.8\nR3,booking,D\xe9,,\n",
            [
                (2, "sealed: 'maybe' is not true, false, 1 or 0"),
                (3, "height_cm: '1.8' is not a whole number"),
                (4, "not valid UTF-8"),
            ],
        ),
    ],
)
def test_bad_csv_rows_are_named(
    store: RecordStore, tmp_path: Path, body: bytes, problems: list[tuple[int, str]]
) -> None:
    path = tmp_path / "records.csv"
    path.write_bytes(body)
    assert refused(store, path).problems == problems
    assert store.count() == 0


def test_a_wrong_csv_header_is_refused_naming_each_column(
    store: RecordStore, tmp_path: Path
) -> None:
    path = tmp_path / "records.csv"
    path.write_text("record_kind,surname,shoe_size,address,dob.city,surname\nbooking,Doe,,,,\n")
    error = refused(store, path)
    assert error.problems == [
        (1, "column 'shoe_size' is not a field of this node's catalog"),
        (
            1,
            "column 'address' is an address; use address.street, address.city, "
            "address.state, address.postal_code",
        ),
        (1, "column 'dob.city' is not an address column of the catalog"),
        (1, "column 'surname' appears twice"),
        (1, "no record_id column"),
    ]


@pytest.mark.parametrize(
    ("name", "body", "fragment"),
    [
        ("empty.jsonl", b"", "the file is empty"),
        ("blank.jsonl", b"\n  \n\n", "the file is empty"),
        ("empty.csv", b"", "the file is empty"),
        ("header.csv", b"record_id,record_kind,surname\n", "has a header but no records"),
        ("records.json", b"{}", "unsupported file type '.json'"),
        ("records.csv", b"record_id,record_kind,sur\xffname\nR1,booking,Doe\n", "not valid UTF-8"),
    ],
)
def test_file_level_problems_are_clear(
    store: RecordStore, tmp_path: Path, name: str, body: bytes, fragment: str
) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    error = refused(store, path)
    assert fragment in str(error)
    assert str(error).startswith(str(path))
    assert store.count() == 0


def test_missing_file_is_an_import_error(store: RecordStore, tmp_path: Path) -> None:
    with pytest.raises(RecordImportError, match="cannot read"):
        import_file(store, tmp_path / "absent.jsonl", CATALOG)


def test_progress_reports_bytes_of_both_passes(store: RecordStore, tmp_path: Path) -> None:
    rows = [person(f"R{i:05}", incident_summary="x" * 200) for i in range(1000)]
    path = write_jsonl(tmp_path / "records.jsonl", rows)
    size = path.stat().st_size
    seen: list[tuple[int, int]] = []
    import_file(store, path, CATALOG, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) > 4
    assert all(total == 2 * size for _, total in seen)
    dones = [done for done, _ in seen]
    assert dones == sorted(dones)
    assert seen[-1] == (2 * size, 2 * size)


def test_a_file_changed_between_the_passes_is_rolled_back(
    store: RecordStore, tmp_path: Path
) -> None:
    rows = [person(f"R{i:05}", incident_summary="x" * 200) for i in range(2000)]
    path = write_jsonl(tmp_path / "records.jsonl", rows)
    size = path.stat().st_size
    last = path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[1]
    changed = last.replace(b'"Doe"', b'"Roe"')
    assert len(changed) == len(last)
    done_changing = False

    def tamper(done: int, total: int) -> None:
        nonlocal done_changing
        # Early in the second pass, rewrite the last line, which neither pass
        # has read since the first pass finished.
        if done > size and not done_changing:
            with path.open("r+b") as handle:
                handle.seek(size - len(last) - 1)
                handle.write(changed)
            done_changing = True

    with pytest.raises(RecordImportError, match="the file changed during the import"):
        import_file(store, path, CATALOG, progress=tamper)
    assert done_changing
    assert store.count() == 0


SAFE_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cf", "Zl", "Zp")),
    max_size=30,
)
RAW_RECORDS = st.fixed_dictionaries(
    {
        "record_id": st.from_regex(r"[A-Z]{2}-[0-9]{1,8}", fullmatch=True),
        "record_kind": st.sampled_from(["booking", "warrant", "case_file"]),
        "surname": st.from_regex(r"[A-Z][a-z]{1,10}", fullmatch=True),
        "given_name": st.from_regex(r"[A-Z][a-z]{0,10}", fullmatch=True),
        "dob": st.dates(dt.date(1900, 1, 1), dt.date(2024, 12, 31)).map(dt.date.isoformat),
    },
    optional={
        "sealed": st.booleans(),
        "height_cm": st.integers(50, 250),
        "charges": st.lists(SAFE_TEXT, max_size=3),
        "incident_summary": SAFE_TEXT,
        "state_id": st.from_regex(r"[A-Z]{2}[0-9]{3,9}", fullmatch=True),
        "address": st.fixed_dictionaries(
            {"city": SAFE_TEXT.filter(str.strip), "state": st.sampled_from(["WA", "OR"])},
            optional={"postal_code": st.from_regex(r"[0-9]{5}", fullmatch=True)},
        ),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=RAW_RECORDS)
def test_import_then_search_round_trips_a_record_exactly(raw: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = write_jsonl(Path(directory) / "one.jsonl", [raw])
        expected = validate_record(raw, CATALOG)
        with RecordStore.open(Path(directory) / "node.sqlite") as store:
            assert import_file(store, path, CATALOG).imported == 1
            wanted = PersonQuery(
                normalize_name(str(raw["surname"])),
                normalize_name(str(raw["given_name"])),
                dt.date.fromisoformat(str(raw["dob"])),
                (),
                25,
            )
            found = store.search(wanted, 5)
    assert [c.record for c in found] == [expected]
    assert found[0].match.score >= 0.99
    assert validate_record(found[0].record.to_raw(), CATALOG) == expected
