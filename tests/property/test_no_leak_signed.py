"""No field leaves a node unless its contract releases it, to requesters who sign their searches.

The nodes of ``test_no_leak.py`` (every shipped contract and contracts that
fail in every way, the same generated records) run here with a trust bundle:
they take the requester's claims only from a credential they verify
themselves. Hypothesis draws an investigator of every agency type (each with
its own issuer), a purpose, the purposes their credential allows, court-signed
warrants (for the person sought or someone else, any mix of fields, classes
and record kinds), and — half the time — one way the signed search is not
valid: an expired or not-yet-valid credential, an issuer the nodes do not
trust or that may not vouch for that agency type, a purpose outside the
credential, a proof tampered with or over a different query, a stale or
replayed proof, a revoked credential, issuer or agency type, a forged,
expired or unknown court's warrant, or a warrant dropped on the way.

The oracle (``tests/helpers/oracle.py``): a valid search gets exactly what the
contract releases for the credential's claims; an invalid one gets, from
every node, the very bytes a node sends for a person it does not hold, writes
no disclosure entry, and is counted under the reason expected.
``FIELDGATE_PROPERTY_EXAMPLES`` sets the number of cases (default 150).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fieldgate.client.broker_client import Requester, Warrant
from fieldgate.core.vocabulary import AGENCY_TYPES, PURPOSES, RECORD_KINDS
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.devkit.local_federation import LocalFederation, start_federation
from fieldgate.node.readiness import not_answering_reason
from fieldgate.trust.keys import generate_enc_key, generate_key
from fieldgate.trust.reach import Reach
from fieldgate.trust.tokens import (
    CredentialRequest,
    Identity,
    WarrantRequest,
    issue_credential,
    issue_warrant,
)
from fieldgate.v2 import common_pb2, node_pb2
from tests.helpers.federation import LoopThread, node_stub
from tests.helpers.no_leak import (
    CATALOG,
    CLASSES,
    CONTRACTS,
    EXAMPLES,
    RECORDS,
    TIMEOUT,
    check_answer,
    contract_specs,
    person_query,
)
from tests.helpers.sealed import hits, sign_for

AGENCY_OF = {
    "local_law_enforcement": "bellevue-pd",
    "state_law_enforcement": "wa-state-patrol",
    "federal_law_enforcement": "fbi-seattle",
    "civil_immigration": "ice-ero-seattle",
    "corrections": "wa-doc",
    "prosecution": "kc-prosecutor",
}
assert set(AGENCY_OF) == set(AGENCY_TYPES)
SUBJECT = "inv-0001"
CASE = "C-2026-1"
NOBODY = common_pb2.PersonQuery(surname="QUIZZLEWICK", given_name="ZEBEDIAH", dob="1950-01-01")

FAULTS = {
    "expired credential": "credential_expired",
    "not-yet-valid credential": "credential_not_yet_valid",
    "issuer key not trusted": "credential_signature",
    "issuer unknown": "unknown_issuer",
    "issuer vouches for another agency type": "issuer_mismatch",
    "proof signed by another key": "proof_signature",
    "purpose outside the credential": "purpose_not_allowed",
    "proof tampered (commitment changed)": "proof_signature",
    "plain query beside the signed one": "clear_fields",
    "stale proof": "stale_timestamp",
    "replayed proof": "replayed_nonce",
    "revoked credential": "revoked_credential",
    "revoked issuer": "revoked_issuer",
    "revoked agency type": "revoked_agency_type",
    "forged warrant": "warrant_signature",
    "warrant of an unknown court": "unknown_court",
    "expired warrant": "warrant_expired",
    "warrant dropped (envelopes replaced)": "unsealable",
    "warrant granted to another agency": "warrant_holder",
    "warrant granted for another case": "warrant_holder",
    "addressed to other nodes": "not_addressed",
    "node outside the credential's reach": "outside_reach",
}
"""Each way a signed search can be invalid → the reason every node must count it under."""
PER_FAULT = max(4, EXAMPLES // 25)
"""Cases per way of being invalid (each is its own test)."""


@dataclass
class Signed:
    """The trusted nodes, the kit that made their trust files, and what absent looks like."""

    federation: LocalFederation
    kit: DevTrust
    rogue: DevTrust
    absent: dict[str, tuple[object, ...]]
    """Node id → the shape of its answer (request id ``p``) for a person it does not hold:
    sealed answers are randomised, so their sizes and what they open to are compared."""


@pytest.fixture(scope="module")
def signed(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    workdir = tmp_path_factory.mktemp("property-signed")
    kit = DevTrust(workdir / "trust")
    rogue = DevTrust(workdir / "rogue")  # same agency names, keys no node trusts
    for agency_type, agency in AGENCY_OF.items():
        kit.add_issuer(agency, agency_type)
        rogue.add_issuer(agency, agency_type)
    rogue.add_issuer("sheriff-of-nowhere", "local_law_enforcement")
    for node_id in CONTRACTS:  # contract_specs names each node after its contract
        kit.add_node(node_id)
    kit.write()
    # Content, not timing, is checked here (tests/timing holds the answer floor).
    federation = loop.run(
        start_federation(
            contract_specs(workdir), workdir, trust=kit.config(), answer_floor_seconds=0.0
        )
    )
    detective = kit.identity(AGENCY_OF["local_law_enforcement"], SUBJECT, sorted(PURPOSES))
    absent = {}
    for node_id, running in federation.nodes.items():
        search = sign_for(
            kit,
            detective,
            query=NOBODY,
            purpose="criminal_investigation",
            case_number=CASE,
            audience=list(federation.nodes),
        )
        answer = _ask(kit, running.address, search)
        assert list(answer.hits) == []
        assert answer.node_id == node_id
        absent[node_id] = _shape(answer)
    assert not any(running.gate.refused for running in federation.nodes.values())
    yield Signed(federation, kit, rogue, absent)
    loop.run(federation.stop())


def _shape(answer: node_pb2.NodeServiceSearchResponse) -> tuple[object, ...]:
    """What a sealed answer shows anyone but its requester, and what it opened to."""
    return (
        len(answer.request_id),  # each search has its own id, all of one length
        answer.node_id,
        len(answer.answer.enc),
        len(answer.answer.ciphertext),
        len(answer.SerializeToString()),
        len(answer.hits),
    )


def _ask(
    kit: DevTrust,
    address: str,
    search: common_pb2.SignedSearch,
    query: common_pb2.PersonQuery | None = None,
) -> node_pb2.NodeServiceSearchResponse:
    """The node's answer, its sealed hits opened (as the requester would) into ``hits``."""
    channel, stub = node_stub(address)
    with channel:
        answer: node_pb2.NodeServiceSearchResponse = stub.Search(
            # A new id per search (a node answers each once), all of one length.
            node_pb2.NodeServiceSearchRequest(
                request_id=f"p-{uuid.uuid4().hex}", signed=search, query=query
            ),
            timeout=20,
        )
    assert not answer.hits  # a trusting node never answers in the clear
    # Every answer opens and verifies, refusals included (sealed to the key claimed).
    answer.hits.extend(hits(kit, answer, search))
    return answer


