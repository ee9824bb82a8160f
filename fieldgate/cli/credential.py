"""``fieldgate credential ...``: issue and show signed investigator credentials."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
import jwt

from fieldgate.cli.files import EXISTING_FILE, emit_token
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES
from fieldgate.trust.keys import load_private_key, load_public_key
from fieldgate.trust.tokens import MAX_CREDENTIAL_HOURS, CredentialRequest, issue_credential


@click.group()
def credential() -> None:
    """Issue and inspect investigator credentials."""


@credential.command("issue")
@click.option("--issuer-key", type=EXISTING_FILE, required=True, help="The agency's issuer key.")
@click.option("--issuer", required=True, help="Issuer id, as nodes' trust bundles name it.")
@click.option("--agency", required=True)
@click.option("--agency-type", required=True, type=click.Choice(sorted(AGENCY_TYPES)))
@click.option("--subject", required=True, help="The investigator's id.")
@click.option("--role", "roles", multiple=True)
@click.option(
    "--purpose",
    "purposes",
    multiple=True,
    required=True,
    type=click.Choice(sorted(PURPOSES)),
    help="Allowed purpose (repeatable).",
)
@click.option(
    "--holder-key",
    type=EXISTING_FILE,
    required=True,
    help="The investigator's PUBLIC key (their private key never leaves them).",
)
@click.option(
    "--hours",
    type=click.FloatRange(0.02, MAX_CREDENTIAL_HOURS),
    default=8.0,
    show_default=True,
    help="Validity in hours (not years).",
)
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path))
def credential_issue(
    issuer_key: Path, issuer: str, agency: str, agency_type: str, subject: str,
    roles: tuple[str, ...], purposes: tuple[str, ...], holder_key: Path, hours: float,
    out: Path | None,
) -> None:  # fmt: skip
    """Sign a short-lived credential binding an investigator's key to their claims."""
    token = issue_credential(
        CredentialRequest(
            issuer=issuer,
            subject=subject,
            agency=agency,
            agency_type=agency_type,
            roles=roles,
            purposes=purposes,
            holder_key=load_public_key(holder_key),
            hours=hours,
        ),
        load_private_key(issuer_key),
    )
    emit_token(token, out)


@credential.command("show")
@click.argument("token_file", type=EXISTING_FILE)
def credential_show(token_file: Path) -> None:
    """Print a credential's or warrant's claims (not verified: for reading only)."""
    try:
        text = token_file.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise click.ClickException(f"{token_file}: not a token (not even text)") from None
    try:
        claims = jwt.decode(text, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise click.ClickException(f"{token_file}: not a token ({exc})") from None
    for key in ("iat", "nbf", "exp"):
        if isinstance(claims.get(key), int):
            claims[key] = dt.datetime.fromtimestamp(claims[key], dt.UTC).isoformat()
    click.echo(json.dumps(claims, indent=2))
