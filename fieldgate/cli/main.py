"""The ``fieldgate`` command: search, run nodes and brokers, test contracts, demo.

The root group and the error handling live here; each subcommand lives in the
module named after it (``fieldgate node ...`` in :mod:`fieldgate.cli.node`,
``fieldgate contract diff`` in :mod:`fieldgate.cli.contract.diff`, ...).

Every expected failure (bad flags, bad files, a refused search) ends with a
one-paragraph message and exit status 2, never a traceback. With ``--json``
the failure is one JSON document on standard output instead, of a stable
shape (schema ``fieldgate.error/v1``)::

    {"schema": "fieldgate.error/v1",
     "error": {"kind": "usage" | "input" | "file" | "refused" | "interrupted",
               "message": "<what was wrong, naming the option, file or key>",
               "exit_code": <the process's exit status>}}
"""

from __future__ import annotations

import json
import logging
import sys

import click

from fieldgate.cli.audit import audit
from fieldgate.cli.audit_proofs import prove, verify_proof
from fieldgate.cli.broker import broker
from fieldgate.cli.contract import contract
from fieldgate.cli.credential import credential
from fieldgate.cli.demo import demo, sample
from fieldgate.cli.issuer import issuer
from fieldgate.cli.keygen import keygen
from fieldgate.cli.node import node
from fieldgate.cli.node_apply import node_apply
from fieldgate.cli.node_audit_init import node_audit_init
from fieldgate.cli.node_backup import node_backup
from fieldgate.cli.node_reindex import node_reindex
from fieldgate.cli.node_sync import node_sync
from fieldgate.cli.pki import pki
from fieldgate.cli.search import search
from fieldgate.cli.trust import trust
from fieldgate.cli.warrant import warrant
from fieldgate.cli.witness import witness
from fieldgate.core.errors import FieldgateError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="fieldgate")
def cli(verbose: int) -> None:
    """Fieldgate: ask every agency about a person; each agency's contract decides what you see."""
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


cli.add_command(search)
cli.add_command(node)
cli.add_command(broker)
cli.add_command(contract)
cli.add_command(demo)
cli.add_command(sample)
cli.add_command(audit)
audit.add_command(prove)
audit.add_command(verify_proof)
node.add_command(node_audit_init)
node.add_command(node_backup)
node.add_command(node_apply)
node.add_command(node_sync)
node.add_command(node_reindex)
cli.add_command(keygen)
cli.add_command(credential)
cli.add_command(warrant)
cli.add_command(trust)
cli.add_command(pki)
cli.add_command(witness)
cli.add_command(issuer)


ERROR_SCHEMA = "fieldgate.error/v1"
"""Value of the ``schema`` key of a ``--json`` error document."""


def _fail(kind: str, message: str, code: int, as_json: bool, show: object = None) -> None:
    """End with ``code``: a JSON error document with ``--json``, else a message on stderr."""
    if as_json:
        document = {
            "schema": ERROR_SCHEMA,
            "error": {"kind": kind, "message": message, "exit_code": code},
        }
        click.echo(json.dumps(document, ensure_ascii=False))
    elif isinstance(show, click.ClickException):
        show.show()
    else:
        click.echo(f"error: {message}" if kind in ("input", "file") else message, err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning Fieldgate errors into clean messages."""
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    try:
        cli.main(args=args, prog_name="fieldgate", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("interrupted", "Aborted.", 130, as_json)
    except click.ClickException as exc:
        kind = "usage" if isinstance(exc, click.UsageError) else "refused"
        message = exc.format_message()
        if isinstance(exc, click.BadParameter | click.MissingParameter):
            kind = "input"
        _fail(kind, message, exc.exit_code, as_json, exc)
    except FieldgateError as exc:
        _fail("input", str(exc), 2, as_json)
    except OSError as exc:
        # A file or directory given on the command line that cannot be used.
        where = f"{exc.filename}: " if exc.filename else ""
        _fail("file", f"{where}{exc.strerror or exc}", 2, as_json)
    except KeyboardInterrupt:
        _fail("interrupted", "interrupted", 130, as_json)
