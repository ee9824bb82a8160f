"""``fieldgate keygen``: make a key pair: Ed25519 to sign, or X25519 to receive sealed data."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fieldgate.trust.keys import (
    enc_public_jwk,
    generate_enc_key,
    generate_key,
    public_jwk,
    save_private_key,
    save_public_key,
)


@click.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--x25519",
    "x25519",
    is_flag=True,
    help="An X25519 key (answers or queries are sealed to it) instead of Ed25519.",
)
def keygen(out: Path, x25519: bool) -> None:
    """Make a key: OUT (private, owner-only) and OUT.pub (public); print its public JWK.

    Ed25519 (the default) signs: investigators make their own key and hand only
    OUT.pub to their agency's issuer; agencies make issuer keys; courts make
    court keys; nodes make answer keys. X25519 (``--x25519``) receives sealed
    data: an investigator's answers are sealed to it (``credential issue
    --holder-enc-key``), a node's queries (``[node.trust] enc_key``,
    ``trust add-node --enc-key``).
    """
    if out.exists():
        raise click.UsageError(f"{out} exists; refusing to overwrite a key")
    pub = out.with_name(out.name + ".pub")
    if x25519:
        enc = generate_enc_key()
        save_private_key(enc, out)
        save_public_key(enc.public_key(), pub)
        click.echo(json.dumps(enc_public_jwk(enc.public_key())))
        return
    key = generate_key()
    save_private_key(key, out)
    save_public_key(key.public_key(), pub)
    click.echo(json.dumps(public_jwk(key.public_key())))
