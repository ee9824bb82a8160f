"""What the ``fieldgate contract`` commands share: options, loading a contract, printing."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from fieldgate.authoring.session import DEFAULT_NODE_ID, ContractSession, find_library
from fieldgate.policy.catalog import FieldCatalog, default_catalog_path, load_catalog
from fieldgate.policy.shipped import rego_library

F = TypeVar("F", bound=Callable[..., Any])


def catalog_and_lib(command: F) -> F:
    """``--catalog``, ``--lib`` and ``--node-id``, shared by the commands that load a contract."""
    command = click.option(
        "--node-id",
        default=DEFAULT_NODE_ID,
        show_default=True,
        help="The node id contracts see as input.record.agency.",
    )(command)
    command = click.option(
        "--lib",
        "library",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Shared Rego library (default: the lib/ found above the contract, else the "
        "shipped library).",
    )(command)
    return click.option(
        "--catalog",
        "catalog_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The node's field catalog (default: the standard catalog).",
    )(command)


CONTRACT_OPTION = click.option(
    "--contract",
    "contract_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The contract's .rego file.",
)
"""``--contract``: the contract's .rego file (required)."""


def default_library(contract: Path) -> Path:
    """The ``lib/`` found above ``contract``, else the library shipped in the package.

    A contract written outside any checkout (``~/contracts/mine.rego``) still
    finds ``data.fieldgate.lib.sharing``, wherever Fieldgate is installed.
    """
    return find_library(contract) or rego_library()


def today_option(command: F) -> F:
    """``--today``: the date warrants are judged on."""
    return click.option(
        "--today",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        help="Judge warrants as on this date (default: today).",
    )(command)


def load_catalog_or_default(path: Path | None) -> FieldCatalog:
    """The catalog at ``path``, or the standard catalog."""
    return load_catalog(path or default_catalog_path())


@contextmanager
def contract_session(
    contract: Path,
    library: Path | None,
    catalog: FieldCatalog,
    node_id: str = DEFAULT_NODE_ID,
    today: dt.datetime | None = None,
) -> Iterator[ContractSession]:
    """The contract loaded as a node loads it, with the library found above it unless given."""
    lib = library if library is not None else default_library(contract)
    with ContractSession(
        contract, lib, catalog, node_id=node_id, today=today.date() if today else None
    ) as session:
        yield session


def wide_console() -> Console:
    """A console as wide as the terminal, or 160 columns when writing to a file or pipe."""
    return Console() if sys.stdout.isatty() else Console(width=160)


def echo_json(document: object) -> None:
    """Print ``document`` as indented JSON (sets as sorted lists)."""
    click.echo(json.dumps(document, indent=2, default=sorted, ensure_ascii=False))
