"""The account review: per person (the subject behind all their credentials) or per agency.

A credential lives hours; a person keeps being issued new ones. The review
therefore groups every search by **subject at their agency** (or by agency):
how many credentials they used, first and last use, searches, hits, and every
refusal by reason — the contract withheld every match (``denied``), a policy
error, the node's own limits (``refused:<reason>`` entries) and a spent audit
budget (``budget_refused`` entries). Two flags:

- **refused but still trying**: under the contract version of the newest
  search in the period, the person's (agency's) searches matched records and
  none was ever disclosed. Computed per person: one officer's warrant-backed
  hit does not clear a colleague refused every time.
- **stale**: no use for ``stale_days`` before the review date: disable the
  person's access (CJIS asks it of accounts unused 90 days).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from fieldgate.node.audit.entries import BUDGET_REFUSED
from fieldgate.node.audit.reports import Period, Report, searches
from fieldgate.node.audit.schema import AuditReader

STALE_DAYS = 90
"""CJIS asks that accounts unused this long be disabled."""

REFUSED_STILL_TRYING = "refused by current contract, still searching"

Grouping = Literal["subject", "agency"]


def refusal_reason(data: dict[str, Any]) -> str:
    """Why a logged search got nothing although records matched, or "" when it was not refused."""
    version = str(data.get("contract_version", ""))
    if version.startswith("refused:"):
        return f"node limit: {version.removeprefix('refused:')}"
    outcome = data.get("outcome")
    if outcome == "denied":
        return "contract withheld every match"
    if outcome == "policy_error":
        return "policy error"
    return ""


@dataclass
class _Account:
    agency_types: set[str] = field(default_factory=set)
    subjects: set[str] = field(default_factory=set)
    credentials: set[str] = field(default_factory=set)
    first: str = ""
    last: str = ""
    counts: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    matched_now: int = 0
    hits_now: int = 0

    def used(self, time: str) -> None:
        self.first = min(self.first or time, time)
        self.last = max(self.last, time)


def _requester(data: dict[str, Any]) -> dict[str, Any]:
    requester = data.get("requester", {})
    return requester if isinstance(requester, dict) else {}


def accounts(
    reader: AuditReader,
    period: Period | None = None,
    *,
    by: Grouping = "subject",
    today: dt.date | None = None,
    stale_days: int = STALE_DAYS,
) -> Report:
    """Every person (or agency) seen in the period, with use, refusals by reason and flags.

    Args:
        reader: the log (:class:`~fieldgate.node.audit.schema.AuditReader`).
        period: the days to review.
        by: ``subject`` (one row per person at their agency) or ``agency``.
        today: the review date for the stale flag (default: today).
        stale_days: flag accounts unused this long.
    """
    day = today or dt.date.today()
    period = period or Period()
    found: dict[tuple[str, ...], _Account] = defaultdict(_Account)
    rows_in_period = list(searches(reader, period))
    current = rows_in_period[-1][1].get("contract_version", "") if rows_in_period else ""
    if str(current).startswith("refused:"):  # a limit refusal names no contract
        decided = [
            d
            for _, d in rows_in_period
            if not str(d.get("contract_version", "")).startswith("refused:")
        ]
        current = decided[-1].get("contract_version", "") if decided else ""
    for time, data in rows_in_period:
        requester = _requester(data)
        key = _key(requester, by)
        account = found[key]
        account.used(time)
        account.agency_types.add(str(requester.get("agency_type", "")))
        account.subjects.add(str(requester.get("subject", "")))
        if requester.get("credential_id"):
            account.credentials.add(str(requester["credential_id"]))
        account.counts["searches"] += 1
        account.counts[str(data.get("outcome", ""))] += 1
        reason = refusal_reason(data)
        if reason:
            account.refusals[reason] += 1
        if data.get("contract_version", "") == current:
            account.matched_now += 1 if data.get("records") else 0
            account.hits_now += 1 if data.get("outcome") == "hit" else 0
    for row in reader.entries(BUDGET_REFUSED):
        refused = row.document().get("data")
        if not isinstance(refused, dict) or not period.contains(row.time):
            continue
        account = found[_key(_requester(refused), by)]
        account.used(row.time)
        account.refusals[f"audit budget spent ({refused.get('budget', '?')})"] += 1
    cutoff = (day - dt.timedelta(days=stale_days)).isoformat()
    rows = [_row(key, account, by, cutoff, stale_days) for key, account in sorted(found.items())]
    columns = (
        ("subject", "agency") if by == "subject" else ("agency", "people")
    ) + (
        "agency_type", "credentials", "first use", "last use", "searches", "with hits",
        "denied", "policy errors", "refusals by reason", "flag",
    )  # fmt: skip
    notes = (
        f"current contract version: {str(current)[:16] or '(none)'}",
        f"review date {day.isoformat()}; stale after {stale_days} days without use",
    )
    title = "account review per person" if by == "subject" else "account review per agency"
    return Report(title, columns, rows, notes)


def _key(requester: dict[str, Any], by: Grouping) -> tuple[str, ...]:
    agency = str(requester.get("agency", ""))
    return (str(requester.get("subject", "")), agency) if by == "subject" else (agency,)


def _row(
    key: tuple[str, ...], account: _Account, by: Grouping, cutoff: str, stale_days: int
) -> dict[str, Any]:
    flags = []
    if account.matched_now and not account.hits_now:
        flags.append(REFUSED_STILL_TRYING)
    if account.last[:10] < cutoff:
        flags.append(f"unused for {stale_days}+ days: disable")
    head: dict[str, Any] = (
        {"subject": key[0], "agency": key[1]}
        if by == "subject"
        else {"agency": key[0], "people": len(account.subjects)}
    )
    return {
        **head,
        "agency_type": ", ".join(sorted(account.agency_types)),
        "credentials": len(account.credentials),
        "first use": account.first,
        "last use": account.last,
        "searches": account.counts["searches"],
        "with hits": account.counts["hit"],
        "denied": account.counts["denied"],
        "policy errors": account.counts["policy_error"],
        "refusals by reason": dict(sorted(account.refusals.items())),
        "flag": "; ".join(flags),
    }
