"""C2SP signed notes: the log's tree heads as ``tlog-checkpoint`` notes, and witness cosignatures.

A checkpoint note (https://c2sp.org/tlog-checkpoint) is three lines — the
log's origin, the tree size, the RFC 9162 root in base64 — then a blank line
and signature lines ``— <name> <base64(key id ‖ signature)>``. Ed25519 note
signatures (https://c2sp.org/signed-note) use the key id
``SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key)[:4]``; a witness's cosignature
(https://c2sp.org/tlog-cosignature) signs ``"cosignature/v1\\ntime <t>\\n" ‖
body`` with key id ``SHA-256(name ‖ "\\n" ‖ 0x04 ‖ public key)[:4]`` and
carries the time: ``base64(key id ‖ uint64 time ‖ signature)``. Only the
encoding is here; Ed25519 is the ``cryptography`` package's.

The audit log's origin is ``fieldgate-audit/<node id>/<log id>``.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fieldgate.node.errors import NodeError

_DASH = "\u2014 "


class NoteError(NodeError):
    """A note that cannot be parsed or whose signature does not verify."""


def origin_of(node_id: str, log_id: str) -> str:
    """The checkpoint origin of a node's audit log."""
    return f"fieldgate-audit/{node_id}/{log_id}"


@dataclass(frozen=True)
class TreeHead:
    """The body of a checkpoint note: origin, tree size, root."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The note text that is signed (three lines, each ending in a newline)."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, body: str) -> TreeHead:
        """Read a checkpoint body.

        Raises:
            NoteError: it is not three lines of origin, size and a 32-byte root.
        """
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint body is origin, size and root, one per line")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin or not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError("a checkpoint's origin must be set and its size a decimal number")
        try:
            digest = base64.b64decode(root, validate=True)
        except ValueError:
            raise NoteError("a checkpoint's root is not base64") from None
        if len(digest) != 32:
            raise NoteError("a checkpoint's root is not 32 bytes")
        return cls(origin, int(size), digest)


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def note_key_id(name: str, key: Ed25519PublicKey) -> bytes:
    """The signed-note key id of an Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n\x01" + _raw(key)).digest()[:4]


def cosignature_key_id(name: str, key: Ed25519PublicKey) -> bytes:
    """The key id of a witness's cosignature key."""
    return hashlib.sha256(name.encode() + b"\n\x04" + _raw(key)).digest()[:4]


def sign_note(body: str, name: str, key: Ed25519PrivateKey) -> str:
    """``body`` signed by ``name``: the whole note text."""
    signature = note_key_id(name, key.public_key()) + key.sign(body.encode())
    return f"{body}\n{_DASH}{name} {base64.b64encode(signature).decode()}\n"


def cosign(body: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """A witness's cosignature line over checkpoint ``body`` at ``timestamp`` (Unix seconds)."""
    message = f"cosignature/v1\ntime {timestamp}\n{body}".encode()
    blob = cosignature_key_id(name, key.public_key()) + struct.pack(">Q", timestamp)
    blob += key.sign(message)
    return f"{_DASH}{name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Note:
    """A parsed note: its body and its signature lines (name, decoded blob)."""

    body: str
    signatures: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, text: str) -> Note:
        """Split a note into body and signatures.

        Raises:
            NoteError: there is no blank line before the signatures, or one is malformed.
        """
        body, separator, rest = text.partition("\n\n")
        if not separator or not rest.endswith("\n"):
            raise NoteError("a note is a body, a blank line and signature lines")
        signatures = []
        for line in rest[:-1].split("\n"):
            if not line.startswith(_DASH):
                raise NoteError(f"not a signature line: {line[:40]!r}")
            name, _, blob = line[len(_DASH) :].rpartition(" ")
            try:
                decoded = base64.b64decode(blob, validate=True)
            except ValueError:
                raise NoteError(f"signature of {name!r} is not base64") from None
            signatures.append((name, decoded))
        return cls(body + "\n", tuple(signatures))

    def text(self) -> str:
        """The note as text again."""
        lines = "".join(f"{_DASH}{n} {base64.b64encode(b).decode()}\n" for n, b in self.signatures)
        return f"{self.body}\n{lines}"

    def verify(self, name: str, key: Ed25519PublicKey) -> bool:
        """Whether ``name`` signed the body with ``key``."""
        wanted = note_key_id(name, key)
        for signer, blob in self.signatures:
            if signer == name and blob[:4] == wanted and len(blob) == 68:
                try:
                    key.verify(blob[4:], self.body.encode())
                except InvalidSignature:
                    continue
                return True
        return False

    def cosigned_at(self, name: str, key: Ed25519PublicKey) -> int | None:
        """The time of ``name``'s valid cosignature with ``key``, or None."""
        wanted = cosignature_key_id(name, key)
        for signer, blob in self.signatures:
            if signer != name or blob[:4] != wanted or len(blob) != 76:
                continue
            (timestamp,) = struct.unpack(">Q", blob[4:12])
            message = f"cosignature/v1\ntime {timestamp}\n{self.body}".encode()
            try:
                key.verify(blob[12:], message)
            except InvalidSignature:
                continue
            return int(timestamp)
        return None

    def with_lines(self, lines: str) -> Note:
        """This note with more signature lines added (e.g. a witness's answer)."""
        return Note.parse(self.text() + lines)
