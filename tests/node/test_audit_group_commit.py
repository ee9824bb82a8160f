"""Group commit of audit entries (node/audit/group_commit.py) on a real SQLite audit log.

Searches that finish while a transaction is being written share the next one.
What must hold: every writer returns only once its own entry is committed,
a failed transaction fails every writer in it (and is counted per entry),
nothing is held back to fill a batch, and the chain stays whole.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldgate.core.claims import RequesterClaims
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.audit.verify import verify_log
from fieldgate.node.disclosure_log import DisclosureEntry, RecordOutcome
from fieldgate.node.errors import DisclosureLogError
from fieldgate.policy.verdict import FieldVerdict, RecordVerdict

KEY = Ed25519PrivateKey.generate()
CLAIMS = RequesterClaims(
    subject="det-1",
    agency="Seattle PD",
    agency_type="municipal_police",
    roles=("investigator",),
    purpose="criminal_investigation",
    case_number="2026-000123",
    authority=(),
)


def entry(request_id: str) -> DisclosureEntry:
    return DisclosureEntry(
        request_id=request_id,
        node_id="kcso",
        time=dt.datetime.now(dt.UTC),
        requester=CLAIMS,
        query_digest="0" * 64,
        contract_version="1" * 64,
        records=(),
        disclosed_record_ids=(),
    )


def open_store(path: Path, busy_timeout: float = 2.0, *, maintenance: bool = False) -> AuditStore:
    return AuditStore.open(
        path,
        node_id="kcso",
        key=KEY,
        busy_timeout_seconds=busy_timeout,
        maintenance=maintenance,
    )


def written_ids(path: Path) -> list[str]:
    with AuditReader(path) as reader:
        return [json.loads(e.body)["data"]["request_id"] for e in reader.entries("search")]


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (bounded) for another thread to reach an observable state."""
    gate = threading.Event()
    for _ in range(5000):
        if condition():
            return
        gate.wait(0.001)
    raise AssertionError(f"timed out waiting until {what}")


def writer(store: AuditStore, request_id: str, errors: list[BaseException]) -> threading.Thread:
    def write() -> None:
        try:
            store.write(entry(request_id))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=write, name=request_id)
    thread.start()
    return thread


