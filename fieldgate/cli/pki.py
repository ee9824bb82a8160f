"""``fieldgate pki init``: development certificates for mutual TLS."""

from __future__ import annotations

import re
from pathlib import Path

import click

from fieldgate.core.tls import DevPKI

PARTY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
"""A certified party's name: it becomes file names and the certificate's common name."""


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
    for name in names:
        if not PARTY_NAME.fullmatch(name):
            raise click.BadParameter(
                f"{name!r}: a party name is 1-63 letters, digits, '.', '_' or '-' "
                "(it names the certificate's files)",
                param_hint="--name",
            )
    if (directory / "ca.pem").exists():
        raise click.UsageError(f"{directory} already holds a CA; refusing to replace it")
    DevPKI.create(directory, names, days=days)
    for name in ("ca", *names):
        click.echo(directory / f"{name}.pem")
