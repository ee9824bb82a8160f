"""``fieldgate node bundle-state``: show, or deliberately reset, a node's bundle rollback mark.

See :mod:`node.bundle_state`. Resetting is how an operator rolls a node back
to an older signed bundle on purpose: stop the node, reset, install the older
bundle, start the node.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from fieldgate.policy.contract_bundle_state import (
    BundleStateError,
    load_high_water,
    reset_high_water,
    state_path,
)


@click.command("bundle-state")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The node's TOML config (the state lives next to its database).",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Remove the mark so the next start accepts an older signed bundle (stop the node first).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the mark as JSON.")
def node_bundle_state(config_path: Path, reset: bool, as_json: bool) -> None:
    """Show the newest signed bundle this node has activated (older ones are refused as rollbacks).

    With --reset, remove that record: the node, on its next start, accepts any
    validly signed bundle and logs a warning that the record is gone.
    """
    from fieldgate.node.config import load_node_config

    config = load_node_config(config_path, os.environ)
    path = state_path(config.database)
    if reset:
        held = reset_high_water(path)
        message = (
            f"removed {path}: it held revision {held.revision} signed at {held.signed_at}"
            if held
            else f"removed {path} (it held no readable mark)"
        )
        click.echo(
            f"WARNING: {message}. The node accepts any validly signed bundle on its next "
            "start; a running node keeps refusing older bundles until it restarts.",
            err=True,
        )
        return
    try:
        mark = load_high_water(path)
    except BundleStateError as exc:
        raise click.ClickException(f"{exc} (repair it, or remove it with --reset)") from exc
    if as_json:
        click.echo(json.dumps({"path": str(path), "mark": mark.__dict__ if mark else None}))
    elif mark is None:
        click.echo(f"{path}: no mark recorded; the node accepts any validly signed bundle")
    else:
        click.echo(
            f"{path}: revision {mark.revision} signed at {mark.signed_at} "
            f"(from {mark.bundle}, activated {mark.recorded_at}); older bundles are refused"
        )
