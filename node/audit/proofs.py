"""Inclusion and consistency proofs an auditor outside the agency can check with one public key.

A proof file (``fieldgate audit prove ...``) is one JSON document::

    {"format": "fieldgate.audit.proof/v1", "type": "inclusion",
     "entry": 12, "tree_size": 40, "entry_body": "<the entry's canonical JSON>",
     "proof": ["<base64 RFC 9162 hash>", ...], "checkpoint": "<C2SP checkpoint note>"}

    {"format": "fieldgate.audit.proof/v1", "type": "consistency",
     "old_size": 30, "tree_size": 40, "proof": [...],
     "old_checkpoint": "<note of size 30>", "checkpoint": "<note of size 40>"}

The notes are C2SP ``tlog-checkpoint`` notes signed with the node's audit key
(:mod:`node.audit.note`), with whatever witness cosignatures they carry.
:func:`check_proof` needs only the node's public key: each note must be signed
by it, the proof must lead from the entry's body (inclusion, RFC 9162
§2.1.3.2) or from the old root (consistency, §2.1.4.2) to the note's root,
and every checkpoint the auditor already holds (``--checkpoint``) must be one
of the proof's notes. The notes come from the log's witness file (cosigned)
or are signed afresh with the node's key by its operator (``--key``).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fieldgate.node.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from fieldgate.node.audit.note import Note, NoteError, TreeHead, origin_of, sign_note
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.tree import LogTree, TreeError
from fieldgate.node.errors import NodeError

PROOF_FORMAT = "fieldgate.audit.proof/v1"


class ProofError(NodeError):
    """A proof that cannot be made from the log, or a proof file that cannot be read."""


def _b64(values: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


def _witnessed_notes(witnessed: Path | None) -> dict[int, str]:
    """The cosigned notes of a witness file, by tree size (the last of each size)."""
    if witnessed is None or not witnessed.is_file():
        return {}
    notes: dict[int, str] = {}
    for line in witnessed.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            notes[int(record["size"])] = str(record["note"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # what audit verify --witnessed reports; a proof just skips it
    return notes


@dataclass
class Prover:
    """Makes proofs over one audit database.

    Attributes:
        path: the audit database.
        key: the node's audit signing key, to sign fresh checkpoint notes (the operator's).
        witnessed: the log's witness file, whose cosigned notes are used when no key is given.
    """

    path: Path
    key: Ed25519PrivateKey | None = None
    witnessed: Path | None = None

    def __post_init__(self) -> None:
        with AuditReader(self.path) as reader:
            meta = reader.meta()
            self.size = max((row.seq for row in reader.entries()), default=0)
        if "log_id" not in meta:
            raise ProofError(f"{self.path}: has no log id yet; start the node once")
        self.origin = origin_of(meta["node_id"], meta["log_id"])
        self._notes = _witnessed_notes(self.witnessed)

    def _default_size(self, at_least: int) -> int:
        if self.key is not None:
            return self.size
        sizes = [s for s in self._notes if s >= at_least]
        if not sizes:
            raise ProofError(
                f"no witnessed checkpoint covers size {at_least}: give --size of a cosigned "
                "checkpoint, or --key (the node's audit key) to sign one"
            )
        return max(sizes)

    def _note(self, tree: LogTree, size: int) -> str:
        """A checkpoint note of ``size``: the cosigned one, else one signed now."""
        if size in self._notes:
            return self._notes[size]
        if self.key is None:
            cosigned = ", ".join(str(s) for s in sorted(self._notes)[-5:]) or "none"
            raise ProofError(
                f"no witnessed checkpoint of size {size} (the newest cosigned sizes: "
                f"{cosigned}); give --key (the node's audit key) to sign one"
            )
        head = TreeHead(self.origin, size, tree.root(size))
        return sign_note(head.body(), self.origin, self.key)

    def _open(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def inclusion(self, seq: int, size: int | None = None) -> dict[str, Any]:
        """The inclusion proof of entry ``seq`` (in the tree of ``size``, default the newest)."""
        tree_size = size if size is not None else self._default_size(seq)
        if not 1 <= seq <= tree_size <= self.size:
            raise ProofError(
                f"entry {seq} in a tree of size {tree_size}: the log holds entries up to "
                f"{self.size}"
            )
        db = self._open()
        try:
            tree = LogTree(db)
            row = db.execute("SELECT body FROM entries WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                raise ProofError(f"entry {seq} is not in the log (purged by retention)")
            proof = tree.inclusion(seq, tree_size)
            note = self._note(tree, tree_size)
        except TreeError as exc:
            raise ProofError(str(exc)) from None
        finally:
            db.close()
        return {
            "format": PROOF_FORMAT,
            "type": "inclusion",
            "entry": seq,
            "tree_size": tree_size,
            "entry_body": str(row[0]),
            "proof": _b64(proof),
            "checkpoint": note,
        }

    def consistency(self, old_size: int, size: int | None = None) -> dict[str, Any]:
        """That the tree of ``size`` (default the newest) extends the tree of ``old_size``."""
        tree_size = size if size is not None else self._default_size(old_size)
        if not 1 <= old_size <= tree_size <= self.size:
            raise ProofError(
                f"from size {old_size} to {tree_size}: sizes must rise, from 1 to the log's "
                f"{self.size}"
            )
        db = self._open()
        try:
            tree = LogTree(db)
            proof = tree.consistency(old_size, tree_size)
            old_note, note = self._note(tree, old_size), self._note(tree, tree_size)
        except TreeError as exc:
            raise ProofError(str(exc)) from None
        finally:
            db.close()
        return {
            "format": PROOF_FORMAT,
            "type": "consistency",
            "old_size": old_size,
            "tree_size": tree_size,
            "proof": _b64(proof),
            "old_checkpoint": old_note,
            "checkpoint": note,
        }


@dataclass
class ProofCheck:
    """What checking a proof found.

    Attributes:
        kind: ``inclusion`` or ``consistency``.
        origin: the log the notes name.
        sizes: the tree sizes the proof is about (old and new, or entry's tree).
        entry: the entry proven (inclusion), else 0.
        cosigned_by: the trusted witnesses that cosigned the newest note.
        held: how many of the auditor's own checkpoints the proof was checked against.
        problems: everything wrong; empty when the proof holds.
    """

    kind: str = ""
    origin: str = ""
    sizes: list[int] = field(default_factory=list)
    entry: int = 0
    cosigned_by: list[str] = field(default_factory=list)
    held: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the proof holds."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "type": self.kind,
            "origin": self.origin,
            "tree_sizes": self.sizes,
            "entry": self.entry,
            "cosigned_by": self.cosigned_by,
            "checkpoints_held_checked": self.held,
            "problems": self.problems,
        }


def read_proof(path: Path) -> dict[str, Any]:
    """Read a proof file.

    Raises:
        ProofError: it cannot be read or is not a proof.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProofError(f"{path}: cannot read a proof: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != PROOF_FORMAT:
        raise ProofError(f"{path}: is not a {PROOF_FORMAT} document")
    return document


def _head(text: object, node_key: Ed25519PublicKey, what: str, check: ProofCheck) -> TreeHead:
    if not isinstance(text, str):
        raise ProofError(f"the proof's {what} is missing")
    try:
        note = Note.parse(text)
        head = TreeHead.parse(note.body)
    except NoteError as exc:
        raise ProofError(f"the proof's {what} is not a checkpoint note: {exc}") from None
    if not note.verify(head.origin, node_key):
        check.problems.append(f"the {what} is not signed with the node's key")
    return head


def _hashes(values: object) -> list[bytes]:
    if not isinstance(values, list):
        raise ProofError("the proof's hashes must be a list")
    try:
        decoded = [base64.b64decode(v, validate=True) for v in values]
    except (TypeError, ValueError):
        raise ProofError("a proof hash is not base64") from None
    if any(len(d) != 32 for d in decoded):
        raise ProofError("a proof hash is not 32 bytes")
    return decoded


def _integer(document: Mapping[str, Any], key: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ProofError(f"the proof's {key} must be a positive integer")
    return value


def check_proof(
    document: Mapping[str, Any],
    node_key: Ed25519PublicKey,
    *,
    held: Sequence[str] = (),
    witnesses: Mapping[str, Ed25519PublicKey] | None = None,
) -> ProofCheck:
    """Check a proof with the node's public key only.

    Args:
        document: the proof (:func:`read_proof`).
        node_key: the node's audit public key.
        held: checkpoint notes the auditor already holds; each must be one of the proof's.
        witnesses: witnesses the auditor trusts (name → key); with them, the newest
            note must be cosigned by at least one.

    Raises:
        ProofError: the document is malformed (a wrong proof is a problem, not an error).
    """
    check = ProofCheck(kind=str(document.get("type", "")))
    new = _head(document.get("checkpoint"), node_key, "checkpoint", check)
    check.origin = new.origin
    heads = [new]
    proof = _hashes(document.get("proof"))
    if check.kind == "inclusion":
        seq, size = _integer(document, "entry"), _integer(document, "tree_size")
        body = document.get("entry_body")
        if not isinstance(body, str):
            raise ProofError("the proof's entry_body is missing")
        check.entry, check.sizes = seq, [size]
        if size != new.size:
            check.problems.append(f"the proof is for size {size}, the checkpoint for {new.size}")
        elif not verify_inclusion(seq - 1, size, leaf_hash(body.encode()), proof, new.root):
            check.problems.append(
                f"entry {seq} as given is not in the tree the checkpoint of size {size} signs "
                "(the entry was altered, or the proof is for another tree)"
            )
        else:
            entry_seq = _entry_seq(body)
            if entry_seq != seq:
                check.problems.append(f"the entry given holds entry {entry_seq}, not {seq}")
    elif check.kind == "consistency":
        old_size, size = _integer(document, "old_size"), _integer(document, "tree_size")
        old = _head(document.get("old_checkpoint"), node_key, "old checkpoint", check)
        heads.append(old)
        check.sizes = [old_size, size]
        if old.origin != new.origin:
            check.problems.append("the two checkpoints are of different logs")
        if (old.size, new.size) != (old_size, size):
            check.problems.append(
                f"the proof is from {old_size} to {size}, the checkpoints are of "
                f"{old.size} and {new.size}"
            )
        elif not verify_consistency(old_size, size, proof, old.root, new.root):
            check.problems.append(
                f"the tree of size {size} does not extend the tree of size {old_size}: "
                "the log's history was rewritten (a fork)"
            )
    else:
        raise ProofError(f"unknown proof type {check.kind!r}")
    _against_held(check, heads, held)
    if witnesses:
        note = Note.parse(str(document["checkpoint"]))
        check.cosigned_by = sorted(
            name for name, key in witnesses.items() if note.cosigned_at(name, key) is not None
        )
        if not check.cosigned_by:
            check.problems.append(
                f"the checkpoint of size {new.size} is cosigned by none of "
                f"{', '.join(sorted(witnesses))}"
            )
    return check


def _entry_seq(body: str) -> object:
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        return None
    return document.get("seq") if isinstance(document, dict) else None


def _against_held(check: ProofCheck, heads: Sequence[TreeHead], held: Sequence[str]) -> None:
    """Each checkpoint the auditor holds must be one of the proof's (same origin, size, root)."""
    for text in held:
        try:
            mine = TreeHead.parse(Note.parse(text).body)
        except NoteError as exc:
            raise ProofError(f"a checkpoint you hold is not a checkpoint note: {exc}") from None
        check.held += 1
        if mine not in heads:
            sizes = " and ".join(str(h.size) for h in heads)
            same_size = [h for h in heads if h.size == mine.size and h.origin == mine.origin]
            check.problems.append(
                f"the checkpoint you hold (size {mine.size}) "
                + (
                    "has another root than the proof's: the log was shown differently"
                    if same_size
                    else f"is not one the proof is about (sizes {sizes})"
                )
            )
