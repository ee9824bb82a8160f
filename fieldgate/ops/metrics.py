"""Prometheus plumbing shared by nodes and the broker.

Each node and broker keeps its metrics in its *own*
:class:`prometheus_client.CollectorRegistry` (never the process-wide default),
so several of them can run in one process — the demo, the tests — without
their series colliding; each is served on its own HTTP port by
:class:`MetricsEndpoint`.

:class:`GrpcServerMetrics` is an asyncio server interceptor that keeps the
conventional gRPC server metrics (the names of go-grpc-prometheus and
py-grpc-prometheus, which is synchronous only): ``grpc_server_started_total``,
``grpc_server_handled_total`` and ``grpc_server_handling_seconds``, labelled
by gRPC type, service, method and, once handled, status code.

Labels are always bounded: :func:`bounded` maps any value outside a known set
to ``other`` so nothing a requester sends can mint new series. No name,
record id or subject is ever a label.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, cast

import grpc
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import start_http_server

from fieldgate.core.certs import expiry_of
from fieldgate.core.errors import FieldgateError
from fieldgate.core.tls import TLSFiles
from fieldgate.trust.trust_bundle import TrustStore, TrustUnavailable

OTHER = "other"
"""Label value standing for anything outside a label's known set."""

GRPC_HANDLING_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Seconds: loopback calls take milliseconds; the broker's deadline is at most 10 s."""


def bounded(value: str, allowed: Collection[str]) -> str:
    """``value`` if it is one of ``allowed``, else :data:`OTHER` (keeps label sets bounded)."""
    return value if value in allowed else OTHER


def track_certificate_expiry(registry: CollectorRegistry, prefix: str, tls: TLSFiles) -> Gauge:
    """``<prefix>_certificate_expiry_seconds``: when each certificate in use expires.

    The value is the Unix time (seconds) of the certificate's ``notAfter``, for
    ``certificate`` = ``own`` (the certificate this server presents and calls
    with) and ``ca`` (the CA it trusts), read when the server started — the
    ones it actually uses. A file that cannot be read exports 0, which the
    14-day alert (``FieldgateCertificateExpiring``) also catches.
    """
    gauge = Gauge(
        f"{prefix}_certificate_expiry_seconds",
        "Unix time at which each TLS certificate this server uses expires "
        "(certificate=own: the one it presents; ca: the CA it trusts).",
        ["certificate"],
        registry=registry,
    )
    for label, path in (("own", tls.cert), ("ca", tls.ca)):
        expires = expiry_of(path)
        gauge.labels(label).set(expires.timestamp() if expires is not None else 0)
    return gauge


def track_trust_age(registry: CollectorRegistry, prefix: str, store: TrustStore) -> Gauge:
    """``<prefix>_trust_issued_at_seconds`` and ``<prefix>_trust_max_age_seconds``.

    The first is the Unix time the trust bundle (``file=bundle``) and the
    revocation list (``file=revocations``) in use were issued (0 while none
    can be read), read at each scrape; the second is the age at which the
    party stops trusting them. ``FieldgateTrustAgeing`` fires at half of it,
    well before searches stop.
    """
    issued = Gauge(
        f"{prefix}_trust_issued_at_seconds",
        "Unix time at which the trust file in use was issued (file=bundle or revocations).",
        ["file"],
        registry=registry,
    )
    limit = Gauge(
        f"{prefix}_trust_max_age_seconds",
        "Age at which this party stops trusting its trust files (and releases nothing).",
        registry=registry,
    )
    limit.set(store.max_age.total_seconds())

    def issued_at(which: str) -> Callable[[], float]:
        def read() -> float:
            with contextlib.suppress(TrustUnavailable):
                store.current(dt.datetime.now(dt.UTC))  # picks up a refreshed file
            state = store.last_loaded()
            if state is None:
                return 0.0
            when = state.bundle_issued_at if which == "bundle" else state.revocations_issued_at
            return when.timestamp()

        return read

    for which in ("bundle", "revocations"):
        issued.labels(which).set_function(issued_at(which))
    return issued


def new_registry(*, process: bool = True) -> CollectorRegistry:
    """A registry of one node or broker, with this process's CPU, memory and fd metrics.

    ``process=False``: without them (a node's public registry: CPU time moves
    with the contract work a held person causes; see :mod:`fieldgate.node.metrics`).

    Also turns off prometheus-client's ``*_created`` series (process-wide): they
    double the scrape and no dashboard or alert here reads them.
    """
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=True)
    if process:
        ProcessCollector(registry=registry)
    return registry


class MetricsError(FieldgateError):
    """The metrics endpoint could not listen where its config says."""


@dataclass
class MetricsEndpoint:
    """An HTTP server answering ``GET /metrics`` with one registry's metrics."""

    server: Any
    thread: threading.Thread
    host: str
    port: int

    @property
    def address(self) -> str:
        """``host:port`` actually bound (the port is real even when 0 was asked)."""
        return f"{self.host}:{self.port}"

    @classmethod
    def start(cls, listen: str, registry: CollectorRegistry, what: str) -> MetricsEndpoint:
        """Serve ``registry`` on ``listen`` (``host:port``; port 0 picks a free one).

        Raises:
            MetricsError: the address is taken or invalid.
        """
        host, _, port = listen.rpartition(":")
        bind_host = host.strip("[]")
        try:
            server, thread = start_http_server(int(port), addr=bind_host, registry=registry)
        except (OSError, ValueError) as exc:
            raise MetricsError(f"{what} cannot serve metrics on {listen}: {exc}") from None
        return cls(server, thread, host, int(server.server_port))

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


Behavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]
StreamBehavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]


def _split_method(full: str) -> tuple[str, str]:
    """``/pkg.Service/Method`` → (``pkg.Service``, ``Method``)."""
    _, service, method = full.split("/", 2) if full.count("/") >= 2 else ("", "unknown", full)
    return service or "unknown", method or "unknown"


class GrpcServerMetrics(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Conventional ``grpc_server_*`` metrics for an asyncio gRPC server.

    Unary and server-streaming methods (all Fieldgate has) are timed and
    counted (``grpc_type`` ``unary`` or ``server_stream``; a stream is timed
    from the request to its last message); client-streaming kinds pass
    through uncounted. The status code is the one the
    handler set (``context.abort`` / ``set_code``), ``OK`` on a normal return,
    ``UNKNOWN`` on an unexpected exception and ``CANCELLED`` when the call was
    cancelled.
    """

    def __init__(self, registry: CollectorRegistry, services: Collection[str]) -> None:
        """Count calls to ``services`` (full names, e.g. ``fieldgate.v2.NodeService``)."""
        self._services = frozenset(services)
        self._wrapped: dict[str, tuple[object, grpc.RpcMethodHandler[Any, Any]]] = {}
        labels = ["grpc_type", "grpc_service", "grpc_method"]
        self.started = Counter(
            "grpc_server_started",
            "RPCs started on the server.",
            labels,
            registry=registry,
        )
        self.handled = Counter(
            "grpc_server_handled",
            "RPCs completed on the server, by status code.",
            [*labels, "grpc_code"],
            registry=registry,
        )
        self.handling = Histogram(
            "grpc_server_handling_seconds",
            "Time from receiving an RPC to sending its status.",
            labels,
            buckets=GRPC_HANDLING_BUCKETS,
            registry=registry,
        )

    def prepare(
        self, service: str, methods: Collection[str], streams: Collection[str] = ()
    ) -> None:
        """Create the series of ``methods`` (unary) and ``streams`` (server-streaming) at zero.

        So that rates exist before the first call.
        """
        for kind, names in (("unary", methods), ("server_stream", streams)):
            for method in names:
                self.started.labels(kind, service, method)
                self.handling.labels(kind, service, method)
                self.handled.labels(kind, service, method, grpc.StatusCode.OK.name)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        # None: no such method (grpc answers UNIMPLEMENTED). Client-streaming
        # kinds (Fieldgate has none) pass through uncounted.
        if handler is None:
            return handler
        behavior = handler.unary_unary or handler.unary_stream
        if behavior is None:
            return handler
        # The wrapped handler and its label children are made once per method:
        # looking labels up on every call was a sixth of a busy node's time.
        cached = self._wrapped.get(handler_call_details.method)
        if cached is not None and cached[0] is behavior:
            return cached[1]
        service, method = _split_method(handler_call_details.method)
        if service not in self._services:
            return handler
        if handler.unary_unary is not None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                self._timed_unary(cast(Behavior, behavior), service, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        else:
            wrapped = grpc.unary_stream_rpc_method_handler(
                self._timed_stream(cast(StreamBehavior, behavior), service, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        self._wrapped[handler_call_details.method] = (behavior, wrapped)
        return wrapped

    def _series(
        self, kind: str, service: str, method: str
    ) -> tuple[Any, Any, Callable[[grpc.StatusCode], None]]:
        """The started and handling children of one method, and a counter of its endings."""
        started = self.started.labels(kind, service, method)
        handling = self.handling.labels(kind, service, method)
        handled: dict[grpc.StatusCode, Any] = {}

        def count_handled(code: grpc.StatusCode) -> None:
            child = handled.get(code)
            if child is None:
                child = handled[code] = self.handled.labels(kind, service, method, code.name)
            child.inc()

        return started, handling, count_handled

    def _timed_unary(self, behavior: Behavior, service: str, method: str) -> Behavior:
        started, handling, count_handled = self._series("unary", service, method)

        async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started.inc()
            begun = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                response = await behavior(request, context)
            except BaseException as exc:
                code = _code_of(context, exc)
                raise
            else:
                code = _code_of(context, None)
                return response
            finally:
                handling.observe(time.perf_counter() - begun)
                count_handled(code)

        return timed

    def _timed_stream(self, behavior: StreamBehavior, service: str, method: str) -> StreamBehavior:
        started, handling, count_handled = self._series("server_stream", service, method)

        async def timed(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            started.inc()
            begun = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                async for message in behavior(request, context):
                    yield message
            except GeneratorExit:  # the client went away mid-stream
                code = grpc.StatusCode.CANCELLED
                raise
            except BaseException as exc:
                code = _code_of(context, exc)
                raise
            else:
                code = _code_of(context, None)
            finally:
                handling.observe(time.perf_counter() - begun)
                count_handled(code)

        return timed


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _code_of(
    context: grpc.aio.ServicerContext[Any, Any], exc: BaseException | None
) -> grpc.StatusCode:
    """The status code a call ends with, as far as the server can tell."""
    try:
        set_code: object = context.code()
    except Exception:  # older grpc or a context without code(): fall back below
        set_code = None
    if isinstance(set_code, grpc.StatusCode):
        return set_code
    if isinstance(set_code, int) and set_code in _CODES:
        return _CODES[set_code]
    if exc is None:
        return grpc.StatusCode.OK
    if isinstance(exc, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN
