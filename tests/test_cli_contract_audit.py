"""``fieldgate contract diff OLD NEW --audit``: replaying a node's real audit log.

The log is made by a real node (store, catalog, contract engine, audit store)
answering real searches: in January under the sanctuary contract, in February
under the permissive one (the audit store's clock is set to those months, so
``--since`` has something to filter). The command then runs as an analyst
runs it, and its answers are checked against the independent oracle
(``tests/helpers/oracle.py``) and against the log itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fieldgate.client.broker_client import Requester
from fieldgate.core.claims import validate_requester
from fieldgate.core.query import validate_query
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import NodeSpec, import_records, node_config
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.disclosure_log import DisclosureLog
from fieldgate.node.server import build_node
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2
from tests.helpers.audit import PreWarrantsAuditLog, StepClock, tamper
from tests.helpers.oracle import Expected, expected

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")
ROOT = Path(__file__).resolve().parents[1]
PERMISSIVE = str(shipped_contract("permissive"))
SANCTUARY = str(shipped_contract("sanctuary_county"))
CLASSES = load_catalog(default_catalog_path()).classes()
EXISTS = "(record exists)"
JANUARY = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)
FEBRUARY = dt.datetime(2026, 2, 10, 9, 0, tzinfo=dt.UTC)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FIELDGATE, *args], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )


@dataclasses.dataclass
class AuditedNode:
    """A node's record store and audit log after two months of searches."""

    workdir: Path
    raw: dict[str, dict[str, Any]]  # record id → raw record as imported
    requesters: dict[str, Requester]  # subject → requester
    today: dt.date

    @property
    def store(self) -> Path:
        return self.workdir / "kcso.sqlite"

    @property
    def audit(self) -> Path:
        return self.workdir / "kcso.audit.sqlite"

    def entries(self, subject: str, since: dt.date | None = None) -> list[dict[str, Any]]:
        """The data of every search entry by ``subject`` (since a day)."""
        with AuditReader(self.audit) as reader:
            found = []
            for row in reader.entries("search"):
                if since and dt.datetime.fromisoformat(row.time).date() < since:
                    continue
                data = row.document()["data"]
                if data["requester"]["subject"] == subject:
                    found.append(data)
            return found

    def diff(self, old: str, new: str, *extra: str, store: Path | None = None) -> Any:
        done = run(
            "contract", "diff", old, new, "--audit", str(self.audit),
            "--records-db", str(store or self.store), "--json", *extra,
        )  # fmt: skip
        assert done.returncode in (0, 1), done.stdout + done.stderr
        document = json.loads(done.stdout)
        document["exit"] = done.returncode
        return document


def _search_as_node(
    workdir: Path, spec: NodeSpec, audit: DisclosureLog, personas: list[Requester], tag: str
) -> None:
    """Every persona searches the planted person once, on a real node core running ``spec``."""
    node = build_node(node_config(spec, workdir), audit)
    query = validate_query(
        common_pb2.PersonQuery(
            surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
        )
    )
    try:
        for number, requester in enumerate(personas):
            claims = validate_requester(requester.to_message())
            node.search(f"{tag}-{number}", claims, query)
    finally:
        node.contract.close()
        node.store.close()


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> AuditedNode:
    workdir = tmp_path_factory.mktemp("replay")
    agency = DEMO_AGENCIES[0]
    records = workdir / "kcso.jsonl"
    write_jsonl(generate_agency_records(agency, count=80, seed=5), records)
    raw = {r["record_id"]: r for r in map(json.loads, records.read_text().splitlines())}
    sanctuary = NodeSpec("kcso", agency.name, Path(SANCTUARY), records)
    import_records(sanctuary, workdir)
    personas = [p.requester for p in demo_personas(dt.date.today())]
    clock = StepClock(JANUARY)
    audit = AuditStore.open(
        workdir / "kcso.audit.sqlite",
        node_id="kcso",
        key=ensure_key(workdir / "kcso.audit-key.pem"),
        checkpoint_every=4,
        clock=clock,
    )
    try:
        _search_as_node(workdir, sanctuary, audit, personas, "jan")
        clock.now = FEBRUARY
        permissive = dataclasses.replace(sanctuary, contract=Path(PERMISSIVE))
        _search_as_node(workdir, permissive, audit, personas, "feb")
    finally:
        audit.close()
    return AuditedNode(workdir, raw, {p.subject: p for p in personas}, dt.date.today())


