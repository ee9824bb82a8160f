"""The Node.js client under a hostile broker, and with bad input.

The broker in front of the client is an attacker (a real gRPC BrokerService
with the real broker's certificate, forwarding to the real one): whatever it
does to one agency's sealed answer leaves that agency "failed verification" in
the client's output, the others verified; nothing it says acts on the terminal.
Bad files and flags are named on stderr (exit status 2), never a stack trace,
and nothing is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest

from fieldgate.trust.answers import AnswerSigner, unverified_nonce
from fieldgate.trust.bundle_signing import sign_bundle
from fieldgate.trust.keys import enc_key_from_jwk, generate_key
from fieldgate.v2 import broker_pb2
from tests.helpers.hostile_broker import HostileBroker
from tests.helpers.interop import (
    CASE,
    PURPOSE,
    Interop,
    by_node,
    closed_address,
    detective,
    kcso_result,
    node_search,
)
from tests.helpers.nodejs import run_node


def _flipped(response: broker_pb2.SearchResponse, hostile: HostileBroker) -> None:
    answer = kcso_result(response).answer
    answer.ciphertext = (
        answer.ciphertext[:100] + bytes([answer.ciphertext[100] ^ 1]) + (answer.ciphertext[101:])
    )


def _swapped(response: broker_pb2.SearchResponse, hostile: HostileBroker) -> None:
    spd = next(r for r in response.results if r.node_id == "spd")
    kcso_result(response).answer.CopyFrom(spd.answer)


def _replayed(response: broker_pb2.SearchResponse, hostile: HostileBroker) -> None:
    kcso_result(response).answer.CopyFrom(kcso_result(hostile.seen[-2]).answer)


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
    kcso_result(response).answer.CopyFrom(forged)


def _dropped(response: broker_pb2.SearchResponse, hostile: HostileBroker) -> None:
    # Not a word about kcso: the investigator must not read silence as "no record".
    kept = [r for r in response.results if r.node_id != "kcso"]
    del response.results[:]
    response.results.extend(kept)


def _clear_hits(response: broker_pb2.SearchResponse, hostile: HostileBroker) -> None:
    # A record of the broker's own, in the development-only clear field.
    kcso_result(response).hits.add(record_id="KCSO-FORGED-1", record_kind="booking", score=1.0)


Attack = Callable[[broker_pb2.SearchResponse, HostileBroker], None]

ATTACKS: dict[str, tuple[Attack, str]] = {
    "one byte of the sealed answer flipped": (_flipped, "unsealable"),
    "another agency's sealed answer put in": (_swapped, "unsealable"),
    "its sealed answer to an earlier search replayed": (_replayed, "unsealable"),
    "a 'no record' answer forged and sealed by the broker": (_forged, "signature"),
    "the agency's result left out": (_dropped, "missing"),
    "clear hits put beside the sealed answer": (_clear_hits, "malformed"),
}


@pytest.mark.parametrize("call", ["unary", "stream"])
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_tampering_broker_makes_that_agency_fail_verification(
    interop: Interop, attack: str, call: str
) -> None:
    tamper, reason = ATTACKS[attack]
    identity = detective(interop)
    # The unary Search, or SearchStream (what a national audience takes).
    flags = ("--stream",) if call == "stream" else ()
    node_search(interop, identity, interop.hostile.address, *flags)  # honest, for the replay

    def lie(response: broker_pb2.SearchResponse) -> broker_pb2.SearchResponse:
        tamper(response, interop.hostile)
        return response

    interop.hostile.tamper = lie
    try:
        status, output = node_search(interop, identity, interop.hostile.address, *flags)
    finally:
        interop.hostile.tamper = lambda response: response
    agencies = by_node(output)
    assert status == 3, output
    assert agencies["kcso"]["status"] == "failed_verification"
    assert agencies["kcso"]["reason"] == reason
    assert "hits" not in agencies["kcso"]
    assert output["counts"]["failed_verification"] == 1
    assert output["counts"]["failed_by_reason"] == {reason: 1}
    # The agencies it did not touch still answer, verified.
    assert agencies["spd"]["status"] == agencies["pcso"]["status"] == "answered"
    assert output["streamed"] is (call == "stream")


def test_a_brokers_error_message_cannot_drive_the_terminal(interop: Interop) -> None:
    def refuse(response: broker_pb2.SearchResponse) -> broker_pb2.SearchResponse:
        raise RuntimeError("\x1b]0;owned\x07\x1b[2J all clear, no records anywhere")

    interop.hostile.tamper = refuse
    try:
        done = run_node(
            "search.mjs", "--broker", interop.hostile.address,
            *interop.files("det-4711", detective(interop)),
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
        kcso_result(response).agency_name = name
        return response

    interop.hostile.tamper = rename
    try:
        done = run_node(
            "search.mjs", "--broker", interop.hostile.address,
            *interop.files("det-4711", detective(interop)),
            "--surname", "DOE", "--given-name", "JOHN",
            "--purpose", PURPOSE, "--case-number", CASE,
        )  # fmt: skip
    finally:
        interop.hostile.tamper = lambda response: response
    assert done.returncode == 0, done.stderr
    assert done.stdout.isascii()
    assert "\x1b" not in done.stdout
    assert by_node(json.loads(done.stdout))["kcso"]["agency_name"] == name


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
        *interop.files("det-4711", detective(interop)),
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
        *interop.files("det-4711", detective(interop)),
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
    flags = interop.files("det-4711", detective(interop))
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
        "search.mjs", "--broker", closed_address(),
        *interop.files("det-4711", detective(interop)),
        "--surname", "DOE", "--given-name", "JOHN", "--purpose", PURPOSE, "--case-number", CASE,
        "--deadline", "2",
    )  # fmt: skip
    assert done.returncode == 1
    assert "UNAVAILABLE" in done.stderr
    assert done.stdout == ""
