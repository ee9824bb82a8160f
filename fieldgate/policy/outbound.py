"""The requesting agency's outbound policy: which agencies its searches may reach.

An outbound policy is Rego, ``package fieldgate.outbound``, owned by the
requesting agency and evaluated by its credential issuer at issuance, in the
embedded regorus engine, once per node of the signed federation directory::

    input.node    {"id", "agency", "agency_type", "jurisdiction", "issuers"}
    input.agency  the requesting agency's own facts: {"id", "agency_type", "jurisdiction"}

    data.fieldgate.outbound.allow    true to reach the node; anything else keeps it out
    data.fieldgate.outbound.reason   why not, in words an investigator reads

Fail closed: a node is reached only when ``allow`` is exactly ``true``; an
evaluation error keeps that node out (its reason says so); a policy that does
not load, or declares another package, stops the issuance. The result is the
credential's :class:`~fieldgate.trust.reach.Reach`. Shipped examples live in
``rego/outbound/`` beside their ``policy_test.rego`` (``fieldgate contract test``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import regorus

from fieldgate.policy.engine import contract_package
from fieldgate.policy.errors import OutboundPolicyError
from fieldgate.policy.shipped import rego_root
from fieldgate.trust.reach import MAX_REASON_LENGTH, DirectoryEntry, Reach, serials

PACKAGE = "fieldgate.outbound"
"""The package every outbound policy declares."""

DEFAULT_REASON = "the requesting agency's outbound policy does not allow it"
"""The reason given for a node kept out by a policy that names none."""


@dataclass(frozen=True)
class OutboundDecision:
    """Whether one directory node may receive the agency's searches, and why not."""

    node_id: str
    allow: bool
    reason: str = ""


def shipped_outbound_names() -> list[str]:
    """Names of the shipped outbound policies (directories under ``rego/outbound/``)."""
    return sorted(p.name for p in (rego_root() / "outbound").iterdir() if p.is_dir())


def outbound_policy_path(name_or_path: str) -> Path:
    """A shipped outbound policy by name (``king_county``), or a policy file by path.

    Raises:
        OutboundPolicyError: neither a shipped name nor an existing file.
    """
    shipped = rego_root() / "outbound" / name_or_path / "policy.rego"
    if "/" not in name_or_path and shipped.is_file():
        return shipped
    path = Path(name_or_path)
    if path.is_file():
        return path
    known = ", ".join(shipped_outbound_names())
    raise OutboundPolicyError(
        f"{name_or_path}: no such file, nor a shipped outbound policy (shipped: {known})"
    )


def decide(
    policy: Path, directory: Sequence[DirectoryEntry], agency: Mapping[str, object]
) -> list[OutboundDecision]:
    """Evaluate ``policy`` for every node of ``directory``.

    Args:
        policy: the Rego file (``package fieldgate.outbound``).
        directory: the federation's nodes, from the signed trust bundle.
        agency: the requesting agency's own facts (``input.agency``).

    Raises:
        OutboundPolicyError: the policy cannot be read, does not parse, or
            declares another package.
    """
    try:
        source = policy.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OutboundPolicyError(f"{policy}: cannot be read ({exc})") from None
    declared = contract_package(source)
    if declared != PACKAGE:
        raise OutboundPolicyError(f"{policy}: declares package {declared}, not {PACKAGE}")
    engine = regorus.Engine()
    try:
        engine.add_policy(str(policy), source)
    except Exception as exc:
        message = str(exc).split("Stack backtrace:", 1)[0].strip()[:500]
        raise OutboundPolicyError(f"{policy}: {message}") from None
    return [_decide_one(engine, entry, agency) for entry in directory]


def _decide_one(
    engine: regorus.Engine, entry: DirectoryEntry, agency: Mapping[str, object]
) -> OutboundDecision:
    try:
        # Input as JSON: regorus' Python conversion turns booleans into numbers.
        engine.set_input_json(json.dumps({"node": entry.to_input(), "agency": dict(agency)}))
        allow = _value(engine.eval_query(f"data.{PACKAGE}.allow"))
        reason = None if allow is True else _value(engine.eval_query(f"data.{PACKAGE}.reason"))
    except Exception as exc:
        # One node the policy cannot decide is kept out; the others are still decided.
        message = str(exc).split("Stack backtrace:", 1)[0].strip()
        return OutboundDecision(entry.node_id, False, f"outbound policy failed: {message}"[:200])
    if allow is True:
        return OutboundDecision(entry.node_id, True)
    text = reason if isinstance(reason, str) and reason else DEFAULT_REASON
    return OutboundDecision(entry.node_id, False, text[:MAX_REASON_LENGTH])


def _value(answer: object) -> object:
    """The value of a one-expression query, or None when it is undefined (a rule not defined
    for this input, or not in the policy at all)."""
    if not isinstance(answer, dict):
        return None
    results = answer.get("result")
    if not isinstance(results, list) or len(results) != 1:
        return None
    expressions = results[0].get("expressions") if isinstance(results[0], dict) else None
    if not isinstance(expressions, list) or len(expressions) != 1:
        return None
    first = expressions[0]
    return first.get("value") if isinstance(first, dict) else None


def compute_reach(
    policy: Path, directory: Sequence[DirectoryEntry], agency: Mapping[str, object]
) -> Reach:
    """The :class:`~fieldgate.trust.reach.Reach` an issuer binds into a credential.

    Raises:
        OutboundPolicyError: as :func:`decide`.
    """
    decisions = decide(policy, directory, agency)
    # The shorter form: a national directory with a few hundred agencies kept
    # out is a compact {"dir", "except"}, its unreached grouped by reason.
    return Reach.of(
        (d.node_id for d in decisions if d.allow),
        {d.node_id: d.reason for d in decisions if not d.allow},
        serials(directory),
    )