def _label(found: Expected | None, name: str) -> str:
    if found is None:
        return "withheld"
    if name in found.whole:
        return "released"
    return f"masked:{found.masked[name]}" if name in found.masked else "withheld"


def _oracle_changes(
    node: AuditedNode, subject: str, entries: list[dict[str, Any]], old: str, new: str
) -> dict[str, set[tuple[str, str, str]]]:
    """Per change kind, (field, old, new) the oracle says NEW brings over OLD for these searches."""
    rank = {"withheld": 0, "masked:city": 1, "masked:last4": 1, "released": 2}
    requester = node.requesters[subject]
    out: dict[str, set[tuple[str, str, str]]] = {"lost": set(), "gained": set()}
    for data in entries:
        for matched in data["records"]:
            record = node.raw[matched["record_id"]]
            before = expected(old, requester, record, CLASSES, node.today)
            after = expected(new, requester, record, CLASSES, node.today)
            pairs = [(EXISTS, *(("disclosed" if e else "withheld") for e in (before, after)))]
            pairs += [(f, _label(before, f), _label(after, f)) for f in record if f in CLASSES]
            for name, a, b in pairs:
                if rank.get(a, 1) > rank.get(b, 1):
                    out["lost"].add((name, a, b))
                elif rank.get(a, 1) < rank.get(b, 1):
                    out["gained"].add((name, a, b))
    return out


def _rows(document: dict[str, Any], subject: str) -> dict[str, Any]:
    (row,) = [r for r in document["requesters"] if r["subject"] == subject]
    return row


def _changes(row: dict[str, Any], change: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (item["field"], item["old"], item["new"]): {**item, "class": cls}
        for cls, items in row[change].items()
        for item in items
    }


def test_immigration_officer_loses_exactly_what_the_oracle_says_and_used_it(
    audited: AuditedNode,
) -> None:
    document = audited.diff(PERMISSIVE, SANCTUARY, "--since", "2026-02-01")
    assert document["exit"] == 0  # only losses
    assert document["chain"]["verified"] is True
    entries = audited.entries("ero-0917", since=FEBRUARY.date())
    assert len(entries) == 1
    assert entries[0]["records"]
    row = _rows(document, "ero-0917")
    assert (row["agency"], row["agency_type"], row["purpose"]) == (
        "ice-ero-seattle",
        "civil_immigration",
        "civil_immigration",
    )
    assert row["immigration_context"] is True
    assert row["queries"] == 1
    assert row["records"] == len(entries[0]["records"])
    lost = _changes(row, "lost")
    oracle = _oracle_changes(audited, "ero-0917", entries, "permissive", "sanctuary_county")
    assert set(lost) == oracle["lost"]
    assert not oracle["gained"]
    assert row["gained"] == {}
    assert {name for name, _, _ in lost} >= {EXISTS, "surname", "address", "phone"}
    assert not any(CLASSES.get(name) == "immigration_status" for name, _, _ in lost)
    for key, item in lost.items():
        assert item["class"] == CLASSES.get(key[0], EXISTS)
    # Under the permissive contract of February the officer received every one of them.
    sent = {r["record_id"] for r in entries[0]["records"] if r["sent"]}
    assert sent
    assert all(item["used"] and item["used_queries"] == 1 for item in lost.values())
    surname = lost[("surname", "released", "withheld")]
    assert surname["used_records"] == len(sent) == surname["records"]


def test_used_counts_only_answers_that_carried_what_would_be_lost(audited: AuditedNode) -> None:
    document = audited.diff(PERMISSIVE, SANCTUARY)
    assert document["since"] is None
    assert document["queries"] == 6
    officer = _rows(document, "ero-0917")
    assert officer["queries"] == 2
    lost = _changes(officer, "lost")
    assert lost
    # January ran the sanctuary contract: the officer got nothing then.
    assert all(item["queries"] == 2 and item["used_queries"] == 1 for item in lost.values())
    detective = _changes(_rows(document, "det-4711"), "lost")
    address = detective[("address", "released", "masked:city")]
    # January: the address went out as the city only, which the new contract still gives.
    assert (address["queries"], address["used_queries"]) == (2, 1)
    assert address["class"] == "location"
    groups = {(g["agency_type"], g["purpose"]): g for g in document["by_agency_type_purpose"]}
    immigration = groups[("civil_immigration", "civil_immigration")]
    assert immigration["requesters"] == 1
    assert immigration["queries"] == 2
    assert set(_changes(immigration, "lost")) == set(lost)
    # The replay of the old contract reproduces what the node audited under it.
    assert document["old_reproduces_audit"]["differ"] >= 1  # January ran another contract
    assert document["not_replayable"]["records"] == 0


