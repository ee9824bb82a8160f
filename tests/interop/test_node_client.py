"""The independent Node.js client (clients/node) against the real federation.

A stranger's implementation of protocol v2 — written from docs/protocol.md in
another language with other libraries (node:crypto, @grpc/grpc-js, @hpke/*) —
runs as a subprocess and performs a real addressed, sealed, signed search
through the real broker (mutual TLS, the development PKI) to real nodes, then
opens and verifies every answer. It must see exactly what the Python client
sees; a broker that tampers with one sealed answer must leave that agency as
"failed verification" in its output; a node outside the audience is never asked;
and the two implementations must agree on every test vector and open each
other's envelopes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from fieldgate.broker.config import NodeEntry
from fieldgate.broker.limits import LimitsConfig
from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import Requester, SearchClient
from fieldgate.core.tls import DevPKI
from fieldgate.devkit.demo import CONTRACT_OF, demo_personas, sign_personas
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import (
    DEMO_AGENCIES,
    DEMO_SUBJECT,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.answers import AnswerSigner, unverified_nonce
from fieldgate.trust.bundle_signing import sign_bundle
from fieldgate.trust.config import build_store
from fieldgate.trust.keys import enc_key_from_jwk, generate_key, save_private_key
from fieldgate.trust.sealed_search import open_query
from fieldgate.trust.tokens import Identity
from fieldgate.v2 import broker_pb2, common_pb2
from tests.helpers.brokers import start_test_broker
from tests.helpers.federation import LoopThread
from tests.helpers.hostile_broker import HostileBroker
from tests.helpers.nodejs import node_client, run_json, run_node

PURPOSE = "criminal_investigation"
CASE = "BPD-2026-018233"
NODE_IDS = [agency.node_id for agency in DEMO_AGENCIES]


@dataclass
class Interop:
    federation: LocalFederation
    kit: DevTrust
    pki: DevPKI
    hostile: HostileBroker
    workdir: Path

    def files(self, name: str, identity: Identity) -> list[str]:
        """Write ``identity``'s files as an investigator keeps them; the client's flags."""
        directory = self.workdir / "investigators" / name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "credential.jwt").write_text(identity.credential, encoding="ascii")
        save_private_key(identity.key, directory / "key.pem")
        assert identity.enc_key is not None
        save_private_key(identity.enc_key, directory / "enc.pem")
        tls = self.pki.files("investigator")
        return [
            "--credential", str(directory / "credential.jwt"),
            "--key", str(directory / "key.pem"),
            "--enc-key", str(directory / "enc.pem"),
            "--ca", str(tls.ca), "--cert", str(tls.cert), "--client-key", str(tls.key),
            "--trust-bundle", str(self.kit.bundle_path),
            "--authority", str(self.kit.authority_path),
        ]  # fmt: skip


@pytest.fixture(scope="module")
def client_dir() -> Path:
    return node_client()


@pytest.fixture(scope="module")
def interop(
    client_dir: Path, loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Interop]:
    workdir = tmp_path_factory.mktemp("node-client")
    kit = DevTrust(workdir / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    specs = []
    for agency in DEMO_AGENCIES:
        path = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=100, seed=21), path)
        contract = shipped_contract(CONTRACT_OF[agency.node_id])
        spec = NodeSpec(agency.node_id, agency.name, contract, path)
        import_records(spec, workdir)
        specs.append(spec)
        kit.add_node(agency.node_id)
    kit.write()
    pki = DevPKI.create(workdir / "pki", ["broker", *NODE_IDS, "investigator"])
    # Limits off: the same person is searched for on purpose, again and again.
    federation = loop.run(
        start_federation(
            specs, workdir, trust=kit.config(), pki=pki, limits=LimitsConfig(enabled=False)
        )
    )
    # The attacker runs the broker, so it holds the broker's certificate.
    hostile = HostileBroker(
        federation.broker_address, pki.files("broker"), serve_tls=pki.files("broker")
    )
    yield Interop(federation, kit, pki, hostile, workdir)
    hostile.stop()
    loop.run(federation.stop())


def _detective(interop: Interop, reach: list[str] | None = None) -> Identity:
    return interop.kit.identity("bellevue-pd", "det-4711", [PURPOSE], reach=reach)


def _node_search(
    interop: Interop, identity: Identity, broker: str, *extra: str
) -> tuple[int, dict[str, Any]]:
    return run_json(
        "search.mjs",
        "--broker", broker,
        *interop.files("det-4711", identity),
        "--surname", DEMO_SUBJECT.surname,
        "--given-name", DEMO_SUBJECT.given_name,
        "--dob", DEMO_SUBJECT.dob,
        "--purpose", PURPOSE,
        "--case-number", CASE,
        *extra,
    )  # fmt: skip


def _agencies(output: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["node_id"]: a for a in output["agencies"]}


def _released(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {f["name"]: (f.get("value"), f.get("mask", "")) for f in fields}


def test_the_node_client_sees_exactly_what_the_python_client_sees(interop: Interop) -> None:
    identity = _detective(interop)
    status, output = _node_search(interop, identity, interop.federation.broker_address)
    check = AnswerCheck(build_store(interop.kit.config()))
    with SearchClient(
        interop.federation.broker_address, interop.pki.files("investigator"), answers=check
    ) as client:
        python = client.search(
            Requester("", "", "", PURPOSE, CASE),
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
            identity=identity,
            audience=NODE_IDS,
        )
    assert status == 0, output
    assert output["schema"] == "fieldgate.node-search/v1"
    assert sorted(output["audience"]) == sorted(NODE_IDS)
    node = _agencies(output)
    assert {a.node_id: a.status for a in python.agencies} == dict.fromkeys(NODE_IDS, "answered")
    assert {n: a["status"] for n, a in node.items()} == dict.fromkeys(NODE_IDS, "answered")
    for agency in python.agencies:
        mine = node[agency.node_id]["hits"]
        assert [h["record_id"] for h in mine] == [h.record_id for h in agency.hits]
        for theirs, ours in zip(agency.hits, mine, strict=True):
            assert ours["record_kind"] == theirs.record_kind
            assert _released(ours.get("fields", [])) == {
                name: (v.value, v.mask or "") for name, v in theirs.fields.items()
            }
    assert output["counts"]["hits"] == sum(len(a.hits) for a in python.agencies) > 0
    assert not check.failed


def test_an_identifier_search_from_the_node_client_finds_what_the_python_client_finds(
    interop: Interop,
) -> None:
    identity = _detective(interop)
    status, output = run_json(
        "search.mjs",
        "--broker", interop.federation.broker_address,
        *interop.files("det-4711", identity),
        "--identifier", f"state_id:{DEMO_SUBJECT.state_id}",
        "--max-hits", "2",
        "--purpose", PURPOSE, "--case-number", CASE,
    )  # fmt: skip
    check = AnswerCheck(build_store(interop.kit.config()))
    with SearchClient(
        interop.federation.broker_address, interop.pki.files("investigator"), answers=check
    ) as client:
        python = client.search(
            Requester("", "", "", PURPOSE, CASE),
            identifiers=[("state_id", DEMO_SUBJECT.state_id)],
            max_hits=2,
            identity=identity,
            audience=NODE_IDS,
        )
    assert status == 0, output
    found = {n: [h["record_id"] for h in a["hits"]] for n, a in _agencies(output).items()}
    assert found == {a.node_id: [h.record_id for h in a.hits] for a in python.agencies}
    assert any(found.values())
    assert all(len(ids) <= 2 for ids in found.values())


def test_a_warrant_sealed_by_the_node_client_is_applied_as_from_the_python_client(
    interop: Interop,
) -> None:
    federal = next(p for p in demo_personas(dt.date.today()) if p.requester.warrants)
    (signed,) = sign_personas([federal], interop.kit)
    token = interop.workdir / "warrant.jws"
    token.write_text(signed.warrant_tokens[0], encoding="ascii")
    requester = federal.requester

    def node(*extra: str) -> dict[str, Any]:
        status, output = run_json(
            "search.mjs",
            "--broker", interop.federation.broker_address,
            *interop.files(requester.subject, signed.identity),
            "--surname", DEMO_SUBJECT.surname,
            "--given-name", DEMO_SUBJECT.given_name,
            "--dob", DEMO_SUBJECT.dob,
            "--purpose", requester.purpose,
            "--case-number", requester.case_number,
            *extra,
        )  # fmt: skip
        assert status == 0, output
        return _agencies(output)

    with_warrant, without = node("--warrant-token", str(token)), node()
    check = AnswerCheck(build_store(interop.kit.config()))
    with SearchClient(
        interop.federation.broker_address, interop.pki.files("investigator"), answers=check
    ) as client:
        python = client.search(
            Requester("", "", "", requester.purpose, requester.case_number),
            surname=DEMO_SUBJECT.surname,
            given_name=DEMO_SUBJECT.given_name,
            dob=DEMO_SUBJECT.dob,
            identity=signed.identity,
            warrant_tokens=signed.warrant_tokens,
            audience=NODE_IDS,
        )

    def released(agencies: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
        return {
            n: {f["name"] for h in a["hits"] for f in h.get("fields", [])}
            for n, a in agencies.items()
        }

    assert released(with_warrant) == {
        a.node_id: {name for h in a.hits for name in h.fields} for a in python.agencies
    }
    # The warrant, sealed inside the query, unlocked fields somewhere — and only widened.
    opened, plain = released(with_warrant), released(without)
    assert all(plain[n] <= opened[n] for n in NODE_IDS)
    assert any(plain[n] < opened[n] for n in NODE_IDS)


def _kcso(response: broker_pb2.SearchResponse) -> broker_pb2.AgencyResult:
    return next(r for r in response.results if r.node_id == "kcso")


def _flipped(response: broker_pb2.SearchResponse, hostile: HostileBroker) -> None:
    answer = _kcso(response).answer
    answer.ciphertext = (
        answer.ciphertext[:100] + bytes([answer.ciphertext[100] ^ 1]) + (answer.ciphertext[101:])
    )


def _swapped(response: broker_pb2.SearchResponse, hostile: HostileBroker) -> None:
    spd = next(r for r in response.results if r.node_id == "spd")
    _kcso(response).answer.CopyFrom(spd.answer)


def _replayed(response: broker_pb2.SearchResponse, hostile: HostileBroker) -> None:
    _kcso(response).answer.CopyFrom(_kcso(hostile.seen[-2]).answer)


def _forged(response: broker_pb2.SearchResponse, hostile: HostileBroker) -> None:
    # "No record", sealed to the requester's own key (the credential it relayed
    # names it) and bound to this very search — signed with a key the broker made up.
    proof = hostile.last_proof
    credential = hostile.last_request.signed.credential
    claims = jwt.decode(credential, options={"verify_signature": False})
    forged = AnswerSigner("kcso", generate_key()).seal(
        recipient=enc_key_from_jwk(claims["enc"]),
        nonce=unverified_nonce(proof),
        proof=proof,
        hits=[],
    )
    _kcso(response).answer.CopyFrom(forged)


def _dropped(response: broker_pb2.SearchResponse, hostile: HostileBroker) -> None:
    # Not a word about kcso: the investigator must not read silence as "no record".
    kept = [r for r in response.results if r.node_id != "kcso"]
    del response.results[:]
    response.results.extend(kept)


def _clear_hits(response: broker_pb2.SearchResponse, hostile: HostileBroker) -> None:
    # A record of the broker's own, in the development-only clear field.
    _kcso(response).hits.add(record_id="KCSO-FORGED-1", record_kind="booking", score=1.0)


Attack = Callable[[broker_pb2.SearchResponse, HostileBroker], None]

ATTACKS: dict[str, tuple[Attack, str]] = {
    "one byte of the sealed answer flipped": (_flipped, "unsealable"),
    "another agency's sealed answer put in": (_swapped, "unsealable"),
    "its sealed answer to an earlier search replayed": (_replayed, "unsealable"),
    "a 'no record' answer forged and sealed by the broker": (_forged, "signature"),
    "the agency's result left out": (_dropped, "missing"),
    "clear hits put beside the sealed answer": (_clear_hits, "malformed"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_tampering_broker_makes_that_agency_fail_verification(
    interop: Interop, attack: str
) -> None:
    tamper, reason = ATTACKS[attack]
    identity = _detective(interop)
    _node_search(interop, identity, interop.hostile.address)  # honest, for the replay

    def lie(response: broker_pb2.SearchResponse) -> broker_pb2.SearchResponse:
        tamper(response, interop.hostile)
        return response

    interop.hostile.tamper = lie
    try:
        status, output = _node_search(interop, identity, interop.hostile.address)
    finally:
        interop.hostile.tamper = lambda response: response
    agencies = _agencies(output)
    assert status == 3, output
    assert agencies["kcso"]["status"] == "failed_verification"
    assert agencies["kcso"]["reason"] == reason
    assert "hits" not in agencies["kcso"]
    assert output["counts"]["failed_verification"] == 1
    assert output["counts"]["failed_by_reason"] == {reason: 1}
    # The agencies it did not touch still answer, verified.
    assert agencies["spd"]["status"] == agencies["pcso"]["status"] == "answered"


def test_a_brokers_error_message_cannot_drive_the_terminal(interop: Interop) -> None:
    def refuse(response: broker_pb2.SearchResponse) -> broker_pb2.SearchResponse:
        raise RuntimeError("\x1b]0;owned\x07\x1b[2J all clear, no records anywhere")

    interop.hostile.tamper = refuse
    try:
        done = run_node(
            "search.mjs", "--broker", interop.hostile.address,
            *interop.files("det-4711", _detective(interop)),
            "--surname", "DOE", "--given-name", "JOHN",
            "--purpose", PURPOSE, "--case-number", CASE,
        )  # fmt: skip
    finally:
        interop.hostile.tamper = lambda response: response
    assert done.returncode == 1
    assert "the broker refused the search" in done.stderr
    assert "\x1b" not in done.stderr
    assert "\x07" not in done.stderr
    assert "\\u001b]0;owned" in done.stderr
    assert done.stdout == ""


def test_the_output_is_ascii_whatever_the_broker_names_an_agency(interop: Interop) -> None:
    name = "King County \u009b2J Sheriff \x1b[0m"

    def rename(response: broker_pb2.SearchResponse) -> broker_pb2.SearchResponse:
        _kcso(response).agency_name = name
        return response

    interop.hostile.tamper = rename
    try:
        done = run_node(
            "search.mjs", "--broker", interop.hostile.address,
            *interop.files("det-4711", _detective(interop)),
            "--surname", "DOE", "--given-name", "JOHN",
            "--purpose", PURPOSE, "--case-number", CASE,
        )  # fmt: skip
    finally:
        interop.hostile.tamper = lambda response: response
    assert done.returncode == 0, done.stderr
    assert done.stdout.isascii()
    assert "\x1b" not in done.stdout
    assert _agencies(json.loads(done.stdout))["kcso"]["agency_name"] == name


def test_a_node_outside_the_audience_is_not_asked(interop: Interop) -> None:
    # The issuer's outbound constraint: this detective's searches reach kcso and spd only.
    identity = _detective(interop, reach=["kcso", "spd"])
    status, output = _node_search(interop, identity, interop.federation.broker_address)
    assert status == 0, output
    assert output["audience"] == ["kcso", "spd"]
    assert output["not_asked"] == [{"node_id": "pcso", "reason": "outside_reach"}]
    assert set(_agencies(output)) == {"kcso", "spd"}
    logs = interop.federation.disclosure_logs
    asked = {
        n for n in NODE_IDS if any(e.request_id == output["request_id"] for e in logs[n].entries)
    }
    assert asked == {"kcso", "spd"}


def test_a_node_the_broker_does_not_route_to_is_not_asked(
    interop: Interop, loop: LoopThread
) -> None:
    nodes = interop.federation.nodes
    broker = loop.run(
        start_test_broker(
            tuple(NodeEntry(n, n, nodes[n].address) for n in ("kcso", "spd")),
            interop.workdir,
            trust=interop.kit.config(),
            tls=interop.pki.files("broker"),
        )
    )
    try:
        status, output = _node_search(interop, _detective(interop), broker.address)
    finally:
        loop.run(broker.stop())
    assert status == 0, output
    assert sorted(output["audience"]) == ["kcso", "spd"]
    assert output["not_asked"] == [{"node_id": "pcso", "reason": "not_routed_by_broker"}]
    assert all(a["status"] == "answered" for a in output["agencies"])


def _closed_address() -> str:
    """A loopback address nothing listens on."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    address = f"127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    return address


