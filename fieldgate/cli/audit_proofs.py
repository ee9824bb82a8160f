"""``fieldgate audit prove inclusion|consistency`` and ``fieldgate audit verify-proof``.

``prove`` runs where the log is (the agency) and writes an RFC 9162 proof with
the checkpoint notes it is about (:mod:`fieldgate.node.audit.proofs`);
``verify-proof`` is what an auditor outside the agency runs with only the
node's public key (and, if they keep them, the checkpoints they were shown
before and the witnesses they trust). It exits 0 when the proof holds, 1 when
it does not; usage errors exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from fieldgate.cli.files import EXISTING_FILE
from fieldgate.cli.witness_verify import witness_keys_of
from fieldgate.core.inert_text import terminal_safe
from fieldgate.node.audit.keys import load_verify_key
from fieldgate.node.audit.proofs import ProofCheck, Prover, check_proof, read_proof
from fieldgate.node.audit.witnessing import witnessed_path
from fieldgate.trust.keys import load_private_key

_DB = click.option(
    "--db",
    "db_path",
    required=True,
    type=EXISTING_FILE,
    help="The node's audit database.",
)
_KEY = click.option(
    "--key",
    "key_path",
    type=EXISTING_FILE,
    help="The node's audit signing key, to sign a checkpoint note of the size proven "
    "(default: use the witnesses' cosigned notes in <db>.witnessed.jsonl).",
)
_WITNESSED = click.option(
    "--witnessed",
    type=EXISTING_FILE,
    help="The log's cosigned checkpoints (default: <db>.witnessed.jsonl).",
)
_OUT = click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the proof to this file (default: standard output).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def _prover(db_path: Path, key_path: Path | None, witnessed: Path | None) -> Prover:
    key = load_private_key(key_path) if key_path is not None else None
    return Prover(db_path, key, witnessed or witnessed_path(db_path))


def _write(document: dict[str, Any], out_path: Path | None, as_json: bool) -> None:
    text = json.dumps(document, indent=2, sort_keys=True)
    if out_path is not None:
        out_path.write_text(text + "\n", encoding="utf-8")
    if as_json:
        click.echo(text)
        return
    console = Console(highlight=False)
    if document["type"] == "inclusion":
        console.print(f"entry {document['entry']} is in the tree of size {document['tree_size']}")
    else:
        console.print(
            f"the tree of size {document['tree_size']} extends the tree of size "
            f"{document['old_size']}"
        )
    console.print(f"RFC 9162 proof, {len(document['proof'])} hashes (base64):")
    for value in document["proof"]:
        console.print(f"  {value}")
    for name in ("old_checkpoint", "checkpoint"):
        if name in document:
            console.print(f"{name.replace('_', ' ')}:")
            console.print(Text(terminal_safe(document[name], keep_newlines=True)))
    if out_path is not None:
        console.print(Text(f"proof written to {terminal_safe(out_path)}"))


@click.group("prove")
def prove() -> None:
    """Write an RFC 9162 inclusion or consistency proof, with its checkpoint notes."""


@prove.command("inclusion")
@_DB
@click.option("--entry", "seq", required=True, type=click.IntRange(1), help="The entry (seq).")
@click.option("--size", type=click.IntRange(1), help="The tree size (default: the newest).")
@_KEY
@_WITNESSED
@_OUT
@_JSON
def prove_inclusion(
    db_path: Path,
    seq: int,
    size: int | None,
    key_path: Path | None,
    witnessed: Path | None,
    out_path: Path | None,
    as_json: bool,
) -> None:
    """That entry N is in the log at a checkpoint."""
    _write(_prover(db_path, key_path, witnessed).inclusion(seq, size), out_path, as_json)


@prove.command("consistency")
@_DB
@click.option("--from", "old_size", required=True, type=click.IntRange(1),
              help="The older tree size (a checkpoint the auditor holds).")  # fmt: skip
@click.option("--to", "size", type=click.IntRange(1), help="The newer size (default: newest).")
@_KEY
@_WITNESSED
@_OUT
@_JSON
def prove_consistency(
    db_path: Path,
    old_size: int,
    size: int | None,
    key_path: Path | None,
    witnessed: Path | None,
    out_path: Path | None,
    as_json: bool,
) -> None:
    """That the log at one checkpoint extends the log at an older one."""
    _write(_prover(db_path, key_path, witnessed).consistency(old_size, size), out_path, as_json)


def _print_check(check: ProofCheck) -> None:
    console = Console(highlight=False)
    state = "[green]holds[/]" if check.ok else "[bold red]DOES NOT HOLD[/]"
    what = (
        f"entry {check.entry} in the tree of size {check.sizes[0]}"
        if check.kind == "inclusion"
        else f"size {check.sizes[0]} → size {check.sizes[-1]}"
    )
    console.print(f"{check.kind} proof ({what}) {state}")
    console.print(Text(f"  log: {terminal_safe(check.origin)}"))
    if check.held:
        console.print(f"  checked against {check.held} checkpoint(s) you hold")
    if check.cosigned_by:
        console.print(Text(f"  cosigned by: {terminal_safe(', '.join(check.cosigned_by))}"))
    for problem in check.problems:
        console.print(Text(f"  problem: {terminal_safe(problem)}", style="red"))


@click.command("verify-proof")
@click.argument("proof_path", type=EXISTING_FILE)
@click.option("--key", "key_path", required=True,
              type=EXISTING_FILE,
              help="The node's audit public key (PEM, or hex), as you know it.")  # fmt: skip
@click.option("--checkpoint", "held_paths", multiple=True,
              type=EXISTING_FILE,
              help="A checkpoint note you were shown before (repeatable).")  # fmt: skip
@click.option("--witness", "witness_keys", multiple=True,
              help="A witness you trust, NAME=HEXKEY (repeatable): the checkpoint must carry "
              "its cosignature.")  # fmt: skip
@_JSON
def verify_proof(
    proof_path: Path,
    key_path: Path,
    held_paths: tuple[Path, ...],
    witness_keys: tuple[str, ...],
    as_json: bool,
) -> None:
    """Check a proof with the node's public key only (what an outside auditor runs)."""
    witnesses = witness_keys_of(witness_keys)
    held = [p.read_text(encoding="utf-8") for p in held_paths]
    check = check_proof(
        read_proof(proof_path), load_verify_key(key_path), held=held, witnesses=witnesses
    )
    if as_json:
        click.echo(json.dumps(check.to_dict(), indent=2))
    else:
        _print_check(check)
    if not check.ok:
        sys.exit(1)
