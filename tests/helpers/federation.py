"""Run real servers on a background event loop so tests can stay synchronous.

Tests call the real gRPC services with blocking stubs while the nodes and the
broker serve from :class:`LoopThread`'s event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import grpc

from fieldgate.core.tls import TLSFiles
from fieldgate.v2 import broker_pb2_grpc, common_pb2, node_pb2, node_pb2_grpc

T = TypeVar("T")


class LoopThread:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run ``coro`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and join the thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def _channel(address: str, tls: TLSFiles | None) -> grpc.Channel:
    if tls is None:
        return grpc.insecure_channel(address)
    return grpc.secure_channel(address, tls.channel_credentials())


def broker_stub(
    address: str, tls: TLSFiles | None = None
) -> tuple[grpc.Channel, broker_pb2_grpc.BrokerServiceStub]:
    """A blocking channel and stub to a broker (mTLS with ``tls``)."""
    channel = _channel(address, tls)
    return channel, broker_pb2_grpc.BrokerServiceStub(channel)


def node_stub(
    address: str, tls: TLSFiles | None = None
) -> tuple[grpc.Channel, node_pb2_grpc.NodeServiceStub]:
    """A blocking channel and stub to a node (mTLS with ``tls``)."""
    channel = _channel(address, tls)
    return channel, node_pb2_grpc.NodeServiceStub(channel)


JOHN_DOE = common_pb2.PersonQuery(surname="DOE", given_name="JOHN", dob="1980-04-12", max_hits=5)
"""The person the small hand-written test stores hold."""


def search_node(
    address: str,
    requester: common_pb2.Requester,
    query: common_pb2.PersonQuery = JOHN_DOE,
    request_id: str = "test",
) -> node_pb2.NodeServiceSearchResponse:
    """One Search call straight to a node (no broker), over plaintext."""
    channel, stub = node_stub(address)
    with channel:
        answer: node_pb2.NodeServiceSearchResponse = stub.Search(
            node_pb2.NodeServiceSearchRequest(
                request_id=request_id, requester=requester, query=query
            ),
            timeout=10,
        )
    return answer
