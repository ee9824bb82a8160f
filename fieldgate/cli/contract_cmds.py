"""``fieldgate contract``: test, check, explain, diff, render and cross-check contracts.

The work is done in :mod:`fieldgate.contracts` (and :mod:`fieldgate.regotest`);
these commands read files, call it and print tables or ``--json``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fieldgate.authoring.check import check_contract
from fieldgate.authoring.conformance import compare_decisions, compare_tests
from fieldgate.authoring.explain import explain
from fieldgate.authoring.explain_audit import EntryNotExplainable, explain_entry
from fieldgate.authoring.inputs import (
    load_persona,
    load_personas,
    load_record,
    load_records,
    load_warrant,
    with_warrants,
)
from fieldgate.authoring.render import render_contract, render_text
from fieldgate.authoring.session import DEFAULT_NODE_ID
from fieldgate.cli.bundle_cmds import bundle
from fieldgate.cli.contract_diff_cmd import contract_diff
from fieldgate.cli.contract_options import (
    catalog_and_lib,
    contract_session,
    echo_json,
    load_catalog_or_default,
    today_option,
    wide_console,
)
from fieldgate.core.inert_text import markup_safe as escape
from fieldgate.node.audit.schema import AuditReader, AuditReadError
from fieldgate.node.store import RecordStore
from fieldgate.policy.engine import ContractEngine
from fieldgate.policy.engine_opa import load_opa_contract
from fieldgate.policy.errors import ContractError
from fieldgate.policy.rego_tests import FileCoverage, SuiteReport, run_all

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


@click.group()
def contract() -> None:
    """Work with data-sharing contracts (Rego)."""


@contract.command("test")
@click.argument(
    "root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("rego")
)
@click.option("--coverage", is_flag=True, help="Report line coverage per contract file.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
def contract_test(root: Path, coverage: bool, as_json: bool) -> None:
    """Run the Rego unit tests under ROOT (default: rego/) in the embedded engine.

    Every `test_` rule must evaluate to true; undefined counts as a failure and
    `todo_test_` rules are skipped. Exits non-zero when any test fails.
    """
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
    if failed or not results:
        raise SystemExit(1)


# --- Shared options -----------------------------------------------------------

SEVERITY_STYLE = {"error": "red", "warning": "yellow", "info": "dim"}
OUTCOME_OF_FIELD = {"released": "green", "masked": "yellow", "withheld": "dim"}


def _show(value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return escape(text if len(text) <= 60 else text[:57] + "...")


_CONTRACT = click.option(
    "--contract",
    "contract_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The contract's .rego file.",
)

# --- check --------------------------------------------------------------------


@contract.command("check")
@_CONTRACT
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
    that the catalog lacks (a typo that silently withholds). Exits 1 when
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
        verdict = "[green]ok[/]" if report.ok else "[red]FAILED[/]"
        console.print(
            f"{verdict}: {errors} errors, {warnings} warnings over {report.cells} "
            f"requester x purpose x warrant x record kind decisions ({report.catalog})",
            highlight=False,
        )
    if not report.ok:
        raise SystemExit(1)


# --- explain ------------------------------------------------------------------


@contract.command("explain")
@click.option(
    "--contract",
    "contract_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The contract's .rego file.",
)
@click.option(
    "--as",
    "persona_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Persona JSON: the requester's claims (see rego/personas/).",
)
@click.option(
    "--record",
    "record_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Record JSON, as `fieldgate node import` reads it (see rego/examples/).",
)
@click.option(
    "--audit-db",
    "audit_db",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Instead: explain a past search from this node's audit log (operators only).",
)
@click.option("--entry", "entry_seq", type=int, help="The audit entry (seq) to explain.")
@click.option(
    "--records-db",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The node's record store, to name each record's kind and flags.",
)
@click.option(
    "--warrant",
    "warrant_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A warrant JSON (LegalAuthority wire shape) the persona also presents; repeatable.",
)
@catalog_and_lib
@today_option
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
def contract_explain(
    contract_path: Path | None,
    persona_path: Path | None,
    record_path: Path | None,
    audit_db: Path | None,
    entry_seq: int | None,
    records_db: Path | None,
    warrant_paths: tuple[Path, ...],
    catalog_path: Path | None,
    library: Path | None,
    node_id: str,
    today: dt.datetime | None,
    as_json: bool,
) -> None:
    """Show, field by field, what the record releases to the persona, and why.

    Computed by the node's own code: the same policy input, the same engine,
    the same enforcement of the decision (default deny, catalog-only fields,
    masks that fit, sealed/juvenile/expunged never).

    With --audit-db and --entry, explains a past search instead: per record of
    that entry, released / masked / withheld and the reason recorded then.
    """
    if audit_db is not None:
        if entry_seq is None:
            raise click.UsageError("--audit-db needs --entry")
        _explain_entry(audit_db, entry_seq, records_db, as_json)
        return
    if contract_path is None or persona_path is None or record_path is None:
        raise click.UsageError("give --contract, --as and --record (or --audit-db and --entry)")
    catalog = load_catalog_or_default(catalog_path)
    persona = with_warrants(load_persona(persona_path), [load_warrant(p) for p in warrant_paths])
    record = load_record(record_path, catalog)
    with contract_session(contract_path, library, catalog, node_id, today) as session:
        result = explain(session, persona, record)
    if as_json:
        echo_json(result.to_json())
        return
    console = wide_console()
    claims = persona.claims
    console.print(
        f"[bold]{escape(persona.name)}[/] ({claims.agency_type}, {claims.purpose}) asks about "
        f"[bold]{escape(record.record_id)}[/] ({record.kind}) under {result.contract} "
        f"[dim]{result.contract_version[:12]}[/]",
        highlight=False,
    )
    for warrant_id, applies in result.warrants:
        how = "applies to this record" if applies else "does NOT apply to this record"
        console.print(f"  warrant {escape(warrant_id)}: {how}", highlight=False)
    if result.error:
        console.print(f"[red]the contract failed to decide: {escape(result.error)}[/]")
    elif not result.disclose:
        console.print(
            "[red]record not disclosed[/]: the requester's answer looks as if "
            "the agency held no such record"
        )
    table = Table()
    for column in ("field", "class", "outcome"):
        table.add_column(column, no_wrap=True)
    table.add_column("value sent", max_width=40)
    table.add_column("reason", min_width=30)
    for f in result.fields:
        style = OUTCOME_OF_FIELD[f.outcome]
        outcome = f"masked ({f.mask})" if f.outcome == "masked" else f.outcome
        table.add_row(
            f.name, f.sensitivity, f"[{style}]{outcome}[/]", _show(f.value), escape(f.reason)
        )
    console.print(table)


def _explain_entry(audit_db: Path, seq: int, records_db: Path | None, as_json: bool) -> None:
    try:
        with AuditReader(audit_db) as reader:
            if records_db is None:
                result = explain_entry(reader, seq)
            else:
                with RecordStore.open(records_db) as store:
                    result = explain_entry(reader, seq, store)
    except (AuditReadError, EntryNotExplainable) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        echo_json(result.to_json())
        return
    console = wide_console()
    who = result.requester
    console.print(
        f"[bold]entry {result.seq}[/] {result.time} request {escape(result.request_id)}: "
        f"{escape(str(who.get('subject', '')))} of {escape(str(who.get('agency', '')))} "
        f"({escape(who.get('agency_type', ''))}, {escape(who.get('purpose', ''))}) — "
        f"{escape(result.outcome)} "
        f"under contract [dim]{result.contract_version[:12]}[/]",
        highlight=False,
    )
    for record in result.records:
        state = "[green]sent[/]" if record.sent else "[red]not sent[/]"
        about = f" {escape(record.kind)}" if record.kind else ""
        if record.flags:
            about += f" ({escape(', '.join(record.flags))})"
        if record.held is False:
            about += " (no longer held)"
        if record.warrants_applied:
            about += f" (warrants applied: {escape(', '.join(record.warrants_applied))})"
        console.print(f"record [bold]{escape(record.record_id)}[/]{about}: {state}")
        if record.error:
            console.print(f"  [red]the contract failed to decide: {escape(record.error)}[/]")
        table = Table()
        for column in ("field", "class", "outcome"):
            table.add_column(column, no_wrap=True)
        table.add_column("reason", min_width=30)
        for f in record.fields:
            style = OUTCOME_OF_FIELD.get(f["outcome"], "")
            outcome = f"masked ({f['mask']})" if f["outcome"] == "masked" else f["outcome"]
            table.add_row(
                escape(f["name"]), escape(f["class"]), f"[{style}]{escape(outcome)}[/]",
                escape(f["reason"]),
            )  # fmt: skip
        console.print(table)


# --- render -------------------------------------------------------------------


@contract.command("render")
@_CONTRACT
@catalog_and_lib
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def contract_render(
    contract_path: Path,
    catalog_path: Path | None,
    library: Path | None,
    node_id: str,
    as_json: bool,
) -> None:
    """Summarise a contract in plain language, per requester kind and purpose.

    Computed from the contract's decisions over every requester kind, purpose,
    warrant and record kind, with the ordinance or agreement clauses named in
    `# clause:` comments, and a summary hash.
    """
    catalog = load_catalog_or_default(catalog_path)
    with contract_session(contract_path, library, catalog, node_id) as session:
        rendering = render_contract(session)
    if as_json:
        echo_json(rendering.to_json())
    else:
        click.echo(render_text(rendering))


# --- conformance --------------------------------------------------------------


@contract.command("conformance")
@click.argument(
    "root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("rego")
)
@click.option(
    "--personas",
    "personas_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Persona JSON files (default: ROOT/personas).",
)
@click.option(
    "--records",
    "records_path",
    type=click.Path(exists=True, path_type=Path),
    help="Example records (default: ROOT/examples).",
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The node's field catalog (default: the standard catalog).",
)
@click.option("--matrix", is_flag=True, help="Also compare every cell of the decision matrix.")
@click.option("--no-tests", is_flag=True, help="Do not compare the contract tests.")
@click.option(
    "--opa-url",
    help="Also ask this OPA server (with the same contracts loaded) every question.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def contract_conformance(
    root: Path,
    personas_dir: Path | None,
    records_path: Path | None,
    catalog_path: Path | None,
    matrix: bool,
    no_tests: bool,
    opa_url: str | None,
    as_json: bool,
) -> None:
    """Ask regorus and regopy (and OPA) about every persona x record; fail on any difference.

    Every contract.rego under ROOT (default: rego/) is asked, with ROOT/lib as
    its library; the contract tests under ROOT run on both engines too.
    """
    catalog = load_catalog_or_default(catalog_path)
    personas = load_personas(personas_dir or root / "personas")
    records = load_records(records_path or root / "examples", catalog)
    contracts = sorted(p for p in root.rglob("contract.rego") if p.is_file())
    library = root / "lib" if (root / "lib").is_dir() else None
    engines = ["regorus", "regopy", *(["opa"] if opa_url else [])]
    decisions, disagreements = 0, []
    for path in contracts:
        with contract_session(path, library, catalog, DEFAULT_NODE_ID) as session:
            others: dict[str, ContractEngine] = {}
            if opa_url:
                others["opa"] = load_opa_contract(path, opa_url)
            try:
                count, found = compare_decisions(
                    session, personas, records, matrix=matrix, others=others
                )
            except ContractError as exc:
                raise click.ClickException(f"{path}: {exc}") from exc
            finally:
                for engine in others.values():
                    engine.close()
        decisions += count
        disagreements.extend(found)
    tests = 0
    if not no_tests:
        tests, found = compare_tests(root)
        disagreements.extend(found)
    if as_json:
        echo_json(
            {
                "engines": engines,
                "contracts": [str(p) for p in contracts],
                "decisions": decisions,
                "tests": tests,
                "ok": not disagreements,
                "disagreements": [d.__dict__ for d in disagreements],
            }
        )
    else:
        console = wide_console()
        for d in disagreements:
            console.print(
                f"[red]DISAGREE[/] {escape(d.contract)} {escape(d.case)} ({d.what}, {d.engine})\n"
                f"  regorus: {escape(d.regorus)}\n  {d.engine}: {escape(d.other)}",
                highlight=False,
            )
        console.print(
            f"{len(contracts)} contracts, {decisions} decisions and {tests} test rules on "
            f"{', '.join(engines)}: {len(disagreements)} disagreements",
            highlight=False,
        )
    if disagreements:
        raise SystemExit(1)


contract.add_command(contract_diff)
contract.add_command(bundle)
