"""``fieldgate node ...`` and ``fieldgate broker ...``: run the servers, load records."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from fieldgate.broker.config import load_broker_config
from fieldgate.broker.server import RunningBroker, start_broker
from fieldgate.core.logs import LOG_FORMATS, configure_logging
from fieldgate.node.config import load_node_config
from fieldgate.node.importer import import_file
from fieldgate.node.server import RunningNode, start_node
from fieldgate.node.store import RecordStore
from fieldgate.policy.catalog import default_catalog_path, load_catalog

GRACE_SECONDS = 5.0
"""How long in-flight searches may run on after SIGTERM or Ctrl-C."""


async def serve_until_signal(
    start: Callable[[], Awaitable[tuple[str, Callable[[float], Awaitable[None]]]]],
    what: str,
    notes: Callable[[], Iterable[str]] | None = None,
) -> None:
    """Start a server, print where it listens, and stop it gracefully on SIGINT/SIGTERM.

    The first line printed is always ``<what> listening on <address> ...``;
    ``notes`` adds lines after it (the metrics and health ports).
    """
    address, stop = await start()
    click.echo(f"{what} listening on {address} (Ctrl-C to stop)")
    for note in notes() if notes else ():
        click.echo(f"{what} {note}")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        click.echo(f"{what} stopping (grace {GRACE_SECONDS:.0f} s)")
        await stop(GRACE_SECONDS)


LOG_FORMAT_OPTION = click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=None,
    help="Log lines as text or one JSON object per line (default: the config's log_format, "
    "else text). JSON logs every search at INFO with its request id.",
)


def setup_logging(log_format: str) -> None:
    """Log to stderr in ``log_format``; JSON output includes INFO (one line per search)."""
    level = logging.getLogger().getEffectiveLevel()
    configure_logging(log_format, min(level, logging.INFO) if log_format == "json" else level)


def ops_notes(running: RunningNode | RunningBroker) -> list[str]:
    """Where the metrics and health endpoints of a started server listen, if anywhere."""
    notes = []
    if running.metrics_endpoint is not None:
        notes.append(f"metrics on http://{running.metrics_endpoint.address}/metrics")
    if running.maintenance is not None:
        notes.append(f"health on {running.maintenance.address} (gRPC, plaintext)")
    return notes


@click.group()
def node() -> None:
    """Run an agency node and load its records."""


@node.command("serve")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
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
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The agency's field catalog (default: the standard one).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def node_import(db_path: Path, catalog_path: Path | None, as_json: bool, file: Path) -> None:
    """Load records from a JSON Lines or CSV FILE; a bad line loads nothing."""
    catalog = load_catalog(catalog_path or default_catalog_path())
    console = Console(stderr=True)
    with (
        RecordStore.open(db_path) as store,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress,
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


@click.group()
def broker() -> None:
    """Run the broker that fans searches out to the agencies."""


@broker.command("serve")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@LOG_FORMAT_OPTION
def broker_serve(config_path: Path, log_format: str | None) -> None:
    """Serve searches across the nodes listed in the config."""
    config = load_broker_config(config_path, os.environ)
    setup_logging(log_format or config.log_format)
    started: list[RunningBroker] = []

    async def start() -> tuple[str, Callable[[float], Awaitable[None]]]:
        running = await start_broker(config)
        started.append(running)
        return running.address, running.stop

    asyncio.run(
        serve_until_signal(
            start, f"broker ({len(config.nodes)} nodes)", lambda: ops_notes(started[0])
        )
    )
