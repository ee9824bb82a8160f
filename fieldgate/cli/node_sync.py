"""``fieldgate node sync``: follow the agency's own database (``[node.sync]`` in the config)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
from pathlib import Path

import click
from rich.console import Console

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.cli.progress import progress_bar
from fieldgate.core.config import ConfigError
from fieldgate.core.errors import FieldgateError
from fieldgate.node.sync import SyncCycle, safe_source
from fieldgate.node.sync_config import parse_duration


@click.command("sync")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=EXISTING_FILE,
    help="The node's config file; its [node.sync] table maps the database to records.",
)
@click.option(
    "--source",
    help="The database, postgresql://user@host/db (default: node.sync.source). "
    "The password comes from PGPASSWORD or ~/.pgpass, never the command line.",
)
@click.option(
    "--every",
    help="Keep running: sync now and then every this long (30s, 5m, 1h; "
    "default: node.sync.every, else once).",
)
@click.option("--once", is_flag=True, help="Sync once even if node.sync.every is set.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per cycle.")
def node_sync(
    config_path: Path, source: str | None, every: str | None, once: bool, as_json: bool
) -> None:
    """Apply the records changed in the agency's database since the last sync.

    Each batch of rows is one change set: one transaction, one audit entry,
    and the watermark it moves, so a sync stopped at any point resumes
    exactly where it stopped.
    """
    from fieldgate.node.config import load_node_config

    config = load_node_config(config_path, os.environ)
    if config.sync is None:
        raise ConfigError("node.sync", f"is missing from {config_path}; see README")
    url = source or config.sync.source
    if not url:
        raise click.UsageError("give --source, or set node.sync.source in the config")
    interval = parse_duration(every) if every else config.sync.every_seconds
    if once or interval is None:
        _cycle(config_path, url, as_json)
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        try:
            _cycle(config_path, url, as_json)
        except FieldgateError as exc:  # reported; the next cycle tries again
            click.echo(f"error: {exc}", err=True)
        # Waiting on the event, not sleeping: SIGTERM ends the loop at once.
        stop.wait(interval)


def _cycle(config_path: Path, url: str, as_json: bool) -> None:
    from fieldgate.node.config import load_node_config
    from fieldgate.node.server import open_audit_log
    from fieldgate.node.store import RecordStore
    from fieldgate.node.sync import sync_once
    from fieldgate.policy.catalog import load_catalog

    config = load_node_config(config_path, os.environ)
    assert config.sync is not None
    catalog = load_catalog(config.catalog)
    console = Console(stderr=True)
    with (
        RecordStore.open(config.database) as store,
        progress_bar(console, by_bytes=False) as progress,
    ):
        task = progress.add_task(f"syncing from {safe_source(url)}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        audit = open_audit_log(config, maintenance=True)
        try:
            cycle = sync_once(store, audit, catalog, config.sync, url, progress=advance)
        finally:
            audit.close()
        total = store.count()
    _report(cycle, total, as_json)


def _report(cycle: SyncCycle, total: int, as_json: bool) -> None:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if as_json:
        click.echo(json.dumps({"time": now, **cycle.summary(), "records_in_store": total}))
        return
    counts = ", ".join(f"{op} {n}" for op, n in sorted(cycle.counts.items())) or "no changes"
    click.echo(
        f"{now} synced {cycle.rows} rows in {cycle.batches} change sets: {counts} "
        f"({total} records in store)"
    )
