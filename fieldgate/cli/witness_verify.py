"""``fieldgate audit verify --witnessed FILE --witness NAME=KEY``: the log against its witnesses."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.node.audit.findings import Problem, VerifyReport
from fieldgate.node.audit.keys import public_from_hex
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.witness_checks import WitnessedCheck, check_witnessed

WITNESSED_OPTION = click.option(
    "--witnessed",
    type=EXISTING_FILE,
    help="The log's cosigned checkpoints (<log>.witnessed.jsonl).",
)
WITNESS_OPTION = click.option(
    "--witness",
    "witness_keys",
    multiple=True,
    help="A witness you trust, NAME=HEXKEY (repeatable); needed with --witnessed.",
)


def witness_keys_of(values: tuple[str, ...]) -> dict[str, Ed25519PublicKey]:
    """The ``--witness NAME=HEXKEY`` values as name → public key, naming a malformed one."""
    trusted = {}
    for value in values:
        name, sep, hexkey = value.rpartition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r} is not NAME=HEXKEY", param_hint="--witness")
        trusted[name] = public_from_hex(hexkey)
    return trusted


def check_witnesses(
    report: VerifyReport,
    db_path: Path,
    node_key: Ed25519PublicKey | None,
    witnessed: Path | None,
    witness_keys: tuple[str, ...],
) -> WitnessedCheck | None:
    """Add to ``report`` what the witnesses' cosigned checkpoints say about the log.

    Returns:
        What the witness file held (None when no ``--witnessed`` was given).
    """
    if witnessed is None:
        if witness_keys:
            raise click.BadParameter("needs --witnessed FILE", param_hint="--witness")
        return None
    trusted = witness_keys_of(witness_keys)
    if not trusted:
        raise click.BadParameter("name at least one witness you trust", param_hint="--witness")
    if node_key is None:
        with AuditReader(db_path) as reader:
            node_key = public_from_hex(reader.meta().get("public_key", ""))
    found = check_witnessed(db_path, witnessed, node_key, trusted)
    for problem in found.problems:
        report.add(problem)
    if found.cosigned == 0:
        report.add(Problem("witnessed", f"{witnessed}: no checkpoint cosigned by "
                           f"{', '.join(sorted(trusted))}"))  # fmt: skip
    report.witnessed_checked = found.cosigned
    return found
