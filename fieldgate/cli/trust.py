"""``fieldgate trust ...``: maintain a (signed) trust bundle and the revocation list."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.core.vocabulary import AGENCY_TYPES
from fieldgate.trust.bundle_signing import (
    BundleSignatureError,
    is_signed,
    sign_bundle,
    unverified_payload,
)
from fieldgate.trust.keys import (
    enc_public_jwk,
    load_enc_public_key,
    load_private_key,
    load_public_key,
    public_jwk,
)
from fieldgate.trust.trust_bundle import TrustUnavailable, parse_bundle, parse_nodes


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
@click.option(
    "--enc-key",
    type=EXISTING_FILE,
    help="The node's public X25519 key (keygen --x25519): clients seal queries to it.",
)
@AUTHORITY_KEY
def trust_add_node(
    bundle: Path, node_id: str, key: Path, enc_key: Path | None, authority_key: Path | None
) -> None:
    """Publish a node's answer key (clients verify its answers) and encryption key (clients
    seal their queries to it; without one no client can address the node)."""
    document = _load_bundle(bundle, authority_key)
    nodes = [n for n in _entries(bundle, document, "nodes") if n.get("id") != node_id]
    entry: dict[str, object] = {"id": node_id, "jwk": public_jwk(load_public_key(key))}
    if enc_key is not None:
        entry["enc"] = enc_public_jwk(load_enc_public_key(enc_key))
    nodes.append(entry)
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
