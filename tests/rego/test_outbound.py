"""Outbound policies through the real regorus engine: default deny, fail closed, the shipped two."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldgate.policy.errors import OutboundPolicyError
from fieldgate.policy.outbound import (
    DEFAULT_REASON,
    compute_reach,
    decide,
    outbound_policy_path,
    shipped_outbound_names,
)
from fieldgate.trust.reach import DirectoryEntry, Reach, credential_reach, serials

DIRECTORY = [
    DirectoryEntry("fbi", "fbi-seattle", "federal_law_enforcement", "US", ("fbi-seattle",)),
    DirectoryEntry("ice-ero", "ice-ero-seattle", "civil_immigration", "US", ("ice-ero-seattle",)),
    DirectoryEntry("hsi", "ice-hsi-seattle", "federal_law_enforcement", "US"),
    DirectoryEntry("kcso", "kcso", "local_law_enforcement", "WA", ("kcso",)),
    DirectoryEntry("unknown"),
]
COUNTY = {"id": "kcso", "agency_type": "local_law_enforcement", "jurisdiction": "WA"}


def _policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.rego"
    path.write_text(f"package fieldgate.outbound\n\nimport rego.v1\n\n{body}\n", encoding="utf-8")
    return path


def test_the_shipped_policies() -> None:
    assert shipped_outbound_names() == ["king_county", "permissive"]
    county = compute_reach(outbound_policy_path("king_county"), DIRECTORY, COUNTY)
    assert set(county.audience.named(serials(DIRECTORY))) == {"fbi", "kcso"}
    assert set(county.unreached) == {"ice-ero", "hsi", "unknown"}
    assert "civil immigration" in county.unreached["ice-ero"]
    assert "ice-hsi-seattle" in county.unreached["hsi"]
    everyone = compute_reach(outbound_policy_path("permissive"), DIRECTORY, COUNTY)
    assert set(everyone.audience.named(serials(DIRECTORY))) == {e.node_id for e in DIRECTORY}
    assert everyone.unreached == {}


def test_the_policy_sees_the_directory_entry_and_the_agency(tmp_path: Path) -> None:
    policy = _policy(
        tmp_path,
        "allow if {\n  input.node.jurisdiction == input.agency.jurisdiction\n"
        '  "kcso" in input.node.issuers\n}',
    )
    [*_, kcso, unknown] = decide(policy, DIRECTORY, COUNTY)
    assert kcso.allow
    assert not unknown.allow
    assert unknown.reason == DEFAULT_REASON  # the policy named no reason


@pytest.mark.parametrize(
    "body",
    [
        "allow := 1",  # truthy is not true
        'allow := "yes"',
        "allow := [true]",
        "allow if 1 / 0 == 1",  # an error for every node
        "",  # allow undefined
    ],
)
def test_anything_but_true_keeps_every_node_out(tmp_path: Path, body: str) -> None:
    reach = compute_reach(_policy(tmp_path, body), DIRECTORY, COUNTY)
    assert set(reach.audience.named(serials(DIRECTORY))) == frozenset()
    assert set(reach.unreached) == {e.node_id for e in DIRECTORY}


def test_an_evaluation_error_keeps_that_node_out_and_says_so(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "allow if to_number(input.node.jurisdiction) >= 0")
    reach = compute_reach(policy, DIRECTORY, COUNTY)
    assert set(reach.audience.named(serials(DIRECTORY))) == frozenset()
    assert reach.unreached["fbi"].startswith("outbound policy failed")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "package fieldgate.contracts.x\nimport rego.v1\nallow := true\n",
            "not fieldgate.outbound",
        ),
        ("package fieldgate.outbound\nimport rego.v1\nallow if {\n", "policy.rego"),
    ],
)
def test_a_policy_that_cannot_be_used_stops_issuance(
    tmp_path: Path, source: str, expected: str
) -> None:
    path = tmp_path / "policy.rego"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(OutboundPolicyError, match=expected):
        compute_reach(path, DIRECTORY, COUNTY)


def test_an_unknown_policy_name_lists_the_shipped_ones() -> None:
    with pytest.raises(OutboundPolicyError, match="king_county, permissive"):
        outbound_policy_path("sanctuary")


def test_reach_claims_round_trip_and_malformed_claims_are_refused() -> None:
    reach = Reach.of({"kcso"}, {"ice-ero": "x" * 500, "hsi": "x" * 300})
    claims = reach.claims()
    # Grouped by (capped) reason: hundreds of excluded agencies share a few reasons.
    assert claims == {"reach": ["kcso"], "unreached": {"x" * 200: ["hsi", "ice-ero"]}}
    parsed = credential_reach(claims)
    assert parsed is not None
    assert parsed.audience.nodes == ("kcso",)
    assert parsed.unreached == {"hsi": "x" * 200, "ice-ero": "x" * 200}
    assert credential_reach({}) is None
    compact = credential_reach({"reach": {"dir": 3, "except": ["ice-ero"]}, "unreached": {}})
    assert compact is not None
    assert compact.contains("kcso", 3)
    assert not compact.contains("ice-ero", 1)
    assert not compact.contains("late", 4)
    assert not compact.contains("unknown", None)
    for bad, named in (
        ({"reach": "kcso"}, "reach is neither a list"),
        ({"reach": [""]}, "reach is not a list"),
        ({"reach": {"dir": -1, "except": []}}, "reach.dir is not a directory serial"),
        ({"reach": {"dir": 1}}, "reach is neither a list"),
        ({"reach": ["kcso"], "unreached": ["ice-ero"]}, "unreached is not an object"),
        ({"reach": ["kcso"], "unreached": {"why": "kcso"}}, "unreached is not an object"),
        ({"reach": ["kcso"], "unreached": {"a": ["x"], "b": ["x"]}}, "under two reasons"),
        ({"reach": ["kcso"], "unreached": {"both": ["kcso"]}}, "both reached and unreached"),
    ):
        with pytest.raises(ValueError, match=named):
            credential_reach(bad)
