"""``fieldgate contract test``: run the Rego unit tests in the embedded engine."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fieldgate.policy.rego_tests import FileCoverage, SuiteReport, run_all
from fieldgate.policy.shipped import rego_root

OUTCOME_STYLE = {"passed": "green", "failed": "red", "error": "red", "skipped": "yellow"}


def merged_coverage(reports: list[SuiteReport]) -> dict[str, FileCoverage]:
    """Coverage per file over all suites: a line any suite ran counts as covered."""
    merged: dict[str, FileCoverage] = {}
    for report in reports:
        for file, cov in report.coverage.items():
            seen = merged.get(file)
            covered = cov.covered | (seen.covered if seen else frozenset())
            not_covered = (cov.not_covered | (seen.not_covered if seen else frozenset())) - covered
            merged[file] = FileCoverage(file, covered, not_covered)
    return merged


@click.command("test")
@click.argument(
    "root", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False
)
@click.option("--coverage", is_flag=True, help="Report line coverage per contract file.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
def contract_test(root: Path | None, coverage: bool, as_json: bool) -> None:
    """Run the Rego unit tests under ROOT (default: the shipped Rego) in the embedded engine.

    Every `test_` rule must evaluate to true; undefined counts as a failure and
    `todo_test_` rules are skipped. Exits non-zero when any test fails.
    """
    # Not Path("rego"): the shipped Rego is found wherever the package is installed.
    root = root or rego_root()
    reports = run_all(root, coverage=coverage)
    coverage_by_file = merged_coverage(reports)
    results = [r for report in reports for r in report.results]
    failed = [r for r in results if r.outcome in ("failed", "error")]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "passed": sum(r.outcome == "passed" for r in results),
                    "failed": len(failed),
                    "skipped": sum(r.outcome == "skipped" for r in results),
                    "results": [
                        {
                            "package": r.package,
                            "name": r.name,
                            "file": r.file,
                            "line": r.line,
                            "outcome": r.outcome,
                            "message": r.message,
                        }
                        for r in results
                    ],
                    "coverage": {
                        file: round(cov.percent, 1)
                        for file, cov in sorted(coverage_by_file.items())
                    },
                },
                indent=2,
            )
        )
    else:
        console = Console()
        for r in results:
            style = OUTCOME_STYLE[r.outcome]
            where = f"{r.file}:{r.line}"
            line = f"[{style}]{r.outcome.upper():7}[/] {r.package}.{r.name}  [dim]{where}[/]"
            console.print(line, highlight=False)
            if r.message and r.outcome != "passed":
                console.print(f"        {r.message}", style=style, highlight=False)
        if coverage:
            table = Table("file", "line coverage")
            for file, cov in sorted(coverage_by_file.items()):
                table.add_row(file, f"{cov.percent:.1f}%")
            console.print(table)
        console.print(
            f"{sum(r.outcome == 'passed' for r in results)} passed, {len(failed)} failed, "
            f"{sum(r.outcome == 'skipped' for r in results)} skipped"
        )
    if not results:
        click.echo(f"error: no Rego tests (test_ rules) found under {root}", err=True)
    if failed or not results:
        raise SystemExit(1)
