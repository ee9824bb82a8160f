"""A whole federation on loopback in one process: nodes, broker, real gRPC.

The demo and the end-to-end tests use it; operators run each node and the
broker as their own process instead (``fieldgate node serve``, ``fieldgate
broker serve``). Every server here is the real one, listening on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from fieldgate.broker.config import BrokerConfig, NodeEntry
from fieldgate.broker.limits import LimitsConfig
from fieldgate.broker.server import RunningBroker, start_broker
from fieldgate.core.tls import DevPKI
from fieldgate.devkit.dev_trust import answer_key_path, enc_key_path
from fieldgate.node.answer_timing import DEFAULT_FLOOR_SECONDS, AnswerTimingConfig
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.audit_budget import AuditBudgetConfig
from fieldgate.node.config import NodeConfig
from fieldgate.node.disclosure_log import DisclosureLog, MemoryDisclosureLog
from fieldgate.node.importer import import_file
from fieldgate.node.limits import NodeLimitsConfig
from fieldgate.node.server import RunningNode, start_node
from fieldgate.node.store import RecordStore
from fieldgate.ops.endpoints import MaintenanceConfig, MetricsConfig
from fieldgate.policy.catalog import default_catalog_path, load_catalog
from fieldgate.policy.shipped import rego_library
from fieldgate.trust.config import TrustConfig

BROKER_NAME = "broker"
"""Certificate name of the broker in a local federation."""


@dataclass(frozen=True)
class NodeSpec:
    """One agency node to start.

    Attributes:
        node_id: the agency's short identifier.
        agency_name: display name.
        contract: the contract file; None starts the node with no contract.
        records: a JSON Lines or CSV file to import before starting, if any.
        unit: default pointer unit.
        phone: default pointer phone.
    """

    node_id: str
    agency_name: str
    contract: Path | None
    records: Path | None = None
    unit: str = "Records Unit"
    phone: str = "555-0100"


@dataclass
class LocalFederation:
    """Running nodes and a broker; stop with :meth:`stop`."""

    broker: RunningBroker
    nodes: dict[str, RunningNode]
    disclosure_logs: dict[str, MemoryDisclosureLog] = field(default_factory=dict)

    def audit_store(self, node_id: str) -> AuditStore:
        """The audit store of a node started with ``audit=True``."""
        store = self.nodes[node_id].audit
        if store is None:
            raise LookupError(f"node {node_id} was started without its own audit store")
        return store

    @property
    def broker_address(self) -> str:
        """Where investigators connect."""
        return self.broker.address

    async def stop(self, grace: float = 0.5) -> None:
        """Stop the broker, then every node."""
        await self.broker.stop(grace)
        for running in self.nodes.values():
            await running.stop(grace)


def node_config(
    spec: NodeSpec,
    workdir: Path,
    trust: TrustConfig | None = None,
    pki: DevPKI | None = None,
) -> NodeConfig:
    """The config a spec's node runs with; its database lives in ``workdir``.

    Without ``trust`` the node takes claims as stated; without ``pki`` it
    serves plaintext. Either makes it an insecure (development) node.
    """
    return NodeConfig(
        node_id=spec.node_id,
        agency_name=spec.agency_name,
        listen="127.0.0.1:0",
        database=workdir / f"{spec.node_id}.sqlite",
        catalog=default_catalog_path(),
        contract=spec.contract,
        rego_library=rego_library(),
        contact_unit=spec.unit,
        contact_phone=spec.phone,
        trust=trust,
        answer_key=_answer_key(trust, spec.node_id),
        enc_key=_enc_key(trust, spec.node_id),
        insecure=trust is None or pki is None,
        tls=pki.files(spec.node_id) if pki else None,
        allowed_clients=(BROKER_NAME,) if pki else (),
    )


def _enc_key(trust: TrustConfig | None, node_id: str) -> Path | None:
    """The node's X25519 key, if the development trust kit made one (``DevTrust.add_node``)."""
    if trust is None:
        return None
    path = enc_key_path(trust, node_id)
    return path if path.exists() else None


def _answer_key(trust: TrustConfig | None, node_id: str) -> Path | None:
    """The node's answer key, if the development trust kit made one (``DevTrust.add_node``)."""
    if trust is None:
        return None
    path = answer_key_path(trust, node_id)
    return path if path.exists() else None


def import_records(
    spec: NodeSpec, workdir: Path, progress: Callable[[int, int], None] | None = None
) -> int:
    """Import a spec's records into its database; returns how many were loaded."""
    if spec.records is None:
        return 0
    catalog = load_catalog(default_catalog_path())
    with RecordStore.open(node_config(spec, workdir).database) as store:
        return import_file(store, spec.records, catalog, progress=progress).imported


