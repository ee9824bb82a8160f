"""The requesting agency's outbound policy, enforced at every hop, attacked through real gRPC.

King County's issuer binds its outbound policy (``rego/outbound/king_county``:
never a civil immigration agency) into its detective's credential as
``reach``. The federation has an immigration agency that holds records (ICE
ERO Seattle's node). The honest client never sends the detective's search
there and says why; a client that forges its audience is refused by the real
broker (PERMISSION_DENIED, counted) and by the nodes; a compromised broker
that forwards the search to the immigration node gets exactly the not-found
answer (``outside_reach`` in that node's counters and log); a credential
issued before a node joined does not reach it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import jwt
import pytest
from click.testing import CliRunner

from fieldgate.cli.main import cli
from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.audience import AudienceError
from fieldgate.client.broker_client import Requester, SearchClient, SearchError, build_request
from fieldgate.client.stream import SearchFinished
from fieldgate.core.claims import MAX_AUTHORITIES
from fieldgate.core.tls import DevPKI
from fieldgate.devkit.demo import CONTRACT_OF
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.devkit.local_federation import (
    BROKER_NAME,
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.planted import ICE_ERO
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.policy.outbound import outbound_policy_path
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.answers import ANSWERED
from fieldgate.trust.audience import Audience
from fieldgate.trust.config import build_store
from fieldgate.trust.keys import save_private_key
from fieldgate.trust.tokens import Identity
from fieldgate.v2 import broker_pb2, broker_pb2_grpc, common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.sealed import opened, reached, sign_for

CRIMINAL = Requester("", "", "", "criminal_investigation", "KC-2026-0042")
QUERY = common_pb2.PersonQuery(
    surname=DEMO_SUBJECT.surname, given_name=DEMO_SUBJECT.given_name, dob=DEMO_SUBJECT.dob
)
NOBODY = common_pb2.PersonQuery(surname="QUELLWATHERBY", given_name="ZEBEDIAH", dob="1931-02-27")
"""A person no agency holds: the answer a refusal must look like."""
DIRECTORY = {
    "kcso": ("kcso", "local_law_enforcement"),
    "spd": ("spd", "local_law_enforcement"),
    "pcso": ("pcso", "local_law_enforcement"),
    "ice-ero": ("ice-ero-seattle", "civil_immigration"),
}
COUNTY_REACH = ("kcso", "pcso", "spd")
ORDINANCE = "King County ordinance (2018): never a civil immigration agency"


@dataclass
class Federation:
    running: LocalFederation
    kit: DevTrust
    pki: DevPKI

    def requests(self) -> dict[str, int]:
        return {n: r.node.counters.requests for n, r in self.running.nodes.items()}

    def refused(self, node_id: str, reason: str) -> int:
        return self.running.nodes[node_id].gate.refused[reason]

    def client(self) -> SearchClient:
        """A verifying client: the trust bundle's node keys seal its queries, check answers."""
        return SearchClient(
            self.running.broker_address,
            self.pki.files("investigator"),
            answers=AnswerCheck(build_store(self.kit.config())),
        )


@pytest.fixture(scope="module")
def fed(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    workdir = tmp_path_factory.mktemp("outbound")
    kit = DevTrust(workdir / "trust")
    kit.add_issuer("kcso", "local_law_enforcement")
    kit.add_issuer("fbi-seattle", "federal_law_enforcement")
    kit.add_issuer("ice-ero-seattle", "civil_immigration")
    kit.outbound["kcso"] = outbound_policy_path("king_county")
    kit.outbound["fbi-seattle"] = outbound_policy_path("permissive")
    for node_id, (agency, kind) in DIRECTORY.items():
        kit.add_node(node_id, agency=agency, agency_type=kind, jurisdiction="WA")
    kit.write()
    pki = DevPKI.create(workdir / "pki", [BROKER_NAME, *DIRECTORY, "investigator"])
    specs = []
    for agency in (*DEMO_AGENCIES, ICE_ERO):
        path = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=40, seed=15), path)
        contract = shipped_contract(CONTRACT_OF.get(agency.node_id, "permissive"))
        spec = NodeSpec(agency.node_id, agency.name, contract, path)
        import_records(spec, workdir)
        specs.append(spec)
    running = loop.run(start_federation(specs, workdir, trust=kit.config(), pki=pki, ops=True))
    yield Federation(running, kit, pki)
    loop.run(running.stop())


