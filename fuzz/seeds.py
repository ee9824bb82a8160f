"""Seed inputs per harness: ordinary, oversized, deeply nested and truncated."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import tarfile

from fieldgate.policy.contract_bundle import pack_bundle
from fieldgate.v2 import common_pb2, node_pb2


def _request() -> bytes:
    return node_pb2.NodeServiceSearchRequest(
        request_id="r",
        requester=common_pb2.Requester(
            subject="s", agency="a", agency_type="local_law_enforcement",
            purpose="criminal_investigation",
            authority=[common_pb2.LegalAuthority(
                kind="criminal_judicial_warrant", id="W", court="C", subject_surname="DOE",
                subject_dob="1980-04-12", covers=["location"], expires="2030-01-01",
            )],
        ),
        query=common_pb2.PersonQuery(surname="DOE", given_name="JOHN", dob="1980-04-12"),
    ).SerializeToString()  # fmt: skip


def _record(**extra: object) -> dict[str, object]:
    return {"record_id": "A-1", "record_kind": "booking", "surname": "DOE", **extra}


def _bundles() -> list[bytes]:
    """A real signed bundle, cut short, with a member too many, and a gzip of nothing."""
    from fuzz.harnesses import _BUNDLE_KEY

    files = {
        "contract/contract.rego": b"package fieldgate.contracts.f\nimport rego.v1\n"
        b'decision := {"disclose": false, "release": set(), "mask": {}}\n',
        "contract/data.json": b'{"x": [[[[1]]]]}',
    }
    signed_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    good = pack_bundle(files, revision="r1", key=_BUNDLE_KEY, now=signed_at)
    extra = io.BytesIO()
    with tarfile.open(fileobj=extra, mode="w:gz") as tar:
        for i in range(50):
            info = tarfile.TarInfo(f"lib/m{i}.rego")
            tar.addfile(info, io.BytesIO(b""))
    return [good, good[: len(good) // 2], extra.getvalue(), gzip.compress(b"")]


def seeds() -> dict[str, list[bytes]]:
    """Harness name → seed inputs."""
    request = _request()
    nested: object = "x"
    for _ in range(200):
        nested = [nested]
    return {
        "search_request": [
            request,
            request[: len(request) // 2],  # truncated
            node_pb2.NodeServiceSearchRequest(
                query=common_pb2.PersonQuery(surname="A" * 100_000)
            ).SerializeToString(),  # oversized
            b"\x0a" * 64,  # lengths that promise more than there is
            node_pb2.NodeServiceSearchRequest(
                signed=common_pb2.SignedSearch(
                    proof="\u00eb.\u00ff.x",
                    keys=[common_pb2.QueryKey(node_id="n", enc=b"x")] * 65,
                )
            ).SerializeToString(),  # one node's key 65 times, a non-ASCII token
        ],
        "names": [
            "O'Brien-Smith, José María".encode(),
            "Джон".encode(),
            b"\xff\xfe",
            b"1980-02-30",
            "\u202eevil".encode(),
            b'=HYPERLINK("x")\x1b[2J[/x]',  # a formula, an escape sequence, markup
            b"2020-W01-1",
        ],
        "import_jsonl": [
            (json.dumps(_record()) + "\n").encode(),
            (json.dumps(_record(aliases=nested)) + "\n").encode(),  # deeply nested
            (json.dumps(_record(dob="1980-13-01")) + "\n" + json.dumps(_record())).encode(),
            b'{"record_id": "A-1", "record_kind": "boo',  # truncated
        ],
        "import_csv": [
            b"record_id,record_kind,surname,aliases\nA-1,booking,DOE,DOE JOHN|DOE J\n",
            b"record_id,record_kind\nA-1\n",
            b'record_id,record_kind,address.city\nA-1,booking,"TACOMA',
        ],
        "catalog": [
            b'version = 1\n[fields.surname]\nclass = "identity"\ntype = "string"\n',
            b'version = 1\n[fields.x]\nclass = "nope"\ntype = "string"\n',
            b"version = 1\n[fields]\n" + b"[fields.a]\n" * 3,
        ],
        "signed_search": [
            common_pb2.SignedSearch(credential="a.b.c", proof="d.e.f").SerializeToString(),
            common_pb2.SignedSearch(
                credential="eyJhbGciOiJFZERTQSJ9.e30.AAAA",
                keys=[common_pb2.QueryKey(node_id="x", enc=bytes(32))] * 100,
            ).SerializeToString(),
            b"\x12" + b"\xff" * 10,
        ],
        "contract_bundle": _bundles(),
    }