async def start_federation(
    specs: Sequence[NodeSpec],
    workdir: Path,
    *,
    extra_nodes: Sequence[NodeEntry] = (),
    default_deadline_seconds: float = 3.0,
    disclosure_log: Callable[[str], DisclosureLog] | None = None,
    trust: TrustConfig | None = None,
    pki: DevPKI | None = None,
    audit: bool = False,
    ops: bool = False,
    limits: LimitsConfig | None = None,
    clock: Callable[[], float] = time.monotonic,
    answer_floor_seconds: float | None = None,
    node_limits: NodeLimitsConfig | None = None,
    audit_budget: AuditBudgetConfig | None = None,
    max_load_factor: int = 1,
) -> LocalFederation:
    """Start every node of ``specs`` (records already imported) and a broker over them.

    Args:
        specs: the nodes to start in this process.
        workdir: where their databases are.
        extra_nodes: more nodes the broker should ask (started elsewhere, or absent).
        default_deadline_seconds: the broker's default search deadline.
        disclosure_log: makes each node's disclosure log; default: in memory.
        audit: give each node its real audit store (``<id>.audit.sqlite`` and its
            key in ``workdir``) and the broker its search log, instead of
            in-memory logs; ``disclosure_log`` is then ignored.
        trust: the trust bundle every node and the broker verify against;
            None runs them insecure (claims taken as stated).
        pki: certificates for mutual TLS (the broker's is named ``broker``, each
            node's after its id); None runs plaintext.
        ops: give every node and the broker a metrics endpoint and a
            maintenance port (health and reflection) on free loopback ports
            (``RunningNode.metrics_port``, ``.maintenance_port``).
        limits: the broker's abuse limits; None keeps the (generous) defaults,
            ``LimitsConfig(enabled=False)`` turns them off.
        clock: the monotonic clock of the broker's limits (tests inject one).
        answer_floor_seconds: when every node answer leaves after receipt
            (``[node.timing]``); None keeps the node default.
        max_load_factor: how far the floor may scale with the machine's load
            (``[node.timing] max_load_factor``). 1 (fixed) here, unlike a
            production node's default of 8: the suite runs thousands of
            searches on a shared, loaded machine, and only the timing tests
            and bench ask for the production behaviour.
        node_limits: every node's own limits (``[node.limits]``); None keeps the
            defaults, or turns them off too when ``limits`` is given disabled
            (a test or benchmark that repeats searches on purpose).
        audit_budget: every node's audit budget (``[node.audit_budget]``); None
            keeps the defaults (a benchmark that writes hundreds of megabytes
            of audit for one requester turns it off).
    """
    metrics = MetricsConfig("127.0.0.1:0") if ops else None
    # A node's person-dependent series on a port of their own (node/metrics.py).
    node_metrics = MetricsConfig("127.0.0.1:0", "127.0.0.1:0") if ops else None
    maintenance = MaintenanceConfig("127.0.0.1:0", reflection=True) if ops else None
    nodes: dict[str, RunningNode] = {}
    logs: dict[str, MemoryDisclosureLog] = {}
    try:
        for spec in specs:
            chosen: DisclosureLog | None
            if audit:
                chosen = None  # the node opens its own audit store
            elif disclosure_log is None:
                logs[spec.node_id] = MemoryDisclosureLog()
                chosen = logs[spec.node_id]
            else:
                chosen = disclosure_log(spec.node_id)
            config = node_config(spec, workdir, trust, pki)
            if ops:
                config = replace(config, metrics=node_metrics, maintenance=maintenance)
            floor = DEFAULT_FLOOR_SECONDS if answer_floor_seconds is None else answer_floor_seconds
            config = replace(config, timing=AnswerTimingConfig(floor, max_load_factor))
            if node_limits is None and limits is not None and not limits.enabled:
                node_limits = NodeLimitsConfig(enabled=False)
            if node_limits is not None:
                config = replace(config, limits=node_limits)
            if audit_budget is not None:
                config = replace(config, audit_budget=audit_budget)
            nodes[spec.node_id] = await start_node(config, chosen)
        entries = [NodeEntry(s.node_id, s.agency_name, nodes[s.node_id].address) for s in specs]
        broker = await start_broker(
            BrokerConfig(
                listen="127.0.0.1:0",
                nodes=(*entries, *extra_nodes),
                default_deadline_seconds=default_deadline_seconds,
                max_deadline_seconds=max(10.0, default_deadline_seconds),
                trust=trust,
                insecure=trust is None or pki is None,
                tls=pki.files(BROKER_NAME) if pki else None,
                search_log=workdir / "broker-searches.sqlite" if audit else None,
                metrics=metrics,
                maintenance=maintenance,
                limits=limits if limits is not None else LimitsConfig(),
            ),
            clock=clock,
        )
    except BaseException:
        # Interrupted (Ctrl-C cancels the task) or failed half-way: stop what
        # started, so no server outlives its event loop.
        for running in nodes.values():
            await running.stop(0)
        raise
    return LocalFederation(broker, nodes, logs)
