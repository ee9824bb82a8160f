"""``fieldgate node apply FILE``: apply a change set (upserts, deletions, seals, expungements)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.console import Console

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.cli.progress import progress_bar
from fieldgate.node.change_files import apply_file
from fieldgate.node.changes import ChangeSetResult


@click.command("apply")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=EXISTING_FILE,
    help="The node's config file (its record database, catalog and audit log).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.argument("file", type=EXISTING_FILE)
def node_apply(config_path: Path, as_json: bool, file: Path) -> None:
    """Apply the change set in a JSON Lines or CSV FILE; a bad line changes nothing.

    Each line upserts a record, or (with "op") deletes, seals, unseals or
    expunges one. The whole file is one transaction and one audit entry;
    applying it again changes nothing.
    """
    from fieldgate.node.config import load_node_config
    from fieldgate.node.server import open_audit_log
    from fieldgate.node.store import RecordStore
    from fieldgate.policy.catalog import load_catalog

    config = load_node_config(config_path, os.environ)
    catalog = load_catalog(config.catalog)
    console = Console(stderr=True)
    with (
        RecordStore.open(config.database) as store,
        progress_bar(console, by_bytes=True) as progress,
    ):
        audit = open_audit_log(config, maintenance=True)
        try:
            task = progress.add_task(f"applying {file.name}", total=file.stat().st_size or 1)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total or 1)

            result = apply_file(store, audit, file, catalog, progress=advance)
        finally:
            audit.close()
        total = store.count()
    _report(result, file, total, as_json)


def _report(result: ChangeSetResult, file: Path, total: int, as_json: bool) -> None:
    if as_json:
        document = {
            "counts": result.summary(),
            "changed": result.changed,
            "audit_seq": result.audit_seq,
            "wal_truncated": result.wal_truncated,
            "records_in_store": total,
        }
        click.echo(json.dumps(document))
        return
    counts = ", ".join(f"{op} {n}" for op, n in result.summary().items() if n)
    where = f"{total} records in store; audit entry {result.audit_seq}"
    click.echo(f"applied {file}: {counts} ({where})")
    if not result.wal_truncated:
        click.echo(
            "note: a search held the database while it was checkpointed; copies of removed "
            "records may stay in the write-ahead log until the next change set"
        )
