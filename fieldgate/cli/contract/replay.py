"""``fieldgate contract diff OLD NEW --audit LOG --records-db STORE``: the replay, printed.

The work is :mod:`fieldgate.authoring.impact_replay`; this module verifies the log,
opens the files, shows a progress bar while the searches are replayed, and
prints a table per requester and per agency type and purpose, or ``--json``.
Expected failures (no such file, a log that is not one or fails verification)
end with ``error: ...`` and exit status 2; a widening to a civil immigration
requester exits 1 unless accepted.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fieldgate.authoring.impact_replay import (
    AuditDiffReport,
    AuditReplayError,
    Impact,
    WarrantMode,
    replay_audit,
    verified_chain,
)
from fieldgate.authoring.session import ContractSession
from fieldgate.cli.contract.options import default_library
from fieldgate.core.inert_text import markup_safe as escape
from fieldgate.node.audit.keys import KeyFileError, load_verify_key
from fieldgate.node.audit.schema import AuditReader, AuditReadError
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import FieldCatalog

CHANGE_STYLE = {"lost": "green", "gained": "red", "changed": "yellow"}
"""Gains are the colour of danger: they are what an ordinance forbids."""


def run_audit_diff(
    old: Path,
    new: Path,
    *,
    audit: Path,
    records_db: Path,
    catalog: FieldCatalog,
    library: Path | None,
    new_catalog: FieldCatalog | None = None,
    node_id: str | None,
    since: dt.date | None,
    warrants: WarrantMode,
    audit_key: Path | None,
    accept_widening: bool,
    as_json: bool,
) -> None:
    """Verify the log, replay its searches under OLD and NEW, print; exit 1 on a refused widening.

    Raises:
        AuditReplayError: the log or the store cannot be used.
    """
    try:
        key = load_verify_key(audit_key) if audit_key is not None else None
    except KeyFileError as exc:
        raise AuditReplayError(f"--audit-key: {exc}") from exc
    chain = verified_chain(audit, key)
    if not records_db.is_file():
        raise AuditReplayError(f"{records_db}: no such record store")
    err = Console(stderr=True)
    try:
        with (
            AuditReader(audit) as reader,
            RecordStore.open(records_db) as store,
            _session(old, library, catalog) as before,
            _session(new, library, new_catalog or catalog) as after,
            Progress(
                TextColumn("replaying audited searches"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
                disable=not err.is_terminal,
            ) as bar,
        ):
            task = bar.add_task("replay", total=None)
            report = replay_audit(
                reader,
                store,
                before,
                after,
                chain=chain,
                since=since,
                node_id=node_id,
                warrants=warrants,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except AuditReadError as exc:
        raise AuditReplayError(str(exc)) from exc
    if as_json:
        click.echo(
            json.dumps(
                {**report.to_json(), "accepted": accept_widening}, indent=2, ensure_ascii=False
            )
        )
    else:
        print_report(report, _console())
    if report.flagged:
        if not as_json:
            how = "accepted (--accept-widening)" if accept_widening else "refused"
            names = ", ".join(f"{r.subject} ({r.agency})" for r in report.flagged_requesters())
            if names:
                err.print(
                    f"[bold red]release widens for civil immigration requesters: "
                    f"{escape(names)}: {how}[/]",
                    highlight=False,
                )
            if gains := report.catalog_gains():
                err.print(
                    f"[bold red]the catalog change releases {escape(', '.join(gains))} to "
                    f"audited requesters: {how}[/]",
                    highlight=False,
                )
        if not accept_widening:
            raise SystemExit(1)


def _session(contract: Path, library: Path | None, catalog: FieldCatalog) -> ContractSession:
    lib = library if library is not None else default_library(contract)
    return ContractSession(contract, lib, catalog)


def _console() -> Console:
    return Console() if sys.stdout.isatty() else Console(width=160)


def _used(count: int, records: int, queries: int) -> str:
    if not count:
        return "[dim]no[/]"
    return f"[bold]yes[/] ({queries} queries, {count}/{records} records)"


def _impact_table(impact: Impact, title: str) -> Table:
    table = Table(
        "class", "change", "field", "old → new", "queries", "records", "used", title=title
    )
    for change in ("lost", "gained", "changed"):
        style = CHANGE_STYLE[change]
        for cls, rows in impact.classes(change).items():
            for name, old, new, t in rows:
                table.add_row(
                    escape(cls),
                    f"[{style}]{change.upper()}[/]",
                    escape(name),
                    escape(f"{old} → {new}"),
                    str(len(t.queries)),
                    str(t.records),
                    _used(t.used_records, t.records, len(t.used_queries)),
                )
    return table


def print_report(report: AuditDiffReport, console: Console) -> None:
    """The report as tables: one per requester, one per agency type and purpose, then totals."""
    since = report.since.isoformat() if report.since else "the start of the log"
    console.print(
        f"[bold]{escape(report.old)}[/] → [bold]{escape(report.new)}[/] replayed on "
        f"{report.queries} searches audited by node {escape(report.node_id)} since {since} "
        f"({escape(report.audit)}: chain verified, {report.chain.entries} entries, "
        f"key from {escape(report.chain.key_source)})",
        highlight=False,
    )
    for name, (old, new) in sorted(report.catalog_changes.items()):
        console.print(
            f"catalog change: [bold]{escape(name)}[/] {escape(old or '(not in catalog)')} → "
            f"{escape(new)}",
            highlight=False,
        )
    flagged = set(report.flagged_requesters())
    for who, impact in sorted(report.requesters.items()):
        head = (
            f"[bold]{escape(who.subject)}[/] of {escape(who.agency)} ({escape(who.agency_type)}, "
            f"{escape(who.purpose)}; credential {escape(who.credential_id or '-')}): "
            f"{len(impact.queries)} queries, {impact.records} records replayed"
        )
        if impact.not_replayable:
            head += f", [yellow]{impact.not_replayable} not replayable[/]"
        if who in flagged:
            head += "  [bold red]GAINS ACCESS IN A CIVIL IMMIGRATION CONTEXT[/]"
        console.print(head if impact.tallies else f"{head}: no change", highlight=False)
        if impact.warrant_queries:
            console.print(
                f"  {len(impact.warrant_queries)} queries with warrants; whether they applied: "
                f"{impact.warrants_logged} records as logged, {impact.warrants_guessed} "
                f"guessed ({report.warrants})",
                highlight=False,
            )
        if impact.tallies:
            console.print(_impact_table(impact, ""))
    summary = Table(
        "agency type",
        "purpose",
        "requesters",
        "queries",
        "records",
        "fields lost",
        "fields gained",
        "lost and used by",
        title="by agency type and purpose",
    )
    for (agency_type, purpose), impact in sorted(report.groups.items()):
        used_by = {r for k, t in impact.tallies.items() if k[0] == "lost" for r in t.used_by}
        gained = impact.count("gained")
        summary.add_row(
            escape(agency_type),
            escape(purpose),
            str(len(impact.requesters)),
            str(len(impact.queries)),
            str(impact.records),
            str(impact.count("lost")),
            f"[red]{gained}[/]"
            if gained and "civil_immigration" in (agency_type, purpose)
            else str(gained),
            f"{len(used_by)} requester(s)",
        )
    console.print(summary)
    console.print(
        f"{report.records} records replayed; "
        f"[yellow]{len(report.unreplayable)} not replayable[/] "
        f"(in {len({u.seq for u in report.unreplayable})} queries); "
        f"{report.changed_since} changed since the search; OLD reproduces "
        f"{report.old_agrees} of {report.old_agrees + report.old_differs} audited decisions",
        highlight=False,
    )
    if report.warrants_guessed:
        console.print(
            f"[yellow]{report.warrants_guessed} records replayed with a guess[/] "
            f"(--warrants {report.warrants}): their entries predate logging which warrants "
            f"applied; {report.warrants_logged} records replayed as logged",
            highlight=False,
        )
    for u in report.unreplayable:
        console.print(
            f"  not replayable: entry {u.seq} (request {escape(u.request_id)}) "
            f"record {escape(u.record_id)}: {escape(u.reason)}",
            highlight=False,
        )
