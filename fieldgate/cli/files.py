"""Shared by the signing commands: existing-file arguments and writing a signed token."""

from __future__ import annotations

from pathlib import Path

import click

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
"""A file argument that must already exist."""


def emit_token(token: str, out: Path | None) -> None:
    """Print a signed token, or write it to OUT and say so on stderr."""
    if out is None:
        click.echo(token)
    else:
        out.write_text(token + "\n", encoding="ascii")
        click.echo(f"wrote {out}", err=True)
