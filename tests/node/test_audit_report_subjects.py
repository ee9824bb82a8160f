"""The "refused but still trying" flag is per person, not per agency type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.reports import accounts
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
