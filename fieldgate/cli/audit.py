"""``fieldgate audit ...``: verify a node's audit log, export its checkpoints, report on it.

Every report prints a table by default, ``--json`` for machines and ``--csv
FILE`` for spreadsheets. ``verify`` exits 0 when the log is intact and 1 when
anything is wrong, naming the first entry concerned; usage errors exit 2.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.cli.witness_verify import WITNESS_OPTION, WITNESSED_OPTION, check_witnesses
from fieldgate.core.digests import DigestKeyError, load_digest_key
from fieldgate.core.errors import InvalidRequestError
from fieldgate.core.inert_text import csv_safe, markup_safe, terminal_safe
from fieldgate.node.audit.accounts import STALE_DAYS, Grouping, accounts
from fieldgate.node.audit.basis import Basis, basis_of
from fieldgate.node.audit.checkpoints import (
    CheckpointExport,
    checkpoint_from_body,
    export_lines,
    read_export,
)
from fieldgate.node.audit.keys import load_verify_key
from fieldgate.node.audit.reference_lookup import COLUMNS as REFERENCE_COLUMNS
from fieldgate.node.audit.reference_lookup import resolve_reference
from fieldgate.node.audit.reports import (
    STALE_CREDENTIAL_DAYS,
    Period,
    Report,
    by_purpose,
    credentials,
    denials,
    record_ids_for_person,
    subject_history,
)
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.searched_for import searches_for
from fieldgate.node.audit.verify import VerifyReport, verify_log

_DB = click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The node's audit database (e.g. kcso.audit.sqlite).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
_CSV = click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the rows to this CSV file.",
)
_SINCE = click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC) to include."
)
_UNTIL = click.option(
    "--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC) to include."
)


def _period(since: dt.datetime | None, until: dt.datetime | None) -> Period:
    return Period(since.date() if since else None, until.date() if until else None)


@click.group()
def audit() -> None:
    """Verify a node's tamper-evident audit log, export its checkpoints, run reports."""


# -- verify and export ---------------------------------------------------------


def _print_verify(report: VerifyReport, console: Console) -> None:
    state = "[green]intact[/]" if report.ok else "[bold red]NOT INTACT[/]"
    # The node id and problem texts come from the log file: shown, never obeyed.
    console.print(
        f"{markup_safe(report.path)}: audit log of node {markup_safe(report.node_id or '?')} "
        f"is {state}"
    )
    console.print(
        f"  entries {report.first_seq}–{report.last_seq} ({report.entries}), "
        f"{report.checkpoints} signed checkpoints, last covering entry "
        f"{report.last_checkpoint_seq}; key: {report.key_source}"
    )
    if report.exported_checked:
        console.print(f"  {report.exported_checked} exported checkpoints checked")
    if report.witnessed_checked:
        console.print(f"  {report.witnessed_checked} witness-cosigned checkpoints checked")
    if report.uncovered:
        console.print(
            f"  {report.uncovered} newest entries are not yet under a signed checkpoint "
            "(protected by the chain only)"
        )
    first = report.first_entry_problem()
    if first is not None:
        console.print(f"  [bold red]first bad entry: {first.seq}[/] — {markup_safe(first.message)}")
    for problem in report.problems:
        console.print(
            f"  [red]{markup_safe(problem.kind)}[/]: {markup_safe(problem.message)}",
            highlight=False,
        )


def _verify_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--key, --witnessed and --witness: what a log is verified against."""
    key = click.option(
        "--key",
        "key_path",
        type=EXISTING_FILE,
        help="The node's public key (PEM, or hex) as you know it; default: the one in the log.",
    )
    return key(WITNESSED_OPTION(WITNESS_OPTION(command)))


@audit.command("verify")
@_DB
@click.option(
    "--checkpoints",
    "checkpoint_files",
    multiple=True,
    type=EXISTING_FILE,
    help="A checkpoint export kept by a third party (repeatable).",
)
@_verify_options
@_JSON
def verify_cmd(
    db_path: Path,
    key_path: Path | None,
    checkpoint_files: tuple[Path, ...],
    witnessed: Path | None,
    witness_keys: tuple[str, ...],
    as_json: bool,
) -> None:
    """Check the hash chain and signed checkpoints; name the first entry tampered with."""
    key = load_verify_key(key_path) if key_path else None
    exports: list[CheckpointExport] = [read_export(p) for p in checkpoint_files]
    report = verify_log(db_path, public_key=key, exports=exports)
    check_witnesses(report, db_path, key, witnessed, witness_keys)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_verify(report, Console(highlight=False))
    if not report.ok:
        sys.exit(1)


@audit.command("export-checkpoints")
@_DB
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)
def export_checkpoints_cmd(db_path: Path, out_path: Path | None) -> None:
    """Write the log's signed checkpoints as JSON Lines, for a third party to keep."""
    with AuditReader(db_path) as reader:
        meta = reader.meta()
        checkpoints = [
            checkpoint_from_body(json.loads(row.body), row.signature)
            for row in reader.checkpoints()
        ]
    text = "\n".join(export_lines(meta.get("node_id", ""), meta.get("public_key", ""), checkpoints))
    if out_path is None:
        click.echo(text)
    else:
        out_path.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {len(checkpoints)} checkpoints to {out_path}", err=True)


