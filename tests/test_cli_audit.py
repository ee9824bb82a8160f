"""``fieldgate audit ...``, ``node purge`` and ``node keygen`` as an operator runs them."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from fieldgate.client.broker_client import SearchClient
from fieldgate.devkit.demo import CONTRACT_OF, demo_personas
from fieldgate.devkit.local_federation import NodeSpec, import_records, start_federation
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.node.audit.entries import record_fields
from fieldgate.node.audit.schema import AuditReader
from fieldgate.policy.shipped import shipped_contract
from tests.helpers.audit import copy_log, make_log
from tests.helpers.federation import LoopThread

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FIELDGATE, *args], capture_output=True, text=True, timeout=60, check=False
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert words in result.stderr


@dataclass
class Audited:
    """A federation's logs after three requesters searched for the planted person."""

    workdir: Path
    request_ids: list[str]
    references: list[tuple[str, str]]
    """(request id, reference) of every hit King County sent."""

    def db(self, node_id: str = "kcso") -> str:
        return str(self.workdir / f"{node_id}.audit.sqlite")


@pytest.fixture(scope="module")
def audited(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Audited:
    workdir = tmp_path_factory.mktemp("audited")
    specs = []
    for agency in DEMO_AGENCIES:
        path = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=60, seed=4), path)
        spec = NodeSpec(
            agency.node_id, agency.name, shipped_contract(CONTRACT_OF[agency.node_id]), path
        )
        import_records(spec, workdir)
        specs.append(spec)
    federation = loop.run(start_federation(specs, workdir, audit=True))
    request_ids = []
    references = []
    try:
        with SearchClient(federation.broker_address) as client:
            for persona in demo_personas(dt.date.today()):
                result = client.search(
                    persona.requester,
                    surname=DEMO_SUBJECT.surname,
                    given_name=DEMO_SUBJECT.given_name,
                    dob=DEMO_SUBJECT.dob,
                )
                request_ids.append(result.request_id)
                references += [
                    (result.request_id, hit.reference)
                    for agency in result.agencies
                    if agency.node_id == "kcso"
                    for hit in agency.hits
                ]
    finally:
        loop.run(federation.stop())
    return Audited(workdir, request_ids, references)


def test_verify_says_intact_and_exits_zero(audited: Audited) -> None:
    result = run("audit", "verify", "--db", audited.db())
    assert result.returncode == 0, result.stderr
    assert "is intact" in result.stdout
    document = json.loads(run("audit", "verify", "--db", audited.db(), "--json").stdout)
    assert document["ok"] is True
    assert document["entries"] == 3
    assert document["uncovered_entries"] == 0


def test_an_auditor_with_the_digest_key_finds_every_search_for_a_person(
    audited: Audited,
) -> None:
    key = str(audited.workdir / "kcso.digest.key")
    found = json.loads(
        run(
            "audit", "report", "searches-for", "--db", audited.db(), "--json",
            "--digest-key", key,
            "--name", f"{DEMO_SUBJECT.surname}, {DEMO_SUBJECT.given_name}",
            "--dob", DEMO_SUBJECT.dob,
        ).stdout
    )  # fmt: skip
    # All three searches, the immigration officer's (nothing disclosed) among them.
    assert sorted(r["request_id"] for r in found["rows"]) == sorted(audited.request_ids)
    assert {r["subject"] for r in found["rows"]} >= {"det-4711", "ero-0917"}
    nobody = json.loads(
        run(
            "audit", "report", "searches-for", "--db", audited.db(), "--json",
            "--digest-key", key, "--name", "QUILLFEATHER, ZEBEDEE", "--dob", DEMO_SUBJECT.dob,
        ).stdout
    )  # fmt: skip
    assert nobody["rows"] == []
    # Another deployment's key finds nothing: the digests are keyed.
    other = audited.workdir / "other.key"
    other.write_text("ab" * 32)
    wrong = json.loads(
        run(
            "audit", "report", "searches-for", "--db", audited.db(), "--json",
            "--digest-key", str(other),
            "--name", f"{DEMO_SUBJECT.surname}, {DEMO_SUBJECT.given_name}",
            "--dob", DEMO_SUBJECT.dob,
        ).stdout
    )  # fmt: skip
    assert wrong["rows"] == []


