"""The ``fieldgate`` command: search, run nodes and brokers, test contracts, demo.

Every expected failure (bad flags, bad files, a refused search) ends with a
one-paragraph message and exit status 2, never a traceback.
"""

from __future__ import annotations

import logging
import sys

import click

from fieldgate.cli.audit_cmds import audit, node_keygen, node_purge
from fieldgate.cli.bundle_state_cmd import node_bundle_state
from fieldgate.cli.contract_cmds import contract
from fieldgate.cli.demo_cmds import demo, sample
from fieldgate.cli.node_reindex import node_reindex
from fieldgate.cli.search_cmd import search
from fieldgate.cli.serve_cmds import broker, node
from fieldgate.cli.trust_cmds import credential, keygen, pki, trust, warrant
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
node.add_command(node_keygen)
node.add_command(node_purge)
node.add_command(node_bundle_state)
node.add_command(node_reindex)
cli.add_command(keygen)
cli.add_command(credential)
cli.add_command(warrant)
cli.add_command(trust)
cli.add_command(pki)


def main() -> None:
    """Entry point: run the CLI, turning Fieldgate errors into clean messages."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FieldgateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        # A file or directory given on the command line that cannot be used.
        where = f" {exc.filename}" if exc.filename else ""
        click.echo(f"error:{where}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
