"""``fieldgate node reindex``: bring a record store's name index to this build's version."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.cli.progress import progress_bar
from fieldgate.node.reindex import DEFAULT_BATCH, reindex


@click.command("reindex")
@click.option(
    "--store",
    "--db",
    "store_path",
    required=True,
    type=EXISTING_FILE,
    help="The node's record store (SQLite file).",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 1_000_000),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Records re-indexed per transaction (the unit a resumed run continues from).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def node_reindex(store_path: Path, batch: int, as_json: bool) -> None:
    """Rebuild the store's name index for this build; safe to interrupt and run again.

    A node refuses to serve a store indexed by an older version, which would
    miss people (middle names, compound surnames, transliterated letters).
    """
    console = Console(stderr=True)
    with progress_bar(console, by_bytes=False, disable=as_json) as bar:
        task = bar.add_task(f"re-indexing {store_path.name}", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = reindex(store_path, batch=batch, progress=advance)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "store": str(store_path),
                    "from_version": report.from_version,
                    "to_version": report.to_version,
                    "records": report.records,
                    "resumed": report.resumed,
                }
            )
        )
    elif report.from_version == report.to_version and not report.resumed:
        click.echo(f"{store_path}: already at index version {report.to_version}")
    else:
        resumed = " (resumed)" if report.resumed else ""
        click.echo(
            f"{store_path}: re-indexed {report.records} records{resumed},"
            f" index version {report.from_version} -> {report.to_version}"
        )
