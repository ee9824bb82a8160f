"""``fieldgate node apply`` as a records clerk runs it: real processes, a real kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.store import RecordStore

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FIELDGATE, *args], capture_output=True, text=True, timeout=120, check=False
    )


def write_config(directory: Path) -> Path:
    path = directory / "node.toml"
    path.write_text(
        '[node]\nid = "kcso"\nagency_name = "King County"\ndatabase = "kcso.sqlite"\n'
        'insecure = true\n[node.contact]\nunit = "Records"\nphone = "555-0100"\n',
        encoding="utf-8",
    )
    return path


def booking(record_id: str, **fields: object) -> str:
    row = {"record_id": record_id, "record_kind": "booking", "surname": "Doe", "given_name": "Jo"}
    return json.dumps({**row, **fields})


def test_apply_then_the_subject_report_shows_the_sealing_and_the_expungement(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(booking(f"B{i}") for i in range(3)) + "\n", encoding="utf-8")
    done = run("node", "import", "--db", str(tmp_path / "kcso.sqlite"), str(records))
    assert done.returncode == 0, done.stderr
    changes = tmp_path / "order-2026-117.jsonl"
    changes.write_text(
        '{"op": "seal", "record_id": "B1"}\n{"op": "expunge", "record_id": "B2"}\n',
        encoding="utf-8",
    )
    done = run("node", "apply", "--config", str(config), str(changes), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["counts"]["seal"] == 1
    assert result["counts"]["expunge"] == 1
    assert result["records_in_store"] == 2
    again = run("node", "apply", "--config", str(config), str(changes), "--json")
    assert json.loads(again.stdout)["changed"] == 0
    audit_db = str(tmp_path / "kcso.audit.sqlite")
    report = run(
        "audit", "report", "subject", "--db", audit_db, "--record-id", "B1", "--record-id", "B2",
        "--json",
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    notes = json.loads(report.stdout)["notes"]
    assert any("record B1 sealed" in n and "order-2026-117.jsonl" in n for n in notes)
    assert any("record B2 expunged" in n for n in notes)
    assert not any("B0" in n for n in notes)


def test_a_bad_change_file_is_a_message_naming_the_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    changes = tmp_path / "changes.csv"
    changes.write_text("op,record_id\nseal,B1\nshred,B2\n", encoding="utf-8")
    done = run("node", "apply", "--config", str(config), str(changes))
    assert done.returncode == 2
    assert "line 2: seal: record_id 'B1' is not in the store" in done.stderr
    assert "line 3" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_change_set_killed_half_way_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    database = tmp_path / "kcso.sqlite"
    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(booking(f"B{i}") for i in range(2000)) + "\n", encoding="utf-8")
    assert run("node", "import", "--db", str(database), str(records)).returncode == 0
    with RecordStore.open(database) as store:
        store.purge_free_pages()
        before = list(store.iter_records())
    # Big enough (about 80 MB of rows) that its transaction outgrows the store's
    # 64 MiB page cache and spills to the WAL long before it commits (and so
    # before its audit entry, written just before the commit).
    changes = tmp_path / "changes.jsonl"
    lines = [booking(f"N{i}", incident_summary="x" * 1500) for i in range(50_000)]
    lines += [f'{{"op": "expunge", "record_id": "B{i}"}}' for i in range(2000)]
    changes.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wal = Path(f"{database}-wal")
    process = subprocess.Popen(
        [FIELDGATE, "node", "apply", "--config", str(config), str(changes)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        # Wait until the change set is being written: the uncommitted transaction fills the WAL.
        while not (wal.exists() and wal.stat().st_size > 6 << 20):
            assert process.poll() is None, "the apply finished before it could be killed"
            assert time.monotonic() < deadline, "the apply never started writing"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    with RecordStore.open(database) as store:
        assert list(store.iter_records()) == before
        assert store.expunged_ids(f"B{i}" for i in range(2000)) == set()
    audit_db = tmp_path / "kcso.audit.sqlite"
    if audit_db.exists():
        with AuditReader(audit_db) as reader:
            assert list(reader.entries("records_changed")) == []
    done = run("node", "apply", "--config", str(config), str(changes), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["records_in_store"] == 50_000
