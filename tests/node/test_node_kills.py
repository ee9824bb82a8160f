"""Real ``kill -9`` of node processes mid-import and mid-query: nothing committed is lost.

Each test runs the real CLI (``fieldgate node import``, ``fieldgate node
serve``) as a child process and SIGKILLs it at a point it has been seen to
reach — through ``/proc`` (how far the importer has read its file), the WAL
file, a second read-only connection to the database, or answers received —
never after a sleep. Then the files are reopened as the next start would open
them and checked: SQLite's own integrity check, every record committed
before, the import all or nothing, every answered search in the audit log and
the log's chain intact.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from fieldgate.core.digests import default_digest_key_path, load_digest_key
from fieldgate.core.query import validate_query
from fieldgate.core.tls import DevPKI
from fieldgate.devkit.dev_trust import DevTrust, enc_key_path
from fieldgate.devkit.local_federation import NodeSpec, import_records, node_config
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.verify import verify_log
from fieldgate.node.store import RecordStore
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.tokens import Identity
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import node_stub
from tests.helpers.sealed import hits, sign_for

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")
IMPORT_RECORDS = int(os.environ.get("FIELDGATE_KILL_IMPORT_RECORDS", "15000"))
"""Records in the file whose import is killed (about 780 bytes each)."""
POLL = 0.002
"""Seconds between two looks at a child's state (the wait is for the state, not for time)."""

pytestmark = pytest.mark.slow


def wait_for(
    condition: Callable[[], bool], process: subprocess.Popen[str], what: str, timeout: float = 60
) -> None:
    """Poll ``condition`` until it holds; fail if ``process`` exits first or time runs out."""
    limit = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) before {what}")
        if time.monotonic() > limit:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL)


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL the child's whole process group and reap it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, f"not killed: {process.returncode} {stderr}"


def integrity(database: Path) -> list[str]:
    """``PRAGMA integrity_check`` of a database after a crash (opening replays its WAL)."""
    db = sqlite3.connect(database)
    try:
        return [str(row[0]) for row in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()


def stored(database: Path) -> dict[str, str]:
    """record_id → body, read as a restarted node would read it."""
    with RecordStore.open(database) as store:
        rows = store._db.execute("SELECT record_id, body FROM records").fetchall()
        assert store.count() == len(rows)
        return {str(r[0]): str(r[1]) for r in rows}


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class BigImport:
    path: Path
    ids: frozenset[str]
    base: Path
    """A store holding only records committed before any import was tried."""


@pytest.fixture(scope="module")
def big_import(tmp_path_factory: pytest.TempPathFactory) -> BigImport:
    directory = tmp_path_factory.mktemp("kill-import")
    path = directory / "big.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=IMPORT_RECORDS, seed=3), path)
    with path.open(encoding="utf-8") as lines:
        ids = frozenset(json.loads(line)["record_id"] for line in lines)
    small = directory / "before.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[1], count=300, seed=4), small)
    spec = NodeSpec("base", "Base", None, small)
    import_records(spec, directory)
    base = node_config(spec, directory).database
    assert not ids & set(stored(base))
    return BigImport(path, ids, base)


class ImportWatch:
    """What a running import has done, seen from outside: /proc, the WAL, a reader."""

    def __init__(self, process: subprocess.Popen[str], source: Path, database: Path) -> None:
        self.process, self.source, self.database = process, source.resolve(), database
        self.size = source.stat().st_size
        self.passes = 0  # how many times the importer has (re)started reading the file
        self.position = 0

    def look(self) -> None:
        """Read where the importer's file descriptor on the source file is."""
        position = None
        fds = Path(f"/proc/{self.process.pid}/fd")
        for fd in fds.iterdir() if fds.exists() else ():
            try:
                if Path(os.readlink(fd)) != self.source:
                    continue
                info = Path(f"/proc/{self.process.pid}/fdinfo/{fd.name}").read_text()
            except OSError:
                continue  # closed between listing and reading
            position = int(info.split("pos:")[1].split()[0])
        if position is None:
            return
        if position < self.position or (self.passes == 0 and position > 0):
            self.passes += 1  # the second pass reopens the file and starts from 0
        self.position = position

    def reading(self, number: int, fraction: float) -> bool:
        self.look()
        return self.passes == number and self.position >= fraction * self.size

    def wal_bytes(self) -> int:
        wal = self.database.with_name(self.database.name + "-wal")
        return wal.stat().st_size if wal.exists() else 0

    def committed_beyond(self, base: int) -> bool:
        """Whether a second, read-only connection sees more than ``base`` records committed."""
        self.look()
        if self.passes < 2:
            return False
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute("SELECT count(*) FROM records").fetchone()[0]) > base
        finally:
            db.close()


