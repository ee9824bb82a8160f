"""The node's own enforcement of contract decisions: default deny, whatever the contract says."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.decision_cache import freeze
from fieldgate.policy.masking import MASKS, apply_mask
from fieldgate.policy.records import validate_record
from fieldgate.policy.verdict import decide_fields

CATALOG = load_catalog(default_catalog_path())
RECORD = validate_record(
    {
        "record_id": "T-1",
        "record_kind": "booking",
        "surname": "HERNANDEZ",
        "given_name": "MIGUEL",
        "dob": "1986-03-07",
        "address": {
            "street": "1 MAIN ST",
            "city": "TUKWILA",
            "state": "WA",
            "postal_code": "98168",
        },
        "phone": "206-555-0199",
        "citizenship": "MEXICO",
        "aliases": ["HERNANDEZ, MIKE"],
        "height_cm": 175,
    },
    CATALOG,
)


def outcomes(raw: Any) -> dict[str, str]:
    verdict = decide_fields(raw, RECORD, CATALOG)
    return {f.name: f.outcome for f in verdict.fields if f.outcome != "withheld"}


def test_release_and_mask_as_asked() -> None:
    verdict = decide_fields(
        {"disclose": True, "release": ["surname", "dob"], "mask": {"address": "city"}},
        RECORD,
        CATALOG,
    )
    assert verdict.disclose
    by_name = {f.name: f for f in verdict.fields}
    assert by_name["surname"].outcome == "released"
    assert by_name["address"].value == {"city": "TUKWILA", "state": "WA"}
    assert by_name["citizenship"].outcome == "withheld"
    assert by_name["phone"].outcome == "withheld"


def test_masked_wins_over_released() -> None:
    verdict = decide_fields(
        {"disclose": True, "release": {"dob"}, "mask": {"dob": "year"}}, RECORD, CATALOG
    )
    dob = next(f for f in verdict.fields if f.name == "dob")
    assert (dob.outcome, dob.value) == ("masked", "1986")


def test_a_mask_that_does_not_fit_withholds_the_field() -> None:
    assert outcomes({"disclose": True, "mask": {"dob": "city", "phone": "sparkles"}}) == {}


def test_pointer_only_discloses_with_no_fields() -> None:
    verdict = decide_fields({"disclose": True}, RECORD, CATALOG)
    assert verdict.disclose
    assert verdict.released() == ()


BAD_DECISIONS = [
    None,
    True,
    "release everything",
    ["surname"],
    {"disclose": "yes", "release": ["surname"]},
    {"disclose": 1, "release": ["surname"]},
    {"release": ["surname"]},
    {"disclose": True, "release": "surname"},
    {"disclose": True, "release": ["surname", 7]},
    {"disclose": True, "release": ["surname"], "mask": ["dob"]},
    {"disclose": True, "release": ["surname"], "mask": {"dob": 1}},
]


def test_malformed_decisions_release_nothing() -> None:
    for raw in BAD_DECISIONS:
        verdict = decide_fields(raw, RECORD, CATALOG)
        assert not verdict.disclose, raw
        assert verdict.released() == (), raw


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=6,
)
field_names = st.sampled_from([*RECORD.fields, "not_a_field", "record_id", ""])
decisions = st.fixed_dictionaries(
    {},
    optional={
        "disclose": st.booleans() | json_values,
        "release": st.frozensets(field_names) | st.lists(field_names) | json_values,
        "mask": st.dictionaries(field_names, st.sampled_from([*MASKS, "bogus"])) | json_values,
    },
)


# Generation is cheap but the first draw can be slow on a loaded CI machine.
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(decisions)
def test_nothing_leaves_that_the_decision_did_not_name(raw: dict[str, Any]) -> None:
    verdict = decide_fields(raw, RECORD, CATALOG)
    named: set[object] = set()
    release, mask = raw.get("release"), raw.get("mask")
    if isinstance(release, list | frozenset):
        named |= {r for r in release if isinstance(r, str)}
    if isinstance(mask, dict):
        named |= set(mask)
    for field in verdict.released():
        assert raw.get("disclose") is True
        assert field.name in named
        assert field.name in CATALOG.fields
        if field.outcome == "masked":
            assert field.value != RECORD.fields[field.name] or field.mask == "initials"
        else:
            assert field.value == RECORD.fields[field.name]
    if not verdict.disclose:
        assert verdict.released() == ()


def test_masks() -> None:
    assert apply_mask("year", "date", "1986-03-07") == "1986"
    assert apply_mask("last4", "string", "206-555-0199") == "***-***-0199"
    assert apply_mask("initials", "string", "MIGUEL ANGEL") == "M. A."
    assert apply_mask("initials", "string_list", ["HERNANDEZ, MIKE"]) == ["H. M."]
    assert apply_mask("zip3", "address", RECORD.fields["address"]) == {
        "city": "TUKWILA",
        "state": "WA",
        "postal_code": "981",
    }
    assert apply_mask("year", "string", "1986-03-07") is None
    assert apply_mask("last4", "string", "12") is None
    assert apply_mask("nope", "string", "x") is None


def test_match_evidence_goes_out_only_with_every_field_it_comes_from() -> None:
    from fieldgate.matching.matcher import Match
    from fieldgate.policy.verdict import build_hit
    from fieldgate.v2 import common_pb2

    match = Match(
        0.955,
        ("name matches alias 'HERNANDEZ, MIKE'", "surname exact", "date of birth transposed"),
    )
    contact = common_pb2.PointerContact(agency="A", unit="U", phone="P")

    def evidence(raw: dict[str, Any]) -> tuple[float, list[str]]:
        hit = build_hit(
            RECORD, match, decide_fields(raw, RECORD, CATALOG), contact, reference="REF"
        )
        return hit.score, list(hit.match_reasons)

    assert evidence({"disclose": True}) == (0.0, [])  # a pointer: no score, no reasons
    names = ["surname", "given_name", "aliases"]
    assert evidence({"disclose": True, "release": names, "mask": {"dob": "year"}}) == (0.0, [])
    assert evidence({"disclose": True, "release": [*names[:2], "dob"]}) == (0.0, [])  # alias held
    assert evidence({"disclose": True, "release": [*names, "dob"]}) == (
        0.955,
        ["strong match", *match.reasons],
    )


JSON_VALUES = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-(2**52), max_value=2**52),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


def _as_sent(value: Any) -> Any:
    """What a JSON value reads back as from a protobuf Value (numbers are doubles)."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_as_sent(v) for v in value]
    return {k: _as_sent(v) for k, v in value.items()}