# -- reports -----------------------------------------------------------------


_DIGEST = re.compile(r"[0-9a-f]{64}")


def _cell(value: Any, separator: str = "\n") -> str:
    if isinstance(value, str) and _DIGEST.fullmatch(value):
        return value[:12]  # a contract version (SHA-256): its prefix names it in a table
    if isinstance(value, dict):
        return separator.join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":
        return value[:19].replace("T", " ")  # an ISO time, to the second
    return str(value)


_BASIS = "fieldgate.audit.basis"


def _verified(command: Callable[..., None]) -> Callable[..., None]:
    """Give a report command --key/--witnessed/--witness; verify the log before it runs.

    What the verification found goes in the report's header and its JSON
    (:mod:`fieldgate.node.audit.basis`).
    """

    @functools.wraps(command)
    def run(
        *args: Any,
        key_path: Path | None,
        witnessed: Path | None,
        witness_keys: tuple[str, ...],
        **kwargs: Any,
    ) -> None:
        db_path = kwargs["db_path"]
        key = load_verify_key(key_path) if key_path else None
        verified = verify_log(db_path, public_key=key)
        found = check_witnesses(verified, db_path, key, witnessed, witness_keys)
        click.get_current_context().meta[_BASIS] = basis_of(verified, found)
        command(*args, **kwargs)

    return _verify_options(run)


def _emit(report: Report, as_json: bool, csv_path: Path | None) -> None:
    basis: Basis | None = click.get_current_context().meta.get(_BASIS)
    if basis is not None:
        report = dataclasses.replace(report, log=basis.to_dict())
    if csv_path is not None:
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(report.columns))
            writer.writeheader()
            # Requester and record text must not run as a spreadsheet formula.
            writer.writerows(
                {k: csv_safe(_cell(v, "; ") if isinstance(v, dict) else v) for k, v in row.items()}
                for row in report.rows
            )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    # Every cell is Text, never markup: a case number "[/x]" or an ESC sequence in a
    # record id is shown as written, not obeyed by rich or the terminal.
    title = Text(terminal_safe(report.title))
    if basis is not None:
        # Problem texts come from the log file: shown, never obeyed.
        style = "green" if basis.verified else "bold red"
        title.append("\n" + terminal_safe(basis.headline()), style)
    table = Table(title=title, show_lines=False)
    for column in report.columns:
        table.add_column(Text(terminal_safe(column)), overflow="fold")
    for row in report.rows:
        cells = (terminal_safe(_cell(row.get(c, "")), keep_newlines=True) for c in report.columns)
        table.add_row(*(Text(cell) for cell in cells))
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    console.print(table)
    for note in report.notes:
        console.print(Text(terminal_safe(note)))
    console.print(f"{len(report.rows)} rows")
    if csv_path is not None:
        console.print(Text(f"rows written to {terminal_safe(csv_path)}"))


@audit.group("report")
def report_group() -> None:
    """Auditor reports over one node's audit log."""


@report_group.command("by-purpose")
@_DB
@_verified
@_SINCE
@_UNTIL
@_JSON
@_CSV
def report_by_purpose(
    db_path: Path,
    since: dt.datetime | None,
    until: dt.datetime | None,
    as_json: bool,
    csv_path: Path | None,
) -> None:
    """Searches, hits and fields released by class, per agency type and purpose."""
    with AuditReader(db_path) as reader:
        _emit(by_purpose(reader, _period(since, until)), as_json, csv_path)


@report_group.command("reference")
@_DB
@click.argument("reference")
@_JSON
@_CSV
def report_reference(db_path: Path, reference: str, as_json: bool, csv_path: Path | None) -> None:
    """The record an investigator's quoted REFERENCE names, and the disclosure it came from.

    For the agency's own staff: a hit carries an opaque reference, never the
    record id; this log is what maps it back. Exits 1 when no disclosure
    was sent under REFERENCE.
    """
    with AuditReader(db_path) as reader:
        rows = resolve_reference(reader, reference)
    notes = () if rows else (f"no disclosure in this log was sent under {reference!r}",)
    _emit(Report(f"reference {reference}", REFERENCE_COLUMNS, rows, notes), as_json, csv_path)
    if not rows:
        sys.exit(1)


