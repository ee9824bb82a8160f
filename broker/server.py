"""Starting and stopping the broker's gRPC server."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc

from broker.audit_log import BrokerSearchLog
from broker.config import BrokerConfig
from broker.fanout import FanOut
from broker.servicer import BrokerServicer
from fieldgate.serving import bind
from fieldgate.trust.config import build_verifier
from fieldgate.v1 import broker_pb2_grpc

log = logging.getLogger("fieldgate.broker")

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Largest request accepted; an answer merges many nodes so it may be larger."""


@dataclass
class RunningBroker:
    """A started broker: its server, bound address and node channels."""

    server: grpc.aio.Server
    address: str
    fanout: FanOut
    search_log: BrokerSearchLog | None = None

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop serving (finishing in-flight searches within ``grace``) and close channels."""
        await self.server.stop(grace)
        await self.fanout.close()
        if self.search_log is not None:
            self.search_log.close()


async def start_broker(config: BrokerConfig) -> RunningBroker:
    """Start the broker on ``config.listen`` and return it running."""
    fanout = FanOut(config.nodes, config.tls)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            # A second process on the same port must fail, not share it silently.
            ("grpc.so_reuseport", 0),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ]
    )
    if config.trust is None:
        log.warning("BROKER IS INSECURE: unsigned searches are forwarded. Development only.")
        verifier = None
    else:
        verifier = build_verifier(config.trust)
    search_log = BrokerSearchLog(config.search_log) if config.search_log else None
    broker_pb2_grpc.add_BrokerServicer_to_server(
        BrokerServicer(config, fanout, verifier, search_log), server
    )
    host, _, _ = config.listen.rpartition(":")
    if config.tls is None:
        log.warning("BROKER SERVES PLAINTEXT: development only.")
    port = bind(server, config.listen, config.tls, "the broker")
    await server.start()
    return RunningBroker(server, f"{host}:{port}", fanout, search_log)
