"""``fieldgate witness ...``: run an independent witness of nodes' audit logs.

``keygen`` makes the witness's own key; ``describe-log`` prints what a
witness needs to follow a node's log (its origin and public key); ``serve``
runs the witness until SIGTERM (docs/audit.md, "Witnesses").
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import click

from fieldgate.cli.files import EXISTING_FILE


def _log_option(value: str) -> tuple[str, str]:
    origin, sep, key = value.rpartition("=")
    if not sep or not origin or len(key) != 64:
        raise click.BadParameter(f"{value!r} is not ORIGIN=HEXKEY", param_hint="--log")
    return origin, key


@click.group()
def witness() -> None:
    """Witness nodes' audit logs: cosign only checkpoints consistent with the last one."""


@witness.command("keygen")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the witness's private key (mode 0600).")  # fmt: skip
def witness_keygen(key_path: Path) -> None:
    """Make the witness's Ed25519 key (refuses to replace one)."""
    from fieldgate.node.audit.keys import create_key, public_hex

    key = create_key(key_path)
    click.echo(f"wrote {key_path} (mode 0600)")
    click.echo(f"public key: {public_hex(key.public_key())}")


@witness.command("describe-log")
@click.option("--db", "db_path", required=True,
              type=EXISTING_FILE,
              help="The node's audit database.")  # fmt: skip
def witness_describe_log(db_path: Path) -> None:
    """Print ORIGIN=KEY: the --log value a witness needs to follow this log."""
    from fieldgate.node.audit.note import origin_of
    from fieldgate.node.audit.schema import AuditReader

    with AuditReader(db_path) as reader:
        meta = reader.meta()
    if "log_id" not in meta:
        raise click.UsageError(f"{db_path}: has no log id yet; start the node once")
    click.echo(f"{origin_of(meta['node_id'], meta['log_id'])}={meta['public_key']}")


@witness.command("serve")
@click.option("--name", required=True, help="The witness's name, carried in its cosignatures.")
@click.option("--key", "key_path", required=True,
              type=EXISTING_FILE,
              help="The witness's private key (fieldgate witness keygen).")  # fmt: skip
@click.option("--state", "state_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where the witness keeps the last checkpoint it cosigned per log.")  # fmt: skip
@click.option("--listen", default="127.0.0.1:0", show_default=True, help="host:port to serve on.")
@click.option("--log", "logs", multiple=True, required=True,
              help="A log to follow, ORIGIN=HEXKEY (witness describe-log).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the address as JSON when ready.")
def witness_serve(
    name: str, key_path: Path, state_path: Path, listen: str, logs: tuple[str, ...], as_json: bool
) -> None:
    """Serve POST /add-checkpoint until SIGTERM."""
    from fieldgate.node.audit.keys import ensure_key, public_from_hex, public_hex
    from fieldgate.witness.service import Witness, WitnessState, serve

    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"{listen!r} is not host:port", param_hint="--listen")
    followed = dict(_log_option(value) for value in logs)
    key = ensure_key(key_path)
    running = Witness(
        name,
        key,
        {origin: public_from_hex(hexkey) for origin, hexkey in followed.items()},
        WitnessState(state_path),
    )
    server = serve(running, host, int(port))
    address = f"http://{host}:{server.server_address[1]}"
    if as_json:
        click.echo(json.dumps({"url": address, "public_key": public_hex(key.public_key())}),
                   nl=True)  # fmt: skip
    else:
        click.echo(f"witness {name} listening on {address}; public key "
                   f"{public_hex(key.public_key())}")  # fmt: skip
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
