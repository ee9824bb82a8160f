"""``fieldgate broker serve``: run the broker that fans searches out to the agencies;
``fieldgate broker nodes``: the agencies a broker routes to, read a page at a time."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fieldgate.broker.config import load_broker_config
from fieldgate.broker.directory import NodeDirectory
from fieldgate.broker.fd_limit import raise_fd_limit
from fieldgate.broker.server import RunningBroker, start_broker
from fieldgate.cli.files import EXISTING_FILE
from fieldgate.cli.serving import LOG_FORMAT_OPTION, ops_notes, serve_until_signal, setup_logging
from fieldgate.client.broker_client import SearchClient
from fieldgate.client.errors import SearchError
from fieldgate.core.certs import check_server_role
from fieldgate.core.inert_text import terminal_safe
from fieldgate.core.tls import TLSFiles


@click.group()
def broker() -> None:
    """Run the broker that fans searches out to the agencies."""


@broker.command("serve")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=EXISTING_FILE,
)
@LOG_FORMAT_OPTION
def broker_serve(config_path: Path, log_format: str | None) -> None:
    """Serve searches across the nodes of the config: its [[nodes]], or every node of the
    signed trust directory ([broker.directory])."""
    config = load_broker_config(config_path, os.environ)
    setup_logging(log_format or config.log_format)
    started: list[RunningBroker] = []

    async def start() -> tuple[str, Callable[[float], Awaitable[None]]]:
        running = await start_broker(config)
        started.append(running)
        return running.address, running.stop

    source = " from the trust directory" if config.directory is not None else ""
    roster = NodeDirectory(config).roster()
    # Before gRPC starts a thread: a refusal here leaves nothing half-started.
    raise_fd_limit(roster.addresses)
    nodes = len(roster)
    asyncio.run(
        serve_until_signal(start, f"broker ({nodes} nodes{source})", lambda: ops_notes(started[0]))
    )


@broker.command("nodes")
@click.option(
    "--broker",
    "broker_address",
    envvar="FIELDGATE_BROKER",
    default="127.0.0.1:50051",
    show_default=True,
    help="Broker host:port.",
)
@click.option("--tls-ca", type=EXISTING_FILE, envvar="FIELDGATE_TLS_CA", help="Federation CA.")
@click.option("--tls-cert", type=EXISTING_FILE, envvar="FIELDGATE_TLS_CERT", help="Your cert.")
@click.option("--tls-key", type=EXISTING_FILE, envvar="FIELDGATE_TLS_KEY", help="Its key.")
@click.option("--insecure", is_flag=True, help="Plaintext to a development broker.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def broker_nodes(
    broker_address: str,
    tls_ca: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    insecure: bool,
    as_json: bool,
) -> None:
    """List the agencies a broker routes to (every page of its ListNodes)."""
    tls: TLSFiles | None = None
    if tls_ca and tls_cert and tls_key:
        tls = TLSFiles(tls_ca, tls_cert, tls_key)
        check_server_role(broker_address, tls, "broker")
    elif tls_ca or tls_cert or tls_key or not insecure:
        raise click.UsageError(
            "give --tls-ca, --tls-cert and --tls-key (or --insecure for a development broker)"
        )
    try:
        with SearchClient(broker_address, tls) as client:
            nodes = client.nodes()
    except SearchError as exc:
        raise click.ClickException(
            f"{broker_address} did not list its nodes: {terminal_safe(exc.details)}"
        ) from None
    if as_json:
        listed = [{"node_id": n.node_id, "agency_name": n.agency_name} for n in nodes]
        click.echo(json.dumps({"nodes": listed, "total": len(listed)}, ensure_ascii=False))
        return
    table = Table(title=Text(f"{len(nodes)} agencies", style="bold"), title_justify="left")
    table.add_column("node", no_wrap=True)
    table.add_column("agency")
    for node in nodes:
        # Names come from the broker (its directory): shown, never obeyed by the terminal.
        table.add_row(Text(terminal_safe(node.node_id)), Text(terminal_safe(node.agency_name)))
    Console().print(table)
