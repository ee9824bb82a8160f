"""``fieldgate contract conformance``: regorus, regopy (and OPA) must agree."""

from __future__ import annotations

from pathlib import Path

import click

from fieldgate.authoring.conformance import compare_decisions, compare_tests
from fieldgate.authoring.inputs import (
    load_personas,
    load_records,
)
from fieldgate.authoring.session import DEFAULT_NODE_ID
from fieldgate.cli.contract.options import (
    contract_session,
    echo_json,
    load_catalog_or_default,
    wide_console,
)
from fieldgate.core.inert_text import markup_safe as escape
from fieldgate.policy.engine import ContractEngine
from fieldgate.policy.engine_opa import load_opa_contract
from fieldgate.policy.errors import ContractError
from fieldgate.policy.shipped import rego_root


@click.command("conformance")
@click.argument(
    "root", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False
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
    root: Path | None,
    personas_dir: Path | None,
    records_path: Path | None,
    catalog_path: Path | None,
    matrix: bool,
    no_tests: bool,
    opa_url: str | None,
    as_json: bool,
) -> None:
    """Ask regorus and regopy (and OPA) about every persona x record; fail on any difference.

    Every contract.rego under ROOT (default: the shipped Rego) is asked, with ROOT/lib as
    its library; the contract tests under ROOT run on both engines too.
    """
    # Not Path("rego"): the shipped Rego is found wherever the package is installed.
    root = root or rego_root()
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
