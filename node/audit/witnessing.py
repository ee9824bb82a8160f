"""Pushing each checkpoint to the node's witnesses and keeping their cosignatures.

After every checkpoint the store signs (:attr:`AuditStore.on_checkpoint`),
the node makes the C2SP checkpoint note of its log's RFC 9162 tree at that
size (:mod:`node.audit.note`, :mod:`node.audit.tree`), signs it with its
audit key, and sends it to each witness with a consistency proof from the
size that witness last cosigned (``POST <url>/add-checkpoint``, C2SP
``tlog-witness``). Cosigned notes are appended to the log's witness file
(``<log>.witnessed.jsonl``), which ``fieldgate audit verify --witnessed``
checks the log against. When fewer than ``quorum`` witnesses cosign within
``timeout_seconds`` — unreachable, or refusing (a fork, a rewritten history)
— the node logs it and reports it to its metrics (an alert fires); it does
not stop answering for that, since a witness's outage must not take the
agency's searches down with it.

Pushing runs on its own thread and never holds up a search. Only the newest
checkpoint waiting is pushed: a witness cosigning size ``n`` vouches for
every size before it.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fieldgate.node.audit.keys import public_from_hex
from fieldgate.node.audit.note import Note, NoteError, TreeHead, sign_note
from fieldgate.node.audit.tree import TreeError, prove_consistency, tree_root

log = logging.getLogger("fieldgate.audit")


@dataclass(frozen=True)
class WitnessConfig:
    """One witness a node pushes to (``[[node.audit.witnesses]]``)."""

    name: str
    """The witness's name, as its cosignatures carry it."""
    url: str
    """Its base URL; checkpoints go to ``<url>/add-checkpoint``."""
    public_key: str
    """Its Ed25519 public key, hex."""

    def key(self) -> Ed25519PublicKey:
        """The parsed public key."""
        return public_from_hex(self.public_key)


def witnessed_path(log_path: Path) -> Path:
    """Where a log's cosigned checkpoints are kept."""
    return log_path.with_name(log_path.name + ".witnessed.jsonl")


class WitnessPusher:
    """Sends the newest checkpoint to every witness; keeps what they cosign."""

    def __init__(
        self,
        log_path: Path,
        origin: str,
        key: Ed25519PrivateKey,
        witnesses: Sequence[WitnessConfig],
        *,
        quorum: int,
        timeout_seconds: float,
        on_quorum: Callable[[bool], None] | None = None,
    ) -> None:
        self.log_path = log_path
        self.origin = origin
        self._key = key
        self._witnesses = list(witnesses)
        self._quorum = quorum
        self._timeout = timeout_seconds
        self._on_quorum = on_quorum
        self._known: dict[str, int] = {}  # witness → size it last cosigned
        self._wanted = 0
        self._done = 0
        self._changed = threading.Condition()
        self._stop = False
        self.rounds = 0
        """Checkpoints pushed (whatever the witnesses answered)."""
        self.last_quorum: bool | None = None
        """Whether the last push reached its quorum (None before the first)."""
        self._thread = threading.Thread(target=self._run, name="audit-witnesses", daemon=True)
        self._thread.start()

    def submit(self, size: int) -> None:
        """Ask for the tree of ``size`` to be witnessed (returns at once)."""
        with self._changed:
            self._wanted = max(self._wanted, size)
            self._changed.notify_all()

    def wait(self, size: int, timeout: float) -> bool:
        """Wait until a push of at least ``size`` finished (for tests and shutdown)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._done >= size, timeout)

    def close(self) -> None:
        """Stop the thread (a push under way finishes first)."""
        with self._changed:
            self._stop = True
            self._changed.notify_all()
        self._thread.join(timeout=self._timeout * max(1, len(self._witnesses)) + 5)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._stop or self._wanted > self._done)
                if self._stop:
                    return
                size = self._wanted
            try:
                reached = self._push(size)
            except Exception:  # the thread must survive anything; the alert says it failed
                log.exception("audit log %s: pushing checkpoint %d failed", self.log_path, size)
                reached = False
            self.last_quorum = reached
            self.rounds += 1
            if self._on_quorum is not None:
                self._on_quorum(reached)
            with self._changed:
                self._done = max(self._done, size)
                self._changed.notify_all()

    def _push(self, size: int) -> bool:
        db = sqlite3.connect(f"file:{self.log_path}?mode=ro", uri=True)
        try:
            head = TreeHead(self.origin, size, tree_root(db, size))
            note = Note.parse(sign_note(head.body(), self.origin, self._key))
            cosigned = []
            for witness in self._witnesses:
                line = self._ask(db, witness, note, size)
                if line:
                    cosigned.append(line)
        except TreeError as exc:
            log.error("audit log %s: cannot make the tree to witness: %s", self.log_path, exc)
            return False
        finally:
            db.close()
        if cosigned:
            record = {"size": size, "note": note.with_lines("".join(cosigned)).text()}
            with open(witnessed_path(self.log_path), "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, sort_keys=True) + "\n")
        if len(cosigned) < self._quorum:
            log.error(
                "audit log %s: checkpoint of size %d cosigned by %d of %d witnesses "
                "(quorum %d)", self.log_path, size, len(cosigned), len(self._witnesses),
                self._quorum,
            )  # fmt: skip
            return False
        return True

    def _ask(self, db: sqlite3.Connection, witness: WitnessConfig, note: Note, size: int) -> str:
        """One witness's cosignature line for ``note`` ("" when it refused or failed)."""
        old = self._known.get(witness.name, 0)
        for _ in range(2):  # a 409 says where the witness really is: try once more from there
            proof = prove_consistency(db, old, size) if 0 < old < size else []
            body = f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof)
            status, text = _post(f"{witness.url}/add-checkpoint", body + "\n" + note.text(),
                                 self._timeout)  # fmt: skip
            if status == 409 and text.strip().isdigit() and int(text) != old:
                old = int(text)
                continue
            break
        if status != 200:
            log.error("audit log %s: witness %s refused checkpoint of size %d: %s %s",
                      self.log_path, witness.name, size, status, text.strip()[:200])  # fmt: skip
            return ""
        try:
            answer = Note.parse(note.body + "\n" + text)
        except NoteError:
            answer = None
        if answer is None or answer.cosigned_at(witness.name, witness.key()) is None:
            log.error("audit log %s: witness %s answered without a valid cosignature",
                      self.log_path, witness.name)  # fmt: skip
            return ""
        self._known[witness.name] = size
        return text


def _post(url: str, body: str, timeout: float) -> tuple[int, str]:
    """POST ``body``; (status, text), status 0 when the witness cannot be reached."""
    # The URL comes from the node's config, which accepts http and https only.
    request = urllib.request.Request(url, data=body.encode(), method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), response.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(65536).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        return 0, str(exc)