@given(JSON_VALUES)
def test_a_field_value_reads_back_from_the_wire_as_it_was_held(value: Any) -> None:
    from google.protobuf import json_format, struct_pb2

    from fieldgate.policy.verdict import fill_value

    out = struct_pb2.Value()
    fill_value(out, value)
    assert json_format.MessageToDict(out) == _as_sent(value)


def test_a_remembered_decision_gives_every_record_the_verdict_a_fresh_one_gives() -> None:
    """A read-only decision (as the decision cache shares it) is checked once and
    remembered; every record it decides gets what a fresh copy would give it, a
    malformed one is refused every time, and a mutable one is checked again."""
    for raw in (
        {"disclose": True, "release": ["surname", "dob"], "mask": {"address": "city"}},
        {"disclose": True, "release": "surname"},  # malformed: not a set
        {"disclose": True, "mask": {"dob": 3}},  # malformed mask
        {"disclose": False, "release": ["surname"]},
    ):
        shared = freeze(raw)
        fresh = decide_fields(raw, RECORD, CATALOG)
        for _ in range(3):
            assert decide_fields(shared, RECORD, CATALOG) == fresh
    mutable: dict[str, Any] = {"disclose": True, "release": ["surname"]}
    assert decide_fields(mutable, RECORD, CATALOG).disclose
    mutable["release"] = "surname"
    assert decide_fields(mutable, RECORD, CATALOG).error
