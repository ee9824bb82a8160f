"""``fieldgate contract explain``: why a requester sees what it sees of a record, or
of a past search in the audit log.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from rich.table import Table

from fieldgate.authoring.explain import explain
from fieldgate.authoring.explain_audit import EntryNotExplainable, explain_entry
from fieldgate.authoring.inputs import (
    load_persona,
    load_record,
    load_warrant,
    with_warrants,
)
from fieldgate.cli.contract.options import (
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

OUTCOME_OF_FIELD = {"released": "green", "masked": "yellow", "withheld": "dim"}


def _show(value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return escape(text if len(text) <= 60 else text[:57] + "...")


@click.command("explain")
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
                escape(f["name"]),
                escape(f["class"]),
                f"[{style}]{escape(outcome)}[/]",
                escape(f["reason"]),
            )
        console.print(table)
