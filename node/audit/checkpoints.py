"""Signed checkpoints: the node vouches for the head of its chain.

A checkpoint body (canonical JSON, signed with the node's Ed25519 key)::

    {"format": "fieldgate.audit.checkpoint/v1", "node_id": "kcso",
     "number": 3, "seq": 300, "head": "<hash of entry 300>",
     "time": "...", "previous": "<SHA-256 of checkpoint 2's body>", "key_id": "..."}

``previous`` chains the checkpoints themselves, so one cannot be dropped or
replayed in another place. An export (``fieldgate audit export-checkpoints``)
is JSON Lines: a header naming the node and its public key, then one line per
checkpoint, ``{"checkpoint": {...body...}, "signature": "<hex>"}``. Whoever
keeps an export can later prove that the log they are shown extends what they
were shown before, and that two parties were shown the same log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fieldgate.node.audit.canonical import canonical_json, sha256_text
from fieldgate.node.errors import NodeError

CHECKPOINT_FORMAT = "fieldgate.audit.checkpoint/v1"
_SIGNATURE = re.compile(r"[0-9a-f]{128}")
EXPORT_FORMAT = "fieldgate.audit.checkpoints/v1"


class CheckpointFileError(NodeError):
    """An exported checkpoint file that cannot be read."""


@dataclass(frozen=True)
class Checkpoint:
    """One signed checkpoint.

    Attributes:
        number: 1, 2, 3... in the order they were made.
        seq: the last entry it covers.
        head: the chain hash of entry ``seq``.
        time: when it was made (ISO 8601, UTC).
        previous: SHA-256 of the previous checkpoint's body ("" for the first).
        node_id: the node whose log it is.
        key_id: the signing key's id (:func:`fieldgate.node.audit.keys.key_id`).
        signature: Ed25519 signature over :meth:`body_text`, hex.
    """

    number: int
    seq: int
    head: str
    time: str
    previous: str
    node_id: str
    key_id: str
    signature: str = ""

    def body(self) -> dict[str, Any]:
        """The signed document."""
        return {
            "format": CHECKPOINT_FORMAT,
            "node_id": self.node_id,
            "number": self.number,
            "seq": self.seq,
            "head": self.head,
            "time": self.time,
            "previous": self.previous,
            "key_id": self.key_id,
        }

    def body_text(self) -> str:
        """The canonical text that is signed."""
        return canonical_json(self.body())

    def digest(self) -> str:
        """SHA-256 of the body, what the next checkpoint's ``previous`` names."""
        return sha256_text(self.body_text())

    def signed(self, key: Ed25519PrivateKey) -> Checkpoint:
        """This checkpoint with its signature."""
        signature = key.sign(self.body_text().encode("utf-8")).hex()
        return Checkpoint(**{**self.__dict__, "signature": signature})

    def signature_valid(self, key: Ed25519PublicKey) -> bool:
        """Whether the signature is the node's over this body (as 128 lower-case hex digits)."""
        if not _SIGNATURE.fullmatch(self.signature):
            return False
        try:
            key.verify(bytes.fromhex(self.signature), self.body_text().encode("utf-8"))
        except (InvalidSignature, ValueError):
            return False
        return True

    def export_line(self) -> str:
        """One line of an export file."""
        return json.dumps({"checkpoint": self.body(), "signature": self.signature}, sort_keys=True)


def checkpoint_from_body(body: object, signature: str) -> Checkpoint:
    """Rebuild a checkpoint from its body document.

    Raises:
        ValueError: the body is not a checkpoint body.
    """
    if not isinstance(body, dict) or body.get("format") != CHECKPOINT_FORMAT:
        raise ValueError("not a checkpoint body")
    try:
        number, seq = body["number"], body["seq"]
        texts = [body[k] for k in ("head", "time", "previous", "node_id", "key_id")]
    except KeyError as exc:
        raise ValueError(f"checkpoint body lacks {exc}") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (number, seq)):
        raise ValueError("checkpoint number and seq must be integers")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("checkpoint head, time, previous, node_id and key_id must be strings")
    if set(body) != set(Checkpoint(0, 0, "", "", "", "", "").body()):
        raise ValueError("checkpoint body has unexpected keys")
    head, time, previous, node_id, key_id = texts
    return Checkpoint(number, seq, head, time, previous, node_id, key_id, signature)


@dataclass(frozen=True)
class CheckpointExport:
    """A parsed export file: whose log, the key, and the checkpoints in it."""

    node_id: str
    public_key: str
    checkpoints: tuple[Checkpoint, ...]
    source: str


def export_lines(node_id: str, public_key: str, checkpoints: Iterable[Checkpoint]) -> Iterator[str]:
    """The lines of an export file (without line ends)."""
    yield json.dumps(
        {"format": EXPORT_FORMAT, "node_id": node_id, "public_key": public_key}, sort_keys=True
    )
    for checkpoint in checkpoints:
        yield checkpoint.export_line()


def read_export(path: Path) -> CheckpointExport:
    """Read an export file.

    Raises:
        CheckpointFileError: naming the file and line that is wrong.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointFileError(f"{path}: cannot read: {exc}") from None
    if not lines:
        raise CheckpointFileError(f"{path}: is empty; expected a checkpoint export")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise CheckpointFileError(f"{path}: line 1: not a {EXPORT_FORMAT} header")
    node_id, public_key = header.get("node_id"), header.get("public_key")
    if not isinstance(node_id, str) or not isinstance(public_key, str):
        raise CheckpointFileError(f"{path}: line 1: the header needs node_id and public_key")
    found: list[Checkpoint] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
            signature = document["signature"]
            if not isinstance(signature, str):
                raise ValueError("signature must be a string")
            found.append(checkpoint_from_body(document["checkpoint"], signature))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CheckpointFileError(f"{path}: line {number}: not a checkpoint ({exc})") from None
    return CheckpointExport(node_id, public_key, tuple(found), str(path))