def test_verify_names_the_first_bad_entry_and_exits_one(tmp_path: Path) -> None:
    path, _ = make_log(tmp_path)
    data = bytearray(path.read_bytes())
    data[data.index(b"req-0007") + 7] ^= 0x01
    path.write_bytes(bytes(data))
    result = run("audit", "verify", "--db", str(path))
    assert result.returncode == 1
    assert "NOT INTACT" in result.stdout
    assert "first bad entry: 7" in result.stdout
    document = json.loads(run("audit", "verify", "--db", str(path), "--json").stdout)
    assert document["first_bad_entry"] == 7


def test_exported_checkpoints_catch_a_rolled_back_log(tmp_path: Path) -> None:
    path, key = make_log(tmp_path, entries=30)
    older = copy_log(path, tmp_path / "older.sqlite")
    # A newer log of the same node: the witness keeps its checkpoints.
    newer_dir = tmp_path / "newer"
    newer_dir.mkdir()
    (newer_dir / "audit-key.pem").write_bytes((tmp_path / "audit-key.pem").read_bytes())
    (newer_dir / "audit-key.pem").chmod(0o600)
    newer, _ = make_log(newer_dir, entries=40)
    held = tmp_path / "witness.jsonl"
    exported = run("audit", "export-checkpoints", "--db", str(newer), "--out", str(held))
    assert exported.returncode == 0, exported.stderr
    lines = held.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "fieldgate.audit.checkpoints/v1"
    assert len(lines) == 1 + 4
    public = tmp_path / "node.pub"
    public.write_text(json.loads(lines[0])["public_key"])
    fine = run(
        "audit", "verify", "--db", str(newer), "--key", str(public), "--checkpoints", str(held)
    )
    assert fine.returncode == 0, fine.stdout
    rolled = run(
        "audit", "verify", "--db", str(older), "--key", str(public), "--checkpoints", str(held)
    )
    assert rolled.returncode == 1
    assert "truncated" in rolled.stdout
    del key


def test_report_by_purpose_counts_what_each_agency_type_got(
    audited: Audited, tmp_path: Path
) -> None:
    out = tmp_path / "by-purpose.csv"
    result = run("audit", "report", "by-purpose", "--db", audited.db(), "--json", "--csv", str(out))
    assert result.returncode == 0, result.stderr
    rows = {(r["agency_type"], r["purpose"]): r for r in json.loads(result.stdout)["rows"]}
    immigration = rows[("civil_immigration", "civil_immigration")]
    assert (immigration["searches"], immigration["with hits"], immigration["denied"]) == (1, 0, 1)
    assert immigration["records disclosed"] == 0
    detective = rows[("local_law_enforcement", "criminal_investigation")]
    assert detective["with hits"] == 1
    assert detective["fields released by class"]["identity"] > 0
    assert "immigration_status" not in detective["fields released by class"]
    assert detective["of which masked"] > 0  # address as city, phone as last 4
    with out.open() as handle:
        assert len(list(csv.DictReader(handle))) == 3
    table = run("audit", "report", "by-purpose", "--db", audited.db(), "--since", "2000-01-01")
    assert "searches by agency type and purpose" in table.stdout
    assert "civil_immigration" in table.stdout
    future = run("audit", "report", "by-purpose", "--db", audited.db(), "--since", "2999-01-01")
    assert "0 rows" in future.stdout


