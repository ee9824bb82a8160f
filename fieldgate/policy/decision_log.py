"""Decision logs in Open Policy Agent's shape, written alongside the audit log.

One JSON line per contract evaluation (``[node.policy] decision_log``), shaped
like OPA's decision log events so existing OPA tooling can read them::

    {"decision_id": "…", "labels": {"id": "kcso", "app": "fieldgate-node"},
     "path": "fieldgate/contracts/sanctuary_county/decision",
     "input": {...}, "result": {...}, "erased": ["/input/requester/subject", …],
     "bundles": {"sanctuary.bundle.tar.gz": {"revision": "9a22…"}},
     "timestamp": "2026-11-21T05:36:00.123456Z", "metrics": {"timer_rego_query_eval_ns": 81234}}

The requester's subject, case number and every warrant id are erased from
``input``, and the result keeps only ``disclose``, ``release`` and ``mask`` (a
contract's free-text ``reasons`` may quote what was erased); every erased path
is listed in ``erased``, as OPA's decision-log masking does. The
audit log, not this file, is the record of what left the node: a failed write
here is logged and the answer goes out.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fieldgate.policy.engine import ContractEngine
from fieldgate.policy.evaluate import PolicyDecision

log = logging.getLogger("fieldgate.node")

ERASED_REQUESTER_FIELDS = ("subject", "case_number")
"""``input.requester`` fields never written to a decision log."""


def _plain(value: object) -> Any:
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def redact_input(policy_input: Mapping[str, object]) -> tuple[dict[str, Any], list[str]]:
    """``policy_input`` without the requester's subject, case number and warrant ids.

    Returns:
        The redacted copy and the JSON pointers erased from it.
    """
    document: dict[str, Any] = copy.deepcopy(_plain(policy_input))
    erased: list[str] = []
    requester = document.get("requester")
    if isinstance(requester, dict):
        for name in ERASED_REQUESTER_FIELDS:
            if requester.pop(name, None) is not None:
                erased.append(f"/input/requester/{name}")
    authority = document.get("authority")
    if isinstance(authority, list):
        for index, instrument in enumerate(authority):
            if isinstance(instrument, dict) and instrument.pop("id", None) is not None:
                erased.append(f"/input/authority/{index}/id")
    return document, erased


def decision_event(
    decision: PolicyDecision,
    contract: ContractEngine,
    *,
    node_id: str,
    bundle_name: str,
    eval_ns: int = 0,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """One decision-log event for a record the contract was asked about."""
    assert decision.policy_input is not None  # only records the contract was asked about
    document, erased = redact_input(decision.policy_input)
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    event: dict[str, Any] = {
        "decision_id": str(uuid.uuid4()),
        "labels": {"id": node_id, "app": "fieldgate-node"},
        "path": f"{contract.name.replace('.', '/')}/decision",
        "input": document,
        "bundles": {bundle_name: {"revision": contract.version}},
        "timestamp": when.isoformat().replace("+00:00", "Z"),
        "metrics": {"timer_rego_query_eval_ns": eval_ns},
    }
    if decision.verdict.error:
        event["error"] = {"code": "eval_error", "message": decision.verdict.error}
    else:
        result, dropped = _decision_only(decision.raw)
        event["result"] = result
        erased = [*erased, *dropped]
    if erased:
        event["erased"] = erased
    return event


_DECISION_KEYS = ("disclose", "release", "mask")


def _decision_only(raw: object) -> tuple[Any, list[str]]:
    """The decision's own keys; anything else (``reasons``) is the contract's free text.

    A reason may quote the input it was built from (a warrant id, a case
    number), which would undo the erasure above, so only the keys the node
    acts on are kept.
    """
    if not isinstance(raw, Mapping):
        return _plain(raw), []
    kept = {k: _plain(raw[k]) for k in _DECISION_KEYS if k in raw}
    dropped = sorted(f"/result/{k}" for k in raw if k not in _DECISION_KEYS)
    return kept, dropped


class DecisionLog:
    """Appends decision-log events to one file, one JSON object per line."""

    def __init__(self, path: Path, node_id: str, *, bundle_name: str = "") -> None:
        self.path = path
        self.node_id = node_id
        self.bundle_name = bundle_name
        self._lock = threading.Lock()

    def write(
        self, decision: PolicyDecision, contract: ContractEngine, *, eval_ns: int = 0
    ) -> None:
        """Append the event for ``decision``; a failure is logged, never raised."""
        if decision.policy_input is None:
            return
        event = decision_event(
            decision,
            contract,
            node_id=self.node_id,
            bundle_name=self.bundle_name or contract.name,
            eval_ns=eval_ns,
        )
        line = json.dumps(event, sort_keys=True, default=str) + "\n"
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
        except OSError as exc:
            log.warning("decision log %s not written: %s", self.path, exc)
