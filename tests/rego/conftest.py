"""Collect every Rego test rule under ``rego/`` as its own pytest item.

Items are named ``<package>::<rule>`` and live under their ``*_test.rego`` file,
e.g. ``rego/contracts/permissive/contract_test.rego::fieldgate.contracts.permissive_test::
test_detective_gets_every_field_whole``. They are run by ``fieldgate.regotest``
(regorus), each suite once. ``FIELDGATE_REGO_ROOT`` points the collector at
another Rego root (the runner's own tests use it).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldgate.policy import rego_tests as regotest

REGO_ROOT = Path(
    os.environ.get("FIELDGATE_REGO_ROOT") or Path(__file__).resolve().parents[2] / "rego"
)


class RegoTestFailure(Exception):
    """A Rego test rule that failed, errored, or whose suite did not load."""

    def __init__(self, result: regotest.RegoTestResult) -> None:
        super().__init__(result.message)
        self.result = result


@functools.cache
def _report(suite: regotest.RegoSuite) -> regotest.SuiteReport:
    return regotest.run_suite(suite)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    # pytest offers this conftest to the hook while walking tests/rego; the Rego
    # tree hangs off it, so `pytest tests/rego` (or plain `pytest`) runs the rules.
    if file_path == Path(__file__) and REGO_ROOT.is_dir():
        return RegoRoot.from_parent(parent, path=REGO_ROOT)
    return None


class RegoRoot(pytest.Directory):
    """The Rego root: one child per ``*_test.rego`` file."""

    def collect(self) -> Iterator[pytest.Collector]:
        for suite in regotest.discover(self.path):
            for test_file in suite.test_files:
                yield RegoFile.from_parent(self, path=test_file, suite=suite)


class RegoFile(pytest.File):
    """One ``*_test.rego`` file: one item per test rule."""

    def __init__(self, *, suite: regotest.RegoSuite, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.suite = suite

    def collect(self) -> Iterator[pytest.Item]:
        for case in regotest.collect_tests(self.suite):
            if Path(case.file) == self.path:
                yield RegoItem.from_parent(self, name=f"{case.package}::{case.name}", case=case)


class RegoItem(pytest.Item):
    """One Rego test rule, judged from its suite's report."""

    def __init__(self, *, case: regotest.RegoTestCase, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.case = case

    def runtest(self) -> None:
        assert isinstance(self.parent, RegoFile)
        report = _report(self.parent.suite)
        key = (self.case.package, self.case.name)
        result = next((r for r in report.results if (r.package, r.name) == key), None)
        if result is None:  # the suite did not load: report why, at every rule
            result = next(r for r in report.results if r.name == regotest.LOAD_ERROR)
        if result.outcome == "skipped":  # reported at the rule, not at this line
            raise pytest.skip.Exception(result.message, _use_item_location=True)
        if result.outcome != "passed":
            raise RegoTestFailure(result)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None
    ) -> str:
        if isinstance(excinfo.value, RegoTestFailure):
            r = excinfo.value.result
            where = f"{self.case.file}:{self.case.line}"
            return f"{where}: {self.case.package}.{self.case.name} {r.outcome}\n{r.message}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"{self.case.package}::{self.case.name}"
