"""``fieldgate node audit-init``: the explicit, recorded way to start or adopt a log.

A node refuses to start when its audit log is missing, empty, replaced, rolled
back, or halted on tampering (:mod:`node.audit.last_head`). After examining
it (``fieldgate audit verify``) an operator either

- **adopts** the log as it is (``--adopt``): it must verify against the
  node's key; or
- starts a **new** log: an existing file is moved aside, never deleted
  (``<log>.set-aside-<UTC time>``), so it stays available as evidence.

Either way the log's next entry is ``audit_initialised`` — the mode, the
operator's reason, what the node last knew (its last known head, the halt
reason) and the file set aside — checkpointed at once, and the last known
head is rewritten to name this log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fieldgate.node.audit.entries import AUDIT_INITIALISED
from fieldgate.node.audit.last_head import LastHead
from fieldgate.node.audit.store import AuditStore, utc_now
from fieldgate.node.audit.verify import verify_log
from fieldgate.node.errors import DisclosureLogError


@dataclass(frozen=True)
class Initialised:
    """What ``audit-init`` did.

    Attributes:
        mode: ``adopted`` or ``new``.
        entry_seq: the ``audit_initialised`` entry.
        log_id: the log the last known head now names.
        set_aside: where the previous file went ("" when none was moved).
    """

    mode: str
    entry_seq: int
    log_id: str
    set_aside: str

    def summary(self) -> dict[str, Any]:
        """For ``--json``."""
        return dataclasses.asdict(self)


def initialise_log(
    path: Path,
    *,
    node_id: str,
    key: Ed25519PrivateKey,
    last_head: Path,
    reason: str,
    adopt: bool,
    clock: Any = utc_now,
) -> Initialised:
    """Adopt the log at ``path`` or start a new one, recording why.

    Raises:
        DisclosureLogError: the reason is empty, or the log to adopt is
            missing or does not verify; nothing was changed.
    """
    if not reason.strip():
        raise DisclosureLogError("audit-init needs a reason; it is written into the log")
    head_file = LastHead(last_head)
    known = head_file.read()
    set_aside = ""
    if adopt:
        if not path.is_file():
            raise DisclosureLogError(f"{path}: there is no log to adopt")
        report = verify_log(path, public_key=key.public_key())
        if not report.ok:
            first = report.problems[0]
            raise DisclosureLogError(
                f"{path}: does not verify ({len(report.problems)} problems; first: "
                f"{first.message}); examine it, then start a new log without --adopt"
            )
    elif path.exists():
        stamp = clock().astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        target = path.with_name(f"{path.name}.set-aside-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = path.with_name(path.name + suffix)
            if source.exists():
                source.rename(target.with_name(target.name + suffix))
        set_aside = str(target)
    store = AuditStore.open(path, node_id=node_id, key=key, clock=clock)
    try:
        seq = store.append(
            AUDIT_INITIALISED,
            {
                "mode": "adopted" if adopt else "new",
                "reason": reason.strip(),
                "previous_head": (
                    {k: v for k, v in dataclasses.asdict(known).items() if k != "halted"}
                    if known is not None
                    else None
                ),
                "halted": known.halted if known is not None else "",
                "set_aside": set_aside,
            },
            checkpoint=True,
        )
        record = store.head_record()
    finally:
        store.close()
    head_file.write(record)
    return Initialised("adopted" if adopt else "new", seq, record.log_id, set_aside)
