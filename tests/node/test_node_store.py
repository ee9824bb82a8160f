"""The SQLite record store: durability settings, atomic inserts, index-only search."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.core.names import normalize_name
from fieldgate.core.query import PersonQuery
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    generate_agency_records,
    generate_labelled_variants,
)
from fieldgate.matching.candidates import name_counts_sql
from fieldgate.matching.equivalents import equivalent_surnames
from fieldgate.matching.evidence import RARE_NAME_ROWS, weigh
from fieldgate.matching.matcher import (
    near_miss_dobs,
    phonetic_keys,
    score_candidate,
    transposed_dob,
)
from fieldgate.matching.name_forms import expand_names, surname_forms
from fieldgate.node.errors import DuplicateRecordError, StoreError
from fieldgate.node.store import SCHEMA_VERSION, Candidate, RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.records import Record, validate_record

CATALOG = load_catalog(default_catalog_path())


def record(record_id: str, **fields: object) -> Record:
    return validate_record({"record_id": record_id, "record_kind": "booking", **fields}, CATALOG)


def query(
    surname: str = "",
    given_name: str = "",
    dob: str | None = None,
    identifiers: tuple[tuple[str, str], ...] = (),
) -> PersonQuery:
    return PersonQuery(
        normalize_name(surname),
        normalize_name(given_name),
        dt.date.fromisoformat(dob) if dob else None,
        identifiers,
        25,
    )


PEOPLE = [
    record(
        "R1",
        surname="Hernandez",
        given_name="Miguel",
        dob="1980-04-12",
        aliases=["GOMEZ, MIKE"],
        state_id="WA-123 456",
        address={"street": "1 Main St", "city": "Seattle", "state": "WA", "postal_code": "98101"},
        charges=["RCW 9A.56.030 theft"],
        height_cm=178,
        sealed=True,
    ),
    record("R2", surname="Smythe", given_name="Jane", dob="1975-01-01"),
    record("R3", surname="Johnson", given_name="Catherine", dob="1990-12-04"),
    record("R4", surname="Nguyen", given_name="Anh", booking_number="B-2024-0001"),
    record("R5", surname="Hernandes", given_name="Miguel", dob="1980-04-12"),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordStore]:
    with RecordStore.open(tmp_path / "node.sqlite") as opened:
        opened.insert_many(PEOPLE)
        yield opened


def test_new_store_uses_wal_normal_sync_foreign_keys_and_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    with RecordStore.open(path) as store:
        db = store._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # WAL is a property of the file, seen by any other connection too.
    other = sqlite3.connect(path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    finally:
        other.close()


def test_records_round_trip_exactly_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    with RecordStore.open(path) as store:
        assert store.insert_many(PEOPLE) == len(PEOPLE)
    with RecordStore.open(path) as store:
        assert store.count() == len(PEOPLE)
        assert [store.get(r.record_id) for r in PEOPLE] == PEOPLE
        assert list(store.iter_records()) == sorted(PEOPLE, key=lambda r: r.record_id)
        assert store.get("R99") is None


def test_insert_many_is_all_or_nothing(store: RecordStore) -> None:
    batch = [
        record("N1", surname="New"),
        record("R3", surname="Clash"),
        record("N2", surname="New"),
    ]
    with pytest.raises(DuplicateRecordError) as caught:
        store.insert_many(batch)
    assert caught.value.record_id == "R3"
    assert store.count() == len(PEOPLE)
    assert store.get("N1") is None
    assert store.search(query("NEW", "", identifiers=()), 10) == []


def test_an_exception_from_the_record_source_rolls_everything_back(store: RecordStore) -> None:
    def source() -> Iterator[Record]:
        yield record("N1", surname="New", given_name="One")
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        store.insert_many(source())
    assert store.count() == len(PEOPLE)
    assert store.existing_ids(["N1", "R1", "R2", "R1"]) == {"R1", "R2"}
    # The store is still usable after the rollback.
    assert store.insert_many([record("N1", surname="New")]) == 1


def test_search_finds_spelling_variants_best_first(store: RecordStore) -> None:
    found = store.search(query("Hernandez", "Miguel", "1980-04-12"), 10)
    assert [c.record.record_id for c in found] == ["R1", "R5"]
    assert found[0].match.score == 1.0
    assert 0.9 < found[1].match.score < 1.0
    assert found[0].record == PEOPLE[0]
    assert store.search(query("Hernandez", "Miguel", "1980-04-12"), 1)[0].record.record_id == "R1"


def test_search_by_alias_transposed_dob_and_identifier(store: RecordStore) -> None:
    alias = store.search(query("Gomez", "Mike"), 10)
    assert [c.record.record_id for c in alias] == ["R1"]
    assert alias[0].match.reasons[0] == "name matches alias 'GOMEZ, MIKE'"
    # Johnson is recorded as 1990-12-04; the query says 1990-04-12 and a
    # surname variant that shares no phonetic key ("JOHNSTON"), so only the
    # transposed-date lookup can find the record.
    swapped = store.search(query("Johnston", "Catherine", "1990-04-12"), 10)
    assert [c.record.record_id for c in swapped] == ["R3"]
    assert "date of birth with day and month transposed" in swapped[0].match.reasons
    by_id = store.search(query(identifiers=(("state_id", "WA123456"),)), 10)
    assert [(c.record.record_id, c.match.reasons) for c in by_id] == [("R1", ("state_id exact",))]
    booking = store.search(query(identifiers=(("booking_number", "B20240001"),)), 10)
    assert [c.record.record_id for c in booking] == ["R4"]


def test_search_rejects_a_different_person(store: RecordStore) -> None:
    assert store.search(query("Smith", "John", "1980-04-12"), 10) == []
    assert store.search(query("Smythe", "Jane", "1975-01-01"), 10)[0].record.record_id == "R2"
    assert store.search(query("Nguyen", "Anh"), 0) == []


@pytest.mark.parametrize(
    "wanted",
    [
        query("Hernandez", "Miguel", "1980-04-12"),
        query("Hernandez", "Miguel"),
        query("Smith", "", "1980-04-12", identifiers=(("state_id", "WA1"), ("fbi_number", "X12"))),
        query(identifiers=(("drivers_license", "WAWDL123456"),)),
        query("Li", "", "1990-01-05"),
    ],
)
def test_candidate_lookup_uses_indexes_never_a_table_scan(
    store: RecordStore, wanted: PersonQuery
) -> None:
    plan = store.explain_search(wanted)
    assert plan
    for line in plan:
        assert not line.startswith(("SCAN names", "SCAN records", "SCAN identifiers")), plan
    searches = [line for line in plan if line.startswith("SEARCH")]
    assert any("INDEX names_" in line or "INDEX identifiers_" in line for line in searches), plan
    assert any("SEARCH records USING INDEX" in line for line in plan), plan


def test_name_counts_read_an_index_range_never_a_table_scan(store: RecordStore) -> None:
    # The common-name penalty counts on every search: each count must stay cheap.
    params = (("SMITH",), ("JOHN", "JOHN \uffff"), ("SMITH", "JOHN", "JOHN \uffff"))
    for sql, values in zip(name_counts_sql(500), params, strict=True):
        plan = [str(row[3]) for row in store._db.execute(f"EXPLAIN QUERY PLAN {sql}", values)]
        assert not any(line.startswith("SCAN names") for line in plan), plan
        assert any("USING" in line and "INDEX names_" in line for line in plan), plan


def test_a_schema_3_store_without_the_given_name_index_gets_it_when_opened(
    tmp_path: Path,
) -> None:
    path = tmp_path / "older.sqlite"
    RecordStore.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX names_given")
    with RecordStore.open(path) as reopened:
        names = {row[0] for row in reopened._db.execute("SELECT name FROM sqlite_schema")}
    assert "names_given" in names


def test_opening_something_that_is_not_a_store_fails_clearly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match=r"junk\.sqlite"):
        RecordStore.open(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(StoreError, match="not a Fieldgate record store"):
        RecordStore.open(other)


def test_a_store_from_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    RecordStore.open(path).close()
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}"):
        RecordStore.open(path)


def test_store_can_be_used_from_another_thread(store: RecordStore) -> None:
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(store.count()))
    worker.start()
    worker.join()
    assert results == [len(PEOPLE)]


# --- candidate lookup (node.candidates) -------------------------------------------------


def ids(found: list[Candidate]) -> list[str]:
    return [c.record.record_id for c in found]


@pytest.fixture
def variants(tmp_path: Path) -> Iterator[RecordStore]:
    """One person, WALKER, JOSHUA 1996-02-04, written down the ways clerks do."""
    people = [
        record("W-EXACT", surname="Walker", given_name="Joshua", dob="1996-02-04"),
        record("W-SWAPPED", surname="Joshua", given_name="Walker", dob="1996-02-04"),
        record("W-TRANSPOSED", surname="Walker", given_name="Joshua", dob="1996-04-02"),
        record("W-DIGIT", surname="Walker", given_name="Joshua", dob="1996-02-05"),
        record("W-OTHER-YEAR", surname="Walker", given_name="Joshua", dob="1969-02-04"),
        record("W-SAME-YEAR", surname="Walker", given_name="Joshua", dob="1996-09-30"),
        record("W-NO-DOB", surname="Walker", given_name="Joshua"),
        # WLAKER shares no phonetic key with WALKER: found through the date of birth.
        record("W-NO-KEY", surname="Wlaker", given_name="Joshua", dob="1996-02-04"),
        record("W-NICKNAME", surname="Walker", given_name="Josh", dob="1996-02-04"),
        # Someone else, known by a nickname Jaro-Winkler cannot see (ROBERT).
        record("R-NICKNAME", surname="Walker", given_name="Bob", dob="1996-02-04"),
        record(
            "W-ALIAS",
            surname="Smith",
            given_name="Jo",
            dob="1996-02-04",
            aliases=["WALKER, JOSHUA"],
        ),
        # Not him: a different date, a different given name, a swapped name a year off.
        record("X-DOB", surname="Walker", given_name="Joshua", dob="1971-07-19"),
        record("X-GIVEN", surname="Walker", given_name="Tyrone", dob="1996-02-04"),
        record("X-SWAPPED-YEAR", surname="Joshua", given_name="Walker", dob="1996-09-30"),
    ]
    with RecordStore.open(tmp_path / "variants.sqlite") as opened:
        opened.insert_many(people)
        yield opened


def test_dob_query_finds_every_way_the_person_was_written(variants: RecordStore) -> None:
    found = variants.search(query("Walker", "Joshua", "1996-02-04"), 25)
    assert sorted(ids(found)) == sorted(
        [
            "W-EXACT",
            "W-SWAPPED",
            "W-TRANSPOSED",
            "W-DIGIT",
            "W-OTHER-YEAR",
            "W-SAME-YEAR",
            "W-NO-DOB",
            "W-NO-KEY",
            "W-NICKNAME",
            "W-ALIAS",
            # In a store this small WALKER is a rare surname, and with the same
            # date of birth a pointer (never fields) is due: the given name may
            # have been replaced (FEBRL), or it is a twin (so no fields).
            "R-NICKNAME",
            "X-GIVEN",
        ]
    )
    # Exact name and date, as the primary name or an alias: 1.0, ties by record_id.
    assert ids(found)[:2] == ["W-ALIAS", "W-EXACT"]
    assert found[1].match.score == 1.0
    reasons = {c.record.record_id: c.match.reasons for c in found}
    assert reasons["W-SWAPPED"][0] == "surname and given name recorded swapped"
    assert "date of birth with day and month transposed" in reasons["W-TRANSPOSED"]
    assert "date of birth one digit different" in reasons["W-DIGIT"]
    assert "date of birth with two adjacent year digits swapped" in reasons["W-OTHER-YEAR"]
    assert "date of birth in the same year" in reasons["W-SAME-YEAR"]
    assert "no date of birth on record" in reasons["W-NO-DOB"]
    robert = variants.search(query("Walker", "Robert", "1996-02-04"), 25)
    # Only he is strong; the other WALKERs born that day are pointers (a rare surname).
    assert [c.record.record_id for c in robert if c.match.tier == "strong"] == ["R-NICKNAME"]
    assert ids(robert)[0] == "R-NICKNAME"
    assert "given name is a known nickname or equivalent" in robert[0].match.reasons
    assert reasons["W-ALIAS"][0] == "name matches alias 'WALKER, JOSHUA'"
    # Another year, a year-only agreement or no date on file: a pointer at most,
    # and strong matches always come first.
    tiers = {c.record.record_id: c.match.tier for c in found}
    weak = {"W-DIGIT", "W-OTHER-YEAR", "W-SAME-YEAR", "W-NO-DOB", "R-NICKNAME", "X-GIVEN"}
    assert {r for r, tier in tiers.items() if tier == "possible"} == weak
    assert set(ids(found)[-len(weak) :]) == weak
    evidence = {c.record.record_id: c.match.evidence for c in found}
    assert evidence["X-GIVEN"] == ("surname:exact", "given:differs", "dob:exact", "surname:rare")
    assert evidence["W-EXACT"] == ("surname:exact", "given:exact", "dob:exact", "name:rare")


def test_query_held_swapped_is_found_from_either_side(variants: RecordStore) -> None:
    # The analysis' misses: WARSAME, ABDULLAHI held as ABDULLAHI, WARSAME.
    found = variants.search(query("Joshua", "Walker", "1996-02-04"), 25)
    assert ids(found)[0] == "W-SWAPPED"
    exact = next(c for c in found if c.record.record_id == "W-EXACT")
    assert exact.match.score == 0.93
    assert exact.match.reasons[0] == "surname and given name recorded swapped"


def test_query_without_dob_takes_the_phonetic_path(variants: RecordStore) -> None:
    found = ids(variants.search(query("Walker", "Joshua"), 25))
    # Every WALKER, JOSHUA whatever the date, the swapped names and the nickname;
    # WLAKER shares no key and there is no date to find it by.
    assert "W-NO-KEY" not in found
    assert {"W-EXACT", "W-SWAPPED", "X-DOB", "X-SWAPPED-YEAR", "W-NICKNAME", "W-ALIAS"} <= set(
        found
    )
    assert "X-GIVEN" not in found


def test_candidate_lookup_reads_few_rows(variants: RecordStore) -> None:
    # The plan probes the composite (key, dob) indexes, never the surname key alone.
    plan = variants.explain_search(query("Walker", "Joshua", "1996-02-04"))
    assert any("names_nysiis_dob (surname_nysiis=? AND dob=?)" in line for line in plan), plan
    assert any("names_metaphone_dob (surname_metaphone=? AND dob=?)" in line for line in plan), plan
    assert any("names_dob_given (dob=? AND given_name>? AND given_name<?)" in line for line in plan)


def test_labelled_variants_are_found_in_the_top_25(tmp_path: Path) -> None:
    count, seed = 2_000, 7
    with RecordStore.open(tmp_path / "labelled.sqlite") as store:
        for agency in DEMO_AGENCIES:
            store.insert_many(
                validate_record(r, CATALOG)
                for r in generate_agency_records(agency, count=count, seed=seed)
            )
        expected = found = 0
        for item in generate_labelled_variants(DEMO_AGENCIES, count=count, seed=seed):
            wanted = query(item.surname, item.given_name, item.dob)
            top = set(ids(store.search(wanted, 25)))
            truth = {record_id for _, record_id in item.expected}
            expected += len(truth)
            found += len(truth & top)
    assert expected > 300
    assert found / expected >= 0.98, (found, expected)


# Every combination of these, so that near misses of every kind are in the store.
UNIVERSE_SURNAMES = ["WALKER", "WALKR", "WLAKER", "WALKERS", "JOSHUA", "JOSH", "SMITH", "SMYTH"]
UNIVERSE_GIVEN = ["JOSHUA", "JOSH", "WALKER", "J", "JOSHUA PAUL", "ROBERT", "BOB", ""]
UNIVERSE_DOBS = [
    None,
    *near_miss_dobs(dt.date(1996, 2, 4))[:6],
    dt.date(1969, 2, 4),  # adjacent digits swapped, another year
    dt.date(1996, 9, 30),  # same year only
    dt.date(1971, 7, 19),  # unrelated
]


@dataclass
class Universe:
    store: RecordStore
    records: list[Record]

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"Universe({len(self.records)} records)"


@pytest.fixture(scope="module")
def universe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Universe]:
    records = []
    for s, surname in enumerate(UNIVERSE_SURNAMES):
        for g, given_text in enumerate(UNIVERSE_GIVEN):
            for d, dob in enumerate(UNIVERSE_DOBS):
                fields: dict[str, object] = {"surname": surname}
                if given_text:
                    fields["given_name"] = given_text
                if dob is not None:
                    fields["dob"] = dob.isoformat()
                if (s + g + d) % 7 == 0:
                    fields["aliases"] = [f"{UNIVERSE_SURNAMES[-1 - s]}, {UNIVERSE_GIVEN[-1 - g]}"]
                records.append(record(f"U-{s}-{g}-{d}", **fields))
    path = tmp_path_factory.mktemp("universe") / "universe.sqlite"
    with RecordStore.open(path) as store:
        store.insert_many(records)
        yield Universe(store, records)


class _Counts:
    """The store's name counts (fieldgate.matching.evidence.NameCounts), counted in Python."""

    def __init__(self, records: list[Record]) -> None:
        self.rows = [name for r in records for name in expand_names(r.names())]

    @staticmethod
    def _starts(given_name: str, first: str) -> bool:
        return given_name == first or given_name.startswith(first + " ")

    def surname(self, surname: str) -> int:
        return sum(name.surname == surname for name in self.rows)

    def given(self, given_name: str) -> int:
        first = given_name.split()[0] if given_name else ""
        return sum(bool(first) and self._starts(n.given_name, first) for n in self.rows)

    def pair(self, surname: str, given_name: str) -> int:
        first = given_name.split()[0] if given_name else ""
        return sum(
            bool(first) and n.surname == surname and self._starts(n.given_name, first)
            for n in self.rows
        )


