"""``fieldgate contract diff``: what a new contract changes, per persona or per audited search.

Without ``--audit`` every persona asks about every sample record under both
contracts (:mod:`fieldgate.authoring.diff`); with ``--audit`` the searches the
node's audit log recorded are replayed (:mod:`fieldgate.authoring.impact_replay`,
printed by :mod:`fieldgate.cli.contract.replay`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from fieldgate.authoring.diff import diff_contracts
from fieldgate.authoring.impact_replay import WARRANT_MODES, WarrantMode
from fieldgate.authoring.inputs import load_personas, load_records
from fieldgate.authoring.session import DEFAULT_NODE_ID
from fieldgate.cli.contract.options import (
    F,
    catalog_and_lib,
    contract_session,
    echo_json,
    load_catalog_or_default,
    today_option,
    wide_console,
)
from fieldgate.cli.contract.replay import run_audit_diff
from fieldgate.core.inert_text import markup_safe as escape

DIRECTION_STYLE = {"wider": "red", "narrower": "green", "changed": "yellow"}


def _audit_replay_options(command: F) -> F:
    """The options of ``diff --audit`` (see :mod:`fieldgate.cli.contract.replay`)."""
    for option in reversed(
        (
            click.option(
                "--audit",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Replay the searches recorded in this node audit log instead.",
            ),
            click.option(
                "--records-db",
                "--store",
                "records_db",
                type=click.Path(dir_okay=False, path_type=Path),
                help="With --audit: the node's record store (the records the searches matched).",
            ),
            click.option(
                "--since",
                type=click.DateTime(formats=["%Y-%m-%d"]),
                help="With --audit: replay searches from this day (UTC) on; default all.",
            ),
            click.option(
                "--warrants",
                type=click.Choice(WARRANT_MODES),
                default="assume-named",
                show_default=True,
                help="With --audit, for entries that predate logging which warrants "
                "applied to each record: assume a warrant named each matched record's "
                "person, or that no warrant applied. Newer entries replay as logged.",
            ),
            click.option(
                "--audit-key",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="With --audit: the node's audit public key to verify the chain with.",
            ),
        )
    ):
        command = option(command)
    return command


@click.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--records",
    "records_path",
    type=click.Path(exists=True, path_type=Path),
    help="Sample records: JSON Lines, a JSON file, or a directory of *.json.",
)
@click.option(
    "--personas",
    "personas_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of persona JSON files.",
)
@_audit_replay_options
@click.option(
    "--accept-widening",
    is_flag=True,
    help="Exit 0 even when release widens for a civil immigration persona or requester.",
)
@click.option(
    "--old-catalog",
    "old_catalog_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The catalog OLD is judged with (default: --catalog).",
)
@click.option(
    "--new-catalog",
    "new_catalog_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The catalog NEW is judged with (default: --catalog). OLD and NEW may be the same "
    "contract: the diff is then the catalog change's.",
)
@catalog_and_lib
@today_option
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def contract_diff(
    old: Path,
    new: Path,
    records_path: Path | None,
    personas_dir: Path | None,
    audit: Path | None,
    records_db: Path | None,
    since: dt.datetime | None,
    warrants: WarrantMode,
    audit_key: Path | None,
    accept_widening: bool,
    old_catalog_path: Path | None,
    new_catalog_path: Path | None,
    catalog_path: Path | None,
    library: Path | None,
    node_id: str,
    today: dt.datetime | None,
    as_json: bool,
) -> None:
    """Show what NEW releases that OLD did not, and the reverse, per persona and class.

    Any widening for a persona whose agency type or purpose is civil
    immigration is flagged and makes the command exit 1, unless
    --accept-widening is given.

    With --audit and --records-db, replays instead the searches the node's
    audit log recorded (since --since) under OLD and NEW: per requester, and
    per agency type and purpose, the fields lost and gained, and whether the
    requester actually received them. The log's chain is verified first.

    --old-catalog and --new-catalog judge each contract with its own catalog:
    a field the new catalog adds or moves to another class that anyone would
    see more of is flagged and exits 1 unless --accept-widening.
    """
    old_catalog = load_catalog_or_default(old_catalog_path or catalog_path)
    new_catalog = load_catalog_or_default(new_catalog_path or catalog_path)
    if audit is not None:
        if records_path is not None or personas_dir is not None or today is not None:
            raise click.UsageError("--audit replays the log: drop --records, --personas, --today")
        if records_db is None:
            raise click.UsageError(
                "--audit needs --records-db: the node's record store, to look up the "
                "records each audited search matched"
            )
        run_audit_diff(
            old,
            new,
            audit=audit,
            records_db=records_db,
            catalog=old_catalog,
            new_catalog=new_catalog,
            library=library,
            node_id=None if node_id == DEFAULT_NODE_ID else node_id,
            since=since.date() if since else None,
            warrants=warrants,
            audit_key=audit_key,
            accept_widening=accept_widening,
            as_json=as_json,
        )
        return
    if records_db is not None or since is not None or audit_key is not None:
        raise click.UsageError("--records-db, --since and --audit-key need --audit")
    if records_path is None or personas_dir is None:
        raise click.UsageError("give --records and --personas (or --audit and --records-db)")
    personas = load_personas(personas_dir)
    records = load_records(records_path, new_catalog)
    with (
        contract_session(old, library, old_catalog, node_id, today) as before,
        contract_session(new, library, new_catalog, node_id, today) as after,
    ):
        report = diff_contracts(before, after, personas, records)
    if as_json:
        echo_json({**report.to_json(), "accepted": accept_widening})
    else:
        for name, (was, now) in sorted(report.catalog_changes.items()):
            wide_console().print(
                f"catalog change: [bold]{escape(name)}[/] {escape(was or '(not in catalog)')} → "
                f"{escape(now)}",
                highlight=False,
            )
        _print_diff(report.personas, report.records)
    if report.flagged:
        if not as_json:
            how = "accepted (--accept-widening)" if accept_widening else "refused"
            err = Console(stderr=True)
            if any(p.flagged for p in report.personas):
                err.print(f"[bold red]release widens for a civil immigration persona: {how}[/]")
            if report.catalog_widened:
                err.print(
                    "[bold red]the catalog change releases "
                    f"{escape(', '.join(report.catalog_widened))}: {how}[/]"
                )
        if not accept_widening:
            raise SystemExit(1)


def _print_diff(personas: Any, records: int) -> None:
    console = wide_console()
    for p in personas:
        claims = p.persona.claims
        head = (
            f"[bold]{escape(p.persona.name)}[/] ({escape(claims.agency_type)}, "
            f"{escape(claims.purpose)})"
        )
        if p.flagged:
            head += "  [bold red]WIDENS RELEASE IN A CIVIL IMMIGRATION CONTEXT[/]"
        if not p.changes:
            console.print(f"{head}: no change over {records} records", highlight=False)
            continue
        console.print(head, highlight=False)
        table = Table("class", "change", "field", "old", "new", "records")
        for cls, directions in p.by_class().items():
            for direction, rows in directions.items():
                style = DIRECTION_STYLE[direction]
                for field, before, after, count in rows:
                    table.add_row(
                        escape(cls), f"[{style}]{direction}[/]", escape(field),
                        escape(before), escape(after), str(count),
                    )  # fmt: skip
        console.print(table)
