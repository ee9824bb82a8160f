"""``fieldgate node ...``: serve an agency, load its records, make its audit key,
apply retention, and show or reset its contract bundle rollback mark.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress, TaskID

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.cli.progress import progress_bar
from fieldgate.cli.serving import LOG_FORMAT_OPTION, ops_notes, serve_until_signal, setup_logging
from fieldgate.node.audit.config import default_audit_config
from fieldgate.node.audit.keys import create_key, public_hex
from fieldgate.node.audit.retention import apply_plan, audit_cutoff, plan_purge
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.config import load_node_config
from fieldgate.node.importer import import_file
from fieldgate.node.server import RunningNode, open_audit_log, start_node
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.contract_bundle_state import (
    BundleStateError,
    load_high_water,
    reset_high_water,
    state_path,
)
from fieldgate.trust.keys import load_private_key, save_public_key

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.group()
def node() -> None:
    """Run an agency node and load its records."""


@node.command("serve")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=EXISTING_FILE,
)
@LOG_FORMAT_OPTION
def node_serve(config_path: Path, log_format: str | None) -> None:
    """Serve one agency's records under its contract."""
    config = load_node_config(config_path, os.environ)
    setup_logging(log_format or config.log_format)
    started: list[RunningNode] = []

    async def start() -> tuple[str, Callable[[float], Awaitable[None]]]:
        running = await start_node(config)
        started.append(running)
        return running.address, running.stop

    asyncio.run(serve_until_signal(start, f"node {config.node_id}", lambda: ops_notes(started[0])))


@node.command("import")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The node's SQLite file (created if missing).",
)
@click.option(
    "--catalog",
    "catalog_path",
    type=EXISTING_FILE,
    help="The agency's field catalog (default: the standard one).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.argument("file", type=EXISTING_FILE)
def node_import(db_path: Path, catalog_path: Path | None, as_json: bool, file: Path) -> None:
    """Load records from a JSON Lines or CSV FILE; a bad line loads nothing."""
    catalog = load_catalog(catalog_path or default_catalog_path())
    console = Console(stderr=True)
    with (
        RecordStore.open(db_path) as store,
        progress_bar(console, by_bytes=True) as progress,
    ):
        task = progress.add_task(f"checking {file.name}", total=file.stat().st_size or 1)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or 1)

        report = import_file(store, file, catalog, progress=advance)
        total = store.count()
    if as_json:
        click.echo(f'{{"imported": {report.imported}, "records_in_store": {total}}}')
    else:
        click.echo(
            f"imported {report.imported} records from {file} into {db_path} ({total} in store)"
        )


# -- node keygen and purge ---------------------------------------------------------

_CONFIG = click.option(
    "--config",
    "config_path",
    required=True,
    type=EXISTING_FILE,
    help="The node's config file.",
)


@node.command("keygen")
@_CONFIG
@click.option(
    "--public-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the public key (PEM) here, for auditors: `fieldgate audit verify "
    "--key FILE`. With a key that exists already, only writes this file.",
)
def node_keygen(config_path: Path, public_out: Path | None) -> None:
    """Make the node's audit signing key (refuses to replace an existing one)."""

    config = load_node_config(config_path, os.environ)
    audit_config = config.audit or default_audit_config(config.database)
    if public_out is not None and audit_config.key.exists():
        key = load_private_key(audit_config.key)
    else:
        key = create_key(audit_config.key)
        click.echo(f"wrote {audit_config.key} (mode 0600)")
    click.echo(f"public key: {public_hex(key.public_key())}")
    if public_out is not None:
        save_public_key(key.public_key(), public_out)
        click.echo(f"wrote {public_out} (public: give it to your auditors)")


@node.command("purge")
@_CONFIG
@click.option("--dry-run", is_flag=True, help="Show what would be disposed of; change nothing.")
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Count ages as of this day (default: today, UTC).",
)
@_JSON
@click.option(
    "--every",
    "every_hours",
    type=click.FloatRange(0.01, 24 * 31),
    help="Keep running: purge now and then every this many hours (a scheduled run; "
    "beside a live node it shares the node's database and audit chain).",
)
def node_purge(
    config_path: Path,
    dry_run: bool,
    today: dt.datetime | None,
    as_json: bool,
    every_hours: float | None,
) -> None:
    """Apply retention: blank expired fields, delete emptied records, trim old audit entries."""
    if every_hours is None:
        _purge_once(config_path, dry_run, today, as_json)
        return
    if today is not None:
        raise click.UsageError("--every counts ages from each run's own day; drop --today")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        _purge_once(config_path, dry_run, None, as_json)
        # Waiting on the event, not sleeping: SIGTERM ends the loop at once.
        stop.wait(every_hours * 3600)


