"""Starting and stopping a node's gRPC server."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import grpc

from fieldgate.core.digests import default_digest_key_path, ensure_digest_key
from fieldgate.node.answer_timing import AnswerTiming
from fieldgate.node.audit.config import default_audit_config
from fieldgate.node.audit.entries import BUDGET_REFUSED, SEARCH
from fieldgate.node.audit.keys import ensure_key
from fieldgate.node.audit.note import origin_of
from fieldgate.node.audit.schema import AuditReader
from fieldgate.node.audit.store import AuditStore
from fieldgate.node.audit.witnessing import WitnessPusher
from fieldgate.node.audit_budget import AuditBudget, BudgetedDisclosureLog
from fieldgate.node.config import NodeConfig
from fieldgate.node.disclosure_log import DisclosureLog
from fieldgate.node.health import NodeHealth
from fieldgate.node.limits import NodeLimits, default_limits_path
from fieldgate.node.metrics import NodeMetrics
from fieldgate.node.request_ids import RequestIdRegister, default_request_ids_path
from fieldgate.node.search import AgencyNode
from fieldgate.node.servicer import NodeServicer
from fieldgate.node.store import RecordStore
from fieldgate.node.trust_gate import TrustGate
from fieldgate.ops.clean_errors import CleanErrors
from fieldgate.ops.endpoints import MaintenanceServer, drain_and_stop
from fieldgate.ops.metrics import (
    GrpcServerMetrics,
    MetricsEndpoint,
    new_registry,
    track_certificate_expiry,
    track_trust_age,
)
from fieldgate.ops.server_options import server_options
from fieldgate.ops.serving import bind
from fieldgate.policy.catalog import load_catalog
from fieldgate.policy.config import load_policy_engine
from fieldgate.policy.contract_bundle import BundleWatcher
from fieldgate.policy.contract_bundle_state import state_path
from fieldgate.policy.decision_log import DecisionLog
from fieldgate.policy.engine import MissingContract
from fieldgate.trust.answers import AnswerSigner
from fieldgate.trust.config import build_refresher, build_verifier
from fieldgate.trust.keys import load_enc_private_key, load_private_key, load_public_key
from fieldgate.trust.refresh import TrustRefresher
from fieldgate.v2 import common_pb2, node_pb2_grpc

log = logging.getLogger("fieldgate.node")

SERVICE_NAME = "fieldgate.v2.NodeService"
"""The node's gRPC service, as health checks and reflection name it."""

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Largest request or answer accepted; bigger requests fail with RESOURCE_EXHAUSTED."""


@dataclass
class RunningNode:
    """A started node: its server, bound address and core."""

    server: grpc.aio.Server
    address: str
    node: AgencyNode
    store: RecordStore
    gate: TrustGate
    audit: AuditStore | None = None
    """The node's own audit store, when it opened one (not a log passed in)."""
    metrics_endpoint: MetricsEndpoint | None = None
    """The Prometheus endpoint, when ``[node.metrics]`` asked for one."""
    maintenance: MaintenanceServer | None = None
    """The health (and reflection) server, when ``[node.maintenance]`` asked for one."""
    witnesses: WitnessPusher | None = None
    """What pushes checkpoints to ``[[node.audit.witnesses]]``, when there are any."""
    private_metrics_endpoint: MetricsEndpoint | None = None
    """The agency-only endpoint of the person-dependent series (``private_listen``)."""
    refresher: TrustRefresher | None = None
    """The scheduled trust refresh, when ``[node.trust] source`` is set."""

    @property
    def metrics_port(self) -> int | None:
        """The bound metrics port (real even when the config said 0), if serving metrics."""
        return self.metrics_endpoint.port if self.metrics_endpoint else None

    @property
    def private_metrics_port(self) -> int | None:
        """The bound agency-only metrics port, if ``private_listen`` asked for one."""
        return self.private_metrics_endpoint.port if self.private_metrics_endpoint else None

    @property
    def maintenance_port(self) -> int | None:
        """The bound maintenance (health) port, if one is open."""
        return self.maintenance.port if self.maintenance else None

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop serving (finishing in-flight searches within ``grace``) and close the store.

        Health turns NOT_SERVING first, so probes and load balancers stop
        sending work while in-flight searches finish.
        """
        await drain_and_stop(
            self.server,
            grace,
            self.maintenance,
            self.metrics_endpoint,
            self.private_metrics_endpoint,
        )
        self.node.contract.close()
        self.store.close()
        if self.node.limits is not None:
            self.node.limits.close()
        self.node.request_ids.close()
        if self.audit is not None:
            self.audit.close()
        if self.witnesses is not None:
            self.witnesses.close()
        if self.refresher is not None:
            self.refresher.close()


def open_audit_log(config: NodeConfig, *, maintenance: bool = False) -> AuditStore:
    """Open the node's tamper-evident audit log, creating it and its key if new.

    ``maintenance``: for ``fieldgate node purge`` beside the serving node
    (:meth:`AuditStore.open`).

    Raises:
        node.errors.DisclosureLogError: the log cannot be opened or belongs to another key.
        fieldgate.trust.keys.KeyFileError: the signing key cannot be used.
    """
    audit = config.audit or default_audit_config(config.database)
    return AuditStore.open(
        audit.database,
        node_id=config.node_id,
        key=ensure_key(audit.key),
        checkpoint_every=audit.checkpoint_every,
        checkpoint_seconds=audit.checkpoint_seconds,
        busy_timeout_seconds=audit.busy_timeout_seconds,
        last_head=audit.last_head_path,
        maintenance=maintenance,
    )


def build_node(
    config: NodeConfig,
    disclosure_log: DisclosureLog | None = None,
    metrics: NodeMetrics | None = None,
) -> AgencyNode:
    """Open the store, load catalog and contract, and assemble the node core.

    A contract that is missing or broken does not stop the node: it serves and
    releases nothing, and says why in its log. Without ``disclosure_log`` the
    node opens its own audit log (:func:`open_audit_log`).
    """
    catalog = load_catalog(config.catalog)
    metrics = metrics if metrics is not None else NodeMetrics(new_registry())
    watcher = None
    if config.policy.bundle is not None:
        watcher = BundleWatcher(
            config.policy.bundle,
            [load_public_key(path) for path in config.policy.bundle_keys],
            catalog.classes(),
            timeout=config.policy.timeout_seconds,
            on_reject=metrics.bundle_rejected,
            state=state_path(config.database),
        )
        contract = watcher.initial()
    else:
        contract = load_policy_engine(
            config.policy, config.contract, config.rego_library, catalog.classes()
        )
    digester = ensure_digest_key(config.digest_key or default_digest_key_path(config.database))
    if isinstance(contract, MissingContract):
        log.error(
            "node %s has no usable contract and releases nothing: %s",
            config.node_id,
            contract.reason,
        )
    else:
        log.info(
            "node %s runs contract %s (%s)", config.node_id, contract.name, contract.version[:12]
        )
    return AgencyNode(
        node_id=config.node_id,
        agency_name=config.agency_name,
        contact=common_pb2.PointerContact(
            agency=config.agency_name, unit=config.contact_unit, phone=config.contact_phone
        ),
        store=RecordStore.open(config.database),
        catalog=catalog,
        contract=contract,
        disclosure_log=disclosure_log or open_audit_log(config),
        max_hits=config.max_hits,
        metrics=metrics,
        digester=digester,
        limits=NodeLimits(default_limits_path(config.database), config.limits, digester),
        request_ids=RequestIdRegister(
            default_request_ids_path(config.database),
            config.node_id,
            seed=lambda everything: audited_request_ids(
                (config.audit or default_audit_config(config.database)).database,
                None if everything else RECLAIMED_AT_START,
            ),
        ),
        bundle=watcher,
        decision_log=(
            DecisionLog(
                config.policy.decision_log,
                config.node_id,
                bundle_name=config.policy.bundle.name if config.policy.bundle else "",
            )
            if config.policy.decision_log is not None
            else None
        ),
    )


RECLAIMED_AT_START = 10_000
"""The audit log's newest search entries whose request ids a node claims again at start."""


