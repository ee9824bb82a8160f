"""Name frequency and corroboration decide tiers, through real gRPC, with the evidence audited.

The requester is the attacker: an investigator who knows a common name and a
date of birth (or a rare surname and a date) and hopes a namesake's fields
come back. A common name with the right date is weak evidence (someone else
of that name is likely born that day), so it earns a pointer at most; a rare
one is strong. The query's sex and age range only corroborate: disagreeing
lowers the tier, agreeing never makes a match.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.v2 import common_pb2, node_pb2
from tests.conftest import write_contract
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.references import audited_record_ids, audited_search

DETECTIVE = demo_personas(dt.date.today())[0].requester

ALL = """package fieldgate.contracts.all
import rego.v1
decision := {"disclose": true, "release": {f | some f in input.record.fields}, "mask": {}}
"""
COMMON_PEOPLE = 80  # SMITH, JOHN on as many rows: far past the strong limit
RARE_DOB = "1970-05-06"
BORN_1970_AGE = dt.date.today().year - 1970  # give or take a birthday


def record(record_id: str, surname: str, given: str, dob: str, sex: str) -> dict[str, object]:
    return {
        "record_id": record_id,
        "record_kind": "incident_report",
        "surname": surname,
        "given_name": given,
        "dob": dob,
        "sex": sex,
        "address": {"street": "1 Main St", "city": "KENT", "state": "WA"},
    }


ROWS = [
    record("SMITH", "SMITH", "JOHN", "1980-04-12", "M"),
    *(
        record(f"SMITH-{i}", "SMITH", "JOHN", f"{1940 + i % 60}-0{1 + i % 9}-1{i % 10}", "M")
        for i in range(COMMON_PEOPLE)
    ),
    record("QUIXANO", "QUIXANO", "ALONSO", RARE_DOB, "M"),
    # Another QUIXANO born the same day (a twin, or the same man with his
    # given name replaced): a pointer, never fields.
    record("TWIN", "QUIXANO", "SANCHO", RARE_DOB, "M"),
]


@pytest.fixture(scope="module")
def node(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(address, audit log) of a node whose contract releases every field it may."""
    workdir = tmp_path_factory.mktemp("evidence")
    records = workdir / "records.jsonl"
    records.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    spec = NodeSpec("all", "All", write_contract(workdir, "a.rego", ALL), records)
    import_records(spec, workdir)
    federation: LocalFederation = loop.run(start_federation([spec], workdir, audit=True))
    AUDIT_OF[federation.nodes["all"].address] = workdir / "all.audit.sqlite"
    try:
        yield federation.nodes["all"].address, workdir / "all.audit.sqlite"
    finally:
        loop.run(federation.stop())


AUDIT_OF: dict[str, Path] = {}
"""Node address → its audit log: the only way from a hit's opaque reference to its record."""


def ask(address: str, request_id: str, **query: Any) -> dict[str, common_pb2.Hit]:
    channel, stub = node_stub(address)
    with channel:
        answer = stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id=request_id,
                requester=DETECTIVE.to_message(),
                query=common_pb2.PersonQuery(**query),
            ),
            timeout=10,
        )
    if not answer.hits:
        return {}
    ids = audited_record_ids(AUDIT_OF[address], request_id, answer.hits)
    return dict(zip(ids, answer.hits, strict=True))


def audited(audit: Path, request_id: str) -> dict[str, dict[str, Any]]:
    """The search entry's records of ``request_id``, by record id."""
    return {r["record_id"]: r for r in audited_search(audit, request_id)["records"]}


def test_a_common_name_with_the_right_date_is_a_pointer_only(node: tuple[str, Path]) -> None:
    address, audit = node
    hits = ask(address, "common", surname="SMITH", given_name="JOHN", dob="1980-04-12")
    assert list(hits["SMITH"].fields) == []  # a pointer: whom to call, no field
    entry = audited(audit, "common")["SMITH"]
    assert entry["tier"] == "possible"
    assert entry["evidence"] == ["surname:exact", "given:exact", "dob:exact", "name:common"]