@dataclass(frozen=True)
class WarrantCase:
    person: dict[str, Any]
    with_given_name: bool
    covers: tuple[str, ...]
    record_kinds: tuple[str, ...]
    days: int
    """Days from today (UTC) to expiry."""


@dataclass(frozen=True)
class Case:
    target: dict[str, Any]
    agency_type: str
    purpose: str
    allowed: tuple[str, ...]
    """Purposes the credential names."""
    warrants: tuple[WarrantCase, ...]
    fault: str | None
    other_type: str
    """Another agency type (the one an issuer may not vouch for)."""
    other: dict[str, Any]
    """Another generated person (a bad warrant's subject, a tampered query's)."""


@st.composite
def warrant_cases(draw: st.DrawFn, target: dict[str, Any]) -> WarrantCase:
    person = draw(st.sampled_from([target, draw(st.sampled_from(RECORDS))]))
    names = sorted(CATALOG.fields) + sorted(set(CLASSES.values()))
    return WarrantCase(
        person=person,
        with_given_name=draw(st.booleans()),
        covers=tuple(draw(st.lists(st.sampled_from(names), max_size=6, unique=True))),
        record_kinds=tuple(
            draw(st.lists(st.sampled_from(sorted(RECORD_KINDS)), max_size=2, unique=True))
        ),
        days=draw(st.integers(1, 30)),
    )


