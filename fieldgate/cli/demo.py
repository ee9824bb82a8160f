"""``fieldgate demo`` and ``fieldgate sample``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from rich.console import Console


@click.command()
@click.option(
    "--records",
    "records_per_agency",
    type=click.IntRange(10, 200_000),
    default=3000,
    show_default=True,
    help="Synthetic records per agency.",
)
@click.option("--seed", type=int, default=2026, show_default=True, help="Seed of the records.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON summary (records shown to each requester per agency) on stdout; "
    "the tables go to stderr.",
)
def demo(records_per_agency: int, seed: int, as_json: bool) -> None:
    """Run a broker and three agencies on loopback and show what three requesters see.

    Exits non-zero, naming the node and the reason, when a node is not serving
    (no usable contract, say), when the detective is shown no record, or when an
    audit log does not verify.
    """
    from fieldgate.devkit.demo import run_demo

    console = Console(stderr=as_json)
    summary = asyncio.run(run_demo(console, records_per_agency=records_per_agency, seed=seed))
    if as_json and summary is not None:
        click.echo(json.dumps(summary, indent=2))


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--records",
    "records_per_agency",
    type=click.IntRange(10, 1_000_000),
    default=3000,
    show_default=True,
    help="Synthetic records per agency.",
)
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option(
    "--base-port",
    type=click.IntRange(1024, 65000),
    default=50061,
    show_default=True,
    help="First node port; the broker listens on 50051.",
)
def sample(directory: Path, records_per_agency: int, seed: int, base_port: int) -> None:
    """Write the demo agencies' records and configs into DIRECTORY, to run them for real."""
    from fieldgate.devkit.sample import write_sample

    for path in write_sample(
        directory, records_per_agency=records_per_agency, seed=seed, base_port=base_port
    ):
        click.echo(path)
