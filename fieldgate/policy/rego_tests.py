"""Run Rego unit tests through the embedded regorus engine, which has no ``opa test``.

A *suite* is one directory holding ``*_test.rego`` files. It is loaded into a
fresh engine with the other ``.rego`` files of that directory and every
``.rego`` file under the Rego root's ``lib/`` (the lib's test files too, so that
contract tests can share the fixtures defined there). Only the suite's own test
rules run: rules named ``test_*`` in packages whose name ends ``_test``;
``todo_test_*`` rules are reported as skipped. ``cross_check_with_regopy`` runs
the same rules through regopy (rego-cpp), a second, independent engine.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import regorus

from fieldgate.policy.errors import ContractError
from fieldgate.policy.regopy_harness import error_tree, new_interpreter, run_in_child

Outcome = Literal["passed", "failed", "skipped", "error"]

LOAD_ERROR = "<load>"
"""The ``name`` of the single result reported when a suite cannot be loaded or run."""

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
# A rule head at the start of a line; `(?!\s*\()` leaves out functions.
_TEST_RULE = re.compile(r"^((?:todo_)?test_\w*)\b(?!\s*\()", re.MULTILINE)
_REGORUS_LOCATION = re.compile(r"-->\s*(.+?):(\d+):\d+")


@dataclass(frozen=True)
class RegoTestResult:
    """The outcome of one Rego test rule.

    Attributes:
        package: The test package, e.g. ``fieldgate.lib.sharing_test`` (empty
            for a ``LOAD_ERROR`` result).
        name: The rule name, or ``LOAD_ERROR``.
        file: The file defining the rule, or the file (or suite directory) at fault.
        line: The 1-based line of the rule head or of the error; 0 if unknown.
        outcome: ``passed``, ``failed``, ``skipped`` or ``error``.
        message: Why it did not pass; empty when it passed.
    """

    package: str
    name: str
    file: str
    line: int
    outcome: Outcome
    message: str


@dataclass(frozen=True)
class RegoTestCase:
    """A test rule found in the source, before it is run."""

    package: str
    name: str
    file: str
    line: int


@dataclass(frozen=True)
class RegoSuite:
    """One directory of Rego tests: its own test files, and every module loaded with them."""

    directory: Path
    test_files: tuple[Path, ...]
    modules: tuple[Path, ...]


@dataclass(frozen=True)
class FileCoverage:
    """Line coverage of one Rego file, as regorus reports it."""

    file: str
    covered: frozenset[int]
    not_covered: frozenset[int]

    @property
    def percent(self) -> float:
        """Covered lines as a percentage of the lines regorus tracks (100 if none)."""
        total = len(self.covered) + len(self.not_covered)
        return 100.0 if total == 0 else 100.0 * len(self.covered) / total


@dataclass(frozen=True)
class SuiteReport:
    """The results of one suite and, when asked for, line coverage by file name."""

    suite: RegoSuite
    results: tuple[RegoTestResult, ...]
    coverage: dict[str, FileCoverage] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing failed or errored (skipped results are fine)."""
        return all(r.outcome in ("passed", "skipped") for r in self.results)


def _find_lib(directory: Path) -> Path | None:
    """The ``lib/`` of the nearest ancestor of ``directory`` (itself included) having one.

    The walk stops at the project boundary (a directory holding ``.git`` or
    ``pyproject.toml``) and never looks at the filesystem root's ``lib``.
    """
    start = directory.absolute()
    for candidate in (start, *start.parents):
        if candidate.parent == candidate:
            return None
        if (candidate / "lib").is_dir():
            lib = candidate / "lib"
            return lib if directory.is_absolute() else Path(os.path.relpath(lib))
        if (candidate / ".git").exists() or (candidate / "pyproject.toml").exists():
            return None
    return None