KILL_POINTS: dict[str, tuple[Callable[[ImportWatch, int], bool], set[str]]] = {
    # name: (when to kill, given the watch and the records committed before; what may survive)
    "checking, half the file read": (lambda w, base: w.reading(1, 0.5), {"none"}),
    "inserting, uncommitted pages in the WAL": (
        lambda w, base: w.reading(2, 0.4) and w.wal_bytes() > 1 << 20,
        {"none"},
    ),
    "inserting, last lines read": (lambda w, base: w.reading(2, 0.99), {"none", "all"}),
    "committed, process still closing": (lambda w, base: w.committed_beyond(base), {"all"}),
}


@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="kill points are seen in /proc")
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_an_import_killed_midway_is_all_or_nothing_and_loses_nothing_committed(
    big_import: BigImport, tmp_path: Path, point: str
) -> None:
    when, allowed = KILL_POINTS[point]
    database = tmp_path / "node.sqlite"
    database.write_bytes(big_import.base.read_bytes())
    before = stored(database)
    process = subprocess.Popen(
        [FIELDGATE, "node", "import", "--db", str(database), str(big_import.path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    watch = ImportWatch(process, big_import.path, database)
    try:
        wait_for(lambda: when(watch, len(before)), process, point)
        wal = watch.wal_bytes()
    finally:
        kill(process)
    assert integrity(database) == ["ok"]
    after = stored(database)
    assert {i: after[i] for i in before} == before  # every record committed before, unchanged
    new = set(after) - set(before)
    survived = "none" if not new else "all" if new == big_import.ids else "part"
    assert survived in allowed, f"{point}: {len(new)} of {len(big_import.ids)} records survived"
    print(
        f"\nkill -9 {point}: pass {watch.passes}, byte {watch.position:,} of {watch.size:,},"
        f" WAL {wal:,} bytes; {survived} of {len(big_import.ids):,} records survived,"
        f" {len(before)} committed before kept"
    )
    if survived == "none":
        # The store takes the same import again, whole.
        done = subprocess.run(
            [FIELDGATE, "node", "import", "--json", "--db", str(database), str(big_import.path)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["imported"] == len(big_import.ids)
        assert set(stored(database)) == set(before) | big_import.ids
        assert integrity(database) == ["ok"]


# --------------------------------------------------------------------------- query


NOBODY = common_pb2.PersonQuery(surname="QUIZZLEWICK", given_name="ZEBEDIAH", dob="1950-01-01")
KILLS = 5
ANSWERS_BEFORE_KILL = 100


@dataclass
class SecureNode:
    """A node's TOML (mutual TLS, trust bundle, audit log) and what it needs beside it."""

    config: Path
    database: Path
    audit: Path
    kit: DevTrust
    pki: DevPKI
    stderr: Path


@pytest.fixture
def secure_node(tmp_path: Path) -> SecureNode:
    records = tmp_path / "kcso.jsonl"
    write_jsonl(generate_agency_records(DEMO_AGENCIES[0], count=300, seed=5), records)
    spec = NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"), records)
    import_records(spec, tmp_path)
    config = node_config(spec, tmp_path)
    kit = DevTrust(tmp_path / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    answer_key = kit.add_node("kcso")
    kit.write()
    pki = DevPKI.create(tmp_path / "pki", ["broker", "kcso"])
    tls = pki.files("kcso")
    path = tmp_path / "kcso.toml"
    path.write_text(
        "\n".join(
            [
                "[node]",
                'id = "kcso"',
                'agency_name = "King County"',
                'listen = "127.0.0.1:0"',
                f'database = "{config.database}"',
                f'contract = "{spec.contract}"',
                f'rego_library = "{config.rego_library}"',
                "[node.tls]",
                f'ca = "{tls.ca}"',
                f'cert = "{tls.cert}"',
                f'key = "{tls.key}"',
                'allowed_clients = ["broker"]',
                "[node.trust]",
                f'bundle = "{kit.bundle_path}"',
                f'revocations = "{kit.revocations_path}"',
                f'authority_key = "{kit.authority_path}"',
                f'answer_key = "{answer_key}"',
                f'enc_key = "{enc_key_path(kit.config(), "kcso")}"',
                "[node.audit]",
                "checkpoint_every = 100000",  # the tail is covered by the chain alone
                "checkpoint_seconds = 3600",
                "[node.limits]",  # one detective polls one person on purpose here
                "enabled = false",
                "[node.timing]",  # the kills need answers fast, not at a fixed time
                "answer_floor_ms = 0",
                "[node.contact]",
                'unit = "Records"',
                'phone = "206-555-0100"',
            ]
        )
    )
    audit = tmp_path / "kcso.audit.sqlite"
    return SecureNode(path, config.database, audit, kit, pki, tmp_path / "node.stderr")


@dataclass(frozen=True)
class Answered:
    digest: str
    hits: tuple[str, ...]


class Stream:
    """Clients sending signed searches to one node until it goes away."""

    def __init__(self, node: SecureNode, address: str, cycle: int, workers: int = 4) -> None:
        self.node, self.address, self.cycle = node, address, cycle
        self.identity: Identity = node.kit.identity(
            "bellevue-pd", "det-4711", ["criminal_investigation"]
        )
        self.answered: dict[str, Answered] = {}
        self.sent: set[str] = set()
        self.enough = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(workers)]

    def __enter__(self) -> Stream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for thread in self._threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in self._threads)

    def _run(self, worker: int) -> None:
        subject = common_pb2.PersonQuery(
            surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
        )
        channel, stub = node_stub(self.address, self.node.pki.files("broker"))
        with channel:
            for number in range(100_000):
                request_id = f"c{self.cycle}-w{worker}-{number}"
                query = subject if number % 3 else NOBODY
                signed = sign_for(
                    self.node.kit,
                    self.identity,
                    query=query,
                    purpose="criminal_investigation",
                    case_number="BPD-2026-018233",
                    audience=["kcso"],
                )
                with self._lock:
                    self.sent.add(request_id)
                try:
                    answer = stub.Search(
                        node_pb2.NodeServiceSearchRequest(request_id=request_id, signed=signed),
                        timeout=10,
                    )
                except grpc.RpcError:
                    return  # the node is gone
                # The node's keyed digest: its key is made beside the database at start.
                digester = load_digest_key(default_digest_key_path(self.node.database))
                digest = digester.query(validate_query(query))
                with self._lock:
                    self.answered[request_id] = Answered(
                        digest,
                        tuple(h.record_id for h in hits(self.node.kit, answer, signed)),
                    )
                    if len(self.answered) >= ANSWERS_BEFORE_KILL:
                        self.enough.set()


def start_node_process(node: SecureNode) -> tuple[subprocess.Popen[str], str]:
    with node.stderr.open("a") as stderr:
        process = subprocess.Popen(
            [FIELDGATE, "node", "serve", "--config", str(node.config)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on" in line, line + node.stderr.read_text()
    return process, line.split("listening on ")[1].split()[0]


def audit_searches(path: Path) -> dict[str, dict[str, object]]:
    """request id → data of its search entry."""
    with AuditReader(path) as reader:
        return {
            row.document()["data"]["request_id"]: row.document()["data"]
            for row in reader.entries("search")
        }


def test_a_node_killed_mid_query_again_and_again_loses_no_answered_search_and_no_record(
    secure_node: SecureNode,
) -> None:
    records_before = stored(secure_node.database)
    answered: dict[str, Answered] = {}
    sent: set[str] = set()
    for cycle in range(KILLS):
        process, address = start_node_process(secure_node)
        try:
            with Stream(secure_node, address, cycle) as stream:
                wait_for(stream.enough.is_set, process, f"{ANSWERS_BEFORE_KILL} answers")
                kill(process)  # mid-stream: four clients have searches in flight
        finally:
            if process.poll() is None:
                kill(process)
        assert len(stream.answered) >= ANSWERS_BEFORE_KILL
        assert any(a.hits for a in stream.answered.values())
        answered |= stream.answered
        sent |= stream.sent
        assert integrity(secure_node.database) == ["ok"]
        assert integrity(secure_node.audit) == ["ok"]
    # The last restart answers again and stops gracefully (signing the chain's head).
    process, address = start_node_process(secure_node)
    try:
        identity = secure_node.kit.identity("bellevue-pd", "det-4711", ["criminal_investigation"])
        query = common_pb2.PersonQuery(
            surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
        )
        channel, stub = node_stub(address, secure_node.pki.files("broker"))
        after = sign_for(
            secure_node.kit,
            identity,
            query=query,
            purpose="criminal_investigation",
            case_number="BPD-2026-018233",
            audience=["kcso"],
        )
        with channel:
            answer = stub.Search(
                node_pb2.NodeServiceSearchRequest(request_id="after", signed=after), timeout=10
            )
        assert hits(secure_node.kit, answer, after)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
    entries = audit_searches(secure_node.audit)
    for request_id, got in answered.items():
        assert request_id in entries, f"{request_id} was answered without an audit entry"
        assert entries[request_id]["query_digest"] == got.digest, request_id
        assert tuple(entries[request_id]["disclosed"]) == got.hits, request_id  # type: ignore[arg-type]
    assert set(entries) <= sent | {"after"}  # no entry for a search nobody sent
    report = verify_log(secure_node.audit)
    assert report.ok, report.problems
    assert report.uncovered == 0
    assert stored(secure_node.database) == records_before
    print(
        f"\n{KILLS} x kill -9 mid-stream: {len(sent):,} signed searches sent,"
        f" {len(answered):,} answers received, {len(entries) - 1:,} audit entries"
        f" (every answer among them), chain verified"
    )


def test_a_search_captured_before_a_restart_is_not_answered_after_it(
    secure_node: SecureNode,
) -> None:
    """The nonce memory is lost with the process; proofs older than the new one are refused."""
    identity = secure_node.kit.identity("bellevue-pd", "det-4711", ["criminal_investigation"])
    query = common_pb2.PersonQuery(
        surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
    )

    def signed() -> common_pb2.SignedSearch:
        return sign_for(
            secure_node.kit,
            identity,
            query=query,
            purpose="criminal_investigation",
            case_number="KC-2026-1",
            audience=["kcso"],
        )

    def ask(address: str, request_id: str, search: common_pb2.SignedSearch) -> int:
        channel, stub = node_stub(address, secure_node.pki.files("broker"))
        with channel:
            answer = stub.Search(
                node_pb2.NodeServiceSearchRequest(request_id=request_id, signed=search), timeout=10
            )
        return len(hits(secure_node.kit, answer, search))

    process, address = start_node_process(secure_node)
    try:
        captured = signed()
        first = ask(address, "first", captured)
        replayed = ask(address, "replayed", captured)
    finally:
        kill(process)
    process, address = start_node_process(secure_node)
    try:
        after_restart = ask(address, "after-restart", captured)
        fresh = ask(address, "fresh", signed())
    finally:
        kill(process)
    assert first > 0  # the subject is held and released to a detective
    assert replayed == 0  # the same proof twice: the node's nonce memory refuses it
    assert after_restart == 0  # a new process has no memory of it, so its age refuses it
    assert fresh == first  # a search signed after the restart is answered as before
