"""``fieldgate credential ...``: issue and show signed investigator credentials."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click
import jwt

from fieldgate.cli.files import EXISTING_FILE, emit_token
from fieldgate.client.login import LoginFailed, login, remaining
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES
from fieldgate.policy.errors import OutboundPolicyError
from fieldgate.policy.outbound import compute_reach, outbound_policy_path
from fieldgate.trust.keys import (
    KeyFileError,
    load_enc_private_key,
    load_enc_public_key,
    load_private_key,
    load_public_key,
)
from fieldgate.trust.oidc import key_thumbprint
from fieldgate.trust.reach import Reach, read_directory, serials
from fieldgate.trust.tokens import MAX_CREDENTIAL_HOURS, CredentialRequest, issue_credential
from fieldgate.trust.trust_bundle import TrustUnavailable


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
    "--holder-enc-key",
    type=EXISTING_FILE,
    help="The investigator's PUBLIC X25519 key (keygen --x25519): answers are sealed to it. "
    "Without it no node can answer their searches.",
)
@click.option(
    "--reach",
    multiple=True,
    help="A node id this investigator's searches may reach (repeatable); none: no constraint.",
)
@click.option(
    "--hours",
    type=click.FloatRange(0.02, MAX_CREDENTIAL_HOURS),
    default=8.0,
    show_default=True,
    help="Validity in hours (not years).",
)
@click.option(
    "--outbound-policy",
    help="Your agency's outbound policy: a shipped name (king_county, permissive) or a "
    ".rego file. Evaluated against every node of --trust-bundle; the credential's "
    "searches reach only the nodes it allows.",
)
@click.option(
    "--trust-bundle",
    type=EXISTING_FILE,
    help="The signed federation trust bundle (the directory the policy is evaluated on).",
)
@click.option(
    "--authority-key",
    type=EXISTING_FILE,
    help="The pinned federation authority's public key: only a bundle it signed is used.",
)
@click.option("--jurisdiction", default="", help="Your agency's jurisdiction, e.g. WA.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path))
def credential_issue(
    issuer_key: Path, issuer: str, agency: str, agency_type: str, subject: str,
    roles: tuple[str, ...], purposes: tuple[str, ...], holder_key: Path,
    holder_enc_key: Path | None, reach: tuple[str, ...], hours: float,
    outbound_policy: str | None, trust_bundle: Path | None, authority_key: Path | None,
    jurisdiction: str, out: Path | None,
) -> None:  # fmt: skip
    """Sign a short-lived credential binding an investigator's key to their claims.

    With --outbound-policy the credential carries `reach` (the nodes its
    searches may address) and `unreached` (the others, and why), and the
    reach is printed on stderr; --reach names the nodes by hand instead.
    Without either the credential has no `reach` (legacy: every node its
    searches address).
    """
    if reach and outbound_policy is not None:
        raise click.UsageError("give --reach or --outbound-policy, not both")
    bound = (
        Reach.of(reach)
        if reach
        else _reach(outbound_policy, trust_bundle, authority_key, agency, agency_type, jurisdiction)
    )
    try:
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
                holder_enc_key=(
                    None if holder_enc_key is None else load_enc_public_key(holder_enc_key)
                ),
                reach=bound,
            ),
            load_private_key(issuer_key),
        )
    except KeyFileError:
        # A key file that cannot be used is bad input (exit 2, fieldgate.cli.main).
        raise
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    emit_token(token, out)


def _reach(
    policy: str | None,
    bundle: Path | None,
    authority: Path | None,
    agency: str,
    agency_type: str,
    jurisdiction: str,
) -> Reach | None:
    """Evaluate the outbound policy against the signed directory; None without a policy."""
    if policy is None:
        if bundle is not None or authority is not None:
            raise click.UsageError("--trust-bundle and --authority-key go with --outbound-policy")
        return None
    if bundle is None or authority is None:
        raise click.UsageError(
            "--outbound-policy needs --trust-bundle and --authority-key (the signed directory "
            "it is evaluated on)"
        )
    facts = {"id": agency, "agency_type": agency_type, "jurisdiction": jurisdiction}
    try:
        directory = read_directory(bundle, load_public_key(authority))
        reach = compute_reach(outbound_policy_path(policy), directory, facts)
    except (TrustUnavailable, OutboundPolicyError, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from None
    reached = reach.audience.named(serials(directory))
    click.echo(f"reach: {', '.join(reached) or '(no node)'}", err=True)
    for node_id, why in sorted(reach.unreached.items()):
        click.echo(f"not reached: {node_id}: {why}", err=True)
    return reach


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


@credential.command("login")
@click.option("--issuer", "issuer_url", required=True, help="Your agency's issuer URL.")
@click.option(
    "--id-token",
    required=True,
    help="A file holding the ID token from your agency's login, or - for stdin. Ask the "
    "identity provider for nonce = `fieldgate credential thumbprint --key KEY`.",
)
@click.option("--key", type=EXISTING_FILE, required=True, help="Your PRIVATE signing key.")
@click.option("--enc-key", type=EXISTING_FILE, help="Your PRIVATE X25519 key (answers).")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--renew-before",
    type=click.FloatRange(0, MAX_CREDENTIAL_HOURS * 60),
    default=30.0,
    show_default=True,
    help="Keep the credential at --out if it has more minutes than this left.",
)
def credential_login(
    issuer_url: str, id_token: str, key: Path, enc_key: Path | None, out: Path,
    renew_before: float,
) -> None:  # fmt: skip
    """Exchange your agency login (an OIDC ID token) for a credential, renewing it if due."""
    left = remaining(out)
    if left is not None and left > dt.timedelta(minutes=renew_before):
        click.echo(f"{out}: still valid for {int(left.total_seconds() // 60)} min; kept", err=True)
        return
    try:
        stdin = id_token == "-"  # noqa: S105 - "-" names stdin, it is no password
        token_text = sys.stdin.read() if stdin else Path(id_token).read_text()
    except OSError as exc:
        raise click.ClickException(f"--id-token {id_token}: cannot read ({exc})") from None
    try:
        token = login(
            issuer_url,
            token_text.strip(),
            load_private_key(key),
            None if enc_key is None else load_enc_private_key(enc_key),
        )
    except (LoginFailed, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from None
    emit_token(token, out)


@credential.command("thumbprint")
@click.option("--key", type=EXISTING_FILE, required=True, help="Your signing key (either half).")
def credential_thumbprint(key: Path) -> None:
    """Print the nonce to ask your identity provider for: your key's RFC 7638 thumbprint."""
    try:
        public = load_public_key(key)
    except KeyFileError:
        try:
            public = load_private_key(key).public_key()
        except KeyFileError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(key_thumbprint(public))
