"""``fieldgate node reindex``: an older name index is refused, rebuilt resumably, then served."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldgate.cli.main import cli
from fieldgate.core.query import PersonQuery
from fieldgate.node.errors import StoreError
from fieldgate.node.reindex import reindex
from fieldgate.node.store import SCHEMA_VERSION, RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.records import Record, validate_record

CATALOG = load_catalog(default_catalog_path())


def _record(record_id: str, surname: str, given: str, dob: str) -> Record:
    raw = {
        "record_id": record_id,
        "record_kind": "booking",
        "surname": surname,
        "given_name": given,
        "dob": dob,
    }
    return validate_record(raw, CATALOG)


PEOPLE = [
    _record(f"R{i:03d}", surname, given, "1980-04-12")
    for i, (surname, given) in enumerate(
        [("Hernandez Lopez", "Miguel Angel"), ("De la Cruz", "Ana"), ("Đặng", "Minh")] * 10
    )
]

SECOND_SURNAME = PersonQuery("LOPEZ", "MIGUEL", dt.date(1980, 4, 12), (), 25)
"""Found only through a derived reading (one word of a compound surname)."""


def _as_version_2(path: Path) -> None:
    """Make a version 3 store look like one indexed by the previous build."""
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM names WHERE derived = 1")
        db.execute("ALTER TABLE names DROP COLUMN derived")
        db.execute("UPDATE schema_version SET version = 2")
    db.close()


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "old.sqlite"
    with RecordStore.open(path) as store:
        store.insert_many(PEOPLE)
    _as_version_2(path)
    return path


def test_a_store_with_an_older_index_is_refused_with_the_command_to_run(old_store: Path) -> None:
    with pytest.raises(StoreError, match="fieldgate node reindex --store"):
        RecordStore.open(old_store)


def test_reindex_rebuilds_the_index_and_the_store_is_served(old_store: Path) -> None:
    seen: list[tuple[int, int]] = []
    report = reindex(old_store, batch=7, progress=lambda done, total: seen.append((done, total)))
    assert (report.from_version, report.to_version, report.records) == (2, SCHEMA_VERSION, 30)
    assert seen[-1] == (30, 30)
    with RecordStore.open(old_store) as store:
        found = {c.record.record_id for c in store.search(SECOND_SURNAME, 25)}
        assert found == {f"R{i:03d}" for i in range(0, 30, 3)}
        assert [store.get(r.record_id) for r in PEOPLE] == PEOPLE
    # Nothing left to do the second time.
    again = reindex(old_store)
    assert (again.from_version, again.records, again.resumed) == (SCHEMA_VERSION, 0, False)


class _Killed(Exception):
    pass


def test_an_interrupted_reindex_resumes_after_its_last_batch(old_store: Path) -> None:
    def die_after_two_batches(done: int, total: int) -> None:
        if done >= 20:
            raise _Killed

    with pytest.raises(_Killed):
        reindex(old_store, batch=10, progress=die_after_two_batches)
    # Half done: still refused, never served half-built.
    with pytest.raises(StoreError, match="reindex"):
        RecordStore.open(old_store)
    report = reindex(old_store, batch=10)
    assert report.resumed
    assert report.records == 10  # only the batch not committed before
    with RecordStore.open(old_store) as store:
        assert len(store.search(SECOND_SURNAME, 25)) == 10


def test_cli_reindex_reports_json(old_store: Path) -> None:
    result = CliRunner().invoke(cli, ["node", "reindex", "--store", str(old_store), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "store": str(old_store),
        "from_version": 2,
        "to_version": SCHEMA_VERSION,
        "records": 30,
        "resumed": False,
    }
    result = CliRunner().invoke(cli, ["node", "reindex", "--store", str(old_store)])
    assert result.exit_code == 0
    assert "already at index version" in result.output


def test_cli_reindex_of_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "not.sqlite"
    path.write_text("hello")
    fieldgate = Path(sys.executable).with_name("fieldgate")
    result = subprocess.run(
        [fieldgate, "node", "reindex", "--store", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"error: {path}: cannot re-index" in result.stderr
