"""The audit log's tamper evidence: every change is detected and the first entry named."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.node.audit.checkpoints import checkpoint_from_body, export_lines, read_export
from fieldgate.node.audit.keys import ensure_key, public_hex
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.audit.verify import VerifyReport, verify_log
from fieldgate.node.errors import DisclosureLogError
from tests.helpers.audit import StepClock, copy_log, dump, forge_entry, make_log, tamper


def first_bad(report: VerifyReport) -> int | None:
    problem = report.first_entry_problem()
    return problem.seq if problem else None


def kinds(report: VerifyReport) -> set[str]:
    return {p.kind for p in report.problems}


def export(path: Path, out: Path) -> Path:
    with AuditReader(path) as reader:
        meta = reader.meta()
        checkpoints = [
            checkpoint_from_body(json.loads(r.body), r.signature) for r in reader.checkpoints()
        ]
    out.write_text("\n".join(export_lines(meta["node_id"], meta["public_key"], checkpoints)))
    return out


def test_an_untouched_log_verifies(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    report = verify_log(path, public_key=key.public_key())
    assert report.ok, report.problems
    assert (report.entries, report.first_seq, report.last_seq) == (30, 1, 30)
    assert report.checkpoints == 3
    assert report.last_checkpoint_seq == 30
    assert report.uncovered == 0


def test_the_node_cannot_update_or_delete_entries(tmp_path: Path) -> None:
    path, _ = make_log(tmp_path)
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE entries SET body = 'x' WHERE seq = 3")
    with pytest.raises(sqlite3.IntegrityError, match="retention purge"):
        db.execute("DELETE FROM entries WHERE seq = 3")
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        db.execute("DELETE FROM checkpoints")
    db.close()


@pytest.mark.parametrize("seq", [1, 7, 10, 11, 29, 30])
def test_a_byte_flipped_in_the_file_names_the_entry(tmp_path: Path, seq: int) -> None:
    path, key = make_log(tmp_path)
    data = bytearray(path.read_bytes())
    marker = f"req-{seq:04d}".encode()
    assert data.count(marker) == 1
    offset = data.index(marker) + len(marker) - 1
    data[offset] ^= 0x01  # req-0007 → req-0006: still valid text, different content
    path.write_bytes(bytes(data))
    report = verify_log(path, public_key=key.public_key())
    assert not report.ok
    assert first_bad(report) == seq, report.problems
    assert "altered" in kinds(report)


@pytest.mark.parametrize("column", ["hash", "prev_hash", "time", "kind"])
def test_a_changed_column_names_the_entry(tmp_path: Path, column: str) -> None:
    path, key = make_log(tmp_path)
    values = {
        "hash": "f" * 64,
        "prev_hash": "e" * 64,
        "time": "2025-01-01T00:00:00+00:00",
        "kind": "records_purged",
    }
    tamper(path, (f"UPDATE entries SET {column} = ? WHERE seq = 12", (values[column],)))
    report = verify_log(path, public_key=key.public_key())
    assert first_bad(report) == 12, report.problems


def test_a_deleted_entry_is_named(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    tamper(path, "DELETE FROM entries WHERE seq = 14")
    report = verify_log(path, public_key=key.public_key())
    assert first_bad(report) == 14
    assert "removed" in kinds(report)


def test_a_deleted_entry_with_later_ones_renumbered_is_named(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    tamper(
        path,
        "DELETE FROM entries WHERE seq = 14",
        "UPDATE entries SET seq = seq + 1000 WHERE seq > 14",
        "UPDATE entries SET seq = seq - 1001 WHERE seq > 1000",
    )
    report = verify_log(path, public_key=key.public_key())
    assert first_bad(report) == 14, report.problems


def test_the_oldest_entries_deleted_are_named(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    tamper(path, "DELETE FROM entries WHERE seq <= 4")
    report = verify_log(path, public_key=key.public_key())
    assert first_bad(report) == 1
    assert "removed" in kinds(report)


def test_an_inserted_entry_is_named(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    with AuditReader(path) as reader:
        previous = reader.entry(8)
    assert previous is not None
    time, body, digest = forge_entry(9, "req-FORGED", previous.hash)
    tamper(
        path,
        "UPDATE entries SET seq = seq + 1000 WHERE seq >= 9",
        "UPDATE entries SET seq = seq - 999 WHERE seq > 1000",
        (
            "INSERT INTO entries (seq, time, kind, body, prev_hash, hash) VALUES (9, ?, 'search',"
            " ?, ?, ?)",
            (time, body, previous.hash, digest),
        ),
    )
    report = verify_log(path, public_key=key.public_key())
    assert first_bad(report) == 9, report.problems
    assert "inserted" in kinds(report)


def test_swapped_entries_are_named(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    tamper(
        path,
        "UPDATE entries SET seq = -1 WHERE seq = 17",
        "UPDATE entries SET seq = 17 WHERE seq = 18",
        "UPDATE entries SET seq = 18 WHERE seq = -1",
    )
    report = verify_log(path, public_key=key.public_key())
    assert first_bad(report) == 17, report.problems
    assert "reordered" in kinds(report)


def test_a_rewrite_with_recomputed_hashes_is_caught_by_the_next_checkpoint(
    tmp_path: Path,
) -> None:
    path, key = make_log(tmp_path)
    with AuditReader(path) as reader:
        rows = list(reader.entries())
    # The attacker rewrites entry 15 and recomputes every hash after it.
    statements: list[str | tuple[str, tuple[object, ...]]] = []
    previous = rows[13].hash
    for row in rows[14:]:
        request = "req-EDITED" if row.seq == 15 else f"req-{row.seq:04d}"
        body = row.body.replace(f"req-{row.seq:04d}", request)
        from fieldgate.node.audit.canonical import chain_hash

        digest = chain_hash(previous, body)
        statements.append(
            (
                "UPDATE entries SET body = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (body, previous, digest, row.seq),
            )
        )
        previous = digest
    tamper(path, *statements)
    report = verify_log(path, public_key=key.public_key())
    assert not report.ok
    assert "rewritten" in kinds(report)
    # Checkpoint 1 (entry 10) still matches, checkpoint 2 (entry 20) does not.
    assert first_bad(report) == 11


def test_truncation_is_detected_by_the_logs_own_checkpoint(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    tamper(path, "DELETE FROM entries WHERE seq > 26")
    report = verify_log(path, public_key=key.public_key())
    assert "truncated" in kinds(report)
    assert first_bad(report) == 27


def test_truncation_with_its_checkpoints_is_detected_by_an_export(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    held = export(path, tmp_path / "auditor.jsonl")
    tamper(path, "DELETE FROM entries WHERE seq > 20", "DELETE FROM checkpoints WHERE number = 3")
    alone = verify_log(path, public_key=key.public_key())
    assert alone.ok  # consistent in itself: only a witness can tell
    report = verify_log(path, public_key=key.public_key(), exports=[read_export(held)])
    assert "truncated" in kinds(report)
    assert first_bad(report) == 21


def test_a_log_rolled_back_to_an_older_copy_is_detected_by_an_export(tmp_path: Path) -> None:
    clock = StepClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    path, key = make_log(tmp_path, entries=10, clock=clock)
    old = copy_log(path, tmp_path / "old.sqlite")
    store = AuditStore.open(
        path, node_id="kcso", key=key, checkpoint_every=10, checkpoint_seconds=3600, clock=clock
    )
    for number in range(11, 31):
        store.append("search", {"request_id": f"req-{number:04d}"})
    store.close()
    held = export(path, tmp_path / "auditor.jsonl")
    copy_log(old, path)  # the whole file put back as it was
    report = verify_log(path, public_key=key.public_key(), exports=[read_export(held)])
    assert "truncated" in kinds(report)
    assert first_bad(report) == 11


def test_a_forged_checkpoint_is_detected(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    with AuditReader(path) as reader:
        row = reader.checkpoints()[1]
    original = checkpoint_from_body(json.loads(row.body), row.signature)
    forged = checkpoint_from_body({**original.body(), "head": "0" * 64}, "").signed(
        Ed25519PrivateKey.generate()
    )
    tamper(
        path,
        (
            "UPDATE checkpoints SET body = ?, signature = ? WHERE number = 2",
            (forged.body_text(), forged.signature),
        ),
    )
    report = verify_log(path, public_key=key.public_key())
    assert "checkpoint_forged" in kinds(report)
    assert any(p.checkpoint == 2 for p in report.problems)


def test_a_checkpoint_rolled_back_to_an_older_one_is_detected(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    with AuditReader(path) as reader:
        older = reader.checkpoints()[1]
    # Checkpoint 3 replaced by checkpoint 2 (a genuine signature, but older).
    tamper(
        path,
        (
            "UPDATE checkpoints SET body = ?, signature = ? WHERE number = 3",
            (older.body, older.signature),
        ),
    )
    report = verify_log(path, public_key=key.public_key())
    assert "checkpoint_rolled_back" in kinds(report)
    assert any(p.checkpoint == 3 for p in report.problems)


def test_a_replaced_key_and_a_changed_schema_are_reported(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    other = Ed25519PrivateKey.generate()
    tamper(
        path,
        (
            "UPDATE audit_meta SET value = ? WHERE key = 'public_key'",
            (public_hex(other.public_key()),),
        ),
    )
    assert "key" in kinds(verify_log(path, public_key=key.public_key()))
    # Without a pinned key the log's own (replaced) key fails every signature.
    assert "checkpoint_forged" in kinds(verify_log(path))
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER entries_append_only")
    db.commit()
    db.close()
    assert "schema" in kinds(verify_log(path, public_key=key.public_key()))


def test_two_parties_shown_different_logs_see_a_fork(tmp_path: Path) -> None:
    path, key = make_log(tmp_path)
    first = export(path, tmp_path / "witness-a.jsonl")
    with AuditReader(path) as reader:
        row = reader.checkpoints()[2]
    other = checkpoint_from_body(json.loads(row.body), "")
    other = checkpoint_from_body({**other.body(), "head": "1" * 64}, "").signed(
        Ed25519PrivateKey.generate()
    )
    lines = first.read_text().splitlines()
    lines[3] = other.export_line()
    second = tmp_path / "witness-b.jsonl"
    second.write_text("\n".join(lines))
    report = verify_log(
        path, public_key=key.public_key(), exports=[read_export(first), read_export(second)]
    )
    assert "fork" in kinds(report)


def test_purging_old_entries_keeps_the_chain_verifiable(tmp_path: Path) -> None:
    clock = StepClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    path, key = make_log(tmp_path, entries=30, clock=clock)
    held = export(path, tmp_path / "auditor.jsonl")
    # A year and a day later (entries younger than 365 days are never purged).
    clock.now += dt.timedelta(days=366)
    store = AuditStore.open(path, node_id="kcso", key=key, checkpoint_every=10, clock=clock)
    # Entries 1-12 were written in the first 12 seconds (the clock ticks per call).
    with AuditReader(path) as reader:
        thirteenth = reader.entry(13)
    assert thirteenth is not None
    purge = store.purge_before(dt.datetime.fromisoformat(thirteenth.time))
    store.append("search", {"request_id": "req-after"})
    store.close()
    assert (purge.removed, purge.cut_seq) == (12, 12)
    report = verify_log(path, public_key=key.public_key(), exports=[read_export(held)])
    assert report.ok, report.problems
    assert report.first_seq == 13
    # Deleting one more old entry by hand is still caught.
    tamper(path, "DELETE FROM entries WHERE seq = 13")
    assert first_bad(verify_log(path, public_key=key.public_key())) == 13


def test_a_locked_log_refuses_within_the_bound(tmp_path: Path) -> None:
    key = ensure_key(tmp_path / "k.pem")
    store = AuditStore.open(
        tmp_path / "a.sqlite", node_id="kcso", key=key, busy_timeout_seconds=0.1
    )
    blocker = sqlite3.connect(tmp_path / "a.sqlite", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DisclosureLogError, match="locked"):
            store.append("search", {"request_id": "r"})
        assert store.write_failures == 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.append("search", {"request_id": "r"})
    store.close()
    assert verify_log(tmp_path / "a.sqlite").ok


def test_a_log_belongs_to_one_node_and_one_key(tmp_path: Path) -> None:
    path, key = make_log(tmp_path, entries=2)
    with pytest.raises(DisclosureLogError, match="another key"):
        AuditStore.open(path, node_id="kcso", key=Ed25519PrivateKey.generate())
    with pytest.raises(DisclosureLogError, match="of node 'kcso'"):
        AuditStore.open(path, node_id="spd", key=key)


def test_the_key_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    ensure_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    from fieldgate.node.audit.keys import KeyFileError

    with pytest.raises(KeyFileError, match="chmod 600"):
        ensure_key(path)
    # Group-readable but writable, or group-readable by a group this process is not in: refused.
    path.chmod(0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        ensure_key(path)
    # Read-only for the owner and this process's own group (a Kubernetes Secret mounted
    # under the pod's fsGroup): accepted.
    path.chmod(0o440)
    assert ensure_key(path) is not None
    os.chown(path, -1, os.getegid())
    assert ensure_key(path) is not None


class Pristine:
    """A closed log's bytes and what it says (short repr for hypothesis reports)."""

    def __init__(self, data: bytes, said: list[tuple[object, ...]]) -> None:
        self.data = data
        self.said = said

    def __repr__(self) -> str:
        return f"Pristine({len(self.data)} bytes)"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    directory = tmp_path_factory.mktemp("pristine")
    path, _ = make_log(directory, entries=12, every=5)
    return Pristine(path.read_bytes(), dump(path))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(position=st.integers(0, 2**24), bit=st.integers(0, 7))