def _reachable(wanted: PersonQuery, held: Record, counts: _Counts) -> bool:
    """node.candidates' documented rule, restated independently of its SQL."""
    first = wanted.given_name.split()[0] if wanted.given_name else ""
    rare = bool(first and wanted.dob) and counts.pair(wanted.surname, first) <= RARE_NAME_ROWS
    forms = surname_forms(wanted.surname)
    spellings = [*forms, *(other for form in forms for other in equivalent_surnames(form))]
    keys = [phonetic_keys(s) for s in spellings] + ([phonetic_keys(first)] if first else [])
    dob = held.dob()
    for name in expand_names(held.names()):
        held_first = name.given_name.split()[0] if name.given_name else ""
        nysiis, metaphone = phonetic_keys(name.surname)
        sounds_alike = any(nysiis == n or metaphone == m for n, m in keys)
        if wanted.dob is None:
            if sounds_alike:
                return True
            continue
        if sounds_alike and dob is not None and dob in near_miss_dobs(wanted.dob):
            return True
        same_year = dob is None or dob.year == wanted.dob.year
        if first and name.surname in forms and held_first == first and same_year:
            return True
        if rare and name.surname == wanted.surname and held_first == first:
            return True  # a rare full name, whatever the date (name:unique)
        exact_date = dob is not None and dob in (wanted.dob, transposed_dob(wanted.dob))
        initials = {first[0], wanted.surname[0]} if first else set()
        if exact_date and (not first or not held_first or held_first[0] in initials):
            return True
    return False


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    surname=st.sampled_from(UNIVERSE_SURNAMES),
    given_name=st.sampled_from(UNIVERSE_GIVEN),
    dob=st.sampled_from(UNIVERSE_DOBS),
)
def test_indexed_search_finds_what_a_full_scan_ranks_above_the_threshold(
    universe: Universe, surname: str, given_name: str, dob: dt.date | None
) -> None:
    store, records = universe.store, universe.records
    wanted = query(surname, given_name, dob.isoformat() if dob else None)
    counts = _Counts(records)
    full_scan = {}
    for held in records:
        match = score_candidate(
            wanted, expand_names(held.names()), held.dob(), keep_none=dob is not None
        )
        if match is not None:
            match = weigh(match, wanted, counts, "", held.dob())
        if match is not None and match.tier != "none":
            full_scan[held.record_id] = match
    found = {c.record.record_id: c.match for c in store.search(wanted, len(records))}
    # Never anything the scorer would not report, with the same score and reasons...
    assert all(full_scan[record_id] == match for record_id, match in found.items())
    # ...and every match the candidate rule reaches.
    reached = {
        r.record_id for r in records if r.record_id in full_scan and _reachable(wanted, r, counts)
    }
    assert reached <= found.keys()


def _quixano_tier(found: list[Candidate]) -> tuple[str, tuple[str, ...]]:
    match = next(c.match for c in found if c.record.record_id == "Q-0")
    return match.tier, match.evidence


def _namesakes(start: int) -> list[Record]:
    return [
        record(
            f"Q-{i}", surname="Quixano", given_name="Alonso", dob=f"19{40 + i % 50}-02-0{1 + i % 9}"
        )
        for i in range(start, start + 100)
    ]


@pytest.mark.parametrize("writer", ["this connection", "another connection"])
def test_name_counts_kept_between_searches_follow_every_change(tmp_path: Path, writer: str) -> None:
    """Counts are cached across searches; a change to the store, by this connection or
    another, must be seen at once: a stale "rare" would release a namesake's fields."""
    path = tmp_path / "node.sqlite"
    wanted = query("Quixano", "Alonso", "1970-05-06")
    with RecordStore.open(path) as store:
        store.insert_many([record("Q-0", surname="Quixano", given_name="Alonso", dob="1970-05-06")])
        tier, evidence = _quixano_tier(store.search(wanted, 25))
        assert (tier, "name:rare" in evidence) == ("strong", True)
        if writer == "this connection":
            store.insert_many(_namesakes(1))
        else:
            with RecordStore.open(path) as other:
                other.insert_many(_namesakes(1))
        tier, evidence = _quixano_tier(store.search(wanted, 25))
        assert (tier, "name:common" in evidence) == ("possible", True)
