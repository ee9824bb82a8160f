"""Operations endpoints of a node or broker: metrics, health, reflection; their config.

Besides its mutually authenticated gRPC port, a process may open two more,
each only when its config table is present:

- ``[node.metrics]`` / ``[broker.metrics]`` ``listen = "host:port"``: HTTP,
  ``GET /metrics`` in the Prometheus text format (:mod:`fieldgate.ops.metrics`).
- ``[node.maintenance]`` / ``[broker.maintenance]`` ``listen = "host:port"``,
  ``reflection = false``: plaintext gRPC serving the standard health service
  (``grpc.health.v1.Health``) and, when ``reflection = true``, server
  reflection. It is separate because Kubernetes' gRPC probes cannot present a
  client certificate; it carries no data, and NetworkPolicies keep it to the
  cluster.

Health names: ``""`` (the whole server) and the API's service
(``fieldgate.v2.NodeService`` / ``fieldgate.v2.BrokerService``) report SERVING only
while the process can answer searches; :data:`LIVENESS_SERVICE` reports
SERVING for as long as the process's event loop runs, for liveness probes
(restarting a node because its contract is broken would not mend it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

from fieldgate.core.config import ConfigError, Section
from fieldgate.core.logs import LOG_FORMATS
from fieldgate.ops.metrics import MetricsEndpoint
from fieldgate.ops.serving import bind

LIVENESS_SERVICE = "fieldgate.liveness"
"""Health service name that is SERVING while the process runs (liveness probes)."""


@dataclass(frozen=True)
class MetricsConfig:
    """``[<table>.metrics]``: where Prometheus scrapes this process."""

    listen: str
    """``host:port`` of the HTTP metrics endpoint (port 0 picks a free one)."""


@dataclass(frozen=True)
class MaintenanceConfig:
    """``[<table>.maintenance]``: the plaintext health (and reflection) port."""

    listen: str
    """``host:port`` of the maintenance gRPC server (port 0 picks a free one)."""
    reflection: bool = False
    """Also serve gRPC server reflection (for grpcurl and friends)."""


def metrics_config(parent: Section) -> MetricsConfig | None:
    """Read ``metrics`` under ``parent``; None when the table is absent (no endpoint)."""
    if not parent.has("metrics"):
        return None
    section = parent.section("metrics")
    config = MetricsConfig(listen=section.address("listen"))
    section.finish()
    return config


def maintenance_config(parent: Section) -> MaintenanceConfig | None:
    """Read ``maintenance`` under ``parent``; None when the table is absent (no port)."""
    if not parent.has("maintenance"):
        return None
    section = parent.section("maintenance")
    config = MaintenanceConfig(
        listen=section.address("listen"), reflection=section.boolean("reflection", False)
    )
    section.finish()
    return config


def read_log_format(parent: Section, table: str) -> str:
    """Read ``log_format`` of ``table`` (``text`` or ``json``; default ``text``)."""
    value = parent.string("log_format", "text")
    if value not in LOG_FORMATS:
        raise ConfigError(
            f"{table}.log_format", f"must be one of {', '.join(LOG_FORMATS)}, not {value!r}"
        )
    return value


SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class MaintenanceServer:
    """The maintenance gRPC server: health checking and, optionally, reflection."""

    def __init__(
        self,
        server: grpc.aio.Server,
        servicer: Any,  # grpc_health's aio HealthServicer (grpc-stubs predate it)
        port: int,
        host: str,
        api_service: str,
    ) -> None:
        self.server = server
        self.health = servicer
        self.port = port
        self.address = f"{host}:{port}"
        self.api_service = api_service
        self.serving: bool | None = None

    @classmethod
    async def start(
        cls, config: MaintenanceConfig, api_service: str, what: str
    ) -> MaintenanceServer:
        """Start serving health (NOT_SERVING until :meth:`set_serving`) on ``config.listen``.

        Raises:
            fieldgate.ops.serving.ListenError: the address is taken or invalid.
        """
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        servicer = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        names: Sequence[str] = (health.SERVICE_NAME, api_service)
        if config.reflection:
            names = (*names, reflection.SERVICE_NAME)
            reflection.enable_server_reflection(names, server)
        port = bind(server, config.listen, None, f"{what} maintenance port")
        await server.start()
        host, _, _ = config.listen.rpartition(":")
        running = cls(server, servicer, port, host, api_service)
        await servicer.set(LIVENESS_SERVICE, SERVING)
        await running.set_serving(False)
        return running

    async def set_serving(self, serving: bool) -> None:
        """Report the API (and the whole server) SERVING or NOT_SERVING."""
        if serving == self.serving:
            return
        self.serving = serving
        status = SERVING if serving else NOT_SERVING
        await self.health.set("", status)
        await self.health.set(self.api_service, status)

    async def stop(self, grace: float | None) -> None:
        """Report NOT_SERVING everywhere, then stop."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)

    async def shutting_down(self) -> None:
        """Report NOT_SERVING everywhere and ignore later changes; keeps answering probes."""
        await self.health.enter_graceful_shutdown()


async def drain_and_stop(
    server: grpc.aio.Server,
    grace: float | None,
    maintenance: MaintenanceServer | None,
    metrics_endpoint: MetricsEndpoint | None,
) -> None:
    """Stop a node's or broker's servers in the one safe order.

    Health turns NOT_SERVING first, so probes and load balancers stop sending
    work; in-flight calls then finish within ``grace``; only after that do the
    maintenance and metrics endpoints close.
    """
    if maintenance is not None:
        await maintenance.shutting_down()
    await server.stop(grace)
    if maintenance is not None:
        await maintenance.stop(0)
    if metrics_endpoint is not None:
        metrics_endpoint.stop()
