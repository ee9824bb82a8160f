"""Issue 15 item 9: what sealing costs, against one bare HPKE operation of the same library.

Run: ``python -m bench.sealing`` (about a minute; prints a Markdown table).

Everything is in process, on real keys, with the library calls the protocol
makes (``pyhpke`` over ``cryptography``; PyJWT for Ed25519):

- **bare seal**: one HPKE single-shot seal (``fieldgate.trust.sealing.seal``) of a
  padded query (4 KiB) and of a padded answer (8 KiB): the unit every ratio uses.
- **client, per addressed agency**: ``sign_search`` for 1…32 audience nodes; the
  least-squares slope per added node, against one bare 4 KiB seal.
- **node, per answer**: opening its envelope and checking it (``open_query``),
  then signing and sealing a zero-hit and a three-hit answer (``AnswerSigner.seal``),
  against one bare 8 KiB seal.
- **broker, per added node**: what the broker does per node that it did not
  before, on a sealed answer: the size check (``answer_problem``) and relaying it
  into the ``AgencyResult`` — against relaying a clear three-hit answer.

Each figure is the median of ``ROUNDS`` rounds of ``REPEAT`` calls.
"""

from __future__ import annotations

import datetime as dt
import functools
import statistics
import time
from collections.abc import Callable

import jwt
from google.protobuf import struct_pb2

from bench.stats import slope
from fieldgate.broker.answer_checks import answer_problem
from fieldgate.trust.answers import AnswerSigner
from fieldgate.trust.keys import generate_enc_key, generate_key
from fieldgate.trust.sealed_search import open_query, sign_search
from fieldgate.trust.sealing import (
    ANSWER_BUCKETS,
    KEY_BYTES,
    answer_info,
    pad,
    query_key_info,
    seal,
)
from fieldgate.trust.tokens import CredentialRequest, issue_credential
from fieldgate.v2 import broker_pb2, common_pb2, node_pb2

ROUNDS = 7
REPEAT = 200
AUDIENCES = (1, 2, 4, 8, 16, 32, 128)
NONCE = "00112233445566778899aabbccddeeff"


def _mean_us(call: Callable[[], object], repeat: int) -> float:
    """The mean time of one call over ``repeat`` calls, in microseconds."""
    started = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - started) / repeat * 1e6


def _median_us(call: Callable[[], object], repeat: int = REPEAT) -> float:
    """Median over rounds of the mean time of one call, in microseconds."""
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(repeat):
            call()
        samples.append((time.perf_counter() - started) / repeat * 1e6)
    return statistics.median(samples)


def _hit(number: int) -> common_pb2.Hit:
    hit = common_pb2.Hit(
        record_id=f"KC-2019-{number:06d}", record_kind="booking", score=0.97,
        match_reasons=["surname phonetic", "dob exact"],
        contact=common_pb2.PointerContact(agency="King County", unit="Records", phone="206"),
    )  # fmt: skip
    for name in ("surname", "given_name", "dob", "state_id", "address", "height_cm"):
        hit.fields.add(name=name, sensitivity="identity",
                       value=struct_pb2.Value(string_value=f"{name.upper()}-VALUE"))  # fmt: skip
    return hit


