"""``fieldgate contract check``: a contract against the node's field catalog."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from fieldgate.authoring.check import check_contract
from fieldgate.cli.contract.options import (
    CONTRACT_OPTION,
    catalog_and_lib,
    contract_session,
    echo_json,
    load_catalog_or_default,
    wide_console,
)
from fieldgate.core.inert_text import markup_safe as escape

SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "dim"}


@click.command("check")
@CONTRACT_OPTION
@catalog_and_lib
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def contract_check(
    contract_path: Path,
    catalog_path: Path | None,
    library: Path | None,
    node_id: str,
    as_json: bool,
) -> None:
    """Check a contract against the node's field catalog.

    Names every catalog field that no rule releases or masks for any requester,
    purpose or warrant (withheld by default), and every name the contract uses
    that the catalog lacks (a typo that silently withholds), and every field
    released by class membership rather than by name (a catalog edit that adds
    a field to that class releases it too). Exits 1 when
    anything is an error (a typo, a name the catalog lacks in a decision, a
    mask that never fits, an evaluation that fails).
    """
    catalog = load_catalog_or_default(catalog_path)
    with contract_session(contract_path, library, catalog, node_id) as session:
        report = check_contract(session)
    if as_json:
        echo_json(report.to_json())
    else:
        console = wide_console()
        table = Table("severity", "kind", "name", "line", "finding", title=str(contract_path))
        for f in report.findings:
            style = SEVERITY_STYLE[f.severity]
            table.add_row(
                f"[{style}]{f.severity}[/]",
                f.kind,
                escape(f.name),
                str(f.line or ""),
                escape(f.message),
            )
        console.print(table)
        errors = sum(f.severity == "error" for f in report.findings)
        warnings = sum(f.severity == "warning" for f in report.findings)
        by_class = sum(f.kind == "released_by_class" for f in report.findings)
        verdict = "[green]ok[/]" if report.ok else "[red]FAILED[/]"
        if report.ok and by_class:
            # Not a bare "ok": these fields leave on a catalog edit nobody reviews.
            verdict = f"[yellow]ok, review {by_class} fields released by class[/]"
        console.print(
            f"{verdict}: {errors} errors, {warnings} warnings over {report.cells} "
            f"requester x purpose x warrant x record kind decisions ({report.catalog})",
            highlight=False,
        )
    if not report.ok:
        raise SystemExit(1)
