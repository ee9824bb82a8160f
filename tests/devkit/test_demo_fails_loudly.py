"""``fieldgate demo`` fails loudly: a node without a usable contract, or a detective
shown nothing, is an error naming the node and why — never empty tables and exit 0.

Real servers throughout: the demo's own federation on loopback, its nodes' gRPC
health services, the embedded regorus engine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.console import Console

from fieldgate.devkit.demo import run_demo
from fieldgate.devkit.demo_checks import DemoFailed

RECORDS = 10

DENY_ALL = """package fieldgate.contracts.deny_all

import rego.v1

default decision := {"disclose": false, "release": set(), "mask": {}}
"""


def _run(contracts: dict[str, Path] | None) -> dict[str, object] | None:
    return asyncio.run(
        run_demo(Console(quiet=True), records_per_agency=RECORDS, seed=7, contracts=contracts)
    )


def test_demo_discloses_to_the_detective_and_verifies_the_audit() -> None:
    summary = _run(None)
    assert summary is not None
    requesters = summary["requesters"]
    assert isinstance(requesters, list)
    detective = requesters[0]
    assert detective["requester"] == "det-4711"
    assert detective["records_disclosed"] > 0
    audit = summary["audit"]
    assert isinstance(audit, dict)
    assert audit["verified"] is True
    assert audit["entries"] >= len(requesters)


def test_a_node_without_a_usable_contract_fails_the_demo_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.rego"
    broken.write_text("package fieldgate.contracts.broken\nimport ", encoding="utf-8")
    with pytest.raises(DemoFailed) as failure:
        _run({"spd": broken})
    message = str(failure.value)
    assert "node spd reports NOT_SERVING" in message
    assert "no usable contract" in message
    # Only the broken node is blamed.
    assert "kcso" not in message
    assert "pcso" not in message


def test_a_detective_shown_nothing_fails_the_demo(tmp_path: Path) -> None:
    deny = tmp_path / "deny_all.rego"
    deny.write_text(DENY_ALL, encoding="utf-8")
    with pytest.raises(DemoFailed, match=r"Detective .* was shown no record at all") as failure:
        _run({"kcso": deny, "spd": deny, "pcso": deny})
    # Every agency answered (a denial looks like absence), and the message says so.
    for node_id in ("kcso", "spd", "pcso"):
        assert f"{node_id} answered" in str(failure.value)