def discover(root: Path, *, lib: Path | None = None) -> list[RegoSuite]:
    """Find every suite under ``root`` (``root`` itself included).

    Args:
        root: A Rego root such as ``rego/``, or any directory below it.
        lib: The shared library directory; by default the ``lib/`` found by
            walking up from each suite.

    Returns:
        The suites, ordered by directory.
    """
    suites = []
    for directory in sorted({p.parent for p in root.rglob("*_test.rego") if p.is_file()}):
        lib_dir = lib if lib is not None else _find_lib(directory)
        own = sorted(p for p in directory.glob("*.rego") if p.is_file())
        shared = sorted(lib_dir.rglob("*.rego")) if lib_dir is not None else []
        modules: dict[Path, Path] = {}
        for path in [*own, *shared]:  # a file reached both ways is loaded once
            modules.setdefault(path.resolve(), path)
        tests = tuple(p for p in own if p.name.endswith("_test.rego"))
        suites.append(RegoSuite(directory, tests, tuple(modules.values())))
    return suites


def collect_tests(suite: RegoSuite) -> list[RegoTestCase]:
    """List the suite's test rules from its source, in file and line order.

    A rule defined by several heads is listed once, at its first line.
    """
    cases: dict[tuple[str, str], RegoTestCase] = {}
    for path in suite.test_files:
        text = path.read_text(encoding="utf-8")
        package = _PACKAGE.search(text)
        if package is None or not package.group(1).endswith("_test"):
            continue
        for match in _TEST_RULE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            key = (package.group(1), match.group(1))
            cases.setdefault(key, RegoTestCase(key[0], key[1], str(path), line))
    return list(cases.values())


def _load_error(path: Path, message: str, line: int = 0) -> RegoTestResult:
    return RegoTestResult("", LOAD_ERROR, str(path), line, "error", f"{path}: {message}")


def _result(case: RegoTestCase, outcome: Outcome, message: str = "") -> RegoTestResult:
    return RegoTestResult(case.package, case.name, case.file, case.line, outcome, message)


def _judge(case: RegoTestCase, value: Any) -> RegoTestResult:
    """Passed for the boolean ``true`` only; failed for anything else, undefined included."""
    if value is True:
        return _result(case, "passed")
    if value is None:
        return _result(case, "failed", "undefined: a body expression was false or undefined")
    return _result(case, "failed", f"evaluated to {json.dumps(value, default=list)}, not true")


def _run_cases(
    cases: list[RegoTestCase], evaluate: Callable[[RegoTestCase], RegoTestResult]
) -> list[RegoTestResult]:
    todo = "is marked todo; rename it test_… to run it"
    return [
        _result(c, "skipped", f"{c.name} {todo}") if c.name.startswith("todo_") else evaluate(c)
        for c in cases
    ]


def _clean(error: BaseException) -> str:
    """An engine message without the Rust backtrace regorus appends (RUST_BACKTRACE)."""
    return str(error).split("Stack backtrace:", 1)[0].strip()


def run_suite(suite: RegoSuite, *, coverage: bool = False) -> SuiteReport:
    """Run one suite in a fresh regorus engine.

    Args:
        suite: The suite, from ``discover``.
        coverage: Also collect the line coverage of every loaded file.

    Returns:
        One result per test rule, or a single ``error`` result naming the file
        when a module does not parse.
    """
    engine = regorus.Engine()
    for path in suite.modules:
        try:
            engine.add_policy(str(path), path.read_text(encoding="utf-8"))
        except Exception as error:
            message = _clean(error)
            where = _REGORUS_LOCATION.search(message)
            line = int(where.group(2)) if where else 0
            return SuiteReport(suite, (_load_error(path, message, line),))
    engine.set_enable_coverage(coverage)

    def evaluate(case: RegoTestCase) -> RegoTestResult:
        try:
            return _judge(case, engine.eval_rule(f"data.{case.package}.{case.name}"))
        except Exception as error:
            return _result(case, "error", _clean(error))

    results = _run_cases(collect_tests(suite), evaluate)
    report: dict[str, FileCoverage] = {}
    if coverage:
        for entry in json.loads(engine.get_coverage_report_as_json())["files"]:
            name = str(entry["path"])
            lines = (frozenset(entry["covered"]), frozenset(entry["not_covered"]))
            report[name] = FileCoverage(name, *lines)
    return SuiteReport(suite, tuple(results), report)