def test_an_agency_that_cannot_be_reached_could_not_answer(
    interop: Interop, loop: LoopThread
) -> None:
    nodes = interop.federation.nodes
    entries = [NodeEntry(n, n, nodes[n].address) for n in ("kcso", "spd")]
    broker = loop.run(
        start_test_broker(
            (*entries, NodeEntry("pcso", "pcso", _closed_address())),
            interop.workdir,
            trust=interop.kit.config(),
            tls=interop.pki.files("broker"),
        )
    )
    try:
        status, output = _node_search(interop, _detective(interop), broker.address)
    finally:
        loop.run(broker.stop())
    agencies = _agencies(output)
    assert status == 4, output
    assert agencies["pcso"]["status"] == "could_not_answer"
    assert agencies["pcso"]["reason"] == "unreachable"
    assert "hits" not in agencies["pcso"]
    assert agencies["kcso"]["status"] == agencies["spd"]["status"] == "answered"


def test_an_audience_outside_the_reach_is_refused_before_anything_is_sent(
    interop: Interop,
) -> None:
    identity = _detective(interop, reach=["kcso", "spd"])
    done = run_node(
        "search.mjs",
        "--broker", interop.federation.broker_address,
        *interop.files("det-4711", identity),
        "--surname", "DOE", "--given-name", "JOHN",
        "--purpose", PURPOSE, "--case-number", CASE,
        "--audience", "kcso,pcso",
    )  # fmt: skip
    assert done.returncode == 2
    assert "outside the credential's reach: pcso" in done.stderr
    assert done.stdout == ""


