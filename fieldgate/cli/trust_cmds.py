"""``fieldgate keygen``, ``credential``, ``warrant`` and ``trust``: the signed-claims tooling."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
import jwt

from fieldgate.core.names import split_full_name
from fieldgate.core.tls import DevPKI
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES, RECORD_KINDS
from fieldgate.trust.bundle_signing import (
    BundleSignatureError,
    is_signed,
    sign_bundle,
    unverified_payload,
)
from fieldgate.trust.keys import (
    generate_key,
    load_private_key,
    load_public_key,
    public_jwk,
    save_private_key,
    save_public_key,
)
from fieldgate.trust.tokens import (
    MAX_CREDENTIAL_HOURS,
    CredentialRequest,
    WarrantRequest,
    issue_credential,
    issue_warrant,
)
from fieldgate.trust.trust_bundle import TrustUnavailable, parse_bundle, parse_nodes

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _emit(token: str, out: Path | None) -> None:
    if out is None:
        click.echo(token)
    else:
        out.write_text(token + "\n", encoding="ascii")
        click.echo(f"wrote {out}", err=True)


@click.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def keygen(out: Path) -> None:
    """Make an Ed25519 key: OUT (private, owner-only) and OUT.pub (public).

    Investigators make their own key and hand only OUT.pub to their agency's
    issuer; agencies make issuer keys; courts make court keys.
    """
    if out.exists():
        raise click.UsageError(f"{out} exists; refusing to overwrite a key")
    key = generate_key()
    save_private_key(key, out)
    save_public_key(key.public_key(), out.with_name(out.name + ".pub"))
    click.echo(json.dumps(public_jwk(key.public_key())))


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
    _emit(token, out)


@credential.command("show")
@click.argument("token_file", type=EXISTING_FILE)
def credential_show(token_file: Path) -> None:
    """Print a credential's or warrant's claims (not verified: for reading only)."""
    try:
        claims = jwt.decode(token_file.read_text().strip(), options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise click.ClickException(f"{token_file}: not a token ({exc})") from None
    for key in ("iat", "nbf", "exp"):
        if isinstance(claims.get(key), int):
            claims[key] = dt.datetime.fromtimestamp(claims[key], dt.UTC).isoformat()
    click.echo(json.dumps(claims, indent=2))


@click.group()
def warrant() -> None:
    """Issue criminal judicial warrant attestations (a court's key)."""


@warrant.command("issue")
@click.option("--court-key", type=EXISTING_FILE, required=True)
@click.option("--court", required=True, help="Court id, as nodes' trust bundles name it.")
@click.option("--id", "warrant_id", required=True, help="The warrant's number.")
@click.option("--name", required=True, help='The person it covers, "SURNAME, GIVEN".')
@click.option("--dob", required=True, help="Their date of birth, YYYY-MM-DD.")
@click.option(
    "--covers",
    multiple=True,
    required=True,
    help="Field or sensitivity class covered (repeatable).",
)
@click.option(
    "--record-kind", "record_kinds", multiple=True, type=click.Choice(sorted(RECORD_KINDS))
)
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option(
    "--applicant-agency", required=True, help="Agency that applied; only it may use the warrant."
)
@click.option("--case-number", required=True, help="The applicant's case it was granted for.")
@click.option("--investigator", default="", help="Credential subject who alone may present it.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path))
def warrant_issue(
    court_key: Path, court: str, warrant_id: str, name: str, dob: str, covers: tuple[str, ...],
    record_kinds: tuple[str, ...], expires: dt.datetime, applicant_agency: str,
    case_number: str, investigator: str, out: Path | None,
) -> None:  # fmt: skip
    """Sign a warrant attestation nodes can verify."""
    surname, given = split_full_name(name)
    if not surname:
        raise click.BadParameter("give the person's name", param_hint="--name")
    token = issue_warrant(
        WarrantRequest(
            court=court,
            warrant_id=warrant_id,
            subject_surname=surname,
            subject_given_name=given,
            subject_dob=dob,
            covers=covers,
            expires=expires.date(),
            applicant_agency=applicant_agency,
            case_number=case_number,
            record_kinds=record_kinds,
            investigator=investigator,
        ),
        load_private_key(court_key),
    )
    _emit(token, out)


@click.group()
def trust() -> None:
    """Maintain a trust bundle and revocation list (nodes reload them without restart)."""


def _load_json(path: Path, empty: dict[str, object]) -> dict[str, object]:
    if not path.exists():
        return dict(empty)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise click.ClickException(f"{path}: must hold a JSON object")
    return document


def _entries(path: Path, document: dict[str, object], key: str) -> list[dict[str, object]]:
    entries = document.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise click.ClickException(f"{path}: {key} must be a list of objects")
    return entries


def _write_json(path: Path, document: dict[str, object]) -> None:
    document["issued_at"] = dt.datetime.now(dt.UTC).isoformat()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2), encoding="utf-8")
    tmp.replace(path)  # atomic: a node never reads half a file


AUTHORITY_KEY = click.option(
    "--authority-key",
    type=EXISTING_FILE,
    help="The federation authority's private key: writes the bundle signed (required to "
    "change a signed bundle).",
)


