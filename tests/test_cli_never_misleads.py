"""Each CLI defect of issue 21 item 5, pinned: a clear message naming what was wrong, never a
traceback, never a misleading exit status or table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from fieldgate.broker.config import NodeEntry
from fieldgate.broker.server import RunningBroker
from fieldgate.client.render import agency_table
from fieldgate.client.results import AgencyView, HitView, ReleasedValue
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.node.audit.keys import load_verify_key
from fieldgate.trust.keys import generate_key, save_private_key, save_public_key
from tests.conftest import DemoFederation
from tests.helpers.brokers import start_test_broker
from tests.helpers.federation import LoopThread
from tests.test_cli import DETECTIVE_FLAGS, ROOT, run

WARRANT = [
    "warrant", "issue", "--court", "wawd", "--id", "W-1", "--name", "DOE, JOHN",
    "--expires", "2099-01-01", "--applicant-agency", "bellevue-pd", "--case-number", "C-1",
]  # fmt: skip


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "k.pem", tmp_path / "k.pem.pub"
    key = generate_key()
    save_private_key(key, private)
    save_public_key(key.public_key(), public)
    return private, public


def _clean(done: object, *words: str) -> str:
    output = str(getattr(done, "stdout", "")) + str(getattr(done, "stderr", ""))
    assert "Traceback" not in output
    for word in words:
        assert word in output, output
    return output


def test_a_non_token_credential_is_named_not_a_traceback(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    cred = tmp_path / "cred.txt"
    cred.write_text("this is not a token\n")
    done = run(
        "search", "--broker", "127.0.0.1:1", "--name", "DOE, JOHN", "--credential", str(cred),
        "--key", str(keys[0]), "--insecure", "--purpose", "criminal_investigation",
    )  # fmt: skip
    assert done.returncode == 2
    _clean(done, "--credential", "cred.txt", "not a signed token")


def test_audit_verify_on_another_database_is_a_usage_error_not_tampering(tmp_path: Path) -> None:
    other = tmp_path / "kcso.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE records (id TEXT)")
    done = run("audit", "verify", "--db", str(other))
    assert done.returncode == 2  # not 1, "tampered"
    output = _clean(done, "not a Fieldgate audit database")
    assert "NOT INTACT" not in output


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--dob", "1980-02-30", "--covers", "location"], ["--dob", "1980-02-30"]),
        (["--dob", "1980-02-03", "--covers", "locaton"], ["--covers", "did you mean 'location'"]),
        (["--dob", "2999-01-01", "--covers", "location"], ["--dob", "plausible"]),
    ],
)
def test_warrant_issue_refuses_impossible_dates_and_misspelt_coverage(
    keys: tuple[Path, Path], flags: list[str], words: list[str]
) -> None:
    done = run(*WARRANT, "--court-key", str(keys[0]), *flags)
    assert done.returncode == 2
    assert not done.stdout  # nothing was signed
    _clean(done, *words)


def test_a_private_key_is_refused_where_a_public_one_is_asked(keys: tuple[Path, Path]) -> None:
    private, public = keys
    common = [
        "credential", "issue", "--issuer-key", str(private), "--issuer", "bpd",
        "--agency", "bellevue-pd", "--agency-type", "local_law_enforcement",
        "--subject", "det-1", "--purpose", "criminal_investigation",
    ]  # fmt: skip
    done = run(*common, "--holder-key", str(private))
    assert done.returncode == 2
    _clean(done, "k.pem", "PRIVATE key")
    assert run(*common, "--holder-key", str(public)).returncode == 0


def test_json_errors_are_json_of_a_stable_shape(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    for args in (
        ["audit", "verify", "--db", str(other), "--json"],
        ["search", "--json", "--broker", "127.0.0.1:1", "--name", "DOE, JOHN"],
    ):
        done = run(*args)
        assert done.returncode == 2
        document = json.loads(done.stdout)
        assert set(document) == {"schema", "error"}
        assert document["schema"] == "fieldgate.error/v1"
        assert set(document["error"]) == {"kind", "message", "exit_code"}
        assert document["error"]["exit_code"] == 2
        assert document["error"]["message"]


def _pointer_and_full() -> AgencyView:
    pointer = HitView(
        "SPD-I-2024-001122", "incident_report", 0.0, (), {},
        {"agency": "SPD", "unit": "Records and Investigations Support Unit",
         "phone": "+1-206-555-0142"},
    )  # fmt: skip
    fields = {
        f"{name}_long_field_name": ReleasedValue("X" * 14, "identity", None)
        for name in ("surname", "given_name", "citizenship", "birthplace")
    }
    full = HitView(
        "KCSO-BOOKING-2024-00004417", "booking", 0.97, ("strong match",), fields,
        {"agency": "KCSO", "unit": "Records and Warrants Unit", "phone": "206-555-0110"},
    )  # fmt: skip
    return AgencyView("kcso", "King County", "answered", "", 0.0, (pointer, full))


def test_at_80_columns_the_phone_to_call_is_whole_and_pointers_are_not_scored() -> None:
    console = Console(width=80, record=True)
    console.print(agency_table(_pointer_and_full()))
    text = console.export_text()
    assert "+1-206-555-0142" in text
    assert "206-555-0110" in text
    assert "…" not in text  # nothing cut with an ellipsis
    assert "score 0.00" not in text
    assert "not scored (pointer)" in text
    assert "score 0.97" in text


def test_the_readme_shows_the_per_agency_elapsed_seconds_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert '"elapsed_seconds": 0,' in readme
    assert '"elapsed_seconds": 0.0' not in readme
    assert '"elapsed_seconds": 0.012' not in readme


def test_the_readmes_kcso_pub_is_written_by_a_command(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--public-out kcso.pub" in readme
    config = tmp_path / "kcso.toml"
    config.write_text(
        '[node]\nid = "kcso"\nagency_name = "K"\nlisten = "127.0.0.1:0"\n'
        'database = "kcso.sqlite"\ncontract = "c.rego"\ninsecure = true\n'
        '[node.contact]\nunit = "R"\nphone = "1"\n'
    )
    done = run(
        "node", "keygen", "--config", str(config), "--public-out", str(tmp_path / "kcso.pub")
    )
    assert done.returncode == 0, done.stderr
    assert load_verify_key(tmp_path / "kcso.pub")  # what `audit verify --key` reads
    # Again, with the key now present: only the public file is (re)written.
    again = run("node", "keygen", "--config", str(config), "--public-out", str(tmp_path / "p2"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "p2").read_bytes() == (tmp_path / "kcso.pub").read_bytes()


@pytest.fixture
def half_down_broker(
    loop: LoopThread, demo: DemoFederation, tmp_path: Path
) -> Iterator[RunningBroker]:
    broker = loop.run(
        start_test_broker(
            (
                NodeEntry("kcso", "King County Sheriff's Office", demo.node_address("kcso")),
                NodeEntry("gone", "Gone County", "127.0.0.1:1"),
            ),
            tmp_path,
            default_deadline_seconds=2.0,
        )
    )
    yield broker
    loop.run(broker.stop())


def test_a_search_where_an_agency_did_not_answer_exits_4(half_down_broker: RunningBroker) -> None:
    name = f"{DEMO_SUBJECT.surname}, {DEMO_SUBJECT.given_name}"
    base = ["search", "--broker", half_down_broker.address, "--name", name, *DETECTIVE_FLAGS]
    done = run(*base, "--json")
    assert done.returncode == 4, done.stderr
    agencies = {a["node_id"]: a for a in json.loads(done.stdout)["agencies"]}
    assert agencies["gone"]["answered"] is False
    assert agencies["kcso"]["answered"] is True
    table = run(*base)
    assert table.returncode == 4
    _clean(table, "could not answer", "not absent")
