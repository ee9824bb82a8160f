"""Whether a node can decide searches at all, as one bounded reason (issue 16 item 5).

A node that cannot decide — no usable contract, trust data stale or missing,
an audit log that refuses writes — says so in its answer instead of answering
"no hits", so an investigator never reads "this agency could not answer" as
"no record". The reason depends only on the node's own state, never on the
search, so every search gets the same one while it lasts and it reveals
nothing about any person. The reasons are
:data:`fieldgate.core.vocabulary.NOT_ANSWERING_REASONS`; the node signs the
reason with its answer (:mod:`fieldgate.trust.answers`).
"""

from __future__ import annotations

import datetime as dt

from fieldgate.node.search import AgencyNode
from fieldgate.policy.engine import MissingContract
from fieldgate.trust.trust_bundle import TrustStore, TrustUnavailable


def not_answering_reason(
    node: AgencyNode, trust: TrustStore | None, now: dt.datetime | None = None
) -> str:
    """Why ``node`` cannot decide any search now ("" when it can).

    Args:
        node: the node; its contract is re-checked first (a fixed bundle is picked up).
        trust: the trust bundle and revocation list it verifies searches with
            (None for a development node that takes claims as stated).
        now: the time to judge the trust data's age at (default: the clock).

    Returns:
        One of ``no_contract``, ``trust_unavailable``, ``trust_stale``,
        ``audit_unavailable``, or "".
    """
    node.refresh_contract()
    if isinstance(node.contract, MissingContract):
        return "no_contract"
    if trust is not None:
        try:
            trust.current(now or dt.datetime.now(dt.UTC))
        except TrustUnavailable as exc:
            return "trust_stale" if exc.stale else "trust_unavailable"
    # A log halted after tampering refuses every write until its operator acts.
    # (A log whose last write failed is still tried: the first write it accepts
    # brings the node back, see fieldgate.node.health.)
    if node.audit_halted:
        return "audit_unavailable"
    return ""
