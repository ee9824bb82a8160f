"""``fieldgate pki init``: development certificates for mutual TLS."""

from __future__ import annotations

from pathlib import Path

import click

from fieldgate.core.tls import DevPKI


@click.group()
def pki() -> None:
    """Development certificates for mutual TLS."""


@pki.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--name",
    "names",
    multiple=True,
    required=True,
    help="A party to certify: the broker, each node id, each investigator (repeatable).",
)
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True)
def pki_init(directory: Path, names: tuple[str, ...], days: int) -> None:
    """Make a development CA and one certificate per --name (server and client use).

    Real federations issue certificates from their own CA; these are for
    development and demos on loopback (localhost, 127.0.0.1).
    """
    if (directory / "ca.pem").exists():
        raise click.UsageError(f"{directory} already holds a CA; refusing to replace it")
    DevPKI.create(directory, names, days=days)
    for name in ("ca", *names):
        click.echo(directory / f"{name}.pem")
