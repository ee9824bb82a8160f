"""A secure federation with metrics and maintenance ports, and ways to read them.

Every node and the broker run with mutual TLS, signed searches, a metrics
endpoint and a maintenance (health) port on free loopback ports; tests scrape
the real HTTP endpoints and ask the real health service.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import Requester, SearchClient, SearchError
from fieldgate.client.results import SearchResult
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
    generate_agency_records,
    write_jsonl,
)
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.config import build_store
from fieldgate.trust.tokens import Identity
from tests.helpers.federation import LoopThread

CRIMINAL = Requester("", "", "", "criminal_investigation", "BPD-2026-018233")
IMMIGRATION = Requester("", "", "", "civil_immigration", "A-2026-55310")


@dataclass
class OpsFederation:
    """The three demo agencies and a broker, secure, with every operations port open."""

    federation: LocalFederation
    kit: DevTrust
    pki: DevPKI
    records: dict[str, int]
    """Records each node holds."""

    def detective(self, **kwargs: object) -> Identity:
        return self.kit.identity(
            "bellevue-pd",
            "det-4711",
            ["criminal_investigation"],
            roles=["detective"],
            **kwargs,  # type: ignore[arg-type]
        )

    def immigration_officer(self) -> Identity:
        return self.kit.identity(
            "ice-ero-seattle", "ero-0042", ["civil_immigration"], roles=["officer"]
        )

    def search(
        self, identity: Identity, requester: Requester = CRIMINAL
    ) -> SearchResult | SearchError:
        """Search for the demo subject through the broker (the refusal, if refused)."""
        with self.client() as c:
            try:
                return c.search(
                    requester,
                    surname=DEMO_SUBJECT.surname,
                    given_name=DEMO_SUBJECT.given_name,
                    dob=DEMO_SUBJECT.dob,
                    identity=identity,
                )
            except SearchError as exc:
                return exc

    def client(self) -> SearchClient:
        """A client of the broker that seals to and verifies against the kit's nodes."""
        return SearchClient(
            self.federation.broker_address,
            self.pki.files("investigator"),
            answers=AnswerCheck(build_store(self.kit.config())),
        )

    def metrics_ports(self) -> dict[str, int]:
        """``broker`` and each node id → its metrics port."""
        ports = {"broker": self.federation.broker.metrics_port}
        ports.update({n: r.metrics_port for n, r in self.federation.nodes.items()})
        return {k: v for k, v in ports.items() if v is not None}


async def start_ops_federation(workdir: Path, records: int = 120) -> OpsFederation:
    """Start the demo agencies with trust, mutual TLS, metrics and maintenance ports."""
    kit = DevTrust(workdir / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    kit.add_issuer("ice-ero-seattle", "civil_immigration")
    for agency in DEMO_AGENCIES:
        kit.add_node(agency.node_id)
    kit.write()
    pki = DevPKI.create(workdir / "pki", ["broker", "kcso", "spd", "pcso", "investigator"])
    specs = []
    counts: dict[str, int] = {}
    for agency in DEMO_AGENCIES:
        path = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=records, seed=5), path)
        spec = NodeSpec(
            agency.node_id, agency.name, shipped_contract(CONTRACT_OF[agency.node_id]), path
        )
        counts[agency.node_id] = import_records(spec, workdir)
        specs.append(spec)
    federation = await start_federation(specs, workdir, trust=kit.config(), pki=pki, ops=True)
    return OpsFederation(federation, kit, pki, counts)


def run_ops_federation(loop: LoopThread, workdir: Path) -> OpsFederation:
    return loop.run(start_ops_federation(workdir))


def scrape(port: int) -> str:
    """``GET /metrics`` from a loopback metrics endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        assert answer.status == 200
        return str(answer.read().decode())


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape: (name, labels) → value."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    """The sum of ``metric``'s samples whose labels include ``labels`` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == metric and wanted <= ls)


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    """Every value ``label`` takes on ``name``."""
    return {dict(ls)[label] for (n, ls) in samples if n == name and label in dict(ls)}


def health(port: int, service: str = "") -> str:
    """The standard health service's answer for ``service`` on a maintenance port."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status))
