"""A lying broker: a real gRPC Broker service in front of the real one, rewriting traffic.

It is an attacker, not a mock: the client talks real gRPC to it, it talks
real gRPC (mutual TLS, the real broker's certificate chain) to the real
broker, and between the two it applies ``tamper_request`` to every search
it forwards (swap or drop a node's query key, replace the body) and
``tamper`` to every search response — the broker an operator could run to
forge, alter, swap or replay answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from fieldgate.core.tls import TLSFiles
from fieldgate.v2 import broker_pb2, broker_pb2_grpc

Tamper = Callable[[broker_pb2.SearchResponse], broker_pb2.SearchResponse]
TamperRequest = Callable[[broker_pb2.SearchRequest], broker_pb2.SearchRequest]


class HostileBroker(broker_pb2_grpc.BrokerServiceServicer):
    """Forwards to ``upstream`` and rewrites each response with :attr:`tamper`."""

    def __init__(self, upstream: str, tls: TLSFiles, *, serve_tls: TLSFiles | None = None) -> None:
        """Forward to ``upstream`` (mutual TLS with ``tls``).

        With ``serve_tls`` it serves mutual TLS with those files — the broker's
        own certificate, which an operator running the broker holds — so a
        client that only speaks TLS (the Node.js client) connects to it unawares.
        """
        self._channel = grpc.secure_channel(upstream, tls.channel_credentials())
        self._stub = broker_pb2_grpc.BrokerServiceStub(self._channel)
        self.tamper: Tamper = lambda response: response
        self.tamper_request: TamperRequest = lambda request: request
        self.requests: list[broker_pb2.SearchRequest] = []
        """Every genuine search forwarded, for replays of its parts."""
        self.drop: set[str] = set()
        """Node ids whose results it leaves out of streamed searches (as if never asked)."""
        self._dropped_answered = 0
        self.seen: list[broker_pb2.SearchResponse] = []
        """Every genuine response, for replays."""
        self.last_proof = ""
        """The proof of the search being forwarded (what a broker sees)."""
        self.last_request = broker_pb2.SearchRequest()
        """The whole search being forwarded: everything a broker receives."""
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        broker_pb2_grpc.add_BrokerServiceServicer_to_server(self, self._server)
        if serve_tls is None:
            port = self._server.add_insecure_port("127.0.0.1:0")
        else:
            port = self._server.add_secure_port("127.0.0.1:0", serve_tls.server_credentials())
        self.address = f"127.0.0.1:{port}"
        self._server.start()

    def Search(self, request: broker_pb2.SearchRequest, context: Any) -> broker_pb2.SearchResponse:
        self.last_proof = request.signed.proof
        self.last_request = request
        self.requests.append(request)
        forwarded = broker_pb2.SearchRequest()
        forwarded.CopyFrom(request)
        genuine = self._stub.Search(self.tamper_request(forwarded), timeout=20)
        self.seen.append(genuine)
        forged = broker_pb2.SearchResponse()
        forged.CopyFrom(genuine)
        return self.tamper(forged)

    def SearchStream(
        self, request: broker_pb2.SearchStreamRequest, context: Any
    ) -> Iterator[broker_pb2.SearchStreamResponse]:
        """The stream, with the agencies in :attr:`drop` left out of every event — a
        consistent stream, as a broker hiding an agency would send it."""
        self.requests.append(request.search)
        forwarded = broker_pb2.SearchStreamRequest()
        forwarded.CopyFrom(request)
        forwarded.search.CopyFrom(self.tamper_request(forwarded.search))
        for event in self._stub.SearchStream(forwarded, timeout=20):
            kind = event.WhichOneof("event")
            if kind == "started":
                kept = [a for a in event.started.agencies if a.node_id not in self.drop]
                del event.started.agencies[:]
                event.started.agencies.extend(kept)
            elif kind == "agency" and event.agency.node_id in self.drop:
                answered = event.agency.status == broker_pb2.NODE_STATUS_ANSWERED
                self._dropped_answered += answered
                continue
            elif kind == "summary":
                event.summary.agencies -= len(self.drop)
                event.summary.answered -= self._dropped_answered
                event.summary.failed = event.summary.agencies - event.summary.answered
                self._dropped_answered = 0
            yield event

    def ListNodes(
        self, request: broker_pb2.ListNodesRequest, context: Any
    ) -> broker_pb2.ListNodesResponse:
        return self._stub.ListNodes(request, timeout=10)  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Stop serving and close the upstream channel."""
        self._server.stop(0).wait()
        self._channel.close()