@st.composite
def cases(draw: st.DrawFn, fault: str | None) -> Case:
    target = draw(st.sampled_from(RECORDS))
    agency_type = draw(st.sampled_from(sorted(AGENCY_TYPES)))
    purpose = draw(st.sampled_from(sorted(PURPOSES)))
    others = sorted(PURPOSES - {purpose})
    allowed = draw(st.lists(st.sampled_from(others), max_size=len(others), unique=True))
    if fault == "purpose outside the credential":
        allowed = allowed or [others[0]]
    else:
        allowed = [*allowed, purpose]
    return Case(
        target=target,
        agency_type=agency_type,
        purpose=purpose,
        allowed=tuple(draw(st.permutations(allowed))),
        warrants=tuple(draw(st.lists(warrant_cases(target), max_size=2))),
        fault=fault,
        other_type=draw(st.sampled_from(sorted(AGENCY_TYPES - {agency_type}))),
        other=draw(st.sampled_from(RECORDS)),
    )


def _warrant_token(
    kit: DevTrust,
    number: int,
    w: WarrantCase,
    today: dt.date,
    agency: str,
    *,
    forged: bool = False,
) -> str:
    return kit.warrant(
        f"W-{number}",
        w.person["surname"],
        w.person["given_name"] if w.with_given_name else "",
        w.person["dob"],
        w.covers,
        today + dt.timedelta(days=w.days),
        applicant_agency=agency,
        case_number=CASE,
        record_kinds=w.record_kinds,
        court_key=generate_key() if forged else None,
    )


def _as_oracle_sees_it(kit: DevTrust, case: Case, today: dt.date) -> Requester:
    """The claims a valid search proves, in the oracle's terms."""
    return Requester(
        subject=SUBJECT,
        agency=AGENCY_OF[case.agency_type],
        agency_type=case.agency_type,
        purpose=case.purpose,
        case_number=CASE,
        warrants=tuple(
            Warrant(
                id=f"W-{n}",
                court=kit.court_name,
                subject_surname=w.person["surname"],
                subject_given_name=w.person["given_name"] if w.with_given_name else "",
                subject_dob=w.person["dob"],
                covers=w.covers,
                expires=(today + dt.timedelta(days=w.days)).isoformat(),
                record_kinds=w.record_kinds,
            )
            for n, w in enumerate(case.warrants)
        ),
    )


def _identity(signed: Signed, case: Case, now: dt.datetime) -> Identity:
    agency = AGENCY_OF[case.agency_type]
    kit, fault = signed.kit, case.fault
    if fault == "expired credential":
        return kit.identity(agency, SUBJECT, case.allowed, hours=1, now=now - dt.timedelta(hours=3))
    if fault == "not-yet-valid credential":
        return kit.identity(agency, SUBJECT, case.allowed, hours=1, now=now + dt.timedelta(hours=2))
    if fault == "issuer key not trusted":
        return signed.rogue.identity(agency, SUBJECT, case.allowed)
    if fault == "issuer unknown":
        return signed.rogue.identity("sheriff-of-nowhere", SUBJECT, case.allowed)
    if fault == "issuer vouches for another agency type":
        holder = generate_key()
        enc = generate_enc_key()
        request = CredentialRequest(
            agency, SUBJECT, agency, case.other_type, (), case.allowed, holder.public_key(),
            holder_enc_key=enc.public_key(),
        )  # fmt: skip
        return Identity(issue_credential(request, kit.issuers[agency][1]), holder, enc)
    if fault == "node outside the credential's reach":
        # The requester's agency's outbound policy reached none of these nodes.
        holder = generate_key()
        enc = generate_enc_key()
        request = CredentialRequest(
            agency, SUBJECT, agency, case.agency_type, (), case.allowed, holder.public_key(),
            holder_enc_key=enc.public_key(),
            reach=Reach.of({"elsewhere-pd"}, {"kcso": "not for this agency"}),
        )  # fmt: skip
        return Identity(issue_credential(request, kit.issuers[agency][1]), holder, enc)
    honest = kit.identity(agency, SUBJECT, case.allowed)
    if fault == "proof signed by another key":
        return Identity(honest.credential, generate_key(), honest.enc_key)
    return honest


