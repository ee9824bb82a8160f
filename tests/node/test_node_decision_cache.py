"""The node remembers contract decisions per distinct input; nothing about a decision changes.

Real regorus engines throughout: a contract with its cache against the same
contract without one, on the shipped contracts and on contracts written to
expose a cache that would be wrong (a clock, failures, shared mutable results).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.core.claims import RequesterClaims, validate_requester
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES, RECORD_KINDS
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.config import PolicyConfig, load_policy_engine
from fieldgate.policy.decision_cache import (
    DEFAULT_DECISION_CACHE_SIZE,
    DecisionCache,
    deterministic_sources,
    freeze,
)
from fieldgate.policy.engine import RegorusContract
from fieldgate.policy.errors import ContractError
from fieldgate.policy.evaluate import build_policy_input, record_input
from fieldgate.policy.records import Record, validate_record
from fieldgate.v2 import common_pb2
from tests.conftest import write_contract

CATALOG = load_catalog(default_catalog_path())
CLASSES = CATALOG.classes()
REGO = Path(__file__).resolve().parents[2] / "rego"
LIBRARY = REGO / "lib"
SHIPPED = ["sanctuary_county", "permissive", "pointer_only"]
FIELDS = sorted(CLASSES)
TODAY = dt.date(2026, 11, 21)


def contract(name: str, *, cache_size: int = 64) -> RegorusContract:
    return RegorusContract(
        REGO / "contracts" / name / "contract.rego", LIBRARY, CLASSES, cache_size=cache_size
    )


def record(record_id: str, fields: dict[str, Any], kind: str = "booking") -> Record:
    return validate_record({"record_id": record_id, "record_kind": kind, **fields}, CATALOG)


def requester(
    agency_type: str = "local_law_enforcement", purpose: str = "criminal_investigation"
) -> RequesterClaims:
    return validate_requester(
        common_pb2.Requester(
            subject="det-1",
            agency="spd",
            agency_type=agency_type,
            roles=["detective"],
            purpose=purpose,
            case_number="2026-1",
        )
    )


BASE = {
    "surname": "DOE",
    "given_name": "JANE",
    "dob": "1980-01-02",
    "address": {"street": "1 MAIN ST", "city": "KENT", "state": "WA", "postal_code": "98032"},
}


def test_the_contract_input_names_no_record_and_lists_fields_in_order() -> None:
    first = record("KCSO-1", {**BASE, "phone": "206-555-0100"})
    second = record("KCSO-2", {"phone": "206-555-0199", **BASE})
    one, two = record_input(first, "kcso"), record_input(second, "kcso")
    assert "id" not in one
    assert one["fields"] == sorted(first.fields)
    assert one == two  # same kind and fields: the same document, whatever the values and ids


def test_records_of_one_shape_ask_the_engine_once() -> None:
    engine = contract("sanctuary_county")
    try:
        claims = requester()
        records = [record(f"KCSO-{i}", {**BASE, "surname": f"DOE{'X' * i}"}) for i in range(5)]
        decisions = [
            engine.evaluate(build_policy_input(claims, r, node_id="kcso", today=TODAY))
            for r in records
        ]
        assert engine.cache is not None
        assert (engine.cache.misses, engine.cache.hits) == (1, 4)
        assert all(d == decisions[0] for d in decisions)
        other = record("KCSO-9", {**BASE, "phone": "206-555-0100"})
        engine.evaluate(build_policy_input(claims, other, node_id="kcso", today=TODAY))
        assert engine.cache.misses == 2  # another field set is another question
    finally:
        engine.close()


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[str, RegorusContract]]:
    """Every shipped contract twice: with its cache (as the node runs it) and without."""
    made = {f"{n}/cached": contract(n) for n in SHIPPED}
    made |= {f"{n}/plain": contract(n, cache_size=0) for n in SHIPPED}
    yield made
    for engine in made.values():
        engine.close()


SAMPLE_BY_TYPE: dict[str, Any] = {
    "string": "X1",
    "string_list": ["X1"],
    "integer": 170,
    "date": "2020-01-02",
    "address": BASE["address"],
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(SHIPPED),
    agency_type=st.sampled_from(sorted(AGENCY_TYPES)),
    purpose=st.sampled_from(sorted(PURPOSES)),
    kind=st.sampled_from(sorted(RECORD_KINDS)),
    fields=st.lists(st.sampled_from(FIELDS), unique=True, max_size=8),
)
def test_a_remembered_decision_is_the_engines_decision(
    engines: dict[str, RegorusContract],
    name: str,
    agency_type: str,
    purpose: str,
    kind: str,
    fields: list[str],
) -> None:
    cached, plain = engines[f"{name}/cached"], engines[f"{name}/plain"]
    claims = requester(agency_type, purpose)
    held = {f: SAMPLE_BY_TYPE[CATALOG.fields[f].type] for f in fields}
    rec = record("R-1", {**BASE, **held}, kind)
    policy_input = build_policy_input(claims, rec, node_id="kcso", today=TODAY)
    first, again = cached.evaluate(policy_input), cached.evaluate(policy_input)
    assert first == plain.evaluate(policy_input) == again


def test_tools_get_the_engines_own_result_without_a_cache(
    engines: dict[str, RegorusContract],
) -> None:
    engine = engines["permissive/plain"]
    assert engine.cache is None
    claims = requester()
    raw = engine.evaluate(build_policy_input(claims, record("R-1", BASE), node_id="k", today=TODAY))
    assert isinstance(raw, dict)
    assert isinstance(raw["release"], set)


def test_a_remembered_decision_cannot_be_changed_by_whoever_reads_it(
    engines: dict[str, RegorusContract],
) -> None:
    engine = engines["permissive/cached"]
    claims = requester()
    raw = engine.evaluate(build_policy_input(claims, record("R-1", BASE), node_id="k", today=TODAY))
    with pytest.raises(TypeError):
        raw["disclose"] = False  # type: ignore[index]
    assert isinstance(raw["release"], frozenset)  # type: ignore[index]
    frozen = freeze({"a": [{"b": {1, 2}}]})
    assert frozen == {"a": ({"b": frozenset({1, 2})},)}


CLOCK = """package fieldgate.contracts.clock
import rego.v1
decision := {"disclose": true, "release": {"surname"}, "mask": {}} if time.now_ns() > 0
"""

FAILING = """package fieldgate.contracts.failing
import rego.v1
decision := {"disclose": true, "release": {"surname"}, "mask": {}} if {
    to_number(input.requester.subject) > 0
}
"""


def test_a_contract_that_reads_the_clock_is_never_cached(tmp_path: Path) -> None:
    engine = RegorusContract(write_contract(tmp_path, "c.rego", CLOCK), None, CLASSES, cache_size=8)
    try:
        assert engine.cache is None
        assert not deterministic_sources([CLOCK])
        assert deterministic_sources([FAILING])
    finally:
        engine.close()


def test_failures_are_never_remembered(tmp_path: Path) -> None:
    engine = RegorusContract(
        write_contract(tmp_path, "f.rego", FAILING), None, CLASSES, cache_size=8
    )
    try:
        policy_input = build_policy_input(
            requester(), record("R-1", BASE), node_id="k", today=TODAY
        )
        for _ in range(2):
            with pytest.raises(ContractError):
                engine.evaluate(policy_input)
        assert engine.cache is not None
        assert len(engine.cache) == 0
        assert engine.cache.misses == 2
    finally:
        engine.close()


def test_the_cache_forgets_the_least_recently_used_beyond_its_size() -> None:
    cache = DecisionCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == (True, 1)  # a is now the most recent
    cache.put("c", 3)
    assert len(cache) == 2
    assert cache.get("b") == (False, None)
    assert cache.get("a") == (True, 1)
    assert cache.get("c") == (True, 3)
    with pytest.raises(ValueError, match="at least 1"):
        DecisionCache(0)


def test_the_node_runs_its_contract_with_a_cache() -> None:
    engine = load_policy_engine(
        PolicyConfig(), REGO / "contracts" / "sanctuary_county" / "contract.rego", LIBRARY, CLASSES
    )
    try:
        assert isinstance(engine, RegorusContract)
        assert engine.cache is not None
        assert engine.cache.size == DEFAULT_DECISION_CACHE_SIZE
    finally:
        engine.close()