def measure() -> dict[str, float]:
    """Every figure of the table, in microseconds (and ratios)."""
    holder, holder_enc, issuer = generate_key(), generate_enc_key(), generate_key()
    credential = issue_credential(
        CredentialRequest(
            "bench-pd", "det-1", "bench-pd", "local_law_enforcement", ("detective",),
            ("criminal_investigation",), holder.public_key(),
            holder_enc_key=holder_enc.public_key(),
        ),
        issuer,
    )  # fmt: skip
    node_keys = {f"node-{i}": generate_enc_key() for i in range(max(AUDIENCES))}
    public = {n: k.public_key() for n, k in node_keys.items()}
    query = common_pb2.PersonQuery(surname="HERNANDEZ", given_name="MIGUEL", dob="1986-03-07")
    out: dict[str, float] = {}

    content_key = bytes(KEY_BYTES)
    padded_answer = pad(b"x" * 2000, ANSWER_BUCKETS)
    some_node = public["node-0"]
    # The client's per-agency work is one HPKE seal of the 32-byte content key.
    out["bare_seal_query_us"] = _median_us(
        lambda: seal(some_node, content_key, info=query_key_info("node-0"), aad=b"n")
    )
    out["bare_seal_answer_us"] = _median_us(
        lambda: seal(some_node, padded_answer, info=answer_info("node-0"), aad=b"n")
    )

    def search(n: int) -> common_pb2.SignedSearch:
        return sign_search(
            credential=credential, holder_key=holder, query=query,
            purpose="criminal_investigation", case_number="C-1",
            audience=[f"node-{i}" for i in range(n)], node_keys=public,
        )  # fmt: skip

    per_n = {
        n: _median_us(functools.partial(search, n), repeat=max(10, REPEAT // n)) for n in AUDIENCES
    }
    for n, us in per_n.items():
        out[f"sign_search_{n}_us"] = us
    out["client_per_agency_us"] = slope(list(per_n), list(per_n.values()))
    # On a loaded machine the load moves between two separate medians: the ratio
    # is taken within each round (bare seals, then 1 and 32 agencies, back to
    # back), and its median reported.
    ratios = []
    for _ in range(ROUNDS):
        bare = _mean_us(
            lambda: seal(some_node, content_key, info=query_key_info("node-0"), aad=b"n"), 64
        )
        one, wide = (
            _mean_us(functools.partial(search, 1), 8),
            _mean_us(functools.partial(search, 32), 2),
        )
        ratios.append((wide - one) / 31 / bare)
    out["client_ratio"] = statistics.median(ratios)

    signed = search(1)
    claims = jwt.decode(signed.proof, options={"verify_signature": False})
    node_key = node_keys["node-0"]
    out["node_open_us"] = _median_us(
        lambda: open_query(
            signed, node_id="node-0", enc_key=node_key, nonce=claims["nonce"],
            sealed_claim=claims["sealed"],
        )
    )  # fmt: skip
    signer = AnswerSigner("node-0", generate_key(), clock=lambda: dt.datetime.now(dt.UTC))
    recipient = holder_enc.public_key()
    three = [_hit(i) for i in range(3)]
    empty: list[common_pb2.Hit] = []
    for label, hits in (("0", empty), ("3", three)):
        out[f"node_sign_seal_{label}_hits_us"] = _median_us(
            functools.partial(
                signer.seal,
                recipient=recipient,
                nonce=claims["nonce"],
                proof=signed.proof,
                hits=hits,
            )
        )
        out[f"node_answer_{label}_hits_us"] = (
            out["node_open_us"] + out[f"node_sign_seal_{label}_hits_us"]
        )
        out[f"node_ratio_{label}_hits"] = (
            out[f"node_answer_{label}_hits_us"] / out["bare_seal_answer_us"]
        )

    sealed = node_pb2.NodeServiceSearchResponse(
        request_id="r", node_id="node-0",
        answer=signer.seal(recipient=recipient, nonce=NONCE, proof=signed.proof, hits=three),
    )  # fmt: skip
    clear = node_pb2.NodeServiceSearchResponse(request_id="r", node_id="node-0", hits=three)

    def relay_sealed() -> None:
        assert answer_problem(sealed, "King County") is None
        result = broker_pb2.AgencyResult(node_id="node-0", agency_name="King County")
        result.answer.CopyFrom(sealed.answer)

    def relay_clear() -> None:
        assert answer_problem(clear, "King County") is None
        result = broker_pb2.AgencyResult(node_id="node-0", agency_name="King County")
        result.hits.extend(clear.hits)

    out["broker_relay_sealed_us"] = _median_us(relay_sealed, repeat=REPEAT * 10)
    out["broker_relay_clear_us"] = _median_us(relay_clear, repeat=REPEAT * 10)
    return out


def table(r: dict[str, float]) -> str:
    """The Markdown table BENCHMARKS.md quotes."""
    rows = [
        ("one bare HPKE seal, 32-byte content key (unit for the client)",
         r["bare_seal_query_us"], ""),
        ("one bare HPKE seal, 8 KiB answer (unit for the node)", r["bare_seal_answer_us"], ""),
        ("client: sign_search, 1 agency", r["sign_search_1_us"], ""),
        ("client: sign_search, 32 agencies", r["sign_search_32_us"], ""),
        ("client: sign_search, 128 agencies", r["sign_search_128_us"], ""),
        ("client: per added agency (slope)", r["client_per_agency_us"],
         f"{r['client_ratio']:.2f}× bare seal (median of per-round ratios)"),
        ("node: unwrap key + open body + commitment + parse", r["node_open_us"], ""),
        ("node: sign + pad + seal, 0 hits", r["node_sign_seal_0_hits_us"], ""),
        ("node: open + sign + seal, 0 hits", r["node_answer_0_hits_us"],
         f"{r['node_ratio_0_hits']:.2f}× bare seal"),
        ("node: open + sign + seal, 3 hits", r["node_answer_3_hits_us"],
         f"{r['node_ratio_3_hits']:.2f}× bare seal"),
        ("broker: check + relay one sealed answer", r["broker_relay_sealed_us"], ""),
        ("broker: check + relay one clear 3-hit answer (v1 work)", r["broker_relay_clear_us"], ""),
    ]  # fmt: skip
    lines = ["| what | µs (median) | ratio |", "|---|---:|---|"]
    lines += [f"| {what} | {us:.1f} | {ratio} |" for what, us, ratio in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure()))
