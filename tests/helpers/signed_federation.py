"""A signed federation with a hostile broker in front: the demo's three agencies, for trust tests.

Each agency's node holds synthetic records under its shipped contract and a
trust bundle with one issuer (Bellevue PD); every hop runs mutual TLS; a
:class:`~tests.helpers.hostile_broker.HostileBroker` forwards to the real
broker and may rewrite what comes back (an attacker, not a mock).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fieldgate.client.answer_check import AnswerCheck
from fieldgate.client.broker_client import Requester
from fieldgate.core.tls import DevPKI
from fieldgate.devkit.demo import CONTRACT_OF
from fieldgate.devkit.dev_trust import DevTrust
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import DEMO_AGENCIES, generate_agency_records, write_jsonl
from fieldgate.policy.shipped import shipped_contract
from fieldgate.trust.config import build_store
from tests.helpers.federation import LoopThread
from tests.helpers.hostile_broker import HostileBroker

CRIMINAL = Requester("", "", "", "criminal_investigation", "BPD-2026-018233")
"""A detective's criminal investigation (the identity comes from the trust kit)."""


@dataclass
class SignedFed:
    """The running federation, its trust kit and PKI, and the hostile broker in front."""

    federation: LocalFederation
    kit: DevTrust
    pki: DevPKI
    hostile: HostileBroker


@contextlib.contextmanager
def signed_federation(
    loop: LoopThread, workdir: Path, records_per_agency: int
) -> Iterator[SignedFed]:
    """Start the three demo agencies' nodes, the broker and a hostile broker in ``workdir``."""
    kit = DevTrust(workdir / "trust")
    kit.add_issuer("bellevue-pd", "local_law_enforcement")
    specs = []
    for agency in DEMO_AGENCIES:
        path = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generate_agency_records(agency, count=records_per_agency, seed=21), path)
        spec = NodeSpec(
            agency.node_id, agency.name, shipped_contract(CONTRACT_OF[agency.node_id]), path
        )
        import_records(spec, workdir)
        specs.append(spec)
        kit.add_node(agency.node_id)
    kit.write()
    pki = DevPKI.create(workdir / "pki", ["broker", "kcso", "spd", "pcso", "investigator"])
    federation = loop.run(start_federation(specs, workdir, trust=kit.config(), pki=pki))
    hostile = HostileBroker(federation.broker_address, pki.files("investigator"))
    try:
        yield SignedFed(federation, kit, pki, hostile)
    finally:
        hostile.stop()
        loop.run(federation.stop())


def answer_check(kit: DevTrust) -> AnswerCheck:
    """The investigator's own check of signed answers, from the kit's node keys."""
    return AnswerCheck(build_store(kit.config()))