def test_entries_that_wait_behind_a_transaction_share_the_next(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    errors: list[BaseException] = []
    with open_store(path) as store:
        group = store.group
        # Hold the store's write lock: the first writer leads, takes its own entry
        # and waits for the lock while three more queue behind it.
        with store._lock:
            first = writer(store, "first", errors)
            until(lambda: group.leading and group.queued == 0, "the first writer leads")
            others = [writer(store, f"later-{i}", errors) for i in range(3)]
            until(lambda: group.queued == 3, "three writers queue")
            assert written_ids(path) == []  # nobody has returned: nothing is committed
        for thread in [first, *others]:
            thread.join(timeout=10)
        assert errors == []
        assert (group.batches, group.items) == (2, 4)  # [first], then the three together
        ids = written_ids(path)
        assert ids[0] == "first"
        assert sorted(ids[1:]) == ["later-0", "later-1", "later-2"]
        assert not group.leading
    report = verify_log(path, public_key=KEY.public_key())
    assert report.ok, report.problems


def test_a_writer_alone_commits_at_once_in_its_own_transaction(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    with open_store(path) as store:
        for i in range(5):
            store.write(entry(f"alone-{i}"))
            assert written_ids(path)[-1] == f"alone-{i}"  # durable when write returns
        assert (store.group.batches, store.group.items) == (5, 5)


def test_a_failed_transaction_fails_every_writer_in_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    errors: list[BaseException] = []
    with open_store(path, busy_timeout=0.05) as store:
        store.write(entry("before"))
        # Another process holds the database's write lock past the busy timeout.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with store._lock:
                first = writer(store, "first", errors)
                until(lambda: store.group.leading and store.group.queued == 0, "a leader")
                others = [writer(store, f"later-{i}", errors) for i in range(3)]
                until(lambda: store.group.queued == 3, "three writers queue")
            for thread in [first, *others]:
                thread.join(timeout=10)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert len(errors) == 4
        assert all(isinstance(e, DisclosureLogError) for e in errors)
        assert all("locked" in str(e) for e in errors)
        assert store.write_failures == 4  # counted per refused entry, not per transaction
        assert written_ids(path) == ["before"]
        store.write(entry("after"))  # the next write, the lock gone, succeeds
    assert written_ids(path) == ["before", "after"]
    assert verify_log(path, public_key=KEY.public_key()).ok


@pytest.mark.parametrize("threads", [2, 8])
def test_concurrent_writers_keep_one_whole_chain(tmp_path: Path, threads: int) -> None:
    path = tmp_path / "audit.sqlite"
    errors: list[BaseException] = []
    per_thread = 40
    with open_store(path) as store:

        def many(t: int) -> None:
            for i in range(per_thread):
                try:
                    store.write(entry(f"t{t}-{i}"))
                except BaseException as exc:
                    errors.append(exc)

        workers = [threading.Thread(target=many, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=60)
        assert errors == []
        assert store.group.items == threads * per_thread
    ids = written_ids(path)
    assert sorted(ids) == sorted(f"t{t}-{i}" for t in range(threads) for i in range(per_thread))
    for t in range(threads):  # each thread's entries in the order it wrote them
        mine = [i for i in ids if i.startswith(f"t{t}-")]
        assert mine == [f"t{t}-{i}" for i in range(per_thread)]
    report = verify_log(path, public_key=KEY.public_key())
    assert report.ok, report.problems
    assert report.entries == threads * per_thread


def test_a_second_writer_between_two_writes_is_seen(tmp_path: Path) -> None:
    # The store remembers the chain's tip between transactions; another
    # connection's commit (a purge run from the CLI while the node serves,
    # holding the key and checkpointing what it writes) must make it check and
    # adopt the new tip, or the chain would fork.
    path = tmp_path / "audit.sqlite"
    with open_store(path) as serving, open_store(path, maintenance=True) as other:
        serving.write(entry("a-1"))
        other.append("records_purged", {"request_id": "b-1"}, checkpoint=True)
        serving.write(entry("a-2"))
        other.purge_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=400))  # cuts nothing
        other.checkpoint()
        serving.write(entry("a-3"))
    with AuditReader(path) as reader:
        said = [row.document()["data"]["request_id"] for row in reader.entries()]
    assert said == ["a-1", "b-1", "a-2", "a-3"]
    report = verify_log(path, public_key=KEY.public_key())
    assert report.ok, report.problems


def test_a_batch_that_fails_halfway_leaves_the_chain_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    errors: list[BaseException] = []
    with open_store(path) as store:
        store.write(entry("before"))
        outcomes: dict[str, BaseException | None] = {}

        def submit_raw(name: str, data: dict[str, object]) -> threading.Thread:
            def go() -> None:
                try:
                    store.group.submit(("search", data))
                    outcomes[name] = None
                except BaseException as exc:
                    outcomes[name] = exc

            thread = threading.Thread(target=go)
            thread.start()
            return thread

        with store._lock:
            first = writer(store, "first", errors)
            until(lambda: store.group.leading and store.group.queued == 0, "a leader")
            # Straight into the group (write() would refuse the float on its own):
            # the second entry of the batch fails after the first was inserted.
            good = submit_raw("good", {"request_id": "good"})
            until(lambda: store.group.queued == 1, "the good entry queues")
            bad = submit_raw("bad", {"request_id": "bad", "score": 0.5})
            until(lambda: store.group.queued == 2, "the bad entry queues")
        for thread in (first, good, bad):
            thread.join(timeout=10)
        assert errors == []
        assert isinstance(outcomes["good"], DisclosureLogError)  # shared the failed batch
        assert isinstance(outcomes["bad"], DisclosureLogError)
        assert "floats are not allowed" in str(outcomes["bad"])
        failures = store.write_failures
        assert failures == 2  # one per entry refused
        store.write(entry("after"))
    assert written_ids(path) == ["before", "first", "after"]
    report = verify_log(path, public_key=KEY.public_key())
    assert report.ok, report.problems


def test_an_entry_with_no_canonical_form_fails_alone(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    errors: list[BaseException] = []
    verdict = RecordVerdict(
        True,
        (FieldVerdict("surname", "identity", "masked", 0.5, "DOE", "masked"),),  # type: ignore[arg-type]
    )
    bad = dataclasses.replace(
        entry("bad"), records=(RecordOutcome("R-1", verdict, ()),), disclosed_record_ids=("R-1",)
    )
    with open_store(path) as store:
        with store._lock:
            first = writer(store, "first", errors)
            until(lambda: store.group.leading and store.group.queued == 0, "a leader")
            later = writer(store, "later", errors)
            until(lambda: store.group.queued == 1, "a writer queues")
            with pytest.raises(DisclosureLogError, match="floats are not allowed"):
                store.write(bad)  # refused before it could join the queued batch
        for thread in (first, later):
            thread.join(timeout=10)
        assert errors == []
        assert store.write_failures == 1
    assert written_ids(path) == ["first", "later"]