def test_report_subject_by_record_id_and_by_name(audited: Audited) -> None:
    planted = [r.record_id for r in DEMO_SUBJECT.records_at("kcso")]
    by_id = json.loads(
        run(
            "audit", "report", "subject", "--db", audited.db(), "--json",
            *[a for r in planted for a in ("--record-id", r)],
        ).stdout
    )  # fmt: skip
    assert by_id["rows"]
    # The demo's detective is King County's own.
    assert {r["agency"] for r in by_id["rows"]} == {"kcso", "fbi-seattle"}
    # The warrant that unlocked a disclosure is named; the detective had none.
    assert {(r["subject"], r["warrants_applied"]) for r in by_id["rows"]} == {
        ("det-4711", ""),
        ("sa-2231", "2:26-mj-00417"),
    }
    by_name = json.loads(
        run(
            "audit", "report", "subject", "--db", audited.db(), "--json",
            "--name", f"{DEMO_SUBJECT.surname}, {DEMO_SUBJECT.given_name}",
            "--dob", DEMO_SUBJECT.dob, "--records-db", str(audited.workdir / "kcso.sqlite"),
        ).stdout
    )  # fmt: skip
    assert by_name["rows"]
    assert {r["record_id"] for r in by_name["rows"]} <= set(planted)


def test_report_reference_maps_a_quoted_reference_to_its_record(audited: Audited) -> None:
    planted = {r.record_id for r in DEMO_SUBJECT.records_at("kcso")}
    assert audited.references, "King County disclosed something"
    for request_id, reference in audited.references:
        assert reference not in planted  # the hit never carried the record id
        # As read down a phone line: any case, no dashes.
        typed = reference.replace("-", "").lower()
        found = json.loads(
            run("audit", "report", "reference", "--db", audited.db(), "--json", typed).stdout
        )
        (row,) = found["rows"]
        assert row["reference"] == reference
        assert row["request_id"] == request_id
        assert row["record_id"] in planted
    _, reference = audited.references[0]
    table = run("audit", "report", "reference", "--db", audited.db(), reference)
    assert table.returncode == 0, table.stderr
    assert any(record_id in table.stdout for record_id in planted)
    assert "1 rows" in table.stdout
    unknown = run("audit", "report", "reference", "--db", audited.db(), "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    assert unknown.returncode == 1
    assert "no disclosure in this log was sent under" in unknown.stdout
    assert "Traceback" not in unknown.stderr


def test_report_accounts_flags_the_refused_agency_type(audited: Audited) -> None:
    rows = json.loads(run("audit", "report", "accounts", "--db", audited.db(), "--json").stdout)[
        "rows"
    ]
    flags = {r["agency_type"]: r["flag"] for r in rows}
    assert flags["civil_immigration"]
    assert not flags["local_law_enforcement"]
    assert {r["subject"] for r in rows} == {"det-4711", "ero-0917", "sa-2231"}


def test_report_denials_lists_the_denied_search(audited: Audited) -> None:
    rows = json.loads(run("audit", "report", "denials", "--db", audited.db(), "--json").stdout)[
        "rows"
    ]
    assert [(r["agency_type"], r["outcome"]) for r in rows] == [("civil_immigration", "denied")]
    assert rows[0]["request_id"] == audited.request_ids[1]


def test_mistakes_get_messages_not_tracebacks(tmp_path: Path, audited: Audited) -> None:
    assert_clean_failure(
        run("audit", "verify", "--db", str(tmp_path / "nope.sqlite")), "no such audit database"
    )
    not_a_log = tmp_path / "x.sqlite"
    not_a_log.write_text("hello")
    assert_clean_failure(run("audit", "report", "denials", "--db", str(not_a_log)), "error")
    assert_clean_failure(run("audit", "report", "subject", "--db", audited.db()), "--record-id")
    assert_clean_failure(
        run("audit", "report", "subject", "--db", audited.db(), "--name", "DOE, JANE"),
        "--records-db",
    )
    bad_export = tmp_path / "bad.jsonl"
    bad_export.write_text("{}\n")
    assert_clean_failure(
        run("audit", "verify", "--db", audited.db(), "--checkpoints", str(bad_export)), "line 1"
    )


def _node_config(directory: Path, catalog: Path, retention_days: int = 365) -> Path:
    path = directory / "node.toml"
    path.write_text(
        "\n".join(
            [
                "[node]",
                'id = "kcso"',
                'agency_name = "King County"',
                'database = "node.sqlite"',
                f'catalog = "{catalog}"',
                "insecure = true",
                "[node.audit]",
                f"retention_days = {retention_days}",
                "[node.contact]",
                'unit = "Records"',
                'phone = "206-555-0100"',
            ]
        )
    )
    return path


def test_node_purge_dry_run_then_real(tmp_path: Path) -> None:
    from tests.node.test_audit_retention import write_catalog, write_records

    catalog = write_catalog(tmp_path)
    imported = run("node", "import", "--db", str(tmp_path / "node.sqlite"), "--catalog",
                   str(catalog), str(write_records(tmp_path)))  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    config = _node_config(tmp_path, catalog)
    dry = run("node", "purge", "--config", str(config), "--dry-run", "--today", "2026-06-01",
              "--json")  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert (plan["records_blanked"], plan["records_deleted"]) == (1, 1)
    assert plan["fields_blanked_by_class"] == {
        "contact": 1, "identity": 3, "immigration_status": 2, "location": 1
    }  # fmt: skip
    assert not (tmp_path / "node.audit.sqlite").exists()  # a dry run writes nothing
    done = run("node", "purge", "--config", str(config), "--today", "2026-06-01")
    assert done.returncode == 0, done.stderr
    assert "did blank fields of 1 records and delete 1 records" in done.stdout
    again = json.loads(
        run("node", "purge", "--config", str(config), "--today", "2026-06-01", "--json").stdout
    )
    assert (again["records_blanked"], again["records_deleted"]) == (0, 0)
    verified = run("audit", "verify", "--db", str(tmp_path / "node.audit.sqlite"))
    assert verified.returncode == 0, verified.stdout
    with AuditReader(tmp_path / "node.audit.sqlite") as reader:
        assert [r.kind for r in reader.entries()] == ["records_purged"]
    # A day in the future is refused before anything changes: the record and
    # audit-entry expiry it would bring is tested on the store with a clock
    # (tests/node/test_audit_retention.py, test_audit_chain.py).
    before = (tmp_path / "node.audit.sqlite").read_bytes()
    assert_clean_failure(
        run("node", "purge", "--config", str(config), "--today", "2030-01-01"), "--today"
    )
    assert (tmp_path / "node.audit.sqlite").read_bytes() == before
    assert run("audit", "verify", "--db", str(tmp_path / "node.audit.sqlite")).returncode == 0


def test_audit_retention_below_a_year_is_refused(tmp_path: Path) -> None:
    config = _node_config(tmp_path, tmp_path / "c.toml", retention_days=30)
    assert_clean_failure(run("node", "purge", "--config", str(config)), "node.audit.retention_days")


def test_node_keygen_makes_an_owner_only_key_once(tmp_path: Path) -> None:
    config = _node_config(tmp_path, tmp_path / "c.toml")
    made = run("node", "keygen", "--config", str(config))
    assert made.returncode == 0, made.stderr
    key = tmp_path / "node.audit-key.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "public key:" in made.stdout
    assert_clean_failure(run("node", "keygen", "--config", str(config)), "already exists")


def test_node_purge_every_runs_now_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal

    from tests.node.test_audit_retention import write_catalog, write_records

    catalog = write_catalog(tmp_path)
    imported = run("node", "import", "--db", str(tmp_path / "node.sqlite"), "--catalog",
                   str(catalog), str(write_records(tmp_path)))  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    config = _node_config(tmp_path, catalog)
    process = subprocess.Popen(
        [FIELDGATE, "node", "purge", "--config", str(config), "--every", "24", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines = []
    for line in process.stdout:  # the first run happens at once
        lines.append(line)
        if line.rstrip() == "}":
            break
    summary = json.loads("".join(lines))
    assert summary["records_examined"] >= 1
    assert summary["dry_run"] is False
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)  # not after 24 hours
    assert process.returncode == 0, err
    assert run("audit", "verify", "--db", str(tmp_path / "node.audit.sqlite")).returncode == 0


def test_contract_explain_shows_a_past_entry_record_by_record(audited: Audited) -> None:
    with AuditReader(Path(audited.db())) as reader:
        rows = [(row.seq, row.document()["data"]) for row in reader.entries("search")]
    seq, data = next((s, d) for s, d in rows if d["disclosed"])
    records_db = str(audited.workdir / "kcso.sqlite")
    result = run(
        "contract", "explain", "--audit-db", audited.db(), "--entry", str(seq),
        "--records-db", records_db, "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["request_id"] == data["request_id"]
    assert shown["contract_version"] == data["contract_version"]
    assert [r["record_id"] for r in shown["records"]] == [r["record_id"] for r in data["records"]]
    for record, logged in zip(shown["records"], data["records"], strict=True):
        assert record["sent"] == logged["sent"]
        assert record["held"] is True
        assert record["kind"]
        assert [(f["name"], f["outcome"], f["reason"]) for f in record["fields"]] == [
            (f["name"], f["outcome"], f["reason"]) for f in record_fields(data, logged)
        ]
    outcomes = {f["outcome"] for r in shown["records"] for f in r["fields"]}
    assert "released" in outcomes
    text = run("contract", "explain", "--audit-db", audited.db(), "--entry", str(seq))
    assert text.returncode == 0, text.stderr
    assert data["records"][0]["record_id"] in text.stdout
    assert record_fields(data, data["records"][0])[0]["reason"] in text.stdout
    missing = run("contract", "explain", "--audit-db", audited.db(), "--entry", "999")
    assert missing.returncode == 1
    assert "no entry 999" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert run("contract", "explain", "--audit-db", audited.db()).returncode == 2


def test_node_backup_copies_records_and_audit_online(tmp_path: Path) -> None:
    """The copies open as the same data, the audit copy verifies, and the key is not copied."""
    import sqlite3

    from tests.node.test_audit_retention import write_catalog, write_records

    catalog = write_catalog(tmp_path)
    imported = run("node", "import", "--db", str(tmp_path / "node.sqlite"), "--catalog",
                   str(catalog), str(write_records(tmp_path)))  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    config = _node_config(tmp_path, catalog)
    assert run("node", "purge", "--config", str(config), "--today", "2026-06-01").returncode == 0
    # A reader holds the records database open, as a serving node would, during the backup.
    live = sqlite3.connect(tmp_path / "node.sqlite")
    try:
        live.execute("BEGIN")
        live.execute("SELECT count(*) FROM sqlite_master").fetchone()
        done = run("node", "backup", "--config", str(config), "--to", str(tmp_path / "bak"),
                   "--json")  # fmt: skip
    finally:
        live.close()
    assert done.returncode == 0, done.stderr
    written = json.loads(done.stdout)
    assert set(written) == {"records", "audit"}
    assert sorted(p.name for p in (tmp_path / "bak").iterdir()) == [
        "audit.sqlite",
        "records.sqlite",
    ]

    def tables(path: Path) -> list[tuple[str, int]]:
        with closing(sqlite3.connect(path)) as db:
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            return [(n, db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names]

    assert tables(tmp_path / "bak" / "records.sqlite") == tables(tmp_path / "node.sqlite")
    verified = run("audit", "verify", "--db", str(tmp_path / "bak" / "audit.sqlite"))
    assert verified.returncode == 0, verified.stdout
    missing = run("node", "backup", "--config", str(_node_config(tmp_path / "bak", catalog)),
                  "--to", str(tmp_path / "bak2"))  # fmt: skip
    assert missing.returncode == 1, missing
    assert "Traceback" not in missing.stderr
    assert "bak/node.sqlite: no such database to back up" in missing.stderr