def test_any_single_byte_change_that_changes_the_log_is_detected(
    pristine: Pristine,
    tmp_path_factory: pytest.TempPathFactory,
    position: int,
    bit: int,
) -> None:
    """Flip any byte of the file: either verification fails, or the log says the same.

    A flip can land in slack space of a page (free space, unused header bytes)
    and change nothing the log says; every flip that changes what it says
    (schema, metadata, entries, checkpoints) must fail verification.
    """
    original, said = pristine.data, pristine.said
    offset = position % len(original)
    changed = bytearray(original)
    changed[offset] ^= 1 << bit
    path = tmp_path_factory.mktemp("flip") / "audit.sqlite"
    path.write_bytes(bytes(changed))
    report = verify_log(path)
    if report.ok:
        assert dump(path) == said, f"undetected change at byte {offset}"


def test_most_byte_flips_in_entry_pages_are_detected(pristine: Pristine, tmp_path: Path) -> None:
    """A deterministic sweep: every byte of every entry body flipped is detected."""
    original = pristine.data
    start = original.index(b'{"data":')
    end = original.rindex(b'"kind":"search"')
    detected = 0
    for offset in range(start, end, 7):
        changed = bytearray(original)
        changed[offset] ^= 0x04
        path = tmp_path / f"flip-{offset}.sqlite"
        path.write_bytes(bytes(changed))
        if not verify_log(path).ok:
            detected += 1
        path.unlink()
    assert detected == len(range(start, end, 7))
