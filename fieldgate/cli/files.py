"""Shared by the signing commands: existing-file arguments, reading and writing signed tokens."""

from __future__ import annotations

from pathlib import Path

import click
import jwt

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
"""A file argument that must already exist."""


def emit_token(token: str, out: Path | None) -> None:
    """Print a signed token, or write it to OUT and say so on stderr."""
    if out is None:
        click.echo(token)
    else:
        out.write_text(token + "\n", encoding="ascii")
        click.echo(f"wrote {out}", err=True)


def read_token(path: Path, option: str, expected_type: str) -> str:
    """The signed token in ``path``, checked to be one (its signature is checked later).

    Raises:
        click.BadParameter: naming ``option`` and the file, when it holds no such token.
    """
    try:
        text = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise click.BadParameter(f"{path}: not a text file", param_hint=option) from None
    try:
        header = jwt.get_unverified_header(text)
    except jwt.InvalidTokenError:
        raise click.BadParameter(
            f"{path}: not a signed token (expected a {expected_type} JWT)", param_hint=option
        ) from None
    if header.get("typ") != expected_type:
        raise click.BadParameter(
            f"{path}: a token of type {header.get('typ')!r}, not a {expected_type}",
            param_hint=option,
        )
    return text