def test_since_filters_the_searches_replayed(audited: AuditedNode) -> None:
    february = audited.diff(PERMISSIVE, SANCTUARY, "--since", "2026-02-01")
    assert february["queries"] == 3
    assert {r["subject"]: r["queries"] for r in february["requesters"]} == {
        "det-4711": 1,
        "ero-0917": 1,
        "sa-2231": 1,
    }
    # Only February's answers, all decided by the permissive contract: OLD reproduces them.
    assert february["old_reproduces_audit"]["differ"] == 0
    assert february["old_reproduces_audit"]["agree"] == february["records"] > 0
    later = audited.diff(PERMISSIVE, SANCTUARY, "--since", "2026-03-01")
    assert (later["queries"], later["records"], later["requesters"]) == (0, 0, [])


def test_a_gain_for_civil_immigration_exits_one_unless_accepted(audited: AuditedNode) -> None:
    refused = run(
        "contract", "diff", SANCTUARY, PERMISSIVE, "--audit", str(audited.audit),
        "--store", str(audited.store),
    )  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "GAINS ACCESS IN A CIVIL IMMIGRATION CONTEXT" in refused.stdout
    assert "release widens for civil immigration requesters: ero-0917" in refused.stderr
    assert "refused" in refused.stderr
    document = audited.diff(SANCTUARY, PERMISSIVE, "--since", "2026-02-01")
    assert document["exit"] == 1
    assert document["flagged"] is True
    row = _rows(document, "ero-0917")
    assert row["flagged"] is True
    gained = _changes(row, "gained")
    entries = audited.entries("ero-0917", since=FEBRUARY.date())
    oracle = _oracle_changes(audited, "ero-0917", entries, "sanctuary_county", "permissive")
    assert set(gained) == oracle["gained"]
    # February's answers (permissive) already carried what the officer would gain.
    assert all(item["used"] for item in gained.values())
    assert not _rows(document, "det-4711")["flagged"]
    accepted = audited.diff(SANCTUARY, PERMISSIVE, "--accept-widening")
    assert accepted["exit"] == 0
    assert accepted["accepted"] is True
    assert accepted["flagged"] is True


