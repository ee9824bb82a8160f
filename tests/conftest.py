"""Session fixtures: a background event loop and the demo federation on loopback."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fieldgate.broker.limits import LimitsConfig
from fieldgate.devkit.demo import CONTRACT_OF
from fieldgate.devkit.local_federation import (
    LocalFederation,
    NodeSpec,
    import_records,
    start_federation,
)
from fieldgate.devkit.synthetic import DEMO_AGENCIES, generate_agency_records, write_jsonl
from fieldgate.policy.shipped import shipped_contract
from tests.helpers.federation import LoopThread

RECORDS_PER_AGENCY = 300
SEED = 11


@pytest.fixture(scope="session")
def loop() -> Iterator[LoopThread]:
    """One event loop for every in-process server of the session."""
    thread = LoopThread()
    yield thread
    thread.close()


@dataclass
class DemoFederation:
    """The demo's three agencies, running, with the records each one holds."""

    federation: LocalFederation
    records: dict[str, dict[str, dict[str, Any]]]  # node id → record id → raw record
    contracts: dict[str, str]  # node id → shipped contract name
    today: dt.date

    @property
    def broker_address(self) -> str:
        return self.federation.broker_address

    def node_address(self, node_id: str) -> str:
        return self.federation.nodes[node_id].address


@pytest.fixture(scope="session")
def demo(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoFederation]:
    """The demo federation with a few hundred records per agency."""
    workdir = tmp_path_factory.mktemp("demo")
    specs: list[NodeSpec] = []
    records: dict[str, dict[str, dict[str, Any]]] = {}
    for agency in DEMO_AGENCIES:
        generated = generate_agency_records(agency, count=RECORDS_PER_AGENCY, seed=SEED)
        path = workdir / f"{agency.node_id}.jsonl"
        write_jsonl(generated, path)
        # Read back what was written, so the tests compare with the file the node imported.
        records[agency.node_id] = {
            r["record_id"]: r for r in map(json.loads, path.read_text().splitlines())
        }
        spec = NodeSpec(
            node_id=agency.node_id,
            agency_name=agency.name,
            contract=shipped_contract(CONTRACT_OF[agency.node_id]),
            records=path,
            unit=agency.unit,
            phone=agency.phone,
        )
        import_records(spec, workdir)
        specs.append(spec)
    # Many tests search for the same person as the same detective: the broker's
    # polling limit (tested on its own in tests/broker) must not count them.
    limits = LimitsConfig(poll_max_repeats=10**6)
    federation = loop.run(start_federation(specs, workdir, limits=limits))
    yield DemoFederation(federation, records, dict(CONTRACT_OF), dt.date.today())
    loop.run(federation.stop())


def write_contract(directory: Path, name: str, text: str) -> Path:
    """Write a contract file for a test and return its path."""
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


REQUIRE_PROMETHEUS = "FIELDGATE_REQUIRE_PROMETHEUS"
"""Set to 1 by CI (.ci/run): a missing promtool or prometheus fails instead of skipping."""

REQUIRE_KUBECTL = "FIELDGATE_REQUIRE_KUBECTL"
"""Set to 1 by CI (.ci/run): a missing kubectl (for ``kubectl kustomize``) fails instead."""


def _require_binary(name: str, variable: str, how: str) -> str:
    """The path of ``name``; skip the test with a reason, or fail when ``variable`` is 1."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed ({how})"
    if os.environ.get(variable) == "1":
        pytest.fail(f"{message}, and {variable}=1 says these tests must run")
    pytest.skip(f"{message}; set {variable}=1 to make this a failure, as CI does")


@pytest.fixture(scope="session")
def promtool() -> str:
    """Debian's promtool (package ``prometheus``, installed by .ci/run)."""
    return _require_binary("promtool", REQUIRE_PROMETHEUS, "Debian package prometheus")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Debian's Prometheus server binary (package ``prometheus``, installed by .ci/run)."""
    return _require_binary("prometheus", REQUIRE_PROMETHEUS, "Debian package prometheus")


@pytest.fixture(scope="session")
def kubectl() -> str:
    """kubectl, for ``kubectl kustomize`` (rendering the overlays, offline)."""
    return _require_binary("kubectl", REQUIRE_KUBECTL, "it renders the kustomize overlays")