def audited_request_ids(path: Path, newest: int | None = None) -> list[str]:
    """The request ids of the search entries in the audit log at ``path`` (none if no log).

    ``newest``: only that many of the latest entries; None: every one.
    """
    if not path.exists():
        return []
    with AuditReader(path) as reader:
        rows = reader.entries(SEARCH) if newest is None else reader.newest(SEARCH, newest)
        ids = (row.document().get("data", {}).get("request_id") for row in rows)
        return [i for i in ids if isinstance(i, str)]


def _log_of(disclosure_log: DisclosureLog | None, audit: AuditStore | None) -> DisclosureLog:
    log_ = disclosure_log or audit
    assert log_ is not None  # start_node opens the audit store when no log is given
    return log_


async def start_node(
    config: NodeConfig, disclosure_log: DisclosureLog | None = None
) -> RunningNode:
    """Start a node's gRPC server on ``config.listen`` and return it running."""
    audit = None if disclosure_log is not None else open_audit_log(config)
    # This node's own registries: several nodes in one process must not share series.
    # The public one holds only person-blind series (node/metrics.py); the process's
    # CPU and memory move with a held person's contract work, so they are private.
    registry = new_registry(process=False)
    private = new_registry()
    metrics = NodeMetrics(registry, private)
    if config.tls is not None:
        track_certificate_expiry(registry, "fieldgate_node", config.tls)
    budget = AuditBudget(
        config.audit_budget,
        volume_path=(config.audit or default_audit_config(config.database)).database,
    )
    try:
        node = build_node(
            config, BudgetedDisclosureLog(_log_of(disclosure_log, audit), budget), metrics
        )
    except BaseException:
        if audit is not None:
            audit.close()
        raise
    budget.on_refusal = metrics.audit_budget_refused
    metrics.track_audit_volume(
        budget.volume_in_use, config.audit_budget.volume_bytes, config.audit_budget.alert_fraction
    )
    witnesses = None
    if audit is not None:
        budget.audit_refusal = functools.partial(audit.append, BUDGET_REFUSED)
        audit.on_tamper = metrics.audit_tampered
        witnesses = start_witnessing(config, audit, metrics)
        audit.start_timer()
    grpc_metrics = GrpcServerMetrics(registry, [SERVICE_NAME])
    grpc_metrics.prepare(SERVICE_NAME, ("Search", "Describe"))
    # Inside the metrics interceptor: handling times are the held ones, which say nothing.
    timing = AnswerTiming(
        config.timing.floor_seconds,
        (f"/{SERVICE_NAME}/Search",),
        max_load_factor=config.timing.max_load_factor,
    )
    server = grpc.aio.server(
        # Metrics outermost, so they count the clean status CleanErrors gives; the
        # answer hold outside CleanErrors, so a clean INTERNAL leaves on time too.
        interceptors=[grpc_metrics, timing, CleanErrors()],
        options=server_options(config.server, max_send_bytes=MAX_MESSAGE_BYTES),
        # Calls past it are refused before their body is read: unfinished calls pin at
        # most this many request messages (fieldgate.ops.server_options).
        maximum_concurrent_rpcs=config.server.max_concurrent_rpcs,
    )
    if config.trust is None:
        log.warning(
            "NODE %s IS INSECURE: no trust bundle, requester claims are taken as stated. "
            "Development only.",
            config.node_id,
        )
        gate = TrustGate(None, metrics)
    else:
        if config.enc_key is None or config.answer_key is None:
            log.warning(
                "NODE %s HAS NO %s: it can neither open a sealed query nor answer one "
                "(set [node.trust] answer_key and enc_key)",
                config.node_id,
                "ENCRYPTION KEY" if config.enc_key is None else "ANSWER KEY",
            )
        gate = TrustGate(
            build_verifier(config.trust),
            metrics,
            node_id=config.node_id,
            enc_key=None if config.enc_key is None else load_enc_private_key(config.enc_key),
        )
        assert gate.verifier is not None
        track_trust_age(registry, "fieldgate_node", gate.verifier.trust)
    host, _, _ = config.listen.rpartition(":")
    if config.tls is None:
        log.warning("NODE %s SERVES PLAINTEXT: development only.", config.node_id)
    maintenance = None
    try:
        if config.maintenance is not None:
            maintenance = await MaintenanceServer.start(
                config.maintenance, SERVICE_NAME, f"node {config.node_id}"
            )
        health = NodeHealth(node, maintenance)
        signer = (
            None
            if config.answer_key is None
            else AnswerSigner(config.node_id, load_private_key(config.answer_key))
        )
        servicer = NodeServicer(
            node,
            gate,
            allowed_clients=config.allowed_clients,
            health=health,
            budget=budget,
            signer=signer,
        )
        node_pb2_grpc.add_NodeServiceServicer_to_server(servicer, server)
        port = bind(server, config.listen, config.tls, f"node {config.node_id}")
        await server.start()
        await health.refresh()
        endpoint = private_endpoint = None
        if config.metrics is not None:
            endpoint = MetricsEndpoint.start(
                config.metrics.listen, registry, f"node {config.node_id}"
            )
            if config.metrics.private_listen is not None:
                try:
                    private_endpoint = MetricsEndpoint.start(
                        config.metrics.private_listen,
                        private,
                        f"node {config.node_id} (agency-only metrics)",
                    )
                except BaseException:
                    endpoint.stop()
                    raise
    except BaseException:
        # Nothing half-started outlives a failed start (a taken port, say).
        await server.stop(0)
        if maintenance is not None:
            await maintenance.stop(0)
        node.contract.close()
        node.store.close()
        if audit is not None:
            audit.close()
        if witnesses is not None:
            witnesses.close()
        raise
    refresher = None if config.trust is None else build_refresher(config.trust)
    if refresher is not None:
        refresher.start()
    return RunningNode(
        server,
        f"{host}:{port}",
        node,
        node.store,
        gate,
        audit,
        endpoint,
        maintenance,
        witnesses,
        private_endpoint,
        refresher,
    )


def start_witnessing(
    config: NodeConfig, audit: AuditStore, metrics: NodeMetrics
) -> WitnessPusher | None:
    """Push each checkpoint of ``audit`` to the configured witnesses (None when there are none)."""
    settings = config.audit or default_audit_config(config.database)
    if not settings.witnesses:
        return None
    pusher = WitnessPusher(
        audit.path,
        origin_of(config.node_id, audit.log_id),
        ensure_key(settings.key),
        settings.witnesses,
        quorum=settings.witness_quorum,
        timeout_seconds=settings.witness_timeout_seconds,
        on_quorum=metrics.witness_quorum,
    )
    audit.on_checkpoint = lambda checkpoint: pusher.submit(checkpoint.seq)
    return pusher
