"""``fieldgate keygen``: make an Ed25519 key pair for an investigator, issuer or court."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fieldgate.trust.keys import generate_key, public_jwk, save_private_key, save_public_key


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
