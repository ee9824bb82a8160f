"""Bounded pre-authentication cost: the gRPC server options of the broker and every node.

Before a caller has shown a certificate or a signed search it costs the server
a socket, a TLS handshake, HTTP/2 state and buffers. Unbounded, a flood of
half-open or slow connections fills memory long before any search is refused
(the broker once went from 74 MB to about 900 MB under half-open TLS
connections). Every knob here bounds one of those costs; the defaults keep a
broker or node inside its Kubernetes memory limit (512 Mi) under 10,000
half-open connections while legitimate searches keep being served (figures in
``docs/reliability.md``).

After the handshake, a caller that opens calls and sends their bodies slowly
(slowloris) pins what gRPC buffers for each unfinished call: HTTP/2 flow
control grants a call as much window as the message it announces, so one
call holds at most ``max_receive_bytes`` + ``stream_window_bytes`` (BDP
probing, which would grow the window, is off). The bound is therefore::

    per connection  min(max_concurrent_streams, max_concurrent_rpcs)
                      x (max_receive_bytes + stream_window_bytes)
    per server      max_concurrent_rpcs x (max_receive_bytes + stream_window_bytes)

Calls past ``max_concurrent_rpcs`` are refused (``RESOURCE_EXHAUSTED``) before
their body is read. Node and broker have their own defaults (a node's callers
are brokers; a broker's are investigators): :data:`BROKER_SERVER_LIMITS`,
:data:`NODE_SERVER_LIMITS`; the arithmetic for each is in
``docs/reliability.md``.

Configured in ``[broker.server]`` / ``[node.server]`` (every key optional;
broker defaults shown, the node's differ where noted)::

    [broker.server]
    max_connections = 4096            # open connections; more are closed at accept
    handshake_timeout_ms = 5000       # a TLS/HTTP2 handshake not done by then is dropped
    max_concurrent_streams = 32       # calls in flight on one connection (node: 1024)
    max_concurrent_rpcs = 96          # calls in flight on the server (node: 128)
    stream_window_bytes = 65536       # HTTP/2 receive window of one call
    max_frame_bytes = 16384           # largest HTTP/2 frame accepted
    max_connection_idle_ms = 300000   # a connection with no call this long is closed
    max_connection_age_ms = 3600000   # every connection is recycled after this long
    max_metadata_bytes = 16384        # request headers
    max_receive_bytes = 4194304       # one request message
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fieldgate.core.config import Section

__all__ = [
    "BROKER_SERVER_LIMITS",
    "NODE_SERVER_LIMITS",
    "ServerLimitsConfig",
    "pinned_bytes",
    "server_limits_config",
    "server_options",
]


@dataclass(frozen=True)
class ServerLimitsConfig:
    """``[broker.server]`` / ``[node.server]``: what a connection may cost before it is trusted."""

    max_connections: int = 4096
    """Open connections accepted at once (``grpc.max_allowed_incoming_connections``);
    one more is closed as soon as it is accepted."""
    handshake_timeout_ms: int = 5000
    """A connection whose TLS and HTTP/2 handshake is not done by then is dropped
    (``grpc.server_handshake_timeout_ms``): half-open connections do not linger."""
    max_concurrent_streams: int = 32
    """Calls in flight on one connection (HTTP/2 ``SETTINGS_MAX_CONCURRENT_STREAMS``).
    An investigator has at most 16 searches in flight (the broker's per-requester
    limit); more wait for a stream on the client. A broker sends all its searches
    to a node over one connection, and grpc clients in one process share one
    connection per address: a node keeps this above the broker's ``global_concurrency``
    (512; :data:`NODE_SERVER_LIMITS` has 1024), or searches beyond it wait for a stream."""
    max_concurrent_rpcs: int = 96
    """Calls in flight on the whole server; more are refused with ``RESOURCE_EXHAUSTED``
    before their body is read (``maximum_concurrent_rpcs``). With ``max_receive_bytes``
    this bounds what unfinished calls can pin (see the module docstring): 96 x 4 MiB
    fits a broker's 512 Mi. Above ``max_concurrent_streams``, so one investigator's
    connection cannot take every call slot."""
    stream_window_bytes: int = 64 * 1024
    """HTTP/2 receive window of one call beyond the message it announces
    (``grpc.http2.lookahead_bytes``); BDP probing is off, so it does not grow."""
    max_frame_bytes: int = 16 * 1024
    """Largest HTTP/2 frame accepted (``grpc.http2.max_frame_size``; 16 KiB is the
    protocol's minimum): no single frame needs a larger buffer."""
    max_connection_idle_ms: int = 300_000
    """A connection with no call in flight this long is closed."""
    max_connection_age_ms: int = 3_600_000
    """Every connection is closed (gracefully) after this long, so none holds state forever."""
    max_connection_age_grace_ms: int = 30_000
    """How long calls on a connection past its age may still finish."""
    min_ping_interval_ms: int = 60_000
    """Closer client keepalive pings count as strikes; after ``max_ping_strikes`` the
    connection is closed (keepalive enforcement)."""
    max_ping_strikes: int = 2
    """Too-frequent pings tolerated before the connection is closed."""
    max_metadata_bytes: int = 16 * 1024
    """Request headers (metadata) accepted on one call."""
    max_receive_bytes: int = 4 * 1024 * 1024
    """Largest request message accepted; larger ones get RESOURCE_EXHAUSTED unread."""


BROKER_SERVER_LIMITS = ServerLimitsConfig()
"""A broker's defaults: its callers are investigators' tools."""
NODE_SERVER_LIMITS = ServerLimitsConfig(max_concurrent_streams=1024, max_concurrent_rpcs=128)
"""A node's defaults: its callers are brokers, each with up to 512 searches in flight over
one connection (so 1,024 streams), but only 128 calls at once on the server: a node's
request carries every addressed node's sealed query (the proof commits to them all), so
it may be as large as the broker's (4 MiB), and 128 x 4 MiB fits its 1 Gi. A federation
of N nodes may set ``max_receive_bytes`` to about 32 KiB + N x 64 KiB and raise
``max_concurrent_rpcs`` in proportion."""


def pinned_bytes(limits: ServerLimitsConfig) -> tuple[int, int]:
    """The most unfinished calls can pin: (per connection, per server), in bytes."""
    per_call = limits.max_receive_bytes + limits.stream_window_bytes
    calls = min(limits.max_concurrent_streams, limits.max_concurrent_rpcs)
    return calls * per_call, limits.max_concurrent_rpcs * per_call


def server_limits_config(
    section: Section, defaults: ServerLimitsConfig = BROKER_SERVER_LIMITS
) -> ServerLimitsConfig:
    """Read ``[broker.server]`` / ``[node.server]`` (every key optional), naming a bad key.

    Args:
        section: the ``server`` section.
        defaults: the values of keys not given (:data:`NODE_SERVER_LIMITS` for a node).
    """
    d = defaults
    config = ServerLimitsConfig(
        max_connections=section.integer("max_connections", d.max_connections, minimum=1),
        handshake_timeout_ms=section.integer(
            "handshake_timeout_ms", d.handshake_timeout_ms, minimum=100
        ),
        max_concurrent_streams=section.integer(
            "max_concurrent_streams", d.max_concurrent_streams, minimum=1
        ),
        max_concurrent_rpcs=section.integer(
            "max_concurrent_rpcs", d.max_concurrent_rpcs, minimum=1
        ),
        stream_window_bytes=section.integer(
            "stream_window_bytes", d.stream_window_bytes, minimum=1024
        ),
        max_frame_bytes=section.integer("max_frame_bytes", d.max_frame_bytes, minimum=16 * 1024),
        max_connection_idle_ms=section.integer(
            "max_connection_idle_ms", d.max_connection_idle_ms, minimum=1000
        ),
        max_connection_age_ms=section.integer(
            "max_connection_age_ms", d.max_connection_age_ms, minimum=1000
        ),
        max_connection_age_grace_ms=section.integer(
            "max_connection_age_grace_ms", d.max_connection_age_grace_ms, minimum=0
        ),
        min_ping_interval_ms=section.integer(
            "min_ping_interval_ms", d.min_ping_interval_ms, minimum=1000
        ),
        max_ping_strikes=section.integer("max_ping_strikes", d.max_ping_strikes, minimum=0),
        max_metadata_bytes=section.integer(
            "max_metadata_bytes", d.max_metadata_bytes, minimum=1024
        ),
        max_receive_bytes=section.integer(
            "max_receive_bytes", d.max_receive_bytes, minimum=64 * 1024
        ),
    )
    section.finish()  # a misspelt key is named, not ignored
    return config


def server_options(limits: ServerLimitsConfig, *, max_send_bytes: int) -> list[tuple[str, Any]]:
    """The gRPC server options enforcing ``limits`` (plus one-port-one-process).

    ``limits.max_concurrent_rpcs`` is no channel option: pass it to ``grpc.aio.server``
    as ``maximum_concurrent_rpcs``.
    """
    return [
        ("grpc.max_receive_message_length", limits.max_receive_bytes),
        ("grpc.max_send_message_length", max_send_bytes),
        # A second process on the same port must fail, not share it silently.
        ("grpc.so_reuseport", 0),
        ("grpc.max_allowed_incoming_connections", limits.max_connections),
        ("grpc.server_handshake_timeout_ms", limits.handshake_timeout_ms),
        ("grpc.max_concurrent_streams", limits.max_concurrent_streams),
        ("grpc.http2.lookahead_bytes", limits.stream_window_bytes),
        # BDP probing would grow a call's window past ``stream_window_bytes``.
        ("grpc.http2.bdp_probe", 0),
        ("grpc.http2.max_frame_size", limits.max_frame_bytes),
        ("grpc.max_connection_idle_ms", limits.max_connection_idle_ms),
        ("grpc.max_connection_age_ms", limits.max_connection_age_ms),
        ("grpc.max_connection_age_grace_ms", limits.max_connection_age_grace_ms),
        ("grpc.http2.min_ping_interval_without_data_ms", limits.min_ping_interval_ms),
        ("grpc.http2.max_ping_strikes", limits.max_ping_strikes),
        ("grpc.max_metadata_size", limits.max_metadata_bytes),
        ("grpc.absolute_max_metadata_size", limits.max_metadata_bytes),
    ]
