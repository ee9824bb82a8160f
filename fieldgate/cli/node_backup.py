"""``fieldgate node backup``: an online copy of the node's records and audit databases.

Uses SQLite's online backup API (:meth:`sqlite3.Connection.backup`), so a live
node keeps serving and writing while the copy is taken and each copy is a
consistent snapshot. Each copy is written beside its destination, checked with
``PRAGMA integrity_check`` and only then renamed into place, so a backup never
leaves a half-written file under a final name. The audit signing key and the
last-known head are NOT copied: they live apart from the log on purpose (a
backup of the log and its key together would let whoever holds the backup
rewrite history).
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import click

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.node.audit.config import default_audit_config
from fieldgate.node.config import load_node_config

PAGES_PER_STEP = 1024
"""Pages copied per step: the node's writers get the database between steps."""


def backup_database(source: Path, destination: Path) -> int:
    """Copy one SQLite database online; the copy's size in bytes.

    Raises:
        click.ClickException: the source is missing or unreadable, or the copy is not sound.
    """
    if not source.is_file():
        raise click.ClickException(f"{source}: no such database to back up")
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
            closing(sqlite3.connect(partial)) as dst,
        ):
            src.backup(dst, pages=PAGES_PER_STEP)
            verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"{source}: backup failed ({exc})") from None
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"{source}: the copy failed its integrity check ({verdict})")
    os.replace(partial, destination)
    return destination.stat().st_size


@click.command("backup")
@click.option(
    "--config",
    "config_path",
    type=EXISTING_FILE,
    required=True,
    help="The node's TOML config (names its records and audit databases).",
)
@click.option(
    "--to",
    "to",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write records.sqlite and audit.sqlite into (made if missing).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def node_backup(config_path: Path, to: Path, as_json: bool) -> None:
    """Back up the records and the audit log online (SQLite backup API), while the node runs."""
    config = load_node_config(config_path, os.environ)
    audit = config.audit or default_audit_config(config.database)
    try:
        to.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"--to {to}: cannot make the directory ({exc})") from None
    copies = {"records": config.database, "audit": audit.database}
    written: dict[str, dict[str, object]] = {}
    for name, source in copies.items():
        if name == "audit" and not source.exists():
            # A node that has not served or purged yet has no audit log to copy.
            continue
        target = to / f"{name}.sqlite"
        written[name] = {"from": str(source), "to": str(target),
                         "bytes": backup_database(source, target)}  # fmt: skip
    if as_json:
        click.echo(json.dumps(written, indent=2))
        return
    for name, info in written.items():
        click.echo(f"{name}: {info['from']} → {info['to']} ({info['bytes']} bytes)")
