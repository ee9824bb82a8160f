"""``fieldgate broker serve``: run the broker that fans searches out to the agencies."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import click

from fieldgate.broker.config import load_broker_config
from fieldgate.broker.directory import NodeDirectory
from fieldgate.broker.server import RunningBroker, start_broker
from fieldgate.cli.files import EXISTING_FILE
from fieldgate.cli.serving import LOG_FORMAT_OPTION, ops_notes, serve_until_signal, setup_logging


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
    nodes = len(config.nodes)
    if config.directory is not None:
        # Counted once started; the directory may grow or shrink on each trust refresh.
        nodes = len(NodeDirectory(config).roster())
    asyncio.run(
        serve_until_signal(start, f"broker ({nodes} nodes{source})", lambda: ops_notes(started[0]))
    )