def test_a_rare_name_is_strong_and_its_same_day_namesake_a_pointer(
    node: tuple[str, Path],
) -> None:
    address, audit = node
    hits = ask(address, "rare", surname="QUIXANO", given_name="ALONSO", dob=RARE_DOB)
    assert {f.name for f in hits["QUIXANO"].fields} >= {"surname", "dob", "address"}
    assert list(hits["TWIN"].fields) == []
    entries = audited(audit, "rare")
    assert (entries["QUIXANO"]["tier"], entries["QUIXANO"]["evidence"][-1]) == (
        "strong",
        "name:rare",
    )
    assert entries["TWIN"]["tier"] == "possible"
    assert "surname:rare" in entries["TWIN"]["evidence"]


def test_a_sex_that_differs_takes_the_fields_away(node: tuple[str, Path]) -> None:
    address, audit = node
    hits = ask(address, "sex-f", surname="QUIXANO", given_name="ALONSO", dob=RARE_DOB, sex="F")
    assert list(hits["QUIXANO"].fields) == []
    assert "TWIN" not in hits  # a pointer on rare evidence, now contradicted: nothing
    assert "sex:differs" in audited(audit, "sex-f")["QUIXANO"]["evidence"]
    agrees = ask(address, "sex-m", surname="QUIXANO", given_name="ALONSO", dob=RARE_DOB, sex="m")
    assert agrees["QUIXANO"].fields
    assert "sex:agrees" in audited(audit, "sex-m")["QUIXANO"]["evidence"]


def test_an_age_range_corroborates_and_contradicts(node: tuple[str, Path]) -> None:
    address, audit = node
    inside = ask(
        address,
        "age-in",
        surname="QUIXANO",
        given_name="ALONSO",
        dob=RARE_DOB,
        age_min=BORN_1970_AGE - 2,
        age_max=BORN_1970_AGE + 2,
    )
    assert inside["QUIXANO"].fields
    assert "age:in" in audited(audit, "age-in")["QUIXANO"]["evidence"]
    outside = ask(
        address, "age-out", surname="QUIXANO", given_name="ALONSO", dob=RARE_DOB, age_max=30
    )
    assert list(outside["QUIXANO"].fields) == []
    assert "age:out" in audited(audit, "age-out")["QUIXANO"]["evidence"]


def test_years_of_birth_corroborate_and_contradicts(node: tuple[str, Path]) -> None:
    address, audit = node
    one_year = ask(
        address,
        "born-in",
        surname="QUIXANO",
        given_name="ALONSO",
        dob=RARE_DOB,
        birth_year_min=1970,
        birth_year_max=1970,
    )
    assert one_year["QUIXANO"].fields
    assert "born:in" in audited(audit, "born-in")["QUIXANO"]["evidence"]
    later = ask(
        address, "born-out", surname="QUIXANO", given_name="ALONSO", dob=RARE_DOB,
        birth_year_min=1975,
    )  # fmt: skip
    assert list(later["QUIXANO"].fields) == []  # strong lowered to a pointer
    assert "born:out" in audited(audit, "born-out")["QUIXANO"]["evidence"]
    # Years alone, without a date or a given name, never make a match.
    assert ask(address, "born-only", surname="QUIXANO", given_name="PEDRO", birth_year_min=1970,
               birth_year_max=1970) == {}  # fmt: skip


def test_corroboration_alone_never_makes_a_match(node: tuple[str, Path]) -> None:
    address, _ = node
    # The right sex and age but another given name and no date: nothing to find.
    hits = ask(
        address,
        "corroboration-only",
        surname="QUIXANO",
        given_name="PEDRO",
        sex="M",
        age_min=BORN_1970_AGE - 1,
        age_max=BORN_1970_AGE + 1,
    )
    assert hits == {}
    # A name-only query with agreeing corroboration stays a pointer.
    named = ask(address, "name-only", surname="QUIXANO", given_name="ALONSO", sex="M")
    assert list(named["QUIXANO"].fields) == []


def test_bad_corroboration_is_refused_naming_the_field(node: tuple[str, Path]) -> None:
    address, _ = node
    for query, field in (
        ({"sex": "male"}, "query.sex"),
        ({"age_min": 40, "age_max": 30}, "query.age_min"),
        ({"age_max": 400}, "query.age_max"),
        ({"birth_year_min": 1990, "birth_year_max": 1980}, "query.birth_year_min"),
        ({"birth_year_max": 1850}, "query.birth_year_max"),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            ask(address, "bad", surname="QUIXANO", given_name="ALONSO", **query)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in (raised.value.details() or "")
