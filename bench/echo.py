"""The transport's limit: a bare ``grpc.aio`` echo service and raw-bytes clients.

The echo server answers ``/bench.Echo/Echo`` with the bytes it received, with
no (de)serialisation on either side. The benchmark clients call the broker and
the nodes the same way -- pre-serialised request bytes in, answer bytes out,
never parsed in the timed loop -- so the client costs the same on every
series and the difference is what the servers do.
"""

from __future__ import annotations

import grpc

ECHO_METHOD = "/bench.Echo/Echo"
BROKER_SEARCH_METHOD = "/fieldgate.v2.BrokerService/Search"
NODE_SEARCH_METHOD = "/fieldgate.v2.NodeService/Search"

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]

RawCall = grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]


async def _echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


def echo_handler() -> grpc.GenericRpcHandler[bytes, bytes]:
    """The echo method as a generic handler (bytes in, the same bytes out)."""
    return grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    )


async def start_echo_server() -> tuple[grpc.aio.Server, str]:
    """Start an echo server on a free loopback port; return it and its address."""
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((echo_handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


def raw_call(channel: grpc.aio.Channel, method: str) -> RawCall:
    """A unary method on ``channel`` that sends and returns bytes as they are."""
    call: RawCall = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    return call


def open_channel(address: str) -> grpc.aio.Channel:
    """A plaintext channel to ``address`` (one per server, kept for the whole run)."""
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
