"""Tests of the Rego test runner (fieldgate.regotest) and of the pytest collector."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest
import regorus

from fieldgate.policy import rego_tests as regotest
from fieldgate.policy.rego_tests import RegoSuite, RegoTestResult

REPO = Path(__file__).resolve().parents[2]
SHIPPED = regotest.discover(REPO / "rego")

LIB = """\
package fieldgate.lib.util

import rego.v1

double(x) := 2 * x

adult if input.age >= 18
"""

SUITE = """\
package demo_test

import rego.v1

test_passes if data.fieldgate.lib.util.double(2) == 4

test_fails if data.fieldgate.lib.util.double(2) == 5

test_is_false := false

test_undefined if data.fieldgate.lib.util.adult

test_divides_by_zero if {
	x := 1 / 0
	x > 0
}

todo_test_later if false

test_function(x) := x

test_conflict := 1

test_conflict := 2
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def by_name(
    results: list[RegoTestResult] | tuple[RegoTestResult, ...],
) -> dict[str, RegoTestResult]:
    return {r.name: r for r in results}


@pytest.fixture
def demo(tmp_path: Path) -> RegoSuite:
    root = write(tmp_path / "rego", {"lib/util.rego": LIB, "contracts/demo/demo_test.rego": SUITE})
    [suite] = [s for s in regotest.discover(root) if s.directory.name == "demo"]
    return suite


def test_discover_finds_each_suite_with_the_lib(tmp_path: Path) -> None:
    root = write(
        tmp_path / "rego",
        {
            "lib/util.rego": LIB,
            "lib/util_test.rego": "package fieldgate.lib.util_test\ntest_x if true\n",
            "contracts/a/contract.rego": "package a\n",
            "contracts/a/contract_test.rego": "package a_test\ntest_x if true\n",
            "contracts/b/contract.rego": "package b\n",
        },
    )
    suites = {s.directory.relative_to(root).as_posix(): s for s in regotest.discover(root)}
    assert sorted(suites) == ["contracts/a", "lib"]
    names = {p.relative_to(root).as_posix() for p in suites["contracts/a"].modules}
    assert names == {
        "contracts/a/contract.rego",
        "contracts/a/contract_test.rego",
        "lib/util.rego",
        "lib/util_test.rego",
    }
    assert [p.name for p in suites["contracts/a"].test_files] == ["contract_test.rego"]
    assert len(suites["lib"].modules) == 2  # the lib's files are loaded once, not twice


def test_collect_tests_reads_rule_heads_and_lines(demo: RegoSuite) -> None:
    cases = regotest.collect_tests(demo)
    assert [c.name for c in cases] == [
        "test_passes",
        "test_fails",
        "test_is_false",
        "test_undefined",
        "test_divides_by_zero",
        "todo_test_later",
        "test_conflict",
    ]
    assert {c.package for c in cases} == {"demo_test"}
    assert cases[0].line == 5
    assert cases[4].line == 13


def test_packages_not_ending_in_test_are_not_collected(tmp_path: Path) -> None:
    root = write(tmp_path, {"p/x_test.rego": "package helpers\nimport rego.v1\ntest_x if false\n"})
    [suite] = regotest.discover(root)
    assert regotest.collect_tests(suite) == []


def test_run_suite_outcomes(demo: RegoSuite) -> None:
    report = regotest.run_suite(demo)
    results = by_name(report.results)
    assert results["test_passes"].outcome == "passed"
    assert results["test_passes"].message == ""
    assert results["test_fails"].outcome == "failed"
    assert "undefined" in results["test_fails"].message
    assert results["test_is_false"].outcome == "failed"
    assert results["test_is_false"].message == "evaluated to false, not true"
    assert results["test_undefined"].outcome == "failed"
    assert results["test_divides_by_zero"].outcome == "error"
    assert "divide by zero" in results["test_divides_by_zero"].message
    assert "Stack backtrace" not in results["test_divides_by_zero"].message
    assert results["test_conflict"].outcome == "error"
    assert "conflict" in results["test_conflict"].message
    assert results["test_conflict"].line == 22  # listed once, at its first head
    assert results["todo_test_later"].outcome == "skipped"
    assert "todo" in results["todo_test_later"].message
    assert results["test_fails"].file.endswith("demo_test.rego")
    assert results["test_fails"].line == 7
    assert not report.ok


def test_passing_suite_is_ok(tmp_path: Path) -> None:
    root = write(tmp_path, {"s/a_test.rego": "package a_test\nimport rego.v1\ntest_a if true\n"})
    [report] = regotest.run_all(root)
    assert report.ok
    assert [r.outcome for r in report.results] == ["passed"]