def _load_bundle(path: Path, authority_key: Path | None) -> dict[str, object]:
    """The bundle document to edit; a signed one only with the key to sign it again."""
    document = _load_json(path, {"issuers": [], "courts": []})
    if not is_signed(document):
        return document
    if authority_key is None:
        raise click.UsageError(
            f"{path} is signed by the federation authority: give --authority-key to change it"
        )
    try:
        return unverified_payload(document, path)
    except BundleSignatureError as exc:
        raise click.ClickException(str(exc)) from None


@trust.command("sign")
@click.argument("bundle", type=EXISTING_FILE)
@click.option("--authority-key", type=EXISTING_FILE, required=True, help="The authority's key.")
def trust_sign(bundle: Path, authority_key: Path) -> None:
    """Sign BUNDLE with the federation authority key every party pins (in place)."""
    _check_and_write(bundle, _load_bundle(bundle, authority_key), authority_key)


@trust.command("add-node")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--id", "node_id", required=True, help="The node's id.")
@click.option("--key", type=EXISTING_FILE, required=True, help="The node's public answer key.")
@AUTHORITY_KEY
def trust_add_node(bundle: Path, node_id: str, key: Path, authority_key: Path | None) -> None:
    """Publish a node's answer key: clients verify that node's answers with it."""
    document = _load_bundle(bundle, authority_key)
    nodes = [n for n in _entries(bundle, document, "nodes") if n.get("id") != node_id]
    nodes.append({"id": node_id, "jwk": public_jwk(load_public_key(key))})
    document["nodes"] = nodes
    _check_and_write(bundle, document, authority_key)


@trust.command("add-issuer")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--id", "issuer_id", required=True)
@click.option("--agency", required=True)
@click.option("--agency-type", required=True, type=click.Choice(sorted(AGENCY_TYPES)))
@click.option("--key", type=EXISTING_FILE, required=True, help="The issuer's public key.")
@AUTHORITY_KEY
def trust_add_issuer(
    bundle: Path, issuer_id: str, agency: str, agency_type: str, key: Path,
    authority_key: Path | None,
) -> None:  # fmt: skip
    """Trust an agency's credential issuer (creates BUNDLE if needed)."""
    document = _load_bundle(bundle, authority_key)
    issuers = [i for i in _entries(bundle, document, "issuers") if i.get("id") != issuer_id]
    issuers.append({"id": issuer_id, "agency": agency, "agency_type": agency_type,
                    "jwk": public_jwk(load_public_key(key))})  # fmt: skip
    document["issuers"] = issuers
    document.setdefault("courts", [])
    _check_and_write(bundle, document, authority_key)


@trust.command("add-court")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--id", "court_id", required=True)
@click.option("--name", required=True)
@click.option("--key", type=EXISTING_FILE, required=True, help="The court's public key.")
@AUTHORITY_KEY
def trust_add_court(
    bundle: Path, court_id: str, name: str, key: Path, authority_key: Path | None
) -> None:
    """Trust a court's warrant attestations (creates BUNDLE if needed)."""
    document = _load_bundle(bundle, authority_key)
    courts = [c for c in _entries(bundle, document, "courts") if c.get("id") != court_id]
    courts.append({"id": court_id, "name": name, "jwk": public_jwk(load_public_key(key))})
    document["courts"] = courts
    document.setdefault("issuers", [])
    _check_and_write(bundle, document, authority_key)


def _check_and_write(
    bundle: Path, document: dict[str, object], authority_key: Path | None = None
) -> None:
    document["issued_at"] = dt.datetime.now(dt.UTC).isoformat()
    try:
        parse_bundle(document, bundle)
        parse_nodes(document, bundle)
    except TrustUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    if authority_key is None:
        _write_json(bundle, document)
    else:
        signed = dict(sign_bundle(document, load_private_key(authority_key)))
        tmp = bundle.with_suffix(".tmp")
        tmp.write_text(json.dumps(signed, indent=2), encoding="utf-8")
        tmp.replace(bundle)  # atomic: a node never reads half a file
    click.echo(f"wrote {bundle}{' (signed)' if authority_key else ''}")


@trust.command("revoke")
@click.argument("revocations", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--credential", "credentials", multiple=True, help="Credential id (jti).")
@click.option("--issuer", "issuers", multiple=True, help="Issuer id.")
@click.option(
    "--agency-type", "agency_types", multiple=True, type=click.Choice(sorted(AGENCY_TYPES))
)
def trust_revoke(
    revocations: Path, credentials: tuple[str, ...], issuers: tuple[str, ...],
    agency_types: tuple[str, ...],
) -> None:  # fmt: skip
    """Revoke credentials, issuers or whole agency types; nodes refuse them on the next search.

    Also refreshes the list's issued_at: run it (even with nothing to add) more
    often than the nodes' max_age_seconds, or they stop releasing.
    """
    document = _load_json(revocations, {"credentials": [], "issuers": [], "agency_types": []})
    for key, added in (("credentials", credentials), ("issuers", issuers),
                       ("agency_types", agency_types)):  # fmt: skip
        current = document.get(key, [])
        if not isinstance(current, list):
            raise click.ClickException(f"{revocations}: {key} must be a list")
        document[key] = sorted({*map(str, current), *added})
    _write_json(revocations, document)
    click.echo(f"wrote {revocations}")


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
