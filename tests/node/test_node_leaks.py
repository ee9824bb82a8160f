"""Side channels a requester could read a withheld record or field from, each closed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from fieldgate.client.broker_client import Requester
from fieldgate.devkit.demo import demo_personas
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import DEMO_SUBJECT
from fieldgate.v2 import broker_pb2, common_pb2, node_pb2
from tests.conftest import DemoFederation, write_contract
from tests.helpers.federation import LoopThread, broker_stub, node_stub

DETECTIVE = demo_personas(dt.date.today())[0].requester
OFFICER = demo_personas(dt.date.today())[1].requester

SURNAME_ONLY = """package fieldgate.contracts.surname_only
import rego.v1
decision := {"disclose": true, "release": {"surname"}, "mask": {}}
"""
ALL = """package fieldgate.contracts.all
import rego.v1
decision := {"disclose": true, "release": {f | some f in input.record.fields}, "mask": {}}
"""


def record(record_id: str, given: str, **extra: object) -> dict[str, object]:
    return {
        "record_id": record_id,
        "record_kind": "incident_report",
        "surname": "DOE",
        "given_name": given,
        "dob": "1980-04-12",
        "contact_unit": "Det. Smith (undercover unit)",
        "contact_phone": "206-555-9999",
        **extra,
    }


@pytest.fixture(scope="module")
def leaky(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFederation]:
    workdir = tmp_path_factory.mktemp("leaks")
    records = workdir / "records.jsonl"
    rows = [record(f"S-{i}", "JOHN", sealed=True) for i in range(6)] + [record("V-1", "JON")]
    records.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    narrow = write_contract(workdir, "s.rego", SURNAME_ONLY)
    specs = [
        NodeSpec("surname_only", "Surname Only", narrow, records),
        NodeSpec("all", "All", write_contract(workdir, "a.rego", ALL), records),
    ]
    for spec in specs:
        import_records(spec, workdir)
    federation = loop.run(start_federation(specs, workdir))
    yield federation
    loop.run(federation.stop())


def ask(address: str, requester: Requester, max_hits: int) -> node_pb2.NodeServiceSearchResponse:
    channel, stub = node_stub(address)
    with channel:
        return stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id="r",
                requester=requester.to_message(),
                query=common_pb2.PersonQuery(
                    surname="DOE", given_name="JOHN", dob="1980-04-12", max_hits=max_hits
                ),
            ),
            timeout=10,
        )


def test_withheld_records_do_not_crowd_out_released_ones(leaky: LocalFederation) -> None:
    """Six sealed, better-matching records must not hide the one visible record."""
    for max_hits in (1, 2):
        answer = ask(leaky.nodes["all"].address, DETECTIVE, max_hits)
        assert [h.record_id for h in answer.hits] == ["V-1"]


def test_the_record_contact_goes_out_only_when_released(leaky: LocalFederation) -> None:
    narrow = ask(leaky.nodes["surname_only"].address, DETECTIVE, 5).hits[0]
    assert (narrow.contact.unit, narrow.contact.phone) == ("Records Unit", "555-0100")
    wide = ask(leaky.nodes["all"].address, DETECTIVE, 5).hits[0]
    assert wide.contact.unit == "Det. Smith (undercover unit)"


def test_match_evidence_only_with_the_fields_it_comes_from(leaky: LocalFederation) -> None:
    narrow = ask(leaky.nodes["surname_only"].address, DETECTIVE, 5).hits[0]
    assert (narrow.score, list(narrow.match_reasons)) == (0.0, [])
    wide = ask(leaky.nodes["all"].address, DETECTIVE, 5).hits[0]
    assert wide.score > 0.8
    assert wide.match_reasons


def test_denied_and_absent_are_identical_at_the_broker(demo: DemoFederation) -> None:
    """The requester's view of a denial, through the broker, is the view of absence."""
    from fieldgate.client.broker_client import build_request

    def kcso_result(surname: str, given: str, dob: str) -> bytes:
        request = build_request(OFFICER, surname=surname, given_name=given, dob=dob)
        channel, stub = broker_stub(demo.broker_address)
        with channel:
            response: broker_pb2.SearchResponse = stub.Search(request, timeout=10)
        kcso = next(r for r in response.results if r.node_id == "kcso")
        return kcso.SerializeToString(deterministic=True)

    denied = kcso_result(DEMO_SUBJECT.surname, DEMO_SUBJECT.given_name, DEMO_SUBJECT.dob)
    absent = kcso_result("QUIZZLEWICK", "ZEBEDIAH", "1950-01-01")
    assert denied == absent


