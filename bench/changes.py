"""Cost of record changes: a 100k-change file, a 1M-row PostgreSQL sync, and expunging 10 %.

``python -m bench.changes [--records N] [--changes N] [--sync-rows N] [--json]``

Each figure is set against two floors, measured in the same run. The bare
insert: one ``executemany`` of (record_id, JSON body) into a table with a
primary key, in one transaction, WAL and ``synchronous = NORMAL`` like the
store -- the issue's limit, target at most 3x it. And the bare store-rows
insert: the rows the store must write for the same records (``records``,
``names`` and ``identifiers`` rows, with the store's indexes), precomputed
and inserted with one ``executemany`` per table -- what SQLite alone costs for
those rows, before any validation or name expansion (BENCHMARKS.md says
which is the fair floor). The sync needs a
PostgreSQL server (Debian package ``postgresql``); one is started on a
temporary directory, as the tests do.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import SEED
from fieldgate.devkit.synthetic import KCSO, generate_agency_records
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.change_files import apply_file
from fieldgate.node.store import RecordStore
from fieldgate.node.store_rows import INSERT_NAMES_SQL, name_rows, record_row
from fieldgate.node.sync import sync_once
from fieldgate.node.sync_config import SyncConfig
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.records import Record, validate_record

CATALOG = load_catalog(default_catalog_path())


def bare_insert_seconds(directory: Path, rows: list[tuple[str, str]]) -> tuple[float, float]:
    """Seconds (wall, CPU) to insert ``rows`` (id, JSON) into a bare table in one transaction."""
    path = directory / f"bare-{len(rows)}.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE TABLE bare (record_id TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT")
    start, cpu = time.perf_counter(), time.process_time()
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT INTO bare VALUES (?, ?)", rows)
    db.execute("COMMIT")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    db.close()
    return seconds, cpu


def bare_store_insert_seconds(
    directory: Path, records: list[Record], indexed: set[str] | None = None
) -> tuple[float, float]:
    """Seconds to insert the rows the store writes for ``records``, precomputed, in bulk.

    The same tables and indexes as the store (a fresh store's schema), the
    ``records`` rows and the ``names`` and ``identifiers`` rows of those in
    ``indexed`` (all when None; a correction that keeps the names writes
    none) built before the clock starts, then one ``executemany`` per table
    in one transaction: what SQLite alone costs for what the store writes.
    """
    path = directory / f"bare-store-{len(records)}.sqlite"
    RecordStore.open(path).close()
    record_rows = [record_row(r) for r in records]
    with_index = [r for r in records if indexed is None or r.record_id in indexed]
    names = [row for r in with_index for row in name_rows(r)]
    identifiers = [(k, v, r.record_id) for r in with_index for k, v in r.identifiers()]
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA secure_delete = ON")
    start, cpu = time.perf_counter(), time.process_time()
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO records (record_id, kind, sealed, juvenile, expunged, body)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        record_rows,
    )
    db.executemany(INSERT_NAMES_SQL, names)
    db.executemany("INSERT INTO identifiers (kind, value, record_id) VALUES (?, ?, ?)", identifiers)
    db.execute("COMMIT")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    db.close()
    return seconds, cpu


def _audit(directory: Path) -> AuditStore:
    return AuditStore.open(
        directory / "audit.sqlite", node_id="bench", key=ensure_key(directory / "key.pem")
    )


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def apply_bench(directory: Path, records: int, changes: int) -> dict[str, Any]:
    """Apply ``changes`` changes to a store of ``records``; then expunge 10 % and measure size."""
    raw = generate_agency_records(KCSO, count=records + changes, seed=SEED)
    held = [validate_record(r, CATALOG) for r in raw[:records]]
    store_path = directory / "apply.sqlite"
    rng = random.Random(SEED)
    with RecordStore.open(store_path) as store, _audit(directory) as audit:
        store.insert_many(held)
        lines: list[str] = []
        for number in range(changes):
            roll = rng.random()
            if roll < 0.6:  # a correction: an existing record, one field changed
                record = dict(held[rng.randrange(records)].to_raw())
                record["custody_status"] = f"released {number}"
                lines.append(json.dumps({"op": "upsert", **record}))
            elif roll < 0.9:  # a new record
                lines.append(json.dumps({"op": "upsert", **raw[records + number]}))
            else:
                op = "seal" if roll < 0.97 else "delete"
                lines.append(json.dumps({"op": op, "record_id": held[number % records].record_id}))
        change_file = directory / "changes.jsonl"
        change_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        start, cpu = time.perf_counter(), time.process_time()
        result = apply_file(store, audit, change_file, CATALOG)
        apply_seconds, apply_cpu = time.perf_counter() - start, time.process_time() - cpu
        bodies = [(f"X{i}", line) for i, line in enumerate(lines)]
        bare, bare_cpu = bare_insert_seconds(directory, bodies)
        # The upserts the store wrote, as records (with distinct ids for an empty table).
        written: dict[str, dict[str, Any]] = {}
        for line in lines:
            raw_change = json.loads(line)
            if raw_change.pop("op") == "upsert":
                written[raw_change["record_id"]] = raw_change
        written_records = [validate_record(r, CATALOG) for r in written.values()]
        # Index rows are written for new records and for those whose names or
        # identifiers changed; a correction of another field writes none.
        by_id = {r.record_id: r for r in held}
        indexed = {
            r.record_id
            for r in written_records
            if (old := by_id.get(r.record_id)) is None
            or name_rows(old) != name_rows(r)
            or old.identifiers() != r.identifiers()
        }
        bare_store, bare_store_cpu = bare_store_insert_seconds(directory, written_records, indexed)
        store.purge_free_pages()
        before = _size(store_path)
        ids = [r.record_id for r in store.iter_records()]
        doomed = rng.sample(ids, len(ids) // 10)
        expunge_file = directory / "expunge.jsonl"
        expunge_file.write_text(
            "\n".join(json.dumps({"op": "expunge", "record_id": i}) for i in doomed) + "\n",
            encoding="utf-8",
        )
        start = time.perf_counter()
        apply_file(store, audit, expunge_file, CATALOG)
        expunge_seconds = time.perf_counter() - start
        after = _size(store_path)
    db = sqlite3.connect(store_path, isolation_level=None)
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    vacuumed = _size(store_path)
    return {
        "records": records,
        "changes": changes,
        "counts": result.summary(),
        "apply_seconds": round(apply_seconds, 2),
        "apply_changes_per_second": round(changes / apply_seconds),
        "bare_insert_seconds": round(bare, 3),
        "apply_ratio_to_bare": round(apply_seconds / bare, 1),
        "bare_store_rows_insert_seconds": round(bare_store, 3),
        "apply_ratio_to_bare_store_rows": round(apply_seconds / bare_store, 1),
        # CPU time: what the two shared cores cannot blur (other suites run beside).
        "apply_cpu_seconds": round(apply_cpu, 2),
        "apply_cpu_ratio_to_bare": round(apply_cpu / bare_cpu, 1),
        "apply_cpu_ratio_to_bare_store_rows": round(apply_cpu / bare_store_cpu, 1),
        "expunged": len(doomed),
        "expunge_seconds": round(expunge_seconds, 2),
        "store_bytes_before_expunge": before,
        "store_bytes_after_expunge": after,
        "store_bytes_after_vacuum": vacuumed,
    }


SYNC_SCHEMA = """
CREATE TABLE bookings (
    booking_id bigint PRIMARY KEY, last_name text, first_name text, dob date,
    booking_no text, booked_on date, charges text[], sealed boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL);
INSERT INTO bookings
SELECT n, 'SURNAME' || (n % 50000), 'GIVEN' || (n % 997), date '1950-01-01' + (n % 20000),
       'K' || n, date '2020-01-01' + (n % 2000), ARRAY['RCW 9A.56.050 THEFT 3'], n % 100 = 0,
       timestamptz '2026-01-01' + n * interval '1 second'
  FROM generate_series(1, %(rows)s) AS n;
"""


def sync_bench(directory: Path, rows: int) -> dict[str, Any]:
    """Sync ``rows`` rows from a real PostgreSQL into an empty store."""
    import psycopg

    from tests.helpers.postgres import create_database, postgres_server

    with postgres_server() as server:
        url = create_database(server, "rms")
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(SYNC_SCHEMA.replace("%(rows)s", str(rows)))
        config = SyncConfig(
            query="SELECT *, 'booking' AS kind FROM bookings",
            key="booking_id",
            change_column="updated_at",
            columns={
                "record_id": "booking_id",
                "record_kind": "kind",
                "surname": "last_name",
                "given_name": "first_name",
                "dob": "dob",
                "booking_number": "booking_no",
                "booking_date": "booked_on",
                "charges": "charges",
                "sealed": "sealed",
            },
            batch_size=10_000,
        )
        store_path = directory / "sync.sqlite"
        with RecordStore.open(store_path) as store, _audit(directory) as audit:
            start, cpu = time.perf_counter(), time.process_time()
            cycle = sync_once(store, audit, CATALOG, config, url)
            seconds, sync_cpu = time.perf_counter() - start, time.process_time() - cpu
            stored = list(store.iter_records())
            bodies = [(r.record_id, json.dumps(r.fields, separators=(",", ":"))) for r in stored]
        bare, bare_cpu = bare_insert_seconds(directory, bodies)
        bare_store, bare_store_cpu = bare_store_insert_seconds(directory, stored)
    return {
        "rows": rows,
        "synced": cycle.rows,
        "batches": cycle.batches,
        "sync_seconds": round(seconds, 1),
        "sync_rows_per_second": round(rows / seconds),
        "bare_insert_seconds": round(bare, 2),
        "sync_ratio_to_bare": round(seconds / bare, 1),
        "bare_store_rows_insert_seconds": round(bare_store, 2),
        "sync_ratio_to_bare_store_rows": round(seconds / bare_store, 1),
        # This process's CPU only: PostgreSQL's own work is in the wall time.
        "sync_cpu_seconds": round(sync_cpu, 1),
        "sync_cpu_ratio_to_bare": round(sync_cpu / bare_cpu, 1),
        "sync_cpu_ratio_to_bare_store_rows": round(sync_cpu / bare_store_cpu, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(prog="python -m bench.changes", description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--sync-rows", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fieldgate-bench-changes-") as tmp:
        directory = Path(tmp)
        figures: dict[str, Any] = {"apply": apply_bench(directory, args.records, args.changes)}
        if args.sync_rows:
            figures["sync"] = sync_bench(directory, args.sync_rows)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for section, values in figures.items():
            print(f"{section}:")
            for key, value in values.items():
                print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
