"""The authoring tools (fieldgate.contracts) on the shipped contracts and broken copies of them."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from fieldgate.authoring import source
from fieldgate.authoring.check import check_contract
from fieldgate.authoring.conformance import canonical, compare_decisions, compare_tests
from fieldgate.authoring.diff import compare_verdicts, diff_contracts
from fieldgate.authoring.explain import explain
from fieldgate.authoring.inputs import (
    InputFileError,
    load_persona,
    load_personas,
    load_records,
    persona_from_document,
)
from fieldgate.authoring.matrix import decision_matrix
from fieldgate.authoring.render import render_contract
from fieldgate.authoring.session import ContractSession
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.errors import ContractError
from fieldgate.policy.verdict import decide_fields

REPO = Path(__file__).resolve().parents[2]
LIB = REPO / "rego/lib"
CONTRACTS = REPO / "rego/contracts"
SANCTUARY = CONTRACTS / "sanctuary_county/contract.rego"
CATALOG = load_catalog(default_catalog_path())
PERSONAS = {p.name: p for p in load_personas(REPO / "rego/personas")}
RECORDS = {r.record_id: r for r in load_records(REPO / "rego/examples", CATALOG)}
TODAY = dt.date(2026, 11, 21)


def session_for(path: Path) -> ContractSession:
    return ContractSession(path, LIB, CATALOG, node_id="kcso", today=TODAY)


@pytest.fixture
def sanctuary() -> Iterator[ContractSession]:
    with session_for(SANCTUARY) as session:
        yield session


def broken_copy(tmp_path: Path, old: str, new: str, name: str = "broken.rego") -> Path:
    text = SANCTUARY.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


# --- Source reading -----------------------------------------------------------


def test_string_literals_skip_comments_and_read_raw_strings() -> None:
    text = '# "not_me"\nx := "surname" # "nor_me"\ny := `raw_one`\nz := "a \\" b"\n'
    found = source.string_literals(text)
    assert [(s.value, s.line) for s in found] == [
        ("surname", 2),
        ("raw_one", 3),
        ('a \\" b', 4),
    ]
    assert [s.value for s in source.name_like_literals(text)] == ["surname", "raw_one"]


def test_clauses_attach_to_the_rule_below_and_metadata_style_works() -> None:
    text = (
        "# clause: §1 first\nallow if true\n\n"
        "# METADATA\n# custom:\n#   clause: §2 second\nf(x) := x\n\n"
        "# clause: §3 orphan\n\nlater := 1\n"
    )
    found = source.clauses(text)
    assert [(c.text, c.rule, c.function) for c in found] == [
        ("§1 first", "allow", False),
        ("§2 second", "f", True),
    ]


def test_shipped_contracts_name_their_clauses() -> None:
    found = source.clauses(SANCTUARY.read_text(encoding="utf-8"))
    assert {c.rule for c in found} >= {
        "criminal_investigator",
        "immigration_enforcement_with_warrant",
        "withheld_from_immigration_enforcement",
        "never_shared_classes",
    }


# --- check --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sanctuary_county", "permissive", "pointer_only"])
def test_shipped_contracts_pass_check(name: str) -> None:
    with session_for(CONTRACTS / name / "contract.rego") as session:
        report = check_contract(session)
    assert report.ok, [f for f in report.findings if f.severity == "error"]
    assert report.cells == 6 * 4 * 2 * 5
    never = {f.name for f in report.findings if f.kind == "never_released"}
    assert {"citizenship", "country_of_birth"} <= never
    if name == "pointer_only":
        assert never == set(CATALOG.fields)


def test_check_refutes_a_broken_field_local_promise(tmp_path: Path) -> None:
    """The investigators' address mask only when the record also holds a phone number."""
    path = broken_copy(
        tmp_path,
        "\tf in input.record.fields\n",
        '\tf in input.record.fields\n\t"phone" in input.record.fields\n',
    )
    with session_for(path) as session:
        report = check_contract(session)
    assert not report.ok
    [broken] = [f for f in report.findings if f.kind == "not_field_local"]
    assert broken.severity == "error"
    assert broken.name == "address"
    assert "depends on which other fields the record holds" in broken.message


def test_check_suggests_the_promise_to_a_contract_that_keeps_it(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, "field_local := true\n", "")
    with session_for(path) as session:
        report = check_contract(session)
    assert report.ok
    assert [f.severity for f in report.findings if f.kind == "could_be_field_local"] == ["info"]


def test_check_names_fields_only_a_warrant_opens(sanctuary: ContractSession) -> None:
    report = check_contract(sanctuary)
    warrant_only = {f.name for f in report.findings if f.kind == "warrant_only"}
    assert warrant_only == {
        "booking_photo_ref",
        "booking_number",
        "booking_date",
        "release_date",
        "custody_status",
        "facility",
    }