def test_parse_error_is_one_error_naming_the_file(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "s/contract.rego": "package c\nimport rego.v1\n\nallow if input.x == )\n",
            "s/contract_test.rego": "package c_test\nimport rego.v1\ntest_a if true\n",
        },
    )
    [report] = regotest.run_all(root)
    [result] = report.results
    assert result.outcome == "error"
    assert result.name == regotest.LOAD_ERROR
    assert result.file.endswith("contract.rego")
    assert result.line == 4
    assert "contract.rego" in result.message


def test_coverage_reports_lines_run_and_not_run(demo: RegoSuite) -> None:
    report = regotest.run_suite(demo, coverage=True)
    [util] = [c for name, c in report.coverage.items() if name.endswith("util.rego")]
    assert 5 in util.covered  # double(x), called by test_passes
    assert 7 in util.covered  # adult, evaluated (undefined) by test_undefined
    assert 0 < util.percent <= 100
    [tests] = [c for name, c in report.coverage.items() if name.endswith("demo_test.rego")]
    assert 18 in tests.not_covered  # todo_test_later is never evaluated
    assert 0 < tests.percent < 100
    assert regotest.run_suite(demo).coverage == {}


def test_regopy_cross_check_agrees_with_regorus(demo: RegoSuite) -> None:
    pytest.importorskip("regopy")
    regorus = {r.name: r.outcome for r in regotest.run_suite(demo).results}
    checked = by_name(tuple(regotest.cross_check_with_regopy(demo)))
    assert {name: r.outcome for name, r in checked.items()} == regorus
    assert checked["test_divides_by_zero"].message == "divide by zero"
    assert "multiple outputs" in checked["test_conflict"].message
    assert checked["test_fails"].line == 7


def test_regopy_parse_error_is_one_error_naming_the_file(tmp_path: Path) -> None:
    pytest.importorskip("regopy")
    root = write(
        tmp_path,
        {
            "s/contract.rego": "package c\nimport rego.v1\n\nallow if input.x == )\n",
            "s/contract_test.rego": "package c_test\nimport rego.v1\ntest_a if true\n",
        },
    )
    [result] = regotest.cross_check_with_regopy(regotest.discover(root)[0])
    assert result.outcome == "error"
    assert result.file.endswith("contract.rego")
    assert result.line == 4


def test_regopy_crash_becomes_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: RegoSuite
) -> None:
    crasher = tmp_path / "crash.sh"
    crasher.write_text("#!/bin/sh\nkill -SEGV $$\n")
    crasher.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(crasher))
    [result] = regotest.cross_check_with_regopy(demo)
    assert result.outcome == "error"
    assert "SIGSEGV" in result.message
    assert result.file == str(demo.directory)


def test_regopy_1_5_2_crashes_on_whole_input_replacement(tmp_path: Path) -> None:
    """Why the shipped tests replace input.requester etc., never input whole.

    If this starts failing, rego-cpp has been fixed: update the note at the top
    of rego/lib/fieldgate/sharing_test.rego.
    """
    pytest.importorskip("regopy")
    policy = """\
        package c
        import rego.v1
        many if count(input.items) > 1
        """
    tests = """\
        package c_test
        import rego.v1
        test_whole if data.c.many with input as {"items": [1, 2]}
        """
    root = write(tmp_path, {"s/c.rego": policy, "s/c_test.rego": tests})
    [suite] = regotest.discover(root)
    assert [r.outcome for r in regotest.run_suite(suite).results] == ["passed"]
    [result] = regotest.cross_check_with_regopy(suite)
    assert result.outcome == "error"
    assert "SIGSEGV" in result.message


@pytest.mark.parametrize("suite", SHIPPED, ids=lambda s: s.directory.relative_to(REPO).as_posix())
def test_shipped_suite_passes_under_regopy(suite: RegoSuite) -> None:
    pytest.importorskip("regopy")
    results = regotest.cross_check_with_regopy(suite)
    unloadable = [r for r in results if r.name == regotest.LOAD_ERROR]
    if unloadable:
        pytest.skip(f"regopy cannot run this suite: {unloadable[0].message}")
    failed = [f"{r.file}:{r.line}: {r.name}: {r.message}" for r in results if r.outcome == "failed"]
    assert not failed, "regopy fails these rules:\n" + "\n".join(failed)
    assert len(results) == len(regotest.collect_tests(suite)) > 0
    unsupported = [f"{r.name}: {r.message}" for r in results if r.outcome == "error"]
    if unsupported:
        pytest.skip("regopy could not evaluate: " + "; ".join(unsupported))
    assert all(r.outcome in ("passed", "skipped") for r in results)


@pytest.mark.parametrize("suite", SHIPPED, ids=lambda s: s.directory.relative_to(REPO).as_posix())
def test_shipped_policies_are_fully_covered_by_their_tests(suite: RegoSuite) -> None:
    report = regotest.run_suite(suite, coverage=True)
    assert report.ok
    own = [p for p in suite.modules if p.parent == suite.directory and p not in suite.test_files]
    assert own
    for path in own:
        coverage = report.coverage[str(path)]
        assert coverage.not_covered == frozenset(), f"{path}: lines never evaluated"


