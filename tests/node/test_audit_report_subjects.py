"""The account review is per person (and per agency), not per credential or agency type; each
disclosure row names the contract version that decided it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fieldgate.node.audit.accounts import REFUSED_STILL_TRYING, accounts
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.reports import subject_history
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.store import AuditStore


def search(subject: str, outcome: str) -> dict[str, Any]:
    return {
        "request_id": f"{subject}-{outcome}",
        "requester": {"subject": subject, "agency": "ice-era", "agency_type": "civil_immigration",
                      "credential_id": f"cred-{subject}", "purpose": "civil_immigration"},
        "contract_version": "v1",
        "outcome": outcome,
        "records": [{"record_id": "R1"}],
        "disclosed": ["R1"] if outcome == "hit" else [],
    }  # fmt: skip


def test_one_officers_hit_does_not_clear_another_refused_twenty_times(tmp_path: Path) -> None:
    key = ensure_key(tmp_path / "key.pem")
    with AuditStore.open(tmp_path / "a.sqlite", node_id="kcso", key=key) as store:
        for _ in range(20):
            store.append("search", search("officer-refused", "denied"))
        store.append("search", search("officer-with-warrant", "hit"))
    with AuditReader(tmp_path / "a.sqlite") as reader:
        rows = {row["subject"]: row for row in accounts(reader).rows}
    assert rows["officer-refused"]["flag"]
    assert rows["officer-refused"]["denied"] == 20
    assert not rows["officer-with-warrant"]["flag"]


def test_the_review_is_per_person_across_credentials_with_refusals_by_reason(
    tmp_path: Path,
) -> None:
    key = ensure_key(tmp_path / "key.pem")
    path = tmp_path / "a.sqlite"
    with AuditStore.open(path, node_id="kcso", key=key) as store:
        for day in range(3):  # one person, a new credential each day
            entry = search("officer-refused", "denied")
            entry["requester"]["credential_id"] = f"cred-day-{day}"
            store.append("search", entry)
        limited = search("officer-refused", "no_hit")
        limited["contract_version"] = "refused:rate_requester"
        limited["records"] = []
        store.append("search", limited)
        store.append("budget_refused", {"requester": search("officer-refused", "x")["requester"],
                                        "budget": "requester", "spent_bytes": 70000})  # fmt: skip
        store.append("search", search("officer-with-warrant", "hit"))
    with AuditReader(path) as reader:
        people = {row["subject"]: row for row in accounts(reader).rows}
        agencies = accounts(reader, by="agency").rows
        later = accounts(reader, today=dt.date.today() + dt.timedelta(days=91)).rows
    refused = people["officer-refused"]
    assert refused["credentials"] == 4  # three days, and the one of the limited search
    assert refused["searches"] == 4
    assert refused["refusals by reason"] == {
        "audit budget spent (requester)": 1,
        "contract withheld every match": 3,
        "node limit: rate_requester": 1,
    }
    assert REFUSED_STILL_TRYING in refused["flag"]
    assert "unused" not in refused["flag"]
    assert people["officer-with-warrant"]["flag"] == ""
    # Per agency: two people; the agency as a whole got a hit, so it is not flagged.
    assert len(agencies) == 1
    assert agencies[0]["people"] == 2
    assert agencies[0]["credentials"] == 5
    assert REFUSED_STILL_TRYING not in agencies[0]["flag"]
    # 91 days on, each person (not each of their short-lived credentials) is stale once.
    assert len(later) == 2
    assert all("unused for 90+ days: disable" in row["flag"] for row in later)


def test_each_disclosure_row_names_the_contract_version_that_decided(tmp_path: Path) -> None:
    key = ensure_key(tmp_path / "key.pem")
    with AuditStore.open(tmp_path / "a.sqlite", node_id="kcso", key=key) as store:
        for version in ("v1", "v2"):
            entry = search("detective", "hit")
            entry["contract_version"] = version
            entry["records"] = [{"record_id": "R1", "sent": True, "fields": []}]
            store.append("search", entry)
    with AuditReader(tmp_path / "a.sqlite") as reader:
        rows = subject_history(reader, {"R1"}).rows
    assert [row["contract"] for row in rows] == ["v1", "v2"]
