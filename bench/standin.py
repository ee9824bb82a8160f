"""Stand-in nodes for ``bench.federation``: many per process, each answering at once.

A stand-in is what the broker and the client see of an agency's node on the
wire, without the node's work: it answers ``/fieldgate.v2.NodeService/Search``
with a **real** node answer — an empty-handed answer signed with the node's own
Ed25519 answer key and sealed with HPKE to the requester's ``enc`` key by
:class:`fieldgate.trust.answers.AnswerSigner`, padded to the first answer bucket
like every no-hit answer — so the broker's checks and the client's verification
(:func:`fieldgate.trust.answers.open_answer`) accept it as they would a node's.

An answer is bound to its search (the proof's nonce and digest, and the time),
so it cannot be built once for all searches. The benchmark tells every stand-in
process the next search's proof before timing it (``prepare``); each stand-in
signs and seals its answer then, off the clock, and at call time only looks it
up by the proof and prefixes the broker's request id. The signing cost is
reported on its own (µs per answer): on a real federation each node pays it on
its own machine, in parallel with the others, so it adds a constant to a
search's wall time, never a per-node cost to the broker.

Each stand-in has a ``grpc.aio`` server of its own on its own loopback port:
one connection per agency, as the broker has in a real federation, and the
port tells the stand-in which agency it is (gRPC's Python server does not tell
a handler which of a server's ports a call came in on). The same servers also
answer ``/bench.Echo/Echo`` with bytes of the same size as a node answer: the
bare echo baseline reaches exactly these processes and ports.

Protocol with the benchmark (one JSON object per line): the process prints a
ready line (addresses, start-up seconds), then answers each command read on
stdin — ``{"op": "prepare", "proof", "nonce", "recipient"}`` (hex X25519 key)
and ``{"op": "usage"}`` — until stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from bench.common import own_memory
from fieldgate.trust.answers import AnswerSigner
from fieldgate.trust.keys import load_private_key
from fieldgate.v2 import node_pb2

REQUEST_ID_LENGTH = 32
"""The broker's request ids are 32 hex characters (``uuid4().hex``)."""

KEPT_SEARCHES = 2
"""Prepared searches each stand-in keeps (the one being timed and the next)."""


class StandIn:
    """One agency's stand-in node: its answer key and its prepared answers."""

    def __init__(self, node_id: str, signer: AnswerSigner) -> None:
        self.node_id = node_id
        self._signer = signer
        self._answers: dict[str, bytes] = {}

    def prepare(self, proof: str, nonce: str, recipient: X25519PublicKey) -> int:
        """Sign and seal the answer to the search ``proof``; its size in bytes."""
        sealed = self._signer.seal(recipient=recipient, nonce=nonce, proof=proof, hits=())
        body = node_pb2.NodeServiceSearchResponse(node_id=self.node_id, answer=sealed)
        while len(self._answers) >= KEPT_SEARCHES:
            self._answers.pop(next(iter(self._answers)))
        self._answers[proof] = body.SerializeToString()
        return len(self._answers[proof]) + 2 + REQUEST_ID_LENGTH

    async def search(
        self, request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]
    ) -> bytes:
        """The prepared answer, with the request id of this call."""
        message = node_pb2.NodeServiceSearchRequest.FromString(request)
        body = self._answers.get(message.signed.proof)
        if body is None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "search not prepared")
        # Concatenated protobuf messages merge: the id and the prepared body.
        head = node_pb2.NodeServiceSearchResponse(request_id=message.request_id)
        return head.SerializeToString() + body

    def handler(self) -> grpc.GenericRpcHandler[bytes, bytes]:
        """The node's Search method as a raw-bytes handler."""
        return grpc.method_handlers_generic_handler(
            "fieldgate.v2.NodeService",
            {"Search": grpc.unary_unary_rpc_method_handler(self.search)},
        )


def echo_answer(signer: AnswerSigner) -> bytes:
    """Bytes of exactly a stand-in answer's size (a real answer to a throwaway search)."""
    throwaway = X25519PrivateKey.generate().public_key()
    sealed = signer.seal(recipient=throwaway, nonce="0" * 32, proof="x.y.z", hits=())
    return node_pb2.NodeServiceSearchResponse(
        request_id="0" * REQUEST_ID_LENGTH, node_id=signer.node_id, answer=sealed
    ).SerializeToString()


def _echo_with(answer: bytes) -> grpc.GenericRpcHandler[bytes, bytes]:
    async def echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return answer

    return grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )


def _commands(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[dict[str, Any] | None]:
    """Commands read from stdin by a thread; None at end of file."""
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, json.loads(line))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="commands", daemon=True).start()
    return queue


def _reply(document: dict[str, Any]) -> None:
    print(json.dumps(document), flush=True)


async def serve(spec: dict[str, Any]) -> None:
    """Serve ``spec["nodes"]`` (``node_id``, ``key``: PEM path) until stdin closes."""
    started = time.perf_counter()
    commands = _commands(asyncio.get_running_loop())
    standins: list[StandIn] = []
    servers: list[grpc.aio.Server] = []
    addresses: dict[str, str] = {}
    echo: grpc.GenericRpcHandler[bytes, bytes] | None = None
    try:
        for item in spec["nodes"]:
            key = load_private_key(Path(item["key"]))
            signer = AnswerSigner(item["node_id"], key)
            standin = StandIn(item["node_id"], signer)
            if echo is None:
                echo = _echo_with(echo_answer(signer))
            server = grpc.aio.server()
            server.add_generic_rpc_handlers((standin.handler(), echo))
            port = server.add_insecure_port("127.0.0.1:0")
            await server.start()
            standins.append(standin)
            servers.append(server)
            addresses[standin.node_id] = f"127.0.0.1:{port}"
        memory = own_memory()
        _reply(
            {
                "addresses": addresses,
                "start_seconds": time.perf_counter() - started,
                "rss": memory.rss if memory else None,
            }
        )
        while (command := await commands.get()) is not None:
            if command["op"] == "prepare":
                recipient = X25519PublicKey.from_public_bytes(bytes.fromhex(command["recipient"]))
                cpu = time.process_time()
                size = 0
                for standin in standins:
                    size = standin.prepare(command["proof"], command["nonce"], recipient)
                _reply({"cpu": time.process_time() - cpu, "answers": len(standins), "size": size})
            elif command["op"] == "usage":
                memory = own_memory()
                _reply({"rss": memory.rss if memory else None})
    finally:
        await asyncio.gather(*(s.stop(0) for s in servers))