def run_all(root: Path, *, coverage: bool = False) -> list[SuiteReport]:
    """Discover and run every suite under ``root``."""
    return [run_suite(suite, coverage=coverage) for suite in discover(root)]


def cross_check_with_regopy(suite: RegoSuite, *, timeout: float = 300.0) -> list[RegoTestResult]:
    """Run the suite's test rules through regopy (rego-cpp) instead of regorus.

    regopy runs in a child process (:mod:`fieldgate.policy.regopy_harness`):
    rego-cpp 1.5.2 can crash outright, and a crash must become a reported
    error, not kill the caller. Built-in errors are made strict, as they are in
    regorus.

    Returns:
        One result per test rule; or a single ``error`` result naming the file
        when a module does not load, or the suite directory when regopy
        crashed, timed out or is not installed.
    """
    payload = {
        "modules": [str(p) for p in suite.modules],
        "cases": [[c.package, c.name, c.file, c.line] for c in collect_tests(suite)],
    }
    try:
        rows = run_in_child(_regopy_tests_job, payload, timeout=timeout)
    except ContractError as error:
        return [_load_error(suite.directory, str(error))]
    return [RegoTestResult(*row) for row in rows]


def _regopy_tests_job(payload: dict[str, Any]) -> list[list[Any]]:
    """Run in the regopy child (see :mod:`fieldgate.policy.regopy_harness`): result rows."""
    modules = [Path(p) for p in payload["modules"]]
    cases = [RegoTestCase(*row) for row in payload["cases"]]
    try:
        results = _regopy_run(modules, cases)
    except ImportError as error:
        results = [_load_error(modules[0].parent, f"regopy is not installed ({error})")]
    return [[r.package, r.name, r.file, r.line, r.outcome, r.message] for r in results]


def _regopy_run(modules: list[Path], cases: list[RegoTestCase]) -> list[RegoTestResult]:
    import regopy

    interpreter = new_interpreter()
    for path in modules:
        try:
            interpreter.add_module(str(path), path.read_text(encoding="utf-8"))
        except regopy.RegoError as error:
            message, line = _regopy_message(str(error))
            return [_load_error(path, message, line)]

    def evaluate(case: RegoTestCase) -> RegoTestResult:
        output = interpreter.query(f"data.{case.package}.{case.name}")
        if not output.ok():
            return _result(case, "error", _regopy_message(error_tree(output))[0])
        if str(output) == "undefined":  # then output[0].expressions is []
            return _judge(case, None)
        return _judge(case, output[0].expressions[0])

    return _run_cases(cases, evaluate)


def _regopy_message(tree: str) -> tuple[str, int]:
    """The messages of a rego-cpp error tree, with ``file:line`` where known, and the first line.

    rego-cpp writes strings length-prefixed (``(errormsg 18:Invalid collection)``)
    and locations, when it has one, as file, byte offset and length
    (``(error 8:lib.rego|42|38``).
    """
    messages, first_line = [], 0
    for chunk in re.split(rb"\(error(?=\s)", tree.encode("utf-8"))[1:]:
        where, line = re.match(rb" (\d+):", chunk), 0
        if where:
            end = where.end() + int(where.group(1))
            name = chunk[where.end() : end].decode("utf-8", "replace")
            offset = re.match(rb"\|(\d+)\|", chunk[end:])
            if offset and Path(name).is_file():
                line = Path(name).read_bytes()[: int(offset.group(1))].count(b"\n") + 1
        found = re.search(rb"\(errormsg (\d+):", chunk)
        at = found.end() if found else 0
        text = chunk[at : at + int(found.group(1))].decode("utf-8", "replace") if found else ""
        first_line = first_line or line
        messages.append(f"{name}:{line}: {text}" if line else text)
    return "; ".join(dict.fromkeys(messages)) or "rego-cpp error", first_line