def county_detective(kit: DevTrust) -> Identity:
    return kit.identity("kcso", "det-0815", ["criminal_investigation"], roles=["detective"])


def fbi_agent(kit: DevTrust) -> Identity:
    return kit.identity("fbi-seattle", "sa-2231", ["criminal_investigation"])


def sign(
    fed: Federation,
    identity: Identity,
    audience: tuple[str, ...],
    query: common_pb2.PersonQuery = QUERY,
) -> common_pb2.SignedSearch:
    """A signed search sealed to every node's key (its identity's key kept to open answers)."""
    return sign_for(
        fed.kit,
        identity,
        query=query,
        purpose="criminal_investigation",
        case_number="KC-2026-0042",
        audience=audience,
    )


def node_answer(
    fed: Federation, node_id: str, signed: common_pb2.SignedSearch
) -> node_pb2.NodeServiceSearchResponse:
    """Straight to a node with the broker's certificate: what a compromised broker can do."""
    channel, stub = node_stub(fed.running.nodes[node_id].address, fed.pki.files(BROKER_NAME))
    with channel:
        return stub.Search(  # type: ignore[no-any-return]
            # A new request id per call: a node answers each id once.
            node_pb2.NodeServiceSearchRequest(request_id=f"r-{uuid.uuid4().hex}", signed=signed),
            timeout=10,
        )


def absent_length(fed: Federation, node_id: str) -> int:
    """The size of the node's sealed answer for a person it does not hold, asked by an
    agent whose reach includes it: what every refusal must be indistinguishable from."""
    agent = fbi_agent(fed.kit)
    signed = sign(fed, agent, (node_id,), NOBODY)
    answer = node_answer(fed, node_id, signed)
    verified = opened(fed.kit, answer, signed)
    assert (verified.status, verified.hits) == (ANSWERED, ())
    return len(answer.answer.ciphertext)


def assert_answered_as_absent(
    fed: Federation,
    node_id: str,
    answer: node_pb2.NodeServiceSearchResponse,
    signed: common_pb2.SignedSearch,
) -> None:
    """Opened with the requester's key: answered, no hits, sealed to an absent person's size."""
    assert answer.request_id.startswith("r-")
    assert answer.node_id == node_id
    assert not answer.hits  # nothing in the clear
    verified = opened(fed.kit, answer, signed)
    assert verified.status == ANSWERED
    assert verified.reason == ""
    assert verified.hits == ()
    assert len(answer.answer.ciphertext) == absent_length(fed, node_id)


def test_the_issuer_binds_the_county_policy_into_the_credential(fed: Federation) -> None:
    claims = jwt.decode(county_detective(fed.kit).credential, options={"verify_signature": False})
    # Whichever form is shorter: here every node joined by serial 3, as {"dir": 3, "except": []}.
    assert reached(fed.kit, county_detective(fed.kit)) == list(COUNTY_REACH)
    assert claims["unreached"] == {ORDINANCE: ["ice-ero"]}
    fbi = fbi_agent(fed.kit)
    assert reached(fed.kit, fbi) == sorted(DIRECTORY)
    assert jwt.decode(fbi.credential, options={"verify_signature": False})["unreached"] == {}


def test_the_detectives_search_never_reaches_the_immigration_node(fed: Federation) -> None:
    before = fed.requests()
    with fed.client() as client:
        result = client.search(
            CRIMINAL,
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
            identity=county_detective(fed.kit),
        )
    assert sorted(a.node_id for a in result.agencies) == list(COUNTY_REACH)
    assert [(n.node_id, n.reason) for n in result.not_asked] == [("ice-ero", ORDINANCE)]
    assert result.to_json()["not_asked"] == [{"node_id": "ice-ero", "reason": ORDINANCE}]
    after = fed.requests()
    assert after["ice-ero"] == before["ice-ero"]  # it received nothing at all
    assert all(after[n] == before[n] + 1 for n in COUNTY_REACH)
    # The FBI's permissive policy reaches it: the same broker asks it.
    with fed.client() as client:
        fbi = client.search(
            CRIMINAL,
            surname=DEMO_SUBJECT.surname,
            dob=DEMO_SUBJECT.dob,
            identity=fbi_agent(fed.kit),
        )
    assert "ice-ero" in {a.node_id for a in fbi.agencies}
    assert fbi.not_asked == ()
    assert fed.requests()["ice-ero"] == before["ice-ero"] + 1