class BrokenDisk:
    """A disclosure log whose disk fails with an OS error (not a DisclosureLogError)."""

    def write(self, entry: object) -> None:
        raise OSError(28, "No space left on device", "/var/log/fieldgate/secret-path")


def test_internal_failures_tell_the_requester_nothing_internal(
    loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp("broken-disk")
    records = workdir / "records.jsonl"
    records.write_text(json.dumps(record("V-1", "JON")) + "\n")
    spec = NodeSpec("n", "N", write_contract(workdir, "a.rego", ALL), records)
    import_records(spec, workdir)
    federation = loop.run(start_federation([spec], workdir, disclosure_log=lambda _: BrokenDisk()))
    try:
        with pytest.raises(grpc.RpcError) as caught:
            ask(federation.nodes["n"].address, DETECTIVE, 5)
        assert caught.value.code() == grpc.StatusCode.INTERNAL
        assert "secret-path" not in (caught.value.details() or "")
        assert "Errno" not in (caught.value.details() or "")
    finally:
        loop.run(federation.stop())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject_given_name": "١٢٣ 🙂"}, "subject_given_name"),
        ({"expires": "2030-01-01garbage"}, "expires"),
        ({"record_kinds": ["bookings"]}, "record_kinds"),
    ],
)
def test_warrant_claims_that_would_widen_are_refused(
    demo: DemoFederation, change: dict[str, object], field: str
) -> None:
    requester = DETECTIVE.to_message()
    warrant = common_pb2.LegalAuthority(
        kind="criminal_judicial_warrant", id="W", court="C", subject_surname="DOE",
        subject_given_name="JOHN", subject_dob="1980-04-12", covers=["location"],
        expires="2030-01-01",
    )  # fmt: skip
    for key, value in change.items():
        if isinstance(value, list):
            getattr(warrant, key).extend(value)
        else:
            setattr(warrant, key, value)
    requester.authority.append(warrant)
    channel, stub = node_stub(demo.node_address("kcso"))
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Search(
            node_pb2.NodeServiceSearchRequest(
                requester=requester,
                query=common_pb2.PersonQuery(surname="DOE", dob="1980-04-12"),
            ),
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (caught.value.details() or "")


def test_week_dates_are_not_birth_dates(demo: DemoFederation) -> None:
    channel, stub = node_stub(demo.node_address("kcso"))
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Search(
            node_pb2.NodeServiceSearchRequest(
                requester=DETECTIVE.to_message(),
                query=common_pb2.PersonQuery(surname="DOE", dob="2020-W01-1"),
            ),
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_taken_port_is_a_message_not_a_traceback(demo: DemoFederation, tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "node.toml"
    config.write_text(
        "\n".join([
            "[node]", 'id = "x"', 'agency_name = "X"', "insecure = true",
            f'listen = "{demo.node_address("kcso")}"', f'database = "{tmp_path / "x.sqlite"}"',
            "[node.contact]", 'unit = "U"', 'phone = "P"',
        ])
    )  # fmt: skip
    fieldgate = str(Path(sys.executable).parent / "fieldgate")
    done = subprocess.run(
        [fieldgate, "node", "serve", "--config", str(config)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "cannot listen on" in done.stderr
    assert "Traceback" not in done.stderr


SLOW = """package fieldgate.contracts.slow
import rego.v1
# Tenths of a second or more per record in regorus, whatever the machine.
decision := {"disclose": true, "release": {"surname"}} if {
    count([x | some x in numbers.range(1, 3000000)]) > 0
}
"""


def test_a_contract_too_slow_to_decide_releases_nothing(tmp_path: Path) -> None:
    """An evaluation past its time limit is a failure to decide: nothing is released."""
    from fieldgate.policy.catalog import default_catalog_path, load_catalog
    from fieldgate.policy.engine import RegorusContract
    from fieldgate.policy.errors import ContractError

    contract = RegorusContract(
        write_contract(tmp_path, "slow.rego", SLOW),
        None,
        load_catalog(default_catalog_path()).classes(),
        timeout=0.01,
    )
    try:
        with pytest.raises(ContractError, match="took longer than"):
            contract.evaluate({"record": {"fields": ["surname"]}})
    finally:
        contract.close()
