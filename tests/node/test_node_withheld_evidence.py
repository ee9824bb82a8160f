"""Withheld fields never shape an answer (issue 16, item 8), through real gRPC.

The requester is the attacker: a criminal investigator under the shipped
pointer-only contract, who may learn that the agency holds someone by a name
and whom to call, never their date of birth. Before, pointer hits came back
only when the queried year of birth matched and were ordered by the withheld
dates, so the date took about 60 searches. Here every year of birth from 1940
to 2010 (and hypothesis's dates) must give the very same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldgate.client.broker_client import Requester
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.node.limits import NodeLimitsConfig
from fieldgate.policy.shipped import shipped_contract
from fieldgate.v2 import common_pb2, node_pb2
from tests.conftest import write_contract
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.references import sent_record_ids, with_record_ids

DETECTIVE = demo_personas(dt.date.today())[0].requester

# Names released, the date of birth and identifiers withheld: the hit may
# carry names, never a match that leans on the date.
NAMES_ONLY = """package fieldgate.contracts.names_only
import rego.v1
default decision := {"disclose": false, "release": set(), "mask": {}}
names := {"surname", "given_name", "aliases", "record_kind"}
decision := {"disclose": true, "release": names & {f | some f in input.record.fields}, "mask": {}}
"""


def row(
    record_id: str, surname: str, given: str, dob: str | None, **more: str
) -> dict[str, object]:
    found: dict[str, object] = {
        "record_id": record_id,
        "record_kind": "booking",
        "surname": surname,
        "given_name": given,
        **more,
    }
    if dob is not None:
        found["dob"] = dob
    return found


ROWS = [
    # The held person, booked three times, once with the date typed day-first.
    row("B-1", "HERNANDEZ", "MIGUEL", "1986-03-07", state_id="WA1234567"),
    row("B-2", "HERNANDEZ", "MIGUEL", "1986-03-07"),
    row("B-3", "HERNANDES", "MIGUEL", "1986-07-03"),
    # Namesakes: the father, one with no date on file, one in the same year.
    row("B-4", "HERNANDEZ", "MIGUEL", "1958-03-07"),
    row("B-5", "HERNANDEZ", "MIGUEL", None),
    row("B-6", "HERNANDEZ", "MIGUEL", "1986-11-30"),
    # Found only through the date of birth (no phonetic key shared): names alone
    # do not make it a match, so it must never come back on a pointer answer.
    row("B-7", "FERNANDEZ", "MIGUEL", "1986-03-07"),
    # Someone else entirely.
    row("B-8", "NGUYEN", "LAN", "1986-03-07"),
]


@pytest.fixture(scope="module")
def federation(
    loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalFederation]:
    workdir = tmp_path_factory.mktemp("withheld")
    records = workdir / "records.jsonl"
    records.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    specs = [
        NodeSpec("spd", "Seattle PD", shipped_contract("pointer_only"), records),
        NodeSpec("names", "Names", write_contract(workdir, "n.rego", NAMES_ONLY), records),
        NodeSpec("kcso", "King County", shipped_contract("sanctuary_county"), records),
    ]
    for spec in specs:
        import_records(spec, workdir)
    # Content, not timing, is checked here; one requester asks about one person
    # over and over on purpose, so the node's polling limit is off.
    running = loop.run(
        start_federation(
            specs,
            workdir,
            answer_floor_seconds=0.0,
            node_limits=NodeLimitsConfig(enabled=False),
        )
    )
    yield running
    loop.run(running.stop())


def ask(
    federation: LocalFederation, node: str, requester: Requester, **query: str
) -> list[common_pb2.Hit]:
    """The node's hits, each with its record id read back from the node's own log (the
    hit carries only a per-search reference, cleared here so answers compare)."""
    channel, stub = node_stub(federation.nodes[node].address)
    request_id = f"withheld-{uuid.uuid4().hex}"  # a node answers each id once
    with channel:
        answer = stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id=request_id,
                requester=requester.to_message(),
                query=common_pb2.PersonQuery(max_hits=20, **query),
            ),
            timeout=10,
        )
    ids = sent_record_ids(federation.disclosure_logs[node], request_id, answer.hits)
    return with_record_ids(answer.hits, ids)


def answer_bytes(hits: list[common_pb2.Hit]) -> list[bytes]:
    return [hit.SerializeToString(deterministic=True) for hit in hits]


def miguel(dob: str, **more: str) -> dict[str, str]:
    return {"surname": "HERNANDEZ", "given_name": "MIGUEL", "dob": dob, **more}


@pytest.mark.parametrize("node", ["spd", "names"])
def test_every_year_of_birth_gets_the_same_answer(federation: LocalFederation, node: str) -> None:
    seen = {
        year: answer_bytes(ask(federation, node, DETECTIVE, **miguel(f"{year}-03-07")))
        for year in range(1940, 2011)
    }
    first = seen[1940]
    assert first, "the held person must be answered with pointers"
    changed = [year for year, answer in seen.items() if answer != first]
    assert changed == [], f"the answer changed with the queried year of birth: {changed}"


@pytest.mark.parametrize("node", ["spd", "names"])
def test_pointers_rest_on_names_and_say_nothing_of_the_date(
    federation: LocalFederation, node: str
) -> None:
    hits = ask(federation, node, DETECTIVE, **miguel("1986-03-07"))
    ids = [hit.record_id for hit in hits]
    # The name-alike namesakes too (the date that would rule them out is
    # withheld); never the one found only through the date.
    assert sorted(ids) == ["B-1", "B-2", "B-3", "B-4", "B-5", "B-6"]
    for hit in hits:
        assert (hit.score, list(hit.match_reasons)) == (0.0, []), hit.record_id
        assert not {f.name for f in hit.fields} & {"dob", "state_id"}
    # Ordered by nothing the requester is denied: not by date, not by score.
    assert ids == [h.record_id for h in ask(federation, node, DETECTIVE, **miguel("1958-03-07"))]


@pytest.mark.parametrize("node", ["spd", "names"])
def test_years_of_birth_and_ages_withheld_decide_nothing(
    federation: LocalFederation, node: str
) -> None:
    """A sweep over years of birth (or age ranges) must not read a withheld date.

    ``born:out`` / ``age:out`` lower a tier: weighed against a withheld date,
    the pointers would thin out exactly where the held dates are not.
    """
    name = {"surname": "HERNANDEZ", "given_name": "MIGUEL"}

    def years(low: int, high: int) -> list[bytes]:
        return answer_bytes(
            ask(federation, node, DETECTIVE, **name, birth_year_min=low, birth_year_max=high)  # type: ignore[arg-type]
        )

    first = years(1940, 1940)
    # The name-alike namesakes all come back as pointers, whatever the years.
    assert len(first) == 6, "the held person must be answered with pointers"
    changed = [year for year in range(1941, 2011) if years(year, year) != first]
    assert changed == [], f"the answer changed with the queried year of birth: {changed}"
    assert years(1980, 1990) == first
    this_year = dt.date.today().year
    for age in (20, 40, 68):
        aged = ask(federation, node, DETECTIVE, **name, age_min=age, age_max=age)  # type: ignore[arg-type]
        assert answer_bytes(aged) == first, this_year - age


def test_an_identifier_withheld_decides_nothing(federation: LocalFederation) -> None:
    plain = answer_bytes(ask(federation, "spd", DETECTIVE, **miguel("1986-03-07")))
    for state_id in ("WA1234567", "WA7654321"):
        with_id = ask(
            federation,
            "spd",
            DETECTIVE,
            **miguel("1986-03-07"),
            identifiers=[common_pb2.Identifier(kind="state_id", value=state_id)],  # type: ignore[arg-type]
        )
        assert answer_bytes(with_id) == plain, state_id


def test_a_date_the_requester_may_know_still_decides(federation: LocalFederation) -> None:
    # The sanctuary county releases identity (the date of birth included) to a
    # detective: their date rules namesakes out and earns a strong match.
    right = ask(federation, "kcso", DETECTIVE, **miguel("1986-03-07"))
    strong = [hit for hit in right if hit.fields]
    # (FERNANDEZ on the exact date is a strong match for the matcher: the
    # detective may know its date, and the date is what makes it one.)
    assert {hit.record_id for hit in strong} == {"B-1", "B-2", "B-3", "B-7"}
    assert all(hit.match_reasons[0] == "strong match" for hit in strong)
    wrong = ask(federation, "kcso", DETECTIVE, **miguel("1940-01-01"))
    assert {hit.record_id for hit in wrong} <= {"B-5"}
    assert all(not hit.fields for hit in wrong)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(dob=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2015, 12, 31)))
def test_any_date_of_birth_gets_the_same_pointers(
    federation: LocalFederation, dob: dt.date
) -> None:
    expected = answer_bytes(ask(federation, "spd", DETECTIVE, **miguel("1986-03-07")))
    assert answer_bytes(ask(federation, "spd", DETECTIVE, **miguel(dob.isoformat()))) == expected


def test_an_immigration_officer_still_learns_nothing(federation: LocalFederation) -> None:
    officer = demo_personas(dt.date.today())[1].requester
    officer = dataclasses.replace(officer)
    assert ask(federation, "spd", officer, **miguel("1986-03-07")) == []
