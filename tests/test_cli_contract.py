"""``fieldgate contract ...`` as a policy author runs it: the real command on real files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format

from fieldgate.authoring.inputs import load_persona, load_records
from fieldgate.core.query import validate_query
from fieldgate.node.config import node_config_from_document
from fieldgate.node.disclosure_log import MemoryDisclosureLog
from fieldgate.node.search import AgencyNode
from fieldgate.node.server import build_node
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.v2 import common_pb2

FIELDGATE = str(Path(sys.executable).parent / "fieldgate")
ROOT = Path(__file__).resolve().parents[1]
SANCTUARY = "rego/contracts/sanctuary_county/contract.rego"
PERSONAS = "rego/personas"
EXAMPLES = "rego/examples"
CATALOG = load_catalog(default_catalog_path())


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FIELDGATE, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )


def copy_of_sanctuary(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = (ROOT / SANCTUARY).read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- contract test (still there) ----------------------------------------------


def test_contract_test_still_runs_every_rule() -> None:
    done = run("contract", "test", "rego/", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["failed"] == 0
    assert report["passed"] >= 98


# --- check --------------------------------------------------------------------


def test_check_shipped_contract_names_fields_withheld_by_default() -> None:
    done = run("contract", "check", "--contract", SANCTUARY, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    never = {f["name"] for f in report["findings"] if f["kind"] == "never_released"}
    assert never == {"citizenship", "country_of_birth"}
    table = run("contract", "check", "--contract", SANCTUARY)
    assert table.returncode == 0
    assert "citizenship" in table.stdout
    assert "withheld by default" in table.stdout


def test_check_finds_a_typo_in_a_broken_copy_and_fails(tmp_path: Path) -> None:
    broken = copy_of_sanctuary(
        tmp_path,
        "broken.rego",
        ('investigator_masks := {"address": "city"', 'investigator_masks := {"adress": "city"'),
    )
    done = run("contract", "check", "--contract", str(broken), "--lib", "rego/lib")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "adress" in done.stdout
    assert "'address'" in done.stdout
    assert "FAILED" in done.stdout
    as_json = json.loads(
        run("contract", "check", "--contract", str(broken), "--lib", "rego/lib", "--json").stdout
    )
    [typo] = [f for f in as_json["findings"] if f["kind"] == "typo"]
    assert typo["name"] == "adress"
    assert typo["severity"] == "error"


def test_check_of_a_contract_that_does_not_parse_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rego"
    bad.write_text("package bad\nimport rego.v1\ndecision := {\n")
    done = run("contract", "check", "--contract", str(bad))
    assert done.returncode == 2
    assert "bad.rego" in done.stderr
    assert "Traceback" not in done.stderr


# --- explain ------------------------------------------------------------------


def explain_json(persona: str, record: str, *extra: str) -> dict[str, object]:
    done = run(
        "contract",
        "explain",
        "--contract",
        SANCTUARY,
        "--as",
        f"{PERSONAS}/{persona}.json",
        "--record",
        f"{EXAMPLES}/{record}.json",
        "--node-id",
        "kcso",
        "--json",
        *extra,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def kcso_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgencyNode]:
    """A real node (config, store, catalog, contract, engine) holding the example records."""
    base = tmp_path_factory.mktemp("kcso")
    with RecordStore.open(base / "kcso.sqlite") as store:
        store.insert_many(load_records(ROOT / EXAMPLES, CATALOG))
    config = node_config_from_document(
        {
            "node": {
                "id": "kcso",
                "agency_name": "King County Sheriff's Office",
                "database": "kcso.sqlite",
                "contract": str(ROOT / SANCTUARY),
                "rego_library": str(ROOT / "rego/lib"),
                "insecure": True,
                "contact": {"unit": "Records Unit", "phone": "206-555-0100"},
            }
        },
        base,
    )
    node = build_node(config, MemoryDisclosureLog())
    try:
        yield node
    finally:
        node.contract.close()
        node.store.close()


def node_releases(node: AgencyNode, persona: str) -> dict[str, dict[str, tuple[object, str]]]:
    """What the node sends ``persona`` for the example subject: record → field → (value, mask)."""
    claims = load_persona(ROOT / PERSONAS / f"{persona}.json").claims
    query = validate_query(
        common_pb2.PersonQuery(surname="HERNANDEZ", given_name="MIGUEL", dob="1986-03-07")
    )
    hits = node.search("explain-check", claims, query)
    return {
        hit.record_id: {f.name: (json_format.MessageToDict(f.value), f.mask) for f in hit.fields}
        for hit in hits
    }


@pytest.mark.parametrize(
    "persona",
    [
        "detective",
        "federal_agent_with_warrant",
        "immigration_officer",
        "corrections_officer",
        "prosecutor",
    ],
)
def test_explain_matches_what_a_real_node_releases(kcso_node: AgencyNode, persona: str) -> None:
    sent = node_releases(kcso_node, persona)
    for record in ("booking", "incident_report", "field_interview", "sealed_booking", "case_file"):
        explained = explain_json(persona, record)
        record_id = explained["record"]["id"]  # type: ignore[index]
        fields = explained["fields"]
        assert isinstance(fields, list)
        released = {
            f["name"]: (f["value"], f["mask"]) for f in fields if f["outcome"] != "withheld"
        }
        if explained["disclose"]:
            assert record_id in sent, (persona, record)
            assert sent[record_id] == released, (persona, record)
        else:
            assert released == {}
            assert record_id not in sent, (persona, record)
    if persona == "detective":
        assert sent  # the comparison above is not vacuous
    if persona == "immigration_officer":
        assert sent == {}


def test_explain_table_gives_reasons_and_warrant_judgement() -> None:
    done = run(
        "contract",
        "explain",
        "--contract",
        SANCTUARY,
        "--as",
        f"{PERSONAS}/federal_agent_with_warrant.json",
        "--record",
        f"{EXAMPLES}/booking.json",
    )
    assert done.returncode == 0, done.stderr
    assert "warrant 2:26-mj-00417: applies to this record" in done.stdout
    assert "covered by an applicable criminal judicial warrant" in done.stdout
    assert re.search(r"citizenship .* withheld .* not released by the contract", done.stdout)


def test_explain_with_an_extra_warrant_file(tmp_path: Path) -> None:
    warrant = tmp_path / "warrant.json"
    warrant.write_text(
        json.dumps(
            {
                "kind": "criminal_judicial_warrant",
                "id": "W-2026-0042",
                "court": "King County Superior Court",
                "subject_surname": "HERNANDEZ",
                "subject_given_name": "MIGUEL",
                "subject_dob": "1986-03-07",
                "covers": ["location"],
                "record_kinds": [],
                "expires": "2099-12-31",
            }
        )
    )
    without = explain_json("immigration_officer", "booking")
    assert without["disclose"] is False
    with_warrant = explain_json("immigration_officer", "booking", "--warrant", str(warrant))
    assert with_warrant["disclose"] is True
    released = {f["name"] for f in with_warrant["fields"] if f["outcome"] == "released"}  # type: ignore[union-attr,index]
    assert released == {"address", "contact_unit", "contact_phone"}


# --- diff ---------------------------------------------------------------------

WIDENING_EDITS = (
    # A new door for immigration agencies, and the ordinance's bar taken out.
    (
        "may_know_record_exists if criminal_investigator\n",
        "may_know_record_exists if criminal_investigator\n\n"
        "may_know_record_exists if sharing.is_civil_immigration_agency\n",
    ),
    ("\tnot withheld_from_immigration_enforcement\n", "\ttrue\n"),
)


def diff(old: str, new: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "contract",
        "diff",
        old,
        new,
        "--records",
        EXAMPLES,
        "--personas",
        PERSONAS,
        "--lib",
        "rego/lib",
        *extra,
    )


def test_diff_flags_widening_to_the_immigration_persona(tmp_path: Path) -> None:
    widened = copy_of_sanctuary(tmp_path, "widened.rego", *WIDENING_EDITS)
    done = diff(SANCTUARY, str(widened))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "immigration_officer" in done.stdout
    assert "WIDENS RELEASE IN A CIVIL IMMIGRATION CONTEXT" in done.stdout
    assert "refused" in done.stderr
    report = json.loads(diff(SANCTUARY, str(widened), "--json").stdout)
    assert report["flagged"] is True
    flagged = [p["name"] for p in report["personas"] if p["flagged"]]
    assert flagged == ["immigration_officer"]
    [officer] = [p for p in report["personas"] if p["name"] == "immigration_officer"]
    [exists] = officer["classes"]["(record exists)"]["wider"]
    assert (exists["old"], exists["new"]) == ("withheld", "disclosed")
    assert exists["records"] == 4  # every example record but the sealed one


def test_diff_passes_with_accept_widening(tmp_path: Path) -> None:
    widened = copy_of_sanctuary(tmp_path, "widened.rego", *WIDENING_EDITS)
    done = diff(SANCTUARY, str(widened), "--accept-widening")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "accepted" in done.stderr


def test_diff_shows_widening_and_narrowing_per_class_for_investigators(tmp_path: Path) -> None:
    changed = copy_of_sanctuary(
        tmp_path,
        "changed.rego",
        (
            '"criminal_history", "agency_contact"}',
            '"criminal_history", "agency_contact", "custody_status"}',
        ),
        ('{"address": "city", "phone": "last4"}', '{"address": "zip3"}'),
    )
    done = diff(SANCTUARY, str(changed), "--json")
    assert done.returncode == 0, done.stdout + done.stderr  # no immigration persona widened
    [detective] = [p for p in json.loads(done.stdout)["personas"] if p["name"] == "detective"]
    classes = detective["classes"]
    assert {r["field"] for r in classes["custody_status"]["wider"]} == {
        "booking_number",
        "booking_date",
        "release_date",
        "custody_status",
        "facility",
    }
    assert [(r["old"], r["new"]) for r in classes["location"]["wider"]] == [
        ("masked:city", "masked:zip3")
    ]
    assert [(r["field"], r["old"], r["new"]) for r in classes["contact"]["narrower"]] == [
        ("phone", "masked:last4", "withheld")
    ]


def test_diff_of_a_contract_with_itself_shows_no_change() -> None:
    done = diff(SANCTUARY, SANCTUARY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("no change over 5 records") == 5


# --- render -------------------------------------------------------------------


def test_render_summarises_in_plain_language_with_clauses_and_hash(tmp_path: Path) -> None:
    done = run("contract", "render", "--contract", SANCTUARY)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "learn nothing, not even that the record exists." in text
    assert "masked: location (address as city); contact (phone as last4)" in text
    assert "§3(a) — no personal information to civil immigration enforcement" in text
    digest = re.search(r"summary sha256: ([0-9a-f]{64})", text)
    assert digest
    as_json = json.loads(run("contract", "render", "--contract", SANCTUARY, "--json").stdout)
    assert as_json["summary_sha256"] == digest.group(1)
    changed = copy_of_sanctuary(
        tmp_path, "c.rego", ('"phone": "last4"}', '"phone": "last4", "dob": "year"}')
    )
    other = run("contract", "render", "--contract", str(changed), "--lib", "rego/lib", "--json")
    assert json.loads(other.stdout)["summary_sha256"] != digest.group(1)


def test_render_pointer_only() -> None:
    done = run("contract", "render", "--contract", "rego/contracts/pointer_only/contract.rego")
    assert done.returncode == 0, done.stderr
    assert "learn only that the record exists and whom to call." in done.stdout
    assert "Sample pointer-index agreement §1" in done.stdout


# --- conformance --------------------------------------------------------------


def test_conformance_regorus_and_regopy_agree_on_shipped_contracts() -> None:
    pytest.importorskip("regopy")
    done = run("contract", "conformance", "rego", "--json", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["engines"] == ["regorus", "regopy"]
    assert report["decisions"] == 3 * 5 * 5
    assert report["tests"] >= 98
    assert report["disagreements"] == []


def test_conformance_with_an_unreachable_opa_fails() -> None:
    pytest.importorskip("regopy")
    done = run("contract", "conformance", "rego", "--no-tests", "--opa-url", "http://127.0.0.1:9")
    assert done.returncode == 1
    assert "DISAGREE" in done.stdout
    assert "opa" in done.stdout
