"""A running federation for the Node.js client's tests (tests/interop).

:func:`start_interop` starts the demo agencies' nodes (or those given) and a broker on
loopback with development trust (signed bundle, node answer and encryption keys)
and mutual TLS, plus a :class:`~tests.helpers.hostile_broker.HostileBroker` in
front of the real broker that serves the broker's own certificate (and lies on
``SearchStream`` as on ``Search``: :class:`StreamingHostileBroker`); the other
helpers write an investigator's files and run one search with the Node.js client.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldgate.broker.limits import LimitsConfig
from fieldgate.core.tls import DevPKI
from fieldgate.devkit.demo import CONTRACT_OF
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
    Agency,
    generate_agency_records,
    write_jsonl,
)
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.keys import save_private_key
from fieldgate.trust.reach import Reach
from fieldgate.trust.tokens import Identity
from fieldgate.v2 import broker_pb2, common_pb2
from tests.helpers.federation import LoopThread
from tests.helpers.hostile_broker import HostileBroker
from tests.helpers.nodejs import run_json

PURPOSE = "criminal_investigation"
CASE = "BPD-2026-018233"
NODE_IDS = [agency.node_id for agency in DEMO_AGENCIES]


class StreamingHostileBroker(HostileBroker):
    """The hostile broker, lying on ``SearchStream`` as on ``Search``: the stream it
    would send is read whole, its agencies' results put through ``tamper`` like a
    unary answer, and re-sent as a stream (started, one event per result, summary)."""

    def SearchStream(
        self, request: broker_pb2.SearchStreamRequest, context: Any
    ) -> Iterator[broker_pb2.SearchStreamResponse]:
        self.last_proof = request.search.signed.proof
        self.last_request = request.search
        events = list(super().SearchStream(request, context))
        started = next(e for e in events if e.HasField("started"))
        summary = next(e for e in events if e.HasField("summary"))
        genuine = broker_pb2.SearchResponse(
            request_id=started.started.request_id,
            results=[e.agency for e in events if e.HasField("agency")],
        )
        self.seen.append(genuine)
        forged = broker_pb2.SearchResponse()
        forged.CopyFrom(genuine)
        yield started
        for result in self.tamper(forged).results:
            yield broker_pb2.SearchStreamResponse(agency=result)
        yield summary


@dataclass
class Interop:
    """The running federation, its trust kit and PKI, and the hostile broker in front."""

    federation: LocalFederation
    kit: DevTrust
    pki: DevPKI
    hostile: StreamingHostileBroker
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


def start_interop(
    loop: LoopThread,
    workdir: Path,
    agencies: Sequence[Agency] = DEMO_AGENCIES,
    directory_only: Sequence[str] = (),
) -> Interop:
    """Start the federation of ``agencies`` in ``workdir``; stop it with :func:`stop_interop`.

    ``directory_only`` node ids join the signed directory after them (a later
    ``since``) with keys but no running node and no broker route.
    """
    kit = DevTrust(workdir / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    specs = []
    for agency in agencies:
        path = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=100, seed=21), path)
        contract = shipped_contract(CONTRACT_OF[agency.node_id])
        spec = NodeSpec(agency.node_id, agency.name, contract, path)
        import_records(spec, workdir)
        specs.append(spec)
        kit.add_node(agency.node_id)
    for node_id in directory_only:
        kit.add_node(node_id)
    kit.write()
    pki = DevPKI.create(workdir / "pki", ["broker", *(s.node_id for s in specs), "investigator"])
    # Limits off: the same person is searched for on purpose, again and again.
    federation = loop.run(
        start_federation(
            specs, workdir, trust=kit.config(), pki=pki, limits=LimitsConfig(enabled=False)
        )
    )
    # The attacker runs the broker, so it holds the broker's certificate.
    hostile = StreamingHostileBroker(
        federation.broker_address, pki.files("broker"), serve_tls=pki.files("broker")
    )
    return Interop(federation, kit, pki, hostile, workdir)


def stop_interop(loop: LoopThread, interop: Interop) -> None:
    """Stop the hostile broker, the broker and every node."""
    interop.hostile.stop()
    loop.run(interop.federation.stop())


def detective(interop: Interop, reach: Sequence[str] | Reach | None = None) -> Identity:
    """A fresh Bellevue PD detective (credential with an ``enc`` key; ``reach`` if given)."""
    return interop.kit.identity("bellevue-pd", "det-4711", [PURPOSE], reach=reach)


def node_search(
    interop: Interop, identity: Identity, broker: str, *extra: str
) -> tuple[int, dict[str, Any]]:
    """The Node.js client's search for the demo subject; its exit status and output."""
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


def by_node(output: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The client's per-agency results by node id."""
    return {a["node_id"]: a for a in output["agencies"]}


def kcso_result(response: broker_pb2.SearchResponse) -> broker_pb2.AgencyResult:
    """King County's result in a broker's response."""
    return next(r for r in response.results if r.node_id == "kcso")


def closed_address() -> str:
    """A loopback address nothing listens on."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    address = f"127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    return address


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_search(printed: dict[str, Any]) -> common_pb2.SignedSearch:
    """The ``SignedSearch`` that ``tools/seal-search.mjs`` printed (bytes as base64url)."""
    return common_pb2.SignedSearch(
        credential=printed["credential"],
        proof=printed["proof"],
        body=_b64(printed["body"]),
        keys=[
            common_pb2.QueryKey(
                node_id=k["node_id"], enc=_b64(k["enc"]), wrapped=_b64(k["wrapped"])
            )
            for k in printed["keys"]
        ],
    )