def _advance(bar: Progress, task: TaskID) -> Callable[[int, int], None]:
    """A progress callback moving ``task`` of ``bar``."""

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return advance


def _purge_once(config_path: Path, dry_run: bool, today: dt.datetime | None, as_json: bool) -> None:

    config = load_node_config(config_path, os.environ)
    audit_config = config.audit or default_audit_config(config.database)
    day = _purge_day(today)
    catalog = load_catalog(config.catalog)
    cutoff = audit_cutoff(day, audit_config.retention_days)
    console = Console(stderr=True)
    with RecordStore.open(config.database) as store:
        # Long on a large store (about 31 s for 100k records): show how far it is.
        with progress_bar(console, by_bytes=False, disable=as_json) as bar:
            task = bar.add_task("examining records", total=None)
            plan = plan_purge(store, catalog, day, _advance(bar, task))
        summary = plan.summary()
        summary["audit_retention_days"] = audit_config.retention_days
        summary["audit_cutoff"] = cutoff.isoformat()
        summary["dry_run"] = dry_run
        if dry_run:
            summary["audit_entries_expired"] = _expired_entries(audit_config.database, cutoff)
        else:
            audit_store = open_audit_log(config, maintenance=True)
            try:
                with progress_bar(console, by_bytes=False, disable=as_json) as bar:
                    task = bar.add_task("disposing", total=len(plan.disposals))
                    apply_plan(plan, store, audit_store, _advance(bar, task))
                summary["audit_entries_removed"] = audit_store.purge_before(
                    cutoff,
                    minimum_days=audit_config.retention_floor,
                    override=audit_config.retention_override,
                ).removed
            finally:
                audit_store.close()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    verb = "would" if dry_run else "did"
    click.echo(
        f"retention as of {summary['today']}: {summary['records_examined']} records examined, "
        f"{summary['records_undated_kept']} undated (kept)"
    )
    click.echo(
        f"{verb} blank fields of {summary['records_blanked']} records and delete "
        f"{summary['records_deleted']} records"
    )
    for name, count in summary["fields_blanked_by_class"].items():
        click.echo(f"  {name}: {count} fields")
    removed = summary.get("audit_entries_removed", summary.get("audit_entries_expired", 0))
    click.echo(
        f"{verb} remove {removed} audit entries written before {cutoff.date()} "
        f"(kept {audit_config.retention_days} days)"
    )


def _purge_day(today: dt.datetime | None) -> dt.date:
    """The day ages are counted to: ``--today``, never later than the real today."""
    real = dt.datetime.now(dt.UTC).date()
    if today is None:
        return real
    if today.date() > real:
        raise click.BadParameter(
            f"{today.date()} is in the future (today is {real}); ages are never counted past today",
            param_hint="--today",
        )
    return today.date()


def _expired_entries(path: Path, cutoff: dt.datetime) -> int:
    """How many of the oldest audit entries are past the cutoff (for --dry-run)."""
    if not path.is_file():
        return 0
    with AuditReader(path) as reader:
        limit = cutoff.isoformat()
        count = 0
        for row in reader.entries():
            if row.time >= limit:
                break
            count += 1
        return count


# -- bundle-state --------------------------------------------------------------


@node.command("bundle-state")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=EXISTING_FILE,
    help="The node's TOML config (the state lives next to its database).",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Remove the mark so the next start accepts an older signed bundle (stop the node first).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the mark as JSON.")
def node_bundle_state(config_path: Path, reset: bool, as_json: bool) -> None:
    """Show the newest signed bundle this node has activated (older ones are refused as rollbacks).

    With --reset, remove that record: the node, on its next start, accepts any
    validly signed bundle and logs a warning that the record is gone.
    """

    config = load_node_config(config_path, os.environ)
    path = state_path(config.database)
    if reset:
        held = reset_high_water(path)
        message = (
            f"removed {path}: it held revision {held.revision} signed at {held.signed_at}"
            if held
            else f"removed {path} (it held no readable mark)"
        )
        click.echo(
            f"WARNING: {message}. The node accepts any validly signed bundle on its next "
            "start; a running node keeps refusing older bundles until it restarts.",
            err=True,
        )
        return
    try:
        mark = load_high_water(path)
    except BundleStateError as exc:
        raise click.ClickException(f"{exc} (repair it, or remove it with --reset)") from exc
    if as_json:
        click.echo(json.dumps({"path": str(path), "mark": mark.__dict__ if mark else None}))
    elif mark is None:
        click.echo(f"{path}: no mark recorded; the node accepts any validly signed bundle")
    else:
        click.echo(
            f"{path}: revision {mark.revision} signed at {mark.signed_at} "
            f"(from {mark.bundle}, activated {mark.recorded_at}); older bundles are refused"
        )