def test_check_finds_a_misspelt_field_name(tmp_path: Path) -> None:
    path = broken_copy(
        tmp_path, '{"address": "city", "phone": "last4"}', '{"adress": "city", "phone": "last4"}'
    )
    with session_for(path) as session:
        report = check_contract(session)
    assert not report.ok
    [typo] = [f for f in report.findings if f.kind == "typo"]
    assert typo.name == "adress"
    assert "'address'" in typo.message
    assert typo.line == next(
        i for i, line in enumerate(path.read_text().splitlines(), 1) if '"adress"' in line
    )
    # The typo withholds the address from everyone: check says so too.
    assert "address" in {f.name for f in report.findings if f.kind == "warrant_only"}


def test_check_finds_a_misspelt_class_and_mask(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, '"criminal_history", "agency_contact"}', '"criminal_histroy"}')
    path.write_text(path.read_text().replace('"last4"}', '"last_4"}'))
    with session_for(path) as session:
        report = check_contract(session)
    typos = {f.name: f.message for f in report.findings if f.kind == "typo"}
    assert set(typos) == {"criminal_histroy", "last_4"}
    assert "'criminal_history'" in typos["criminal_histroy"]
    bad = [f for f in report.findings if f.kind == "bad_mask"]
    assert [f.name for f in bad] == ["phone"]


def test_check_finds_a_released_name_the_catalog_lacks(tmp_path: Path) -> None:
    path = broken_copy(
        tmp_path,
        "release := {f | some f in release_candidates; shareable(f)}",
        'release := {f | some f in release_candidates; shareable(f)} | {"gang_affiliation"}',
    )
    with session_for(path) as session:
        report = check_contract(session)
    errors = {(f.kind, f.name) for f in report.findings if f.severity == "error"}
    assert ("not_in_catalog", "gang_affiliation") in errors


def test_check_warns_about_unknown_names_without_failing(tmp_path: Path) -> None:
    path = broken_copy(
        tmp_path,
        "criminal_investigator if {\n",
        'criminal_investigator if {\n\tnot "supervisor_override" in input.requester.roles\n',
    )
    with session_for(path) as session:
        report = check_contract(session)
    assert report.ok
    assert ("warning", "unknown_name", "supervisor_override") in {
        (f.severity, f.kind, f.name) for f in report.findings
    }


# --- explain ------------------------------------------------------------------


def test_explain_gives_the_node_verdict_and_the_contract_reasons(
    sanctuary: ContractSession,
) -> None:
    result = explain(sanctuary, PERSONAS["detective"], RECORDS["KCSO-B-000123"])
    fields = {f.name: f for f in result.fields}
    assert result.disclose
    assert fields["surname"].outcome == "released"
    assert fields["surname"].reason == "identity: released to criminal investigators"
    assert (fields["address"].outcome, fields["address"].mask) == ("masked", "city")
    assert fields["address"].value == {"city": "TUKWILA", "state": "WA"}
    assert fields["phone"].value == "***-***-0199"
    assert fields["citizenship"].outcome == "withheld"
    assert fields["citizenship"].reason == "not released by the contract"
    # The very verdict decide_fields gives for the contract's raw decision.
    again = decide_fields(result.decision.raw, RECORDS["KCSO-B-000123"], CATALOG)
    assert again == result.decision.verdict


def test_explain_sealed_record_and_warrant_judgement(sanctuary: ContractSession) -> None:
    sealed = explain(sanctuary, PERSONAS["detective"], RECORDS["KCSO-B-000045"])
    assert not sealed.disclose
    assert {f.reason for f in sealed.fields} == {"sealed, juvenile or expunged record"}
    agent = PERSONAS["federal_agent_with_warrant"]
    booking = explain(sanctuary, agent, RECORDS["KCSO-B-000123"])
    assert booking.warrants == [("2:26-mj-00417", True)]
    # The field interview is about MIKE, born 1986-07-03: the warrant does not name him.
    other = explain(sanctuary, agent, RECORDS["KCSO-F-000877"])
    assert other.warrants == [("2:26-mj-00417", False)]


def test_persona_claims_are_validated() -> None:
    with pytest.raises(InputFileError, match="purpose"):
        persona_from_document(
            {"subject": "x", "agency": "y", "agency_type": "corrections", "purpose": "curiosity"},
            "bad.json",
        )
    with pytest.raises(InputFileError, match=r"bad\.json"):
        persona_from_document({"subject": "x", "favourite_colour": "red"}, "bad.json")
    assert load_persona(REPO / "rego/personas/immigration_officer.json").immigration_context


# --- diff ---------------------------------------------------------------------


def test_compare_verdicts_ranks_outcomes() -> None:
    record = RECORDS["KCSO-B-000123"]
    before = decide_fields(
        {"disclose": True, "release": ["surname"], "mask": {"address": "city", "dob": "year"}},
        record,
        CATALOG,
    )
    after = decide_fields(
        {"disclose": True, "release": ["dob"], "mask": {"address": "zip3", "surname": "initials"}},
        record,
        CATALOG,
    )
    changes = {
        c.field: (c.old, c.new, c.direction) for c in compare_verdicts("p", record, before, after)
    }
    assert changes == {
        "surname": ("released", "masked:initials", "narrower"),
        "address": ("masked:city", "masked:zip3", "wider"),
        "dob": ("masked:year", "released", "wider"),
    }


