"""The witness: check each checkpoint against the last one cosigned, then cosign or refuse.

The protocol is C2SP ``tlog-witness``'s ``add-checkpoint``: a POST whose body is

    old <size the node believes the witness last cosigned>
    <base64 hash of the consistency proof, one per line>
    <blank line>
    <the checkpoint note, signed by the log>

Answers: 200 with the cosignature line; 409 with the witness's own last size
when ``old`` is not it (the node retries with a proof from there); 422 when
the consistency proof fails — a fork, or a history rewritten — or the tree
shrank or rolled back; 403 when the note is not signed by the log's key; 404
for a log the witness does not follow; 400 for a malformed request. The
state (per log: size, root) is written durably before a cosignature leaves,
so a restarted witness still refuses what it refused before.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fieldgate.node.audit.merkle import verify_consistency
from fieldgate.node.audit.note import Note, NoteError, TreeHead, cosign

log = logging.getLogger("fieldgate.witness")

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """An HTTP status and its text body."""

    status: int
    body: str


class WitnessState:
    """Per log origin, the last cosigned size and root, kept in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._heads: dict[str, tuple[int, bytes]] = {}
        if path.exists():
            document = json.loads(path.read_text(encoding="utf-8"))
            self._heads = {
                origin: (int(head["size"]), base64.b64decode(head["root"]))
                for origin, head in document.items()
            }

    def get(self, origin: str) -> tuple[int, bytes] | None:
        """The last cosigned (size, root) of ``origin``, or None."""
        return self._heads.get(origin)

    def put(self, origin: str, size: int, root: bytes) -> None:
        """Record a cosigned head durably (write, fsync, rename)."""
        self._heads[origin] = (size, root)
        document = {
            o: {"size": s, "root": base64.b64encode(r).decode()}
            for o, (s, r) in sorted(self._heads.items())
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(document, indent=1))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


class Witness:
    """Cosigns consistent checkpoints of the logs it follows."""

    def __init__(
        self,
        name: str,
        key: Ed25519PrivateKey,
        logs: Mapping[str, Ed25519PublicKey],
        state: WitnessState,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``logs``: origin → the log's public key (the note signer's name is the origin)."""
        self.name = name
        self._key = key
        self._logs = dict(logs)
        self._state = state
        self._clock = clock
        self._lock = threading.Lock()

    def add_checkpoint(self, request: str) -> Answer:
        """Handle one ``add-checkpoint`` body."""
        first, newline, rest = request.partition("\n")
        if not newline or not first.startswith("old ") or not first[4:].isdigit():
            return Answer(400, "the first line must be 'old <size>'\n")
        old = int(first[4:])
        proof: list[bytes] = []
        while rest and not rest.startswith("\n"):
            line, _, rest = rest.partition("\n")
            try:
                proof.append(base64.b64decode(line, validate=True))
            except ValueError:
                return Answer(400, "a proof line is not base64\n")
        try:
            note = Note.parse(rest[1:])
            head = TreeHead.parse(note.body)
        except NoteError as exc:
            return Answer(400, f"{exc}\n")
        key = self._logs.get(head.origin)
        if key is None:
            return Answer(404, f"this witness does not follow {head.origin}\n")
        if not note.verify(head.origin, key):
            return Answer(403, "the checkpoint is not signed by the log's key\n")
        with self._lock:
            known = self._state.get(head.origin)
            size, root = known if known is not None else (0, b"")
            if old != size:
                return Answer(409, f"{size}\n")
            if head.size < size:
                log.error("%s: refused: tree shrank from %d to %d", head.origin, size, head.size)
                return Answer(422, f"the tree shrank from {size} to {head.size} (rolled back)\n")
            if size and not verify_consistency(size, head.size, proof, root, head.root):
                log.error("%s: refused: size %d is not consistent with %d", head.origin,
                          head.size, size)  # fmt: skip
                return Answer(422, f"not consistent with the checkpoint of size {size} this "
                              "witness cosigned (a fork or a rewritten history)\n")  # fmt: skip
            if not size and proof:
                return Answer(422, "a first checkpoint needs no proof\n")
            self._state.put(head.origin, head.size, head.root)
        return Answer(200, cosign(note.body, self.name, self._key, int(self._clock())))


def serve(witness: Witness, host: str, port: int) -> ThreadingHTTPServer:
    """Start an HTTP server for ``witness`` (``POST /add-checkpoint``); returns it running."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.path != "/add-checkpoint":
                answer = Answer(404, "unknown path\n")
            elif length > MAX_BODY:
                answer = Answer(400, "request too large\n")
            else:
                try:
                    answer = witness.add_checkpoint(self.rfile.read(length).decode("utf-8"))
                except UnicodeDecodeError:
                    answer = Answer(400, "the request is not UTF-8\n")
            data = answer.body.encode()
            self.send_response(answer.status)
            content = "text/x.tlog.size" if answer.status == 409 else "text/plain; charset=utf-8"
            self.send_header("Content-Type", content)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.info("%s %s", self.address_string(), format % args)

    server = ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="witness", daemon=True)
    thread.start()
    return server