def test_bad_input_is_named_not_a_traceback(client_dir: Path, tmp_path: Path) -> None:
    done = run_node("search.mjs", "--broker", "127.0.0.1:1", "--dob", "07/03/1986")
    assert done.returncode == 2
    assert done.stderr.startswith("error: missing --credential")
    assert "    at " not in done.stderr  # no stack trace
    (tmp_path / "cred").write_text("not a token", encoding="ascii")
    done = run_node(
        "search.mjs",
        "--broker", "127.0.0.1:1", "--credential", str(tmp_path / "cred"),
        "--key", "k", "--enc-key", "e", "--ca", "c", "--cert", "c", "--client-key", "c",
        "--trust-bundle", str(tmp_path / "none.json"), "--authority", str(tmp_path / "a.pem"),
        "--surname", "DOE", "--purpose", PURPOSE, "--case-number", CASE,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--authority" in done.stderr
    assert "no such file" in done.stderr
    assert "    at " not in done.stderr


def test_more_warrants_than_a_node_takes_are_named_not_sent(interop: Interop) -> None:
    token = interop.workdir / "some-warrant.jws"
    token.write_text("x.y.z", encoding="ascii")
    done = run_node(
        "search.mjs", "--broker", interop.hostile.address,
        *interop.files("det-4711", _detective(interop)),
        "--surname", "DOE", "--given-name", "JOHN",
        "--purpose", PURPOSE, "--case-number", CASE,
        *[arg for _ in range(9) for arg in ("--warrant-token", str(token))],
    )  # fmt: skip
    assert done.returncode == 2
    assert "at most 8 warrants" in done.stderr


def test_a_query_too_large_to_seal_is_named_not_sent(interop: Interop) -> None:
    searches_before = len(interop.hostile.seen)
    done = run_node(
        "search.mjs", "--broker", interop.hostile.address,
        *interop.files("det-4711", _detective(interop)),
        "--surname", "DOE", "--given-name", "J" * 70_000,
        "--purpose", PURPOSE, "--case-number", CASE,
    )  # fmt: skip
    assert done.returncode == 2
    assert "too large to seal" in done.stderr
    assert "    at " not in done.stderr
    assert len(interop.hostile.seen) == searches_before


def test_a_bundle_not_signed_by_the_pinned_authority_stops_the_search_before_it_is_sent(
    interop: Interop,
) -> None:
    bundle = json.loads(interop.kit.bundle_path.read_text(encoding="utf-8"))
    document = jwt.decode(bundle["signed"], options={"verify_signature": False})
    forged = interop.workdir / "forged-trust.json"
    forged.write_text(json.dumps(sign_bundle(document, generate_key())), encoding="utf-8")
    unsigned = interop.workdir / "unsigned-trust.json"
    unsigned.write_text(json.dumps(document), encoding="utf-8")
    flags = interop.files("det-4711", _detective(interop))
    at = flags.index("--trust-bundle") + 1
    searches_before = len(interop.hostile.seen)
    for path, why in ((forged, "not signed by the pinned"), (unsigned, "not signed, and")):
        flags[at] = str(path)
        done = run_node(
            "search.mjs", "--broker", interop.hostile.address, *flags,
            "--surname", "DOE", "--given-name", "JOHN",
            "--purpose", PURPOSE, "--case-number", CASE,
        )  # fmt: skip
        assert done.returncode == 2
        assert why in done.stderr
    # Nothing reached even the (hostile) broker.
    assert len(interop.hostile.seen) == searches_before


def test_an_unreachable_broker_ends_the_search_with_status_1(interop: Interop) -> None:
    done = run_node(
        "search.mjs", "--broker", _closed_address(),
        *interop.files("det-4711", _detective(interop)),
        "--surname", "DOE", "--given-name", "JOHN", "--purpose", PURPOSE, "--case-number", CASE,
        "--deadline", "2",
    )  # fmt: skip
    assert done.returncode == 1
    assert "UNAVAILABLE" in done.stderr
    assert done.stdout == ""


def test_the_node_implementation_verifies_every_test_vector(client_dir: Path) -> None:
    """clients/node/test: every vector byte for byte, and every verification failure."""
    done = run_node("--test", "test/", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    counts = dict(re.findall(r"^# (tests|pass|fail|skipped|todo) (\d+)$", done.stdout, re.M))
    # Every check ran and passed: none skipped, none left to do.
    assert int(counts["tests"]) >= 13
    assert counts["pass"] == counts["tests"]
    assert counts["skipped"] == counts["todo"] == "0"


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_node_sealed_queries_open_in_python(interop: Interop) -> None:
    identity = _detective(interop)
    warrant = interop.kit.warrant(
        "W-1", "HERNÁNDEZ", "MIGUEL", "1986-03-07", ["address"],
        dt.date.today() + dt.timedelta(days=30),
        applicant_agency="bellevue-pd", case_number=CASE,
    )  # fmt: skip
    query = {
        "surname": "HERNÁNDEZ",  # non-ASCII: the plaintext is UTF-8, hashed as sealed
        "given_name": "MIGUEL",
        "dob": "1986-03-07",
        "identifiers": [["state_id", "WA21857340"]],
        "max_hits": 3,
    }
    request = {
        "credential": identity.credential,
        "key_pem": identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii"),
        "nodes": {
            n: base64.urlsafe_b64encode(k.public_key().public_bytes_raw()).rstrip(b"=").decode()
            for n, k in interop.kit.node_enc.items()
        },
        "audience": ["kcso", "pcso"],
        "query": query,
        "purpose": PURPOSE,
        "case_number": CASE,
        "warrants": [warrant],
    }
    status, printed = run_json("tools/seal-search.mjs", stdin=json.dumps(request))
    assert status == 0
    signed = common_pb2.SignedSearch(
        credential=printed["credential"],
        proof=printed["proof"],
        sealed=[
            common_pb2.SealedQuery(
                node_id=s["node_id"], enc=_b64(s["enc"]), ciphertext=_b64(s["ciphertext"])
            )
            for s in printed["sealed"]
        ],
    )
    claims = jwt.decode(
        signed.proof, identity.key.public_key(), algorithms=["EdDSA"], audience=["kcso", "pcso"]
    )
    assert claims["aud"] == ["kcso", "pcso"]
    assert claims["v"] == 2
    assert "query" not in claims
    assert "HERN" not in json.dumps(claims)
    assert [s.node_id for s in signed.sealed] == ["kcso", "pcso"]
    for sealed in signed.sealed:
        opened = open_query(
            signed,
            node_id=sealed.node_id,
            enc_key=interop.kit.node_enc[sealed.node_id],
            nonce=claims["nonce"],
            sealed_claim=claims["sealed"],
        )
        assert opened.query.surname == "HERNÁNDEZ"
        assert [(i.kind, i.value) for i in opened.query.identifiers] == [("state_id", "WA21857340")]
        assert opened.query.max_hits == 3
        assert opened.warrants == (warrant,)
        assert len(sealed.ciphertext) == 4096 + 16