def test_diff_of_a_contract_with_itself_is_empty(sanctuary: ContractSession) -> None:
    with session_for(SANCTUARY) as again:
        report = diff_contracts(sanctuary, again, list(PERSONAS.values()), list(RECORDS.values()))
    assert not report.flagged
    assert all(not p.changes for p in report.personas)


# --- render -------------------------------------------------------------------


def test_render_summarises_by_requester_and_hashes(sanctuary: ContractSession) -> None:
    rendering = render_contract(sanctuary)
    investigators = [
        r
        for r in rendering.rows
        if not r.warrant and r.access.disclose and "criminal investigation" in r.requesters[0]
    ]
    [row] = investigators
    assert "identity" in row.access.released
    assert "location (address as city)" in row.access.masked
    assert "immigration status" in row.access.withheld
    assert any("§2(a)" in c for c in row.access.clauses)
    nothing = [r for r in rendering.rows if not r.warrant and not r.access.disclose]
    assert any(any("§3(a)" in c for c in r.access.clauses) for r in nothing)
    assert len(rendering.summary_hash) == 64
    with session_for(SANCTUARY) as again:
        assert render_contract(again).summary_hash == rendering.summary_hash


def test_render_hash_changes_with_what_the_contract_decides(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, '"phone": "last4"}', '"phone": "last4", "dob": "year"}')
    with session_for(SANCTUARY) as old, session_for(path) as new:
        assert render_contract(old).summary_hash != render_contract(new).summary_hash


# --- conformance: regorus and regopy ------------------------------------------


@pytest.mark.parametrize("name", ["sanctuary_county", "permissive", "pointer_only"])
def test_regorus_and_regopy_agree_on_every_persona_and_example(name: str) -> None:
    pytest.importorskip("regopy")
    with session_for(CONTRACTS / name / "contract.rego") as session:
        count, disagreements = compare_decisions(
            session, list(PERSONAS.values()), list(RECORDS.values())
        )
    assert count == len(PERSONAS) * len(RECORDS)
    assert disagreements == []


@pytest.mark.slow
def test_regorus_and_regopy_agree_on_the_whole_matrix(sanctuary: ContractSession) -> None:
    pytest.importorskip("regopy")
    count, disagreements = compare_decisions(sanctuary, [], [], matrix=True)
    assert count == len(decision_matrix(sanctuary))
    assert disagreements == []


class _Widening:
    """A second engine that answers otherwise than the contract: release everything."""

    version = "x"
    name = "widening"

    def evaluate(self, policy_input: Mapping[str, object]) -> object:
        record = policy_input["record"]
        assert isinstance(record, dict)
        return {"disclose": True, "release": record["fields"], "mask": {}}

    def close(self) -> None:
        """Nothing to close."""


def test_a_disagreeing_engine_is_reported(sanctuary: ContractSession) -> None:
    pytest.importorskip("regopy")
    _, disagreements = compare_decisions(
        sanctuary,
        [PERSONAS["immigration_officer"]],
        [RECORDS["KCSO-B-000123"]],
        others={"widening": _Widening()},
    )
    assert [(d.engine, d.what) for d in disagreements] == [("widening", "decision")]
    assert '"disclose": false' in disagreements[0].regorus


def test_regopy_crash_fails_the_comparison(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sanctuary: ContractSession
) -> None:
    crasher = tmp_path / "crash.sh"
    crasher.write_text("#!/bin/sh\nkill -SEGV $$\n")
    crasher.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(crasher))
    with pytest.raises(ContractError, match="SIGSEGV"):
        compare_decisions(sanctuary, [PERSONAS["detective"]], [RECORDS["KCSO-B-000123"]])


def test_test_rules_that_only_one_engine_passes_disagree(tmp_path: Path) -> None:
    pytest.importorskip("regopy")
    suite = tmp_path / "s"
    suite.mkdir()
    (suite / "c.rego").write_text("package c\nimport rego.v1\nmany if count(input.items) > 1\n")
    (suite / "c_test.rego").write_text(
        "package c_test\nimport rego.v1\n"
        'test_whole if data.c.many with input as {"items": [1, 2]}\n'
        "test_fine if true\n"
    )
    count, disagreements = compare_tests(tmp_path)
    assert count == 2
    # regopy 1.5.2 crashes on the whole-input replacement, so it runs no rule of the suite.
    [disagreement] = disagreements
    assert disagreement.case == "(whole suite)"
    assert "SIGSEGV" in disagreement.other


def test_canonical_compares_sets_and_arrays_alike() -> None:
    assert canonical({"release": {"b", "a"}, "mask": {"z": "city"}}) == canonical(
        {"mask": {"z": "city"}, "release": ["a", "b"]}
    )
