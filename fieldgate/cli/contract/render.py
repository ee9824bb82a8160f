"""``fieldgate contract render``: a contract in plain language."""

from __future__ import annotations

from pathlib import Path

import click

from fieldgate.authoring.render import render_contract, render_text
from fieldgate.cli.contract.options import (
    CONTRACT_OPTION,
    catalog_and_lib,
    contract_session,
    echo_json,
    load_catalog_or_default,
)


@click.command("render")
@CONTRACT_OPTION
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