def test_a_streamed_search_reports_the_agencies_not_asked(fed: Federation) -> None:
    before = fed.requests()["ice-ero"]
    with fed.client() as client:
        updates = list(
            client.search_stream(
                CRIMINAL,
                surname=DEMO_SUBJECT.surname,
                dob=DEMO_SUBJECT.dob,
                identity=county_detective(fed.kit),
            )
        )
    finished = updates[-1]
    assert isinstance(finished, SearchFinished)
    assert [n.node_id for n in finished.result.not_asked] == ["ice-ero"]
    assert "ice-ero" not in {a.node_id for a in finished.result.agencies}
    assert fed.requests()["ice-ero"] == before


def test_the_client_refuses_to_address_outside_reach(fed: Federation) -> None:
    before = fed.requests()
    with fed.client() as client, pytest.raises(AudienceError, match="ice-ero"):
        client.search(
            CRIMINAL,
            surname=DEMO_SUBJECT.surname,
            dob=DEMO_SUBJECT.dob,
            identity=county_detective(fed.kit),
            audience=["kcso", "ice-ero"],
        )
    assert fed.requests() == before


def test_a_forged_audience_is_refused_by_the_broker_and_by_every_node(fed: Federation) -> None:
    identity = county_detective(fed.kit)
    forged = sign(fed, identity, ("kcso", "spd", "pcso", "ice-ero"))  # bypasses the client's check
    metrics = fed.running.broker.metrics
    assert metrics is not None
    counted = {"reason": "outside_reach"}
    rejected = metrics.registry.get_sample_value("fieldgate_broker_rejected_total", counted) or 0
    before = fed.requests()
    channel = grpc.secure_channel(
        fed.running.broker_address, fed.pki.files("investigator").channel_credentials()
    )
    with channel, pytest.raises(grpc.RpcError) as caught:
        broker_pb2_grpc.BrokerServiceStub(channel).Search(
            broker_pb2.SearchRequest(signed=forged), timeout=10
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "outside_reach" in (caught.value.details() or "")
    assert "ice-ero" in (caught.value.details() or "")
    assert fed.requests() == before  # no node was asked
    after = metrics.registry.get_sample_value("fieldgate_broker_rejected_total", counted)
    assert after == rejected + 1
    # Sent straight to nodes, the forged proof gets nothing — in reach or not.
    for node_id in ("kcso", "ice-ero"):
        refused = fed.refused(node_id, "outside_reach")
        assert_answered_as_absent(fed, node_id, node_answer(fed, node_id, forged), forged)
        assert fed.refused(node_id, "outside_reach") == refused + 1


def test_a_broker_forwarding_to_a_node_outside_reach_gets_the_not_found_answer(
    fed: Federation, caplog: pytest.LogCaptureFixture
) -> None:
    # A genuine search for the county's reach; the compromised broker forwards it
    # to the immigration node as well.
    signed = sign(fed, county_detective(fed.kit), COUNTY_REACH)
    before = fed.refused("ice-ero", "outside_reach")
    with caplog.at_level(logging.WARNING, logger="fieldgate.node"):
        answer = node_answer(fed, "ice-ero", signed)
    assert fed.refused("ice-ero", "outside_reach") == before + 1
    assert any("outside_reach" in r.getMessage() for r in caplog.records)
    assert_answered_as_absent(fed, "ice-ero", answer, signed)
    # Positive control: the same proof is answered where it was addressed.
    assert opened(fed.kit, node_answer(fed, "kcso", signed), signed).hits


def test_a_credential_issued_before_a_node_joined_does_not_reach_it(fed: Federation) -> None:
    kit = fed.kit
    joined_key, facts = kit.nodes.pop("ice-ero"), kit.node_facts.pop("ice-ero")
    kit.write()
    try:
        stale = fbi_agent(kit)  # issued while ice-ero was not in the directory
    finally:
        kit.nodes["ice-ero"], kit.node_facts["ice-ero"] = joined_key, facts
        kit.write()
    assert "ice-ero" not in reached(kit, stale)
    before = fed.requests()
    with fed.client() as client:
        result = client.search(
            CRIMINAL, surname=DEMO_SUBJECT.surname, dob=DEMO_SUBJECT.dob, identity=stale
        )
    [not_asked] = result.not_asked
    assert not_asked.node_id == "ice-ero"
    assert "not in the federation directory when this credential was issued" in not_asked.reason
    assert fed.requests()["ice-ero"] == before["ice-ero"]
    # Forwarded there anyway by a compromised broker: refused (fail closed).
    refused = fed.refused("ice-ero", "outside_reach")
    signed = sign(fed, stale, ("kcso",))
    assert_answered_as_absent(fed, "ice-ero", node_answer(fed, "ice-ero", signed), signed)
    assert fed.refused("ice-ero", "outside_reach") == refused + 1
    # After the next issuance the agency's policy reaches it.
    assert "ice-ero" in reached(kit, fbi_agent(kit))


def test_a_credential_issued_before_a_policy_change_is_stopped_by_revocation(
    fed: Federation,
) -> None:
    kit = fed.kit
    kit.outbound["kcso"] = outbound_policy_path("permissive")
    try:
        stale = county_detective(kit)  # issued under the old, permissive policy
    finally:
        kit.outbound["kcso"] = outbound_policy_path("king_county")
    assert "ice-ero" in reached(kit, stale)
    # The reach is the issuer's signed word until the credential expires (at most
    # 24 hours); an agency that tightens its policy revokes what it issued before.
    jti = str(jwt.decode(stale.credential, options={"verify_signature": False})["jti"])
    kit.revoked_credentials.append(jti)
    kit.write()
    try:
        before = fed.requests()
        with fed.client() as client, pytest.raises(SearchError) as caught:
            client.search(
                CRIMINAL, surname=DEMO_SUBJECT.surname, dob=DEMO_SUBJECT.dob, identity=stale
            )
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert "revoked_credential" in caught.value.details
        assert fed.requests() == before
        signed = sign(fed, stale, ("ice-ero",))
        assert_answered_as_absent(fed, "ice-ero", node_answer(fed, "ice-ero", signed), signed)
        # Reissued under the new policy, the detective's credential leaves it out.
        assert "ice-ero" not in reached(kit, county_detective(kit))
    finally:
        kit.revoked_credentials.remove(jti)
        kit.write()


def test_fieldgate_search_shows_the_agencies_not_asked(fed: Federation, tmp_path: Path) -> None:
    identity = county_detective(fed.kit)
    credential, key = tmp_path / "det.credential", tmp_path / "det.key"
    enc_key = tmp_path / "det-enc.key"
    credential.write_text(identity.credential)
    save_private_key(identity.key, key)
    assert identity.enc_key is not None
    save_private_key(identity.enc_key, enc_key)
    tls, trust = fed.pki.files("investigator"), fed.kit.config()
    assert trust.authority_key is not None
    args = [
        "search", "--broker", fed.running.broker_address, "--surname", DEMO_SUBJECT.surname,
        "--dob", DEMO_SUBJECT.dob, "--purpose", "criminal_investigation", "--case", "KC-1",
        "--credential", str(credential), "--key", str(key), "--enc-key", str(enc_key),
        "--trust-bundle", str(trust.bundle), "--revocations", str(trust.revocations),
        "--authority-key", str(trust.authority_key), "--tls-ca", str(tls.ca),
        "--tls-cert", str(tls.cert), "--tls-key", str(tls.key),
    ]  # fmt: skip
    before = fed.requests()["ice-ero"]
    table = CliRunner().invoke(cli, args, terminal_width=200)
    assert table.exit_code == 0, table.output
    assert "Not asked (your agency's outbound policy)" in table.output
    assert ORDINANCE in table.output
    assert "1 not asked" in table.output
    document = CliRunner().invoke(cli, [*args, "--json"])
    assert document.exit_code == 0, document.output
    parsed = json.loads(document.output)
    assert parsed["not_asked"] == [{"node_id": "ice-ero", "reason": ORDINANCE}]
    assert parsed["summary"]["not_asked"] == 1
    assert fed.requests()["ice-ero"] == before


def test_a_compact_audience_is_answered_where_addressed_and_nowhere_else(fed: Federation) -> None:
    """{"dir", "except"} through the real broker and straight to nodes (a compromised broker)."""
    agent = fbi_agent(fed.kit)  # reaches every node: only the audience decides
    kit = fed.kit
    # Every node joined by pcso's serial, except spd: kcso and pcso (ice-ero joined later).
    compact = Audience(dir=kit.node_since["pcso"], excepted=frozenset({"spd"}))
    assert kit.node_since["ice-ero"] > kit.node_since["pcso"]
    signed = sign_for(
        kit, agent, query=QUERY, purpose="criminal_investigation", case_number="KC-2026-0042",
        audience=compact, directory=kit.serials(),
    )  # fmt: skip
    claims = jwt.decode(signed.proof, options={"verify_signature": False})
    assert claims["aud"] == {"dir": kit.node_since["pcso"], "except": ["spd"]}
    assert sorted(k.node_id for k in signed.keys) == ["kcso", "pcso"]
    before = fed.requests()
    channel = grpc.secure_channel(
        fed.running.broker_address, fed.pki.files("investigator").channel_credentials()
    )
    with channel:
        response = broker_pb2_grpc.BrokerServiceStub(channel).Search(
            broker_pb2.SearchRequest(signed=signed), timeout=10
        )
    assert sorted(r.node_id for r in response.results) == ["kcso", "pcso"]
    after = fed.requests()
    assert {n: after[n] - before[n] for n in after} == {
        "kcso": 1, "pcso": 1, "spd": 0, "ice-ero": 0,
    }  # fmt: skip
    kcso = next(r for r in response.results if r.node_id == "kcso")
    assert opened(kit, node_pb2.NodeServiceSearchResponse(answer=kcso.answer, node_id="kcso"),
                  signed).hits  # fmt: skip
    # Forwarded anyway to the excepted node and to one that joined after dir: absent.
    for node_id in ("spd", "ice-ero"):
        refused = fed.refused(node_id, "not_addressed")
        assert_answered_as_absent(fed, node_id, node_answer(fed, node_id, signed), signed)
        assert fed.refused(node_id, "not_addressed") == refused + 1


def test_the_client_signs_the_shorter_audience_form(fed: Federation) -> None:
    """Four agencies: the list is longer than {"dir": 4, "except": []}; one: the list wins."""
    agent = fbi_agent(fed.kit)
    answers = AnswerCheck(build_store(fed.kit.config()))
    wide = build_request(
        CRIMINAL, surname="DOE", dob="1980-04-12", identity=agent,
        audience=sorted(DIRECTORY), node_keys=answers.node_keys(), directory=answers.directory(),
    )  # fmt: skip
    narrow = build_request(
        CRIMINAL, surname="DOE", dob="1980-04-12", identity=agent,
        audience=["kcso"], node_keys=answers.node_keys(), directory=answers.directory(),
    )  # fmt: skip
    aud = [
        jwt.decode(r.signed.proof, options={"verify_signature": False})["aud"]
        for r in (wide, narrow)
    ]
    assert aud == [{"dir": fed.kit.node_since["ice-ero"], "except": []}, ["kcso"]]


def test_more_warrants_than_the_protocol_allows_are_refused_before_sealing(
    fed: Federation,
) -> None:
    """Every node would refuse the whole search: the client says so first, naming the option."""
    before = fed.requests()
    with fed.client() as client, pytest.raises(SearchError) as caught:
        client.search(
            CRIMINAL, surname=DEMO_SUBJECT.surname, dob=DEMO_SUBJECT.dob,
            identity=county_detective(fed.kit), warrant_tokens=["a.b.c"] * (MAX_AUTHORITIES + 1),
        )  # fmt: skip
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "--warrant-token" in caught.value.details
    assert f"at most {MAX_AUTHORITIES}" in caught.value.details
    assert fed.requests() == before  # nothing was sent
