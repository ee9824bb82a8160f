"""``fieldgate pki``: certificates for mutual TLS.

``pki ca`` makes a federation CA; ``pki issue`` issues one party's certificate
with its role bound in and the names and addresses it serves at
(:mod:`fieldgate.core.certs`); ``pki show`` says what a certificate is for and
when it expires; ``pki init`` makes a development CA and loopback
certificates in one go. Every command prints when each certificate expires.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import click

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.core.certs import ROLES, CertificateInfo, describe, issue
from fieldgate.core.tls import DevPKI, TLSError

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
        path = directory / f"{name}.pem"
        click.echo(f"{path}  {_expiry(describe(path.read_bytes()))}")


def _expiry(info: CertificateInfo) -> str:
    left = info.not_after - dt.datetime.now(dt.UTC)
    return f"expires {info.not_after.isoformat(timespec='seconds')} (in {left.days} days)"


@pki.command("ca")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--days", type=click.IntRange(1, 3650), default=365, show_default=True)
def pki_ca(directory: Path, days: int) -> None:
    """Make a federation CA in DIRECTORY (ca.pem to every party, ca.key kept offline)."""
    if (directory / "ca.pem").exists():
        raise click.UsageError(f"{directory} already holds a CA; refusing to replace it")
    DevPKI.create(directory, [], days=days)
    path = directory / "ca.pem"
    click.echo(f"{path}  {_expiry(describe(path.read_bytes()))}")


@pki.command("issue")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="The party: a node id, 'broker', a person's id.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(ROLES),
    help="Bound in the certificate; servers admit only the roles they answer.",
)
@click.option("--dns", "dns", multiple=True, help="A DNS name it serves at (repeatable).")
@click.option("--ip", "ips", multiple=True, help="An IP address it serves at (repeatable).")
@click.option("--days", type=click.IntRange(1, 825), default=90, show_default=True)
def pki_issue(
    directory: Path, name: str, role: str, dns: tuple[str, ...], ips: tuple[str, ...], days: int
) -> None:
    """Issue NAME's certificate from the CA in DIRECTORY, for ROLE, naming --dns and --ip."""
    if not PARTY_NAME.fullmatch(name):
        raise click.BadParameter(
            f"{name!r}: 1-63 letters, digits, '.', '_' or '-'", param_hint="--name"
        )
    if (directory / f"{name}.pem").exists():
        raise click.UsageError(f"{directory / name}.pem exists; refusing to replace it")
    try:
        files, info = issue(directory, name, role, dns=dns, ips=ips, days=days)
    except TLSError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"{files.cert}  role {role}  {_names(info)}  {_expiry(info)}")
    click.echo(f"{files.key}  (private, mode 0600)")


def _names(info: CertificateInfo) -> str:
    names = [*info.dns_names, *info.ip_addresses]
    return "names " + ", ".join(names) if names else "client only (names no host)"


@pki.command("show")
@click.argument("certs", nargs=-1, required=True, type=EXISTING_FILE)
def pki_show(certs: tuple[Path, ...]) -> None:
    """Say whom each certificate names, its role, its uses and when it expires."""
    for path in certs:
        try:
            info = describe(path.read_bytes())
        except TLSError as exc:
            raise click.UsageError(f"{path}: {exc}") from None
        uses = "/".join(u for u, ok in (("server", info.server), ("client", info.client)) if ok)
        roles = ", ".join(sorted(info.roles)) or "(no role: development certificate)"
        click.echo(f"{path}: {info.subject}  role {roles}  {uses}  {_names(info)}  {_expiry(info)}")
