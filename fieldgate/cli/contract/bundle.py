"""``fieldgate contract bundle``: build and verify signed contract bundles.

The bundle format is :mod:`fieldgate.policy.contract_bundle`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from fieldgate.authoring.bundle_build import build_bundle, inspect_bundle
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.errors import ContractError
from fieldgate.trust.keys import KeyFileError, load_private_key, load_public_key


@click.group()
def bundle() -> None:
    """Signed contract bundles: what a node with [node.policy] bundle loads."""


@bundle.command("build")
@click.option(
    "--contract-dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The contract's directory: one contract .rego, its *_test.rego, optional data.json.",
)
@click.option(
    "--lib",
    "library",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The shared Rego library to include (e.g. rego/lib).",
)
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The agency's policy signing key (Ed25519 private key PEM).",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The node's field catalog (default: the standard catalog), recorded in the "
    "manifest as the catalog the contract was reviewed with.",
)
@click.option(
    "--acknowledge",
    "acknowledged",
    multiple=True,
    metavar="FIELD",
    help="A field a later catalog may add to a class this contract releases, reviewed and "
    "accepted (repeatable); any other such field makes a node refuse the bundle.",
)
def bundle_build(
    contract_dir: Path,
    library: Path | None,
    key_path: Path,
    out: Path,
    catalog_path: Path | None,
    acknowledged: tuple[str, ...],
) -> None:
    """Check (compile, run its tests), sign and write a contract bundle.

    The revision is the contract's `fieldgate contract render` summary hash.
    Nothing is written when the contract does not compile or a test fails.
    The manifest records the catalog: a node whose own catalog makes the
    contract release a field that catalog did not hold in that class refuses
    the bundle, unless --acknowledge names the field.
    """
    try:
        key = load_private_key(key_path)
        built = build_bundle(
            contract_dir,
            library,
            key,
            out,
            load_catalog(catalog_path or default_catalog_path()),
            acknowledged,
        )
    except (ContractError, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {built.path}: revision {built.revision}, {len(built.files)} files")


@bundle.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_paths",
    required=True,
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A trusted bundle key (public key PEM); repeatable.",
)
def bundle_verify(path: Path, key_paths: tuple[Path, ...]) -> None:
    """Check a bundle's signature and file hashes; print its manifest."""
    try:
        verified = inspect_bundle(path, [load_public_key(p) for p in key_paths])
    except (ContractError, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        json.dumps(
            {
                "revision": verified.revision,
                "package": verified.package,
                "contract": verified.contract,
                "files": sorted(verified.files),
                "reviewed_catalog": verified.reviewed_catalog,
                "catalog_acknowledged": sorted(verified.catalog_acknowledged),
            },
            indent=2,
        )
    )
