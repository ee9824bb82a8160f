"""Sync from a real PostgreSQL records system: each RMS change is searchable after one cycle."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fieldgate.core.config import ConfigError, Section
from fieldgate.core.query import PersonQuery
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import NodeSpec, node_config, start_federation
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.reports import record_changes
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.server import open_audit_log
from fieldgate.node.store import RecordStore
from fieldgate.node.sync import SyncError, safe_source, sync_once
from fieldgate.node.sync_config import SyncConfig, parse_duration, sync_config
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.v2 import common_pb2
from tests.conftest import write_contract
from tests.helpers.federation import LoopThread, search_node
from tests.helpers.postgres import create_database, postgres_server

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")

CATALOG = load_catalog(default_catalog_path())
NOW = "clock_timestamp()"  # each change's own time, as an RMS's triggers set it

# A small records management system: people, their bookings, and a view for Fieldgate.
RMS_SCHEMA = """
CREATE TABLE persons (
    person_id integer PRIMARY KEY,
    last_name text NOT NULL,
    first_name text,
    dob date,
    sid text,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE bookings (
    booking_id bigint PRIMARY KEY,
    person_id integer NOT NULL REFERENCES persons,
    booking_no text NOT NULL,
    booked_on date NOT NULL,
    released_on date,
    charges text[],
    sealed boolean NOT NULL DEFAULT false,
    expunged boolean NOT NULL DEFAULT false,
    voided boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE VIEW fieldgate_bookings AS
SELECT b.booking_id, 'booking' AS kind, p.last_name, p.first_name, p.dob, p.sid,
       b.booking_no, b.booked_on, b.released_on,
       CASE WHEN b.released_on IS NULL THEN 'in custody' ELSE 'released' END AS custody,
       b.charges, b.sealed, b.expunged, b.voided,
       greatest(b.updated_at, p.updated_at) AS changed_at
  FROM bookings b JOIN persons p USING (person_id);
INSERT INTO persons (person_id, last_name, first_name, dob, sid) VALUES
  (1, 'DOE', 'JOHN', '1980-04-12', 'WA1234567'),
  (2, 'ROE', 'JANE', '1975-09-30', 'WA7654321'),
  (3, 'QUENNEVILLARD', 'ZOE', '1990-01-01', 'WA5550001');
INSERT INTO bookings (booking_id, person_id, booking_no, booked_on, charges) VALUES
  (101, 1, 'K26000101', '2026-01-03', ARRAY['RCW 9A.56.050 THEFT 3']),
  (102, 2, 'K26000102', '2026-02-11', ARRAY['RCW 46.61.502 DUI']),
  (103, 3, 'K26000103', '2026-03-20', ARRAY['RCW 9A.36.041 ASSAULT 4']);
"""

MAPPING = {
    "record_id": "booking_id",
    "record_kind": "kind",
    "surname": "last_name",
    "given_name": "first_name",
    "dob": "dob",
    "state_id": "sid",
    "booking_number": "booking_no",
    "booking_date": "booked_on",
    "release_date": "released_on",
    "custody_status": "custody",
    "charges": "charges",
    "sealed": "sealed",
}


def mapping(batch_size: int = 5000) -> SyncConfig:
    return SyncConfig(
        query="SELECT * FROM fieldgate_bookings",
        key="booking_id",
        change_column="changed_at",
        columns=MAPPING,
        deleted_column="voided",
        expunged_column="expunged",
        batch_size=batch_size,
    )


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def rms(postgres: str, request: pytest.FixtureRequest) -> str:
    url = create_database(postgres, request.node.name[:40].lower())
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(RMS_SCHEMA)  # type: ignore[arg-type]  # a test's fixed SQL
    return url


class Node:
    """A node's record store and audit log, as ``fieldgate node sync`` opens them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.store = RecordStore.open(directory / "node.sqlite")
        self.audit = AuditStore.open(
            directory / "audit.sqlite", node_id="kcso", key=ensure_key(directory / "key.pem")
        )

    def sync(self, source: str, config: SyncConfig | None = None) -> dict[str, int]:
        cycle = sync_once(self.store, self.audit, CATALOG, config or mapping(), source)
        return dict(cycle.counts) | {"rows": cycle.rows}

    def find(self, surname: str, given: str, dob: str) -> dict[str, object]:
        query = PersonQuery(surname, given, dt.date.fromisoformat(dob), (), 10)
        return {c.record.record_id: c.record for c in self.store.search(query, limit=10)}

    def close(self) -> None:
        self.audit.close()
        self.store.close()


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    opened = Node(tmp_path)
    yield opened
    opened.close()


def rms_do(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(statement)  # type: ignore[arg-type]  # a test's fixed SQL


def test_every_rms_change_is_searchable_after_one_sync_cycle(rms: str, node: Node) -> None:
    assert node.sync(rms) == {"upsert": 3, "rows": 3}
    doe = node.find("DOE", "JOHN", "1980-04-12")
    assert set(doe) == {"101"}
    assert doe["101"].fields["charges"] == ["RCW 9A.56.050 THEFT 3"]  # type: ignore[attr-defined]
    assert doe["101"].fields["custody_status"] == "in custody"  # type: ignore[attr-defined]
    # Nothing changed: nothing read.
    assert node.sync(rms) == {"rows": 0}

    # A new booking of the same person.
    rms_do(rms, "INSERT INTO bookings VALUES (104, 1, 'K26000104', '2026-04-01', NULL, NULL)")
    assert node.sync(rms) == {"upsert": 1, "rows": 1}
    assert set(node.find("DOE", "JOHN", "1980-04-12")) == {"101", "104"}

    # A release.
    rms_do(
        rms,
        "UPDATE bookings SET released_on = '2026-04-02', updated_at = clock_timestamp()"
        " WHERE booking_id = 104",
    )
    assert node.sync(rms) == {"upsert": 1, "rows": 1}
    released = node.store.get("104")
    assert released is not None
    assert released.fields["release_date"] == "2026-04-02"
    assert released.fields["custody_status"] == "released"

    # A sealing order.
    rms_do(
        rms,
        f"UPDATE bookings SET (sealed, updated_at) = (true, {NOW}) WHERE booking_id = 102",
    )
    assert node.sync(rms) == {"upsert": 1, "rows": 1}
    sealed = node.store.get("102")
    assert sealed is not None
    assert sealed.sealed

    # An expungement.
    rms_do(
        rms,
        f"UPDATE bookings SET (expunged, updated_at) = (true, {NOW}) WHERE booking_id = 103",
    )
    assert node.sync(rms) == {"expunge": 1, "rows": 1}
    assert node.store.get("103") is None
    assert node.find("QUENNEVILLARD", "ZOE", "1990-01-01") == {}
    raw = b"".join(p.read_bytes() for p in node.directory.glob("node.sqlite*") if p.is_file())
    assert b"QUENNEVILLARD" not in raw
    assert b"K26000103" not in raw

    # A corrected date of birth, in the persons table: every booking of the person follows.
    rms_do(
        rms,
        f"UPDATE persons SET (dob, updated_at) = ('1980-04-21', {NOW}) WHERE person_id = 1",
    )
    assert node.sync(rms) == {"upsert": 2, "rows": 2}
    assert set(node.find("DOE", "JOHN", "1980-04-21")) == {"101", "104"}
    assert all(
        r.dob() == dt.date(1980, 4, 21)  # type: ignore[attr-defined]
        for r in node.find("DOE", "JOHN", "1980-04-21").values()
    )

    # A booking voided (entered under the wrong person): deleted.
    rms_do(
        rms,
        f"UPDATE bookings SET (voided, updated_at) = (true, {NOW}) WHERE booking_id = 104",
    )
    assert node.sync(rms) == {"delete": 1, "rows": 1}
    assert set(node.find("DOE", "JOHN", "1980-04-21")) == {"101"}

    with AuditReader(node.directory / "audit.sqlite") as reader:
        entries = [row.document()["data"] for row in reader.entries("records_changed")]
        notes = record_changes(reader, {"102", "103"})
    assert len(entries) == 7  # one per cycle that read rows
    assert all(e["source"]["kind"] == "postgresql" for e in entries)
    assert all("password" not in json.dumps(e) for e in entries)
    assert entries[-1]["watermark"]["from"] == entries[-2]["watermark"]["to"]
    assert [n.split(": ", 1)[1].split(" (")[0] for n in notes] == [
        "record 102 sealed",
        "record 103 expunged",
    ]
    assert "QUENNEVILLARD" not in json.dumps(entries)


def test_a_refused_batch_leaves_the_watermark_and_the_sync_resumes_without_loss_or_repeat(
    rms: str, node: Node
) -> None:
    rms_do(
        rms,
        "INSERT INTO persons (person_id, last_name, first_name) SELECT 10 + n, 'SMITH', 'P' || n"
        " FROM generate_series(1, 7) AS n;"
        "INSERT INTO bookings (booking_id, person_id, booking_no, booked_on)"
        " SELECT 200 + n, 10 + n, 'K' || n, '2026-05-01' FROM generate_series(1, 7) AS n;"
        "UPDATE persons SET last_name = '---' WHERE person_id = 15",  # no letters: refused
    )
    with pytest.raises(SyncError) as caught:
        node.sync(rms, mapping(batch_size=4))
    assert "row booking_id=205: surname" in str(caught.value)
    assert "this batch was not applied" in str(caught.value)
    applied_first = node.store.count()
    assert applied_first == 4  # the three bookings of the schema, and 201 (first batch of 4)
    rms_do(rms, "UPDATE persons SET last_name = 'SMYTHE' WHERE person_id = 15")
    # The fix did not touch updated_at; the refused rows were never passed, so they come again.
    again = node.sync(rms, mapping(batch_size=4))
    assert again["rows"] == 6
    assert node.store.count() == 10
    smythe = node.store.get("205")
    assert smythe is not None
    assert smythe.fields["surname"] == "SMYTHE"
    with AuditReader(node.directory / "audit.sqlite") as reader:
        counts: Counter[str] = Counter()
        for row in reader.entries("records_changed"):
            counts.update(row.document()["data"]["counts"])
    assert counts["upsert"] == 10  # each row applied exactly once


def test_an_unreachable_database_is_a_clear_error(node: Node) -> None:
    with pytest.raises(SyncError) as caught:
        node.sync("postgresql://fieldgate:s3cret@127.0.0.1:1/rms?connect_timeout=2")
    assert "127.0.0.1" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert node.store.count() == 0


def test_a_missing_column_names_it(rms: str, node: Node) -> None:
    config = mapping()
    broken = SyncConfig(**{**config.__dict__, "columns": {**MAPPING, "sex": "gender"}})
    with pytest.raises(SyncError, match="no column 'gender'"):
        node.sync(rms, broken)


def test_the_mapping_is_read_from_the_node_config_and_checked(tmp_path: Path) -> None:
    document = {
        "sync": {
            "query": "SELECT * FROM fieldgate_bookings",
            "key": "booking_id",
            "change_column": "changed_at",
            "every": "5m",
            "columns": {"record_id": "booking_id", "record_kind": "kind", "surname": "last_name"},
        }
    }
    config = sync_config(Section(document, "node", tmp_path))
    assert config is not None
    assert config.every_seconds == 300
    config.check_fields(CATALOG)
    bad = SyncConfig(**{**config.__dict__, "columns": {**config.columns, "shoe_size": "s"}})
    with pytest.raises(ConfigError, match=r"node\.sync\.columns\.shoe_size"):
        bad.check_fields(CATALOG)
    document["sync"]["columns"] = {"record_id": "booking_id"}  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"node\.sync\.columns\.record_kind"):
        sync_config(Section(document, "node", tmp_path))
    assert parse_duration("90s") == 90
    with pytest.raises(ConfigError, match="--every"):
        parse_duration("soon")
    assert "s3cret" not in safe_source("postgresql://u:s3cret@db.example/rms")


RELEASE_ALL = """package fieldgate.contracts.release_all
import rego.v1
decision := {"disclose": true, "release": {f | some f in input.record.fields}, "mask": {}}
"""


def test_a_serving_node_withholds_a_record_sealed_in_the_rms_after_one_cycle(
    rms: str, tmp_path: Path, loop: LoopThread
) -> None:
    spec = NodeSpec("kcso", "King County", write_contract(tmp_path, "all.rego", RELEASE_ALL))
    federation = loop.run(start_federation([spec], tmp_path, audit=True))
    try:
        config = node_config(spec, tmp_path)
        detective = demo_personas(dt.date.today())[0].requester.to_message()
        query = common_pb2.PersonQuery(surname="ROE", given_name="JANE", dob="1975-09-30")
        address = federation.nodes["kcso"].address
        with RecordStore.open(config.database) as store:
            audit = open_audit_log(config, maintenance=True)
            try:
                sync_once(store, audit, CATALOG, mapping(), rms)
                before = search_node(address, detective, query)
                rms_do(rms, f"UPDATE bookings SET (sealed, updated_at) = (true, {NOW})")
                sync_once(store, audit, CATALOG, mapping(), rms)
                after = search_node(address, detective, query)
            finally:
                audit.close()
    finally:
        loop.run(federation.stop())
    assert [h.record_id for h in before.hits] == ["102"]
    assert list(after.hits) == []


def test_a_sync_killed_mid_cycle_resumes_without_loss_or_repeat(rms: str, tmp_path: Path) -> None:
    rows = 20_000
    rms_do(
        rms,
        "INSERT INTO persons (person_id, last_name, first_name, dob)"
        f" SELECT 1000 + n, 'PERSON' || n, 'P', '1970-01-01' FROM generate_series(1, {rows}) n;"
        "INSERT INTO bookings (booking_id, person_id, booking_no, booked_on, charges)"
        " SELECT 100000 + n, 1000 + n, 'K' || n, '2026-06-01', ARRAY[repeat('CHARGE ', 40)]"
        f" FROM generate_series(1, {rows}) n",
    )
    config_path = write_node_config(tmp_path, rms, batch_size=500)
    database = tmp_path / "kcso.sqlite"
    command = [FIELDGATE, "node", "sync", "--config", str(config_path), "--json"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while committed(database) < 2000:  # a few change sets in, many to go
            assert process.poll() is None, "the sync finished before it could be killed"
            assert time.monotonic() < deadline, "the sync never got going"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    kept = committed(database)
    assert kept < rows + 3
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    resumed = json.loads(done.stdout)
    # Exactly the rows not yet applied were read again: none lost, none applied twice.
    assert resumed["rows"] == rows + 3 - kept
    assert resumed["records_in_store"] == rows + 3
    again = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert json.loads(again.stdout)["rows"] == 0


def committed(database: Path) -> int:
    """Records committed so far, read as another process would (read-only)."""
    if not database.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        try:
            return int(db.execute("SELECT count(*) FROM records").fetchone()[0])
        except sqlite3.OperationalError:  # schema not created yet
            return 0


def write_node_config(directory: Path, source: str, *, batch_size: int) -> Path:
    """A development node's TOML with the RMS mapping of these tests in [node.sync]."""
    columns = "\n".join(f'{field} = "{column}"' for field, column in MAPPING.items())
    path = directory / "node.toml"
    path.write_text(
        '[node]\nid = "kcso"\nagency_name = "King County"\ndatabase = "kcso.sqlite"\n'
        'insecure = true\n[node.contact]\nunit = "Records"\nphone = "555-0100"\n'
        f'[node.sync]\nsource = "{source}"\nquery = "SELECT * FROM fieldgate_bookings"\n'
        'key = "booking_id"\nchange_column = "changed_at"\ndeleted_column = "voided"\n'
        f'expunged_column = "expunged"\nbatch_size = {batch_size}\n'
        f"[node.sync.columns]\n{columns}\n",
        encoding="utf-8",
    )
    return path


def test_sync_every_picks_up_each_change_on_the_next_cycle_and_stops_on_sigterm(
    rms: str, tmp_path: Path
) -> None:
    config_path = write_node_config(tmp_path, rms, batch_size=100)
    process = subprocess.Popen(
        [FIELDGATE, "node", "sync", "--config", str(config_path), "--every", "1s", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        assert first["counts"] == {"upsert": 3}
        rms_do(
            rms, f"UPDATE bookings SET (sealed, updated_at) = (true, {NOW}) WHERE booking_id = 101"
        )
        # The next cycles report in order; the change shows in the first one that reads it.
        while (cycle := json.loads(process.stdout.readline()))["rows"] == 0:
            pass
        assert cycle["counts"] == {"upsert": 1}
        with RecordStore.open(tmp_path / "kcso.sqlite") as store:
            sealed = store.get("101")
        assert sealed is not None
        assert sealed.sealed
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
