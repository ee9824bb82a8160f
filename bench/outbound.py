"""Outbound policy costs: issuance per directory node, credential size, the hop's check.

``python -m bench.outbound`` prints JSON:

- ``issuance``: time for an issuer to evaluate the shipped King County policy
  against a federation directory of N nodes (one in ten a civil immigration
  agency) and sign the credential, median of repeats, per N and per node;
- ``credential``: the signed credential's length per N (the issuer picks the
  shorter reach form: a list, or ``{"dir", "except"}`` with ``unreached``
  grouped by reason), and the largest directory whose credential fits
  ``MAX_TOKEN_LENGTH`` (larger ones are refused at issuance) — with one node
  in ten kept out, and for a national directory of 8,500 with one in fifty;
- ``sign_and_verify_ms``: the client's signing plus one node's full
  verification of a search, with credentials of growing reach. The growth is
  PyJWT decoding the longer credential (its base64url check runs per
  character, and the credential is read several times per search).
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fieldgate.core.request_shape import MAX_TOKEN_LENGTH
from fieldgate.policy.outbound import compute_reach, outbound_policy_path
from fieldgate.trust.keys import generate_enc_key, generate_key, public_jwk
from fieldgate.trust.reach import DirectoryEntry, Reach, serials
from fieldgate.trust.sealed_search import sign_search
from fieldgate.trust.tokens import CredentialRequest, issue_credential
from fieldgate.trust.trust_bundle import TrustStore
from fieldgate.trust.verify import SearchVerifier
from fieldgate.v2 import common_pb2

POLICY = outbound_policy_path("king_county")
FACTS = {"id": "kcso", "agency_type": "local_law_enforcement", "jurisdiction": "WA"}


def directory(n: int, every: int = 10) -> list[DirectoryEntry]:
    """N nodes with realistic ids; every ``every``-th a civil immigration agency; node i
    joined at serial i + 1 (the authority bumps the serial on every edit)."""
    return [
        DirectoryEntry(
            f"agency-{i:04d}",
            f"agency-{i:04d}",
            "civil_immigration" if i % every == every - 1 else "local_law_enforcement",
            "WA",
            (f"agency-{i:04d}",),
            since=i + 1,
        )
        for i in range(n)
    ]


def median_ms(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def credential(reach: Reach | None, issuer_key: object, holder: object) -> str:
    return issue_credential(
        CredentialRequest(
            "kcso", "det-4711", "kcso", "local_law_enforcement", (), ("criminal_investigation",),
            holder.public_key(), reach=reach,  # type: ignore[attr-defined]
        ),
        issuer_key,  # type: ignore[arg-type]
    )  # fmt: skip


def main() -> None:
    issuer, holder = generate_key(), generate_key()
    issuance: dict[int, dict[str, float]] = {}
    sizes: dict[int | str, int | str] = {}
    for n in (4, 50, 200, 1000):
        entries = directory(n)
        reach = compute_reach(POLICY, entries, FACTS)
        ms = median_ms(
            lambda entries=entries: compute_reach(POLICY, entries, FACTS),  # type: ignore[misc]
            5 if n >= 200 else 20,
        )
        issuance[n] = {"ms": round(ms, 2), "us_per_node": round(ms * 1000 / n, 1)}
        try:
            sizes[n] = len(credential(reach, issuer, holder))
        except ValueError:
            sizes[n] = "refused at issuance (over MAX_TOKEN_LENGTH)"
    for n, every in ((8500, 50), (8500, 10)):
        national = compute_reach(POLICY, directory(n, every), FACTS)
        try:
            sizes[f"{n} (1 in {every} kept out)"] = len(credential(national, issuer, holder))
        except ValueError:
            sizes[f"{n} (1 in {every} kept out)"] = "refused at issuance (over MAX_TOKEN_LENGTH)"
    low, high = 4, 8500
    while low < high:  # the largest directory whose credential still fits
        mid = (low + high + 1) // 2
        try:
            credential(compute_reach(POLICY, directory(mid), FACTS), issuer, holder)
            low = mid
        except ValueError:
            high = mid - 1
    fits = low
    with tempfile.TemporaryDirectory() as tmp:
        bundle, revocations = Path(tmp) / "trust.json", Path(tmp) / "revocations.json"
        stamp = dt.datetime.now(dt.UTC).isoformat()
        # The signed directory every hop evaluates a compact reach over (one shared
        # answer key: only ids and serials matter here).
        node_jwk = public_jwk(generate_key().public_key())
        largest = directory(max(fits, 8500))
        bundle.write_text(json.dumps({"issued_at": stamp, "serial": len(largest), "issuers": [
            {"id": "kcso", "agency": "kcso", "agency_type": "local_law_enforcement",
             "jwk": public_jwk(issuer.public_key())}], "courts": [],
            "nodes": [{"id": e.node_id, "since": e.since, "jwk": node_jwk} for e in largest],
        }))  # fmt: skip
        revocations.write_text(json.dumps({"issued_at": stamp}))
        store = TrustStore(bundle, revocations, max_age=dt.timedelta(days=1))
        verifier = SearchVerifier(store)
        query = common_pb2.PersonQuery(surname="DOE", given_name="JOHN", dob="1980-04-12")
        entries = directory(50)
        audience = compute_reach(POLICY, entries, FACTS).audience.named(serials(entries))[:20]
        # Each addressed node's X25519 key: the query is sealed to every one of them.
        enc_keys = {node: generate_enc_key() for node in audience}
        node_keys = {node: key.public_key() for node, key in enc_keys.items()}
        verify = {}
        cases: list[tuple[str, Reach | None]] = [("without reach", None)]
        cases += [(f"directory of {n}", compute_reach(POLICY, directory(n), FACTS))
                  for n in (50, 200, fits)]  # fmt: skip
        cases.append(("directory of 8500 (1 in 50 kept out)",
                      compute_reach(POLICY, directory(8500, 50), FACTS)))  # fmt: skip
        for label, case_reach in cases:
            token = credential(case_reach, issuer, holder)

            def once(token: str = token) -> None:
                signed = sign_search(
                    credential=token, holder_key=holder, query=query,
                    purpose="criminal_investigation", case_number="C-1", audience=audience,
                    node_keys=node_keys,
                )  # fmt: skip
                verifier.verify(signed, node_id=audience[0], enc_key=enc_keys[audience[0]])

            once()
            verify[label] = round(median_ms(once, 100), 3)
    print(
        json.dumps(
            {
                "issuance": issuance,
                "credential_characters": sizes,
                "max_token_length": MAX_TOKEN_LENGTH,
                "largest_directory_that_fits": fits,
                "sign_and_verify_ms": verify,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
