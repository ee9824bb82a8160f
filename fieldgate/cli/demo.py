"""``fieldgate demo`` and ``fieldgate sample``."""

from __future__ import annotations

import asyncio
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
def demo(records_per_agency: int, seed: int) -> None:
    """Run a broker and three agencies on loopback and show what three requesters see."""
    from fieldgate.devkit.demo import run_demo

    asyncio.run(run_demo(Console(), records_per_agency=records_per_agency, seed=seed))


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
