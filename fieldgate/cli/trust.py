"""``fieldgate trust ...``: maintain a (signed) trust bundle and the revocation list."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Callable
from pathlib import Path

import click

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.core.vocabulary import AGENCY_TYPES
from fieldgate.trust.bundle_signing import (
    BundleSignatureError,
    is_signed,
    sign_bundle,
    sign_revocations,
    unverified_payload,
)
from fieldgate.trust.keys import (
    enc_public_jwk,
    load_enc_public_key,
    load_private_key,
    load_public_key,
    public_jwk,
)
from fieldgate.trust.refresh import TrustRefreshError, refresh
from fieldgate.trust.trust_bundle import (
    TrustUnavailable,
    parse_bundle,
    parse_directory_serials,
    parse_nodes,
)


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


def _bump_serial(bundle: Path, document: dict[str, object]) -> int:
    """Bump the directory ``serial`` of an edited bundle (compact audiences name nodes by it).

    Raises:
        click.ClickException: the bundle's serial is not an integer >= 0.
    """
    serial = document.get("serial", 0)
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 0:
        raise click.ClickException(f"{bundle}: serial is not an integer >= 0")
    document["serial"] = serial + 1
    return serial + 1


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
@click.option("--agency", default="", help="The agency running the node (directory entry).")
@click.option(
    "--agency-type",
    default="",
    type=click.Choice(["", *sorted(AGENCY_TYPES)]),
    help="That agency's type: outbound policies decide on it (docs/outbound.md).",
)
@click.option("--jurisdiction", default="", help="Its jurisdiction, e.g. WA or US.")
@AUTHORITY_KEY
def trust_add_node(
    bundle: Path, node_id: str, key: Path, enc_key: Path | None, agency: str, agency_type: str,
    jurisdiction: str, authority_key: Path | None,
) -> None:  # fmt: skip
    """Publish a node's answer key, encryption key and directory entry.

    Clients verify that node's answers with the answer key and seal their
    queries to its encryption key (without one no client can address the
    node); requesting agencies' outbound policies decide on its agency,
    agency type and jurisdiction.
    """
    document = _load_bundle(bundle, authority_key)
    serial = _bump_serial(bundle, document)
    previous = [n for n in _entries(bundle, document, "nodes") if n.get("id") == node_id]
    nodes = [n for n in _entries(bundle, document, "nodes") if n.get("id") != node_id]
    facts = {"agency": agency, "agency_type": agency_type, "jurisdiction": jurisdiction}
    # A new node joins at this serial; a re-keyed one keeps the serial it joined at.
    since = previous[0].get("since", 0) if previous else serial
    entry: dict[str, object] = {
        "id": node_id,
        "since": since,
        **{k: v for k, v in facts.items() if v},
    }
    entry["jwk"] = public_jwk(load_public_key(key))
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
    _bump_serial(bundle, document)
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
    _bump_serial(bundle, document)
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
        parse_directory_serials(document, bundle)
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


_REVOCATION_KEYS = ("credentials", "issuers", "agency_types")


def _load_revocations(path: Path) -> dict[str, object]:
    document = _load_json(path, {key: [] for key in _REVOCATION_KEYS})
    if is_signed(document):
        try:
            document = unverified_payload(document, path)
        except BundleSignatureError as exc:
            raise click.ClickException(str(exc)) from None
        document.pop("kind", None)
    return document


def _write_revocations(path: Path, document: dict[str, object], authority_key: Path | None) -> None:
    """Write the list (signed with ``authority_key`` if given), atomically."""
    if authority_key is None:
        _write_json(path, document)
        return
    document["issued_at"] = dt.datetime.now(dt.UTC).isoformat()
    signed = sign_revocations(document, load_private_key(authority_key))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(signed, indent=2), encoding="utf-8")
    tmp.replace(path)


def _log_change(path: Path, action: str, entries: dict[str, list[str]], reason: str) -> Path:
    """Append the change to ``<list>.log.jsonl``: who, when, what and why (never rewritten)."""
    log_path = path.with_name(path.name + ".log.jsonl")
    line = {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "action": action,
        "operator": getpass.getuser(),
        "reason": reason,
        **entries,
    }
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return log_path


_REVOCATION_OPTIONS = (
    click.option("--credential", "credentials", multiple=True, help="Credential id (jti)."),
    click.option("--issuer", "issuers", multiple=True, help="Issuer id."),
    click.option(
        "--agency-type", "agency_types", multiple=True, type=click.Choice(sorted(AGENCY_TYPES))
    ),
    click.option(
        "--authority-key",
        type=EXISTING_FILE,
        help="The federation authority's private key: writes the list signed (what "
        "`trust refresh` and pinned parties fetching it require).",
    ),
)


def _revocation_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_REVOCATION_OPTIONS):
        command = option(command)
    return command


@trust.command("revoke")
@click.argument("revocations", type=click.Path(dir_okay=False, path_type=Path))
@_revocation_options
@click.option("--reason", default="", help="Why (kept in the list's change log).")
def trust_revoke(
    revocations: Path, credentials: tuple[str, ...], issuers: tuple[str, ...],
    agency_types: tuple[str, ...], authority_key: Path | None, reason: str,
) -> None:  # fmt: skip
    """Revoke credentials, issuers or whole agency types; nodes refuse them on the next search.

    Also refreshes the list's issued_at: run it (even with nothing to add) more
    often than the nodes' max_age_seconds, or they stop releasing.
    """
    document = _load_revocations(revocations)
    added = dict(zip(_REVOCATION_KEYS, (credentials, issuers, agency_types), strict=True))
    for key in _REVOCATION_KEYS:
        current = document.get(key, [])
        if not isinstance(current, list):
            raise click.ClickException(f"{revocations}: {key} must be a list")
        document[key] = sorted({*map(str, current), *added[key]})
    _write_revocations(revocations, document, authority_key)
    if any(added.values()):
        _log_change(revocations, "revoke", {k: list(v) for k, v in added.items() if v}, reason)
    click.echo(f"wrote {revocations}{' (signed)' if authority_key else ''}")


@trust.command("unrevoke")
@click.argument("revocations", type=EXISTING_FILE)
@_revocation_options
@click.option("--reason", required=True, help="Why the revocation was a mistake (logged).")
def trust_unrevoke(
    revocations: Path, credentials: tuple[str, ...], issuers: tuple[str, ...],
    agency_types: tuple[str, ...], authority_key: Path | None, reason: str,
) -> None:  # fmt: skip
    """Undo a mistaken revocation: remove the entries named, log who and why, re-sign the list."""
    document = _load_revocations(revocations)
    removed = dict(zip(_REVOCATION_KEYS, (credentials, issuers, agency_types), strict=True))
    if not any(removed.values()):
        raise click.UsageError("name what to unrevoke: --credential, --issuer or --agency-type")
    for key in _REVOCATION_KEYS:
        current = document.get(key, [])
        if not isinstance(current, list):
            raise click.ClickException(f"{revocations}: {key} must be a list")
        missing = set(removed[key]) - set(map(str, current))
        if missing:
            flag = "--" + key.rstrip("s").replace("_", "-")
            raise click.BadParameter(
                f"{', '.join(sorted(missing))} is not revoked in {revocations}", param_hint=flag
            )
        document[key] = sorted(set(map(str, current)) - set(removed[key]))
    _write_revocations(revocations, document, authority_key)
    log_path = _log_change(
        revocations, "unrevoke", {k: list(v) for k, v in removed.items() if v}, reason
    )
    click.echo(f"wrote {revocations}{' (signed)' if authority_key else ''}; logged in {log_path}")


@trust.command("refresh")
@click.option(
    "--source",
    required=True,
    help="Where the federation publishes them: a URL prefix or a directory.",
)
@click.option("--bundle", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--revocations", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--authority-key",
    type=EXISTING_FILE,
    required=True,
    help="The federation authority's PUBLIC key: both files must be signed by it.",
)
@click.option("--max-age-seconds", type=click.FloatRange(1), default=86400.0, show_default=True)
def trust_refresh(
    source: str, bundle: Path, revocations: Path, authority_key: Path, max_age_seconds: float
) -> None:
    """Fetch the signed trust bundle and revocation list, verify them, then replace the local ones.

    Anything refused (unsigned, wrongly signed, too old, older than what is
    held) leaves the last good files in place and exits 1.
    """
    try:
        done = refresh(
            source,
            bundle,
            revocations,
            authority=load_public_key(authority_key),
            max_age=dt.timedelta(seconds=max_age_seconds),
        )
    except TrustRefreshError as exc:
        raise click.ClickException(f"{exc}; kept {bundle} and {revocations} as they were") from None
    click.echo(
        f"refreshed {bundle} (issued {done.bundle_issued_at.isoformat()}) and {revocations} "
        f"(issued {done.revocations_issued_at.isoformat()})"
    )