def test_a_purged_record_is_reported_not_replayable(audited: AuditedNode, tmp_path: Path) -> None:
    store = shutil.copyfile(audited.store, tmp_path / "kcso.sqlite")
    (entry,) = audited.entries("ero-0917", since=FEBRUARY.date())
    gone = entry["records"][0]["record_id"]
    with RecordStore.open(store) as records:
        records.dispose([], [gone])
        assert records.get(gone) is None
    document = audited.diff(PERMISSIVE, SANCTUARY, "--since", "2026-02-01", store=store)
    items = document["not_replayable"]["items"]
    # Every February search matched the planted person's record: three queries lose it.
    assert {(i["record_id"], i["reason"].split(" (")[0]) for i in items} == {
        (gone, "record no longer held")
    }
    assert document["not_replayable"] == {"records": 3, "queries": 3, "items": items}
    row = _rows(document, "ero-0917")
    assert row["not_replayable"] == 1
    assert row["records"] == len(entry["records"]) - 1
    table = run(
        "contract", "diff", PERMISSIVE, SANCTUARY, "--audit", str(audited.audit),
        "--records-db", str(store), "--since", "2026-02-01",
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "3 not replayable" in table.stdout
    assert f"record {gone}: record no longer held" in table.stdout


def test_the_table_names_requesters_changes_and_use(audited: AuditedNode) -> None:
    done = run(
        "contract", "diff", PERMISSIVE, SANCTUARY, "--audit", str(audited.audit),
        "--records-db", str(audited.store),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "ero-0917 of ice-ero-seattle (civil_immigration, civil_immigration" in out
    assert "LOST" in out
    assert "GAINED" not in out
    assert "released → withheld" in out
    assert "by agency type and purpose" in out
    assert "sa-2231" in out
    assert (
        "2 queries with warrants; whether they applied: 4 records as logged, 0 guessed "
        "(assume-named)" in out
    )
    assert "replayed with a guess" not in out


def test_a_log_that_fails_verification_is_refused(audited: AuditedNode, tmp_path: Path) -> None:
    altered = shutil.copyfile(audited.audit, tmp_path / "altered.sqlite")
    tamper(altered, "UPDATE entries SET body = replace(body, 'ero-0917', 'ero-0918') WHERE seq = 2")
    done = run(
        "contract", "diff", PERMISSIVE, SANCTUARY, "--audit", str(altered),
        "--records-db", str(audited.store),
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "fails verification at entry 2" in done.stderr
    assert "refusing to replay" in done.stderr


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("missing", "no such audit database"),
        ("not-a-log", "is not a Fieldgate audit database"),
        ("garbage", "fails verification"),
        ("bad-date", "Invalid value for '--since'"),
        ("no-store", "--audit needs --records-db"),
        ("missing-store", "no such record store"),
    ],
)
def test_mistakes_get_messages_not_tracebacks(
    audited: AuditedNode, tmp_path: Path, change: str, words: str
) -> None:
    audit, extra = str(audited.audit), ["--records-db", str(audited.store)]
    if change == "missing":
        audit = str(tmp_path / "nope.sqlite")
    elif change == "not-a-log":
        audit = str(audited.store)
    elif change == "garbage":
        (tmp_path / "garbage.sqlite").write_bytes(b"not a database at all" * 100)
        audit = str(tmp_path / "garbage.sqlite")
    elif change == "bad-date":
        extra += ["--since", "2026-13-40"]
    elif change == "no-store":
        extra = []
    elif change == "missing-store":
        extra = ["--records-db", str(tmp_path / "nope.sqlite")]
    done = run("contract", "diff", PERMISSIVE, SANCTUARY, "--audit", audit, *extra)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert words in done.stderr


NAMESAKE = "KCSO-B-990002"
"""A booking of another HERNANDEZ, MIGUEL, born 3 July 1986: the subject's search matches it."""


@dataclasses.dataclass
class WarrantLogs:
    """One record store; the same searches audited by today's node and in the older format."""

    workdir: Path
    current: Path
    legacy: Path

    def diff(self, audit: Path, *extra: str) -> Any:
        done = run(
            "contract", "diff", SANCTUARY, PERMISSIVE, "--audit", str(audit),
            "--records-db", str(self.workdir / "kcso.sqlite"), "--json", "--accept-widening",
            *extra,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def warrant_logs(tmp_path_factory: pytest.TempPathFactory) -> WarrantLogs:
    """The federal agent (warrant naming the subject) and the detective search, under sanctuary.

    The same node searches twice: once into a log written as the node writes
    it now, once into one whose entries lack ``warrants_applied`` (the real
    audit store, the key removed before the entry is chained).
    """
    workdir = tmp_path_factory.mktemp("replay-warrants")
    agency = DEMO_AGENCIES[0]
    records = generate_agency_records(agency, count=80, seed=5)
    (booking,) = [r for r in records if r["record_id"] == "KCSO-B-004417"]
    namesake = {**booking, "record_id": NAMESAKE, "booking_number": "K26990002"}
    namesake["dob"] = "1986-07-03"
    write_jsonl([*records, namesake], workdir / "kcso.jsonl")
    spec = NodeSpec("kcso", agency.name, Path(SANCTUARY), workdir / "kcso.jsonl")
    import_records(spec, workdir)
    personas = [
        p.requester
        for p in demo_personas(dt.date.today())
        if p.requester.subject in ("sa-2231", "det-4711")
    ]
    logs = WarrantLogs(workdir, workdir / "current.sqlite", workdir / "legacy.sqlite")
    for path in (logs.current, logs.legacy):
        audit = AuditStore.open(
            path,
            node_id="kcso",
            key=ensure_key(workdir / "audit-key.pem"),
            clock=StepClock(JANUARY),
        )
        try:
            log = audit if path == logs.current else PreWarrantsAuditLog(audit)
            _search_as_node(workdir, spec, log, personas, path.stem)
        finally:
            audit.close()
    return logs


def _applied(path: Path) -> dict[str, list[str] | None]:
    """record id → warrants_applied logged in the agent's search (None when absent)."""
    with AuditReader(path) as reader:
        (data,) = [
            row.document()["data"]
            for row in reader.entries("search")
            if row.document()["data"]["requester"]["subject"] == "sa-2231"
        ]
    return {r["record_id"]: r.get("warrants_applied") for r in data["records"]}


def _without_mode(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "warrants"}


def test_a_new_log_replays_the_warrants_as_logged_whatever_the_guess(
    warrant_logs: WarrantLogs,
) -> None:
    warrant = "2:26-mj-00417"
    subject = {r.record_id for r in DEMO_SUBJECT.records_at("kcso")}
    applied = _applied(warrant_logs.current)
    assert subject | {NAMESAKE} <= set(applied)
    assert {rid: ids for rid, ids in applied.items() if ids} == {rid: [warrant] for rid in subject}
    named = warrant_logs.diff(warrant_logs.current, "--warrants", "assume-named")
    never = warrant_logs.diff(warrant_logs.current, "--warrants", "never")
    assert named["warrants"] == "assume-named"
    assert never["warrants"] == "never"
    assert _without_mode(named) == _without_mode(never)
    agent = _rows(named, "sa-2231")
    assert agent["records"] == len(applied)
    assert agent["warrant_applicability"] == {"logged": len(applied), "guessed": 0}
    assert _rows(named, "det-4711")["warrant_applicability"]["guessed"] == 0
    assert named["warrant_applicability"] == {"logged": named["records"], "guessed": 0}
    # The node ran OLD (sanctuary): with what the contract was told, the replay is exact.
    assert named["old_reproduces_audit"]["differ"] == 0
    assert named["old_reproduces_audit"]["agree"] == named["records"]


def test_an_old_log_without_the_key_verifies_and_replays_with_the_guess(
    warrant_logs: WarrantLogs,
) -> None:
    applied = _applied(warrant_logs.legacy)
    assert applied
    assert set(applied.values()) == {None}
    verified = run("audit", "verify", "--db", str(warrant_logs.legacy))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    named = warrant_logs.diff(warrant_logs.legacy, "--warrants", "assume-named")
    never = warrant_logs.diff(warrant_logs.legacy, "--warrants", "never")
    for document in (named, never):
        agent = _rows(document, "sa-2231")
        assert agent["warrant_applicability"] == {"logged": 0, "guessed": len(applied)}
        # The detective presented no warrant: nothing to guess.
        assert _rows(document, "det-4711")["warrant_applicability"] == {"logged": 0, "guessed": 0}
    # Each guess is wrong somewhere: assume-named gives the namesake the
    # subject's warrant, never takes it from the subject's two records.
    assert named["old_reproduces_audit"]["differ"] == 1
    assert never["old_reproduces_audit"]["differ"] == 2
    assert _without_mode(named) != _without_mode(never)
    current = warrant_logs.diff(warrant_logs.current, "--warrants", "never")
    assert _rows(current, "sa-2231")["gained"] != _rows(never, "sa-2231")["gained"]
    table = run(
        "contract", "diff", SANCTUARY, PERMISSIVE, "--audit", str(warrant_logs.legacy),
        "--records-db", str(warrant_logs.workdir / "kcso.sqlite"), "--accept-widening",
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert f"whether they applied: 0 records as logged, {len(applied)} guessed" in table.stdout
    assert f"{len(applied)} records replayed with a guess" in table.stdout


def test_a_catalog_change_is_replayed_and_flagged(audited: AuditedNode, tmp_path: Path) -> None:
    # The contract stays; the catalog moves citizenship into identity, a class
    # the sanctuary contract releases whole to criminal investigators.
    text = default_catalog_path().read_text()
    moved = tmp_path / "moved.toml"
    start = text.index("[fields.citizenship]")
    end = text.index("[fields.", start + 1) if "[fields." in text[start + 1 :] else len(text)
    block = text[start:end]
    assert 'class = "immigration_status"' in block
    moved.write_text(text[:start] + block.replace("immigration_status", "identity") + text[end:])
    document = audited.diff(
        SANCTUARY, SANCTUARY, "--since", "2026-01-01", "--new-catalog", str(moved)
    )
    assert document["catalog_changes"] == {
        "citizenship": {"old_class": "immigration_status", "new_class": "identity"}
    }
    assert document["catalog_gains"] == ["citizenship"]
    assert document["flagged"] is True
    assert document["exit"] == 1
    gains = _changes(_rows(document, "det-4711"), "gained")
    assert ("citizenship", "withheld", "released") in gains
    # The same catalog on both sides changes nothing.
    same = audited.diff(SANCTUARY, SANCTUARY, "--since", "2026-01-01")
    assert (same["catalog_changes"], same["catalog_gains"], same["exit"]) == ({}, [], 0)