def test_pytest_collector_reports_file_line_and_skips_todo(tmp_path: Path) -> None:
    root = write(tmp_path / "rego", {"contracts/demo/demo_test.rego": SUITE, "lib/util.rego": LIB})
    env = {**os.environ, "FIELDGATE_REGO_ROOT": str(root)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(REPO / "tests/rego"),
            "-k",
            "demo_test",
            "-rs",
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout
    assert run.returncode == 1, out
    assert "5 failed, 1 passed, 1 skipped" in out
    assert "_ demo_test::test_fails _" in out  # items are named <package>::<rule>
    assert "demo_test.rego:7: demo_test.test_fails failed\nundefined" in out
    assert "demo_test.rego:9: demo_test.test_is_false failed\nevaluated to false" in out
    assert "demo_test.rego:13: demo_test.test_divides_by_zero error" in out
    assert "demo_test.rego:18: todo_test_later is marked todo" in out


# --- The shipped contracts, called the way the node calls the engine ----------

DOCUMENTED_INPUT = {  # the example input of docs/contracts.md
    "requester": {
        "subject": "det-4711",
        "agency": "seattle-pd",
        "agency_type": "local_law_enforcement",
        "roles": ["detective"],
        "purpose": "criminal_investigation",
        "case_number": "2026-001234",
    },
    "authority": [
        {
            "kind": "criminal_judicial_warrant",
            "id": "W-2026-0042",
            "court": "King County Superior Court",
            "covers": ["location", "custody_status", "booking_photo_ref"],
            "record_kinds": [],
            "applies_to_record": True,
        }
    ],
    "record": {
        "id": "KCSO-B-000123",
        "kind": "booking",
        "agency": "kcso",
        "sealed": False,
        "juvenile": False,
        "expunged": False,
        "fields": ["surname", "given_name", "dob", "address", "citizenship"],
    },
}


def contract_engine(contract: str) -> regorus.Engine:
    engine = regorus.Engine()
    for path in [REPO / "rego/lib/fieldgate/sharing.rego", REPO / f"rego/{contract}/contract.rego"]:
        engine.add_policy(str(path), path.read_text(encoding="utf-8"))
    fields = tomllib.loads((REPO / "fieldgate/policy/catalogs/standard.toml").read_text())["fields"]
    engine.add_data_json(json.dumps({"catalog": {k: v["class"] for k, v in fields.items()}}))
    return engine


def decide(contract: str, document: object) -> Any:
    engine = contract_engine(contract)
    engine.set_input_json(json.dumps(document))
    package = contract.replace("/", ".")
    return json.loads(engine.eval_rule_as_json(f"data.fieldgate.{package}.decision"))


def test_sanctuary_county_decides_the_documented_input() -> None:
    decision = decide("contracts/sanctuary_county", DOCUMENTED_INPUT)
    assert decision["disclose"] is True
    # Identity to a detective; the address whole because the warrant covers location.
    assert sorted(decision["release"]) == ["address", "dob", "given_name", "surname"]
    assert decision["mask"] == {}


def test_sanctuary_county_gives_civil_immigration_nothing_without_warrant() -> None:
    document = json.loads(json.dumps(DOCUMENTED_INPUT))
    document["requester"].update(agency_type="civil_immigration", purpose="civil_immigration")
    document["authority"] = []
    assert decide("contracts/sanctuary_county", document) == {
        "disclose": False,
        "release": [],
        "mask": {},
    }


def test_permissive_and_pointer_only_decide_the_documented_input() -> None:
    permissive = decide("contracts/permissive", DOCUMENTED_INPUT)
    assert sorted(permissive["release"]) == ["address", "dob", "given_name", "surname"]
    pointer = decide("contracts/pointer_only", DOCUMENTED_INPUT)
    assert pointer == {"disclose": True, "release": [], "mask": {}}


def test_regorus_0_9_turns_python_booleans_into_numbers() -> None:
    """Why input must reach regorus as JSON (set_input_json), not as a Python dict.

    celine-regorus 0.9 converts True/False to 1.0/0.0, so `sealed == false` never
    holds and every contract withholds everything. If this starts failing, the
    binding has been fixed.
    """
    engine = contract_engine("contracts/pointer_only")
    engine.set_input(DOCUMENTED_INPUT)
    assert engine.eval_rule("data.fieldgate.lib.sharing.record_unrestricted") is None
    [found] = engine.eval_query("input.record.sealed")["result"]
    assert found["expressions"][0]["value"] == 0.0
    engine.set_input_json(json.dumps(DOCUMENTED_INPUT))
    assert engine.eval_rule("data.fieldgate.lib.sharing.record_unrestricted") is True
