"""``fieldgate node audit-init``: start or adopt a node's audit log on purpose, recorded.

A node refuses to start when its audit log is missing, empty, replaced,
rolled back behind its last known head, or halted on tampering
(docs/audit.md). This command is the only way on: ``--adopt`` keeps a log
that verifies against the node's key; without it a new log is started and
any existing file is moved aside as evidence. Either way the log's next entry
says so, with ``--reason``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from fieldgate.cli.files import EXISTING_FILE


@click.command("audit-init")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=EXISTING_FILE,
    help="The node's config file.",
)
@click.option(
    "--reason",
    required=True,
    help="Why (an incident number, a restored volume...): written into the log.",
)
@click.option(
    "--adopt",
    is_flag=True,
    help="Keep the existing log (it must verify against the node's key) instead of a new one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def node_audit_init(config_path: Path, reason: str, adopt: bool, as_json: bool) -> None:
    """Start a new audit log, or adopt the existing one, and record why."""
    from fieldgate.node.audit.config import default_audit_config
    from fieldgate.node.audit.initialise import initialise_log
    from fieldgate.node.audit.keys import ensure_key
    from fieldgate.node.config import load_node_config

    if not reason.strip():
        raise click.BadParameter("must say why; it is written into the log", param_hint="--reason")
    config = load_node_config(config_path, os.environ)
    audit = config.audit or default_audit_config(config.database)
    done = initialise_log(
        audit.database,
        node_id=config.node_id,
        key=ensure_key(audit.key),
        last_head=audit.last_head_path,
        reason=reason,
        adopt=adopt,
    )
    if as_json:
        click.echo(json.dumps(done.summary(), indent=2))
        return
    verb = "adopted" if adopt else "started a new"
    click.echo(f"{verb} audit log {audit.database} (log {done.log_id}); "
               f"entry {done.entry_seq} records it")  # fmt: skip
    if done.set_aside:
        click.echo(f"the previous file was kept as {done.set_aside}")
