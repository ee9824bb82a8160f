"""Starting and stopping the broker's gRPC server."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from fieldgate.broker.audit_log import BrokerSearchLog, search_log_digester
from fieldgate.broker.config import BrokerConfig
from fieldgate.broker.directory import NodeDirectory
from fieldgate.broker.fanout import FanOut
from fieldgate.broker.fd_limit import raise_fd_limit
from fieldgate.broker.limits import Limits
from fieldgate.broker.metrics import BrokerMetrics
from fieldgate.broker.servicer import BrokerServicer
from fieldgate.core.answer_caps import MAX_BROKER_ANSWER_BYTES
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
from fieldgate.trust.config import build_refresher, build_verifier
from fieldgate.trust.refresh import TrustRefresher
from fieldgate.v2 import broker_pb2_grpc

log = logging.getLogger("fieldgate.broker")

SERVICE_NAME = "fieldgate.v2.BrokerService"
"""The broker's gRPC service, as health checks and reflection name it."""

MAX_ANSWER_BYTES = MAX_BROKER_ANSWER_BYTES
"""Largest answer sent: every agency's answer at its protocol cap."""


@dataclass
class RunningBroker:
    """A started broker: its server, bound address and node channels."""

    server: grpc.aio.Server
    address: str
    fanout: FanOut
    search_log: BrokerSearchLog | None = None
    metrics: BrokerMetrics | None = None
    """The broker's metrics (its own registry), served when ``[broker.metrics]`` is set."""
    metrics_endpoint: MetricsEndpoint | None = None
    """The Prometheus endpoint, when ``[broker.metrics]`` asked for one."""
    maintenance: MaintenanceServer | None = None
    """The health (and reflection) server, when ``[broker.maintenance]`` asked for one."""
    limits: Limits | None = None
    """The broker's abuse limits (``[broker.limits]``)."""
    refresher: TrustRefresher | None = None
    """The scheduled trust refresh, when ``[broker.trust] source`` is set."""

    @property
    def metrics_port(self) -> int | None:
        """The bound metrics port (real even when the config said 0), if serving metrics."""
        return self.metrics_endpoint.port if self.metrics_endpoint else None

    @property
    def maintenance_port(self) -> int | None:
        """The bound maintenance (health) port, if one is open."""
        return self.maintenance.port if self.maintenance else None

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop serving (finishing in-flight searches within ``grace``) and close channels.

        Health turns NOT_SERVING first, so probes and load balancers stop
        sending work while in-flight searches finish.
        """
        await drain_and_stop(self.server, grace, self.maintenance, self.metrics_endpoint)
        if self.refresher is not None:
            self.refresher.close()
        await self.fanout.close()
        if self.search_log is not None:
            self.search_log.close()


async def start_broker(
    config: BrokerConfig, *, clock: Callable[[], float] = time.monotonic
) -> RunningBroker:
    """Start the broker on ``config.listen`` and return it running.

    No node is dialled here: each node's channel opens when a search first asks
    it (:mod:`fieldgate.broker.channel_pool`), so a broker of thousands of
    nodes starts at once, whichever of them are up.

    ``clock`` (monotonic seconds) drives the limits' token buckets and sweep window.

    Raises:
        fieldgate.broker.errors.FileLimitTooLow: RLIMIT_NOFILE cannot cover a
            connection per node address.
        fieldgate.trust.trust_bundle.TrustUnavailable: the directory's bundle
            (``[broker.directory]``) cannot be read or does not verify.
    """
    limits = Limits(config.limits, clock)
    directory = NodeDirectory(config)
    roster = directory.roster()
    raise_fd_limit(roster.addresses)
    # This broker's own registry: never the process-wide default.
    registry = new_registry()
    metrics = BrokerMetrics(registry, [n.node_id for n in roster.entries])
    if config.tls is not None:
        track_certificate_expiry(registry, "fieldgate_broker", config.tls)
    fanout = FanOut(
        directory,
        config.tls,
        metrics,
        config.node_deadline_ms,
        config.fanout.channel_idle_seconds,
    )
    metrics.node_channels.set_function(lambda: fanout.pool.open_channels)
    grpc_metrics = GrpcServerMetrics(registry, [SERVICE_NAME])
    grpc_metrics.prepare(SERVICE_NAME, ("Search", "ListNodes"), streams=("SearchStream",))
    server = grpc.aio.server(
        # Metrics outermost, so they count the clean status CleanErrors gives.
        interceptors=[grpc_metrics, CleanErrors()],
        options=server_options(config.server, max_send_bytes=MAX_ANSWER_BYTES),
        # Calls past it are refused before their body is read: unfinished calls pin at
        # most this many request messages (fieldgate.ops.server_options).
        maximum_concurrent_rpcs=config.server.max_concurrent_rpcs,
    )
    if config.trust is None:
        log.warning("BROKER IS INSECURE: unsigned searches are forwarded. Development only.")
        verifier = None
    else:
        verifier = build_verifier(config.trust)
        track_trust_age(registry, "fieldgate_broker", verifier.trust)
    search_log = (
        BrokerSearchLog(config.search_log, search_log_digester(config))
        if config.search_log
        else None
    )
    broker_pb2_grpc.add_BrokerServiceServicer_to_server(
        BrokerServicer(config, fanout, verifier, search_log, metrics, limits), server
    )
    host, _, _ = config.listen.rpartition(":")
    if config.tls is None:
        log.warning("BROKER SERVES PLAINTEXT: development only.")
    maintenance = None
    try:
        if config.maintenance is not None:
            maintenance = await MaintenanceServer.start(config.maintenance, SERVICE_NAME, "broker")
        port = bind(server, config.listen, config.tls, "the broker")
        await server.start()
        if maintenance is not None:
            await maintenance.set_serving(True)
        endpoint = None
        if config.metrics is not None:
            endpoint = MetricsEndpoint.start(config.metrics.listen, registry, "the broker")
    except BaseException:
        # Nothing half-started outlives a failed start (a taken port, say).
        await server.stop(0)
        if maintenance is not None:
            await maintenance.stop(0)
        await fanout.close()
        if search_log is not None:
            search_log.close()
        raise
    fanout.start(connect=config.fanout.connect_at_start)
    refresher = None if config.trust is None else build_refresher(config.trust)
    if refresher is not None:
        refresher.start()
    return RunningBroker(
        server,
        f"{host}:{port}",
        fanout,
        search_log,
        metrics,
        endpoint,
        maintenance,
        limits,
        refresher,
    )