def _tamper_commitment(token: str, other: common_pb2.SignedSearch) -> str:
    """The proof, its commitment swapped for another search's (whose envelopes ride along)."""
    header, payload, signature = token.split(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    _, other_payload, _ = other.proof.split(".")
    theirs = json.loads(base64.urlsafe_b64decode(other_payload + "=" * (-len(other_payload) % 4)))
    document["sealed"] = theirs["sealed"]
    encoded = base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()
    return ".".join((header, encoded, signature))


def _signed_search(
    signed: Signed, case: Case, identity: Identity, now: dt.datetime
) -> tuple[common_pb2.SignedSearch, common_pb2.PersonQuery | None]:
    """The signed search as it reaches the nodes, and a plain query sent beside it, if any."""
    today = now.date()
    kit, fault = signed.kit, case.fault
    holder = AGENCY_OF[case.agency_type]
    tokens = [_warrant_token(kit, n, w, today, holder) for n, w in enumerate(case.warrants)]
    bad = WarrantCase(case.other, True, ("identity",), (), 10)
    if fault == "forged warrant":
        tokens.append(_warrant_token(kit, 9, bad, today, holder, forged=True))
    elif fault == "warrant of an unknown court":
        request = WarrantRequest(
            "nowhere-court", "W-9", "X", "", "1970-01-01", ("identity",), today, holder, CASE
        )
        tokens.append(issue_warrant(request, generate_key()))
    elif fault == "warrant granted to another agency":
        tokens.append(_warrant_token(kit, 9, bad, today, AGENCY_OF[case.other_type]))
    elif fault == "warrant granted for another case":
        tokens.append(
            kit.warrant("W-9", case.other["surname"], "", case.other["dob"], ("identity",),
                        today + dt.timedelta(days=5), applicant_agency=holder,
                        case_number="C-2026-OTHER")
        )  # fmt: skip
    elif fault in ("expired warrant", "warrant dropped (envelopes replaced)"):
        days = -1 if fault == "expired warrant" else 5
        tokens.append(_warrant_token(kit, 9, replace(bad, days=days), today, holder))
    elsewhere = {"elsewhere": generate_enc_key().public_key()}
    search = sign_for(
        kit,
        identity,
        query=person_query(case.target),
        purpose=case.purpose,
        case_number=CASE,
        audience=["elsewhere"]
        if fault == "addressed to other nodes"
        else list(signed.federation.nodes),
        warrants=tokens,
        now=now - dt.timedelta(minutes=10) if fault == "stale proof" else now,
        extra_node_keys=elsewhere,
    )
    if fault in ("warrant dropped (envelopes replaced)", "proof tampered (commitment changed)"):
        # A broker that wants the warrant gone must replace the sealed body and keys: with
        # those of a search it saw without it (same requester, same person).
        other = sign_for(
            kit, identity, query=person_query(case.target), purpose=case.purpose,
            case_number=CASE, audience=list(signed.federation.nodes), warrants=tokens[:-1],
        )  # fmt: skip
        search.body = other.body
        del search.keys[:]
        search.keys.extend(other.keys)
        if fault == "proof tampered (commitment changed)":
            search.proof = _tamper_commitment(search.proof, other)
    if fault == "plain query beside the signed one":
        return search, common_pb2.PersonQuery(surname="QUIZZLEWICK", dob=case.target["dob"])
    return search, None


def _revoke(kit: DevTrust, case: Case, identity: Identity) -> None:
    if case.fault == "revoked credential":
        claims = jwt.decode(identity.credential, options={"verify_signature": False})
        kit.revoked_credentials[:] = [claims["jti"]]
    elif case.fault == "revoked issuer":
        kit.revoked_issuers[:] = [AGENCY_OF[case.agency_type]]
    elif case.fault == "revoked agency type":
        kit.revoked_agency_types[:] = [case.agency_type]
    else:
        return
    kit.write()  # nodes re-read the list on their very next search


def _unrevoke(kit: DevTrust) -> None:
    if kit.revoked_credentials or kit.revoked_issuers or kit.revoked_agency_types:
        kit.revoked_credentials.clear()
        kit.revoked_issuers.clear()
        kit.revoked_agency_types.clear()
        kit.write()


SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.timeout(TIMEOUT)
@settings(SETTINGS, max_examples=EXAMPLES)
@given(case=cases(None))
def test_valid_signed_searches_get_exactly_what_the_contract_releases(
    signed: Signed, case: Case
) -> None:
    event(f"agency type: {case.agency_type}")
    event(f"purpose: {case.purpose}")
    nodes = signed.federation.nodes
    now = dt.datetime.now(dt.UTC)
    search, _ = _signed_search(signed, case, _identity(signed, case, now), now)
    refused = {n: Counter(r.gate.refused) for n, r in nodes.items()}
    answers = {n: _ask(signed.kit, r.address, search) for n, r in nodes.items()}
    _check_valid(signed, case, now, answers)
    assert {n: r.gate.refused for n, r in nodes.items()} == refused


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("fault", sorted(FAULTS))
@settings(SETTINGS, max_examples=PER_FAULT)
@given(data=st.data())
def test_invalid_signed_searches_get_the_not_found_answer_and_nothing_else(
    signed: Signed, fault: str, data: st.DataObject
) -> None:
    case = data.draw(cases(fault))
    nodes = signed.federation.nodes
    now = dt.datetime.now(dt.UTC)
    identity = _identity(signed, case, now)
    search, plain_query = _signed_search(signed, case, identity, now)
    refused = {n: Counter(r.gate.refused) for n, r in nodes.items()}
    logged = {n: len(signed.federation.disclosure_logs[n].entries) for n in nodes}
    _revoke(signed.kit, case, identity)
    try:
        answers = {n: _ask(signed.kit, r.address, search, plain_query) for n, r in nodes.items()}
        if fault == "replayed proof":
            # The first use is a valid search; the replay is not.
            _check_valid(signed, case, now, answers)
            logged = {n: len(signed.federation.disclosure_logs[n].entries) for n in nodes}
            answers = {n: _ask(signed.kit, r.address, search) for n, r in nodes.items()}
    finally:
        _unrevoke(signed.kit)
    for node_id, running in nodes.items():
        # The very bytes of a not-found answer; refused for this reason; nothing logged as sent.
        assert _shape(answers[node_id]) == signed.absent[node_id]
        # A node that cannot decide at all (no usable contract) says so before verifying
        # anything (node/readiness.py): the same answer, and no verification counted.
        trust = running.gate.verifier.trust if running.gate.verifier else None
        expected = (
            Counter() if not_answering_reason(running.node, trust) else Counter({FAULTS[fault]: 1})
        )
        assert running.gate.refused - refused[node_id] == expected, node_id
        assert len(signed.federation.disclosure_logs[node_id].entries) == logged[node_id]


def _check_valid(
    signed: Signed,
    case: Case,
    now: dt.datetime,
    answers: dict[str, node_pb2.NodeServiceSearchResponse],
) -> None:
    requester = _as_oracle_sees_it(signed.kit, case, now.date())
    query = person_query(case.target)
    for contract in CONTRACTS:
        answer = answers[contract]
        check_answer(
            contract,
            signed.federation.nodes[contract],
            requester,
            query,
            answer,
            signed.federation.disclosure_logs[contract],
        )
        if not answer.hits:  # denied looks exactly like absent
            assert _shape(answer) == signed.absent[contract]