@report_group.command("subject")
@_DB
@_verified
@click.option("--record-id", "record_ids", multiple=True, help="A record of the person.")
@click.option("--name", help='The person\'s name, "SURNAME, GIVEN" (with --dob).')
@click.option("--dob", type=click.DateTime(["%Y-%m-%d"]), help="Date of birth (with --name).")
@click.option(
    "--records-db",
    type=EXISTING_FILE,
    help="The node's record database, to find the person's records by name and birth date.",
)
@click.option(
    "--min-score",
    type=click.FloatRange(0.0, 1.0),
    help="Count every record matching at least this well (default: exact name and date).",
)
@_SINCE
@_UNTIL
@_JSON
@_CSV
def report_subject(
    db_path: Path,
    record_ids: tuple[str, ...],
    name: str | None,
    dob: dt.datetime | None,
    records_db: Path | None,
    min_score: float | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    as_json: bool,
    csv_path: Path | None,
) -> None:
    """Every disclosure of one person's data: when, to which agency, why, which fields."""
    wanted = set(record_ids)
    if name is not None or dob is not None:
        if name is None or dob is None or records_db is None:
            raise click.UsageError("--name needs --dob and --records-db")
        surname, _, given = name.partition(",")
        if not surname.strip():
            raise click.UsageError('--name must be "SURNAME, GIVEN"')
        wanted |= record_ids_for_person(
            records_db, surname.strip(), given.strip(), dob.date(), min_score=min_score
        )
    elif not wanted:
        raise click.UsageError("give --record-id, or --name with --dob and --records-db")
    with AuditReader(db_path) as reader:
        _emit(subject_history(reader, wanted, _period(since, until)), as_json, csv_path)


@report_group.command("searches-for")
@_DB
@_verified
@click.option(
    "--digest-key",
    type=EXISTING_FILE,
    required=True,
    help="The node's digest key (node.digest_key), kept apart from the log.",
)
@click.option("--name", required=True, help='The person\'s name, "SURNAME, GIVEN".')
@click.option("--dob", type=click.DateTime(["%Y-%m-%d"]), help="Date of birth, as searched.")
@_SINCE
@_UNTIL
@_JSON
@_CSV
def report_searches_for(
    db_path: Path,
    digest_key: Path,
    name: str,
    dob: dt.datetime | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    as_json: bool,
    csv_path: Path | None,
) -> None:
    """Every search for one person (found or not), by the keyed digest of the name searched."""
    surname, _, given = name.partition(",")
    if not surname.strip():
        raise click.UsageError('--name must be "SURNAME, GIVEN"')
    try:
        digester = load_digest_key(digest_key)
    except DigestKeyError as exc:
        raise click.BadParameter(str(exc), param_hint="--digest-key") from None
    with AuditReader(db_path) as reader:
        try:
            report = searches_for(
                reader,
                digester,
                surname.strip(),
                given.strip(),
                dob.date() if dob else None,
                _period(since, until),
            )
        except InvalidRequestError as exc:
            raise click.BadParameter(str(exc), param_hint="--name/--dob") from None
    _emit(report, as_json, csv_path)


@report_group.command("accounts")
@_DB
@_verified
@_SINCE
@_UNTIL
@_JSON
@_CSV
@click.option(
    "--by",
    type=click.Choice(["subject", "agency"]),
    default="subject",
    show_default=True,
    help="One row per person (subject at their agency, all credentials) or per agency.",
)
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Review date (default: today).")
@click.option(
    "--stale-days",
    type=click.IntRange(1, 3650),
    default=STALE_DAYS,
    show_default=True,
    help="Flag people (agencies) without a search this long.",
)
def report_accounts(
    db_path: Path,
    since: dt.datetime | None,
    until: dt.datetime | None,
    as_json: bool,
    csv_path: Path | None,
    by: str,
    today: dt.datetime | None,
    stale_days: int,
) -> None:
    """The account review per person or agency: use, refusals by reason, flags.

    Flags a person whom the current contract refuses but who still searches,
    and a person unused for --stale-days (disable their access).
    """
    day = today.date() if today else dt.date.today()
    grouping: Grouping = "agency" if by == "agency" else "subject"
    with AuditReader(db_path) as reader:
        report = accounts(
            reader, _period(since, until), by=grouping, today=day, stale_days=stale_days
        )
    _emit(report, as_json, csv_path)


@report_group.command("credentials")
@_DB
@_verified
@_JSON
@_CSV
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Review date (default: today).")
@click.option(
    "--stale-days",
    type=click.IntRange(1, 3650),
    default=STALE_CREDENTIAL_DAYS,
    show_default=True,
    help="Flag credentials unused this long.",
)
def report_credentials(
    db_path: Path, as_json: bool, csv_path: Path | None, today: dt.datetime | None, stale_days: int
) -> None:  # fmt: skip
    """The monthly credential review: every credential seen; flags long-unused ones."""
    day = today.date() if today else dt.date.today()
    with AuditReader(db_path) as reader:
        _emit(credentials(reader, day, stale_days), as_json, csv_path)


@report_group.command("denials")
@_DB
@_verified
@_SINCE
@_UNTIL
@_JSON
@_CSV
def report_denials(
    db_path: Path,
    since: dt.datetime | None,
    until: dt.datetime | None,
    as_json: bool,
    csv_path: Path | None,
) -> None:
    """Denied searches and policy errors, so a broken contract cannot fail silently."""
    with AuditReader(db_path) as reader:
        _emit(denials(reader, _period(since, until)), as_json, csv_path)
